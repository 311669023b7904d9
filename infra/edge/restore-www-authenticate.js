// CloudFront Function (viewer response, cloudfront-js-2.0). API Gateway REST renames a Lambda's
// WWW-Authenticate header to x-amzn-remapped-www-authenticate; MCP clients find the OAuth
// protected-resource metadata through that challenge, so the edge puts the original name back.
function handler(event) {
  var headers = event.response.headers;
  var remapped = headers['x-amzn-remapped-www-authenticate'];
  if (remapped) {
    headers['www-authenticate'] = remapped;
    delete headers['x-amzn-remapped-www-authenticate'];
  }
  return event.response;
}
