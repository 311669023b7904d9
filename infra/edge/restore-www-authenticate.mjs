// Lambda@Edge, origin response. API Gateway REST renames a function's WWW-Authenticate to
// x-amzn-remapped-www-authenticate; MCP clients find OAuth discovery through that challenge, so
// the name goes back before CloudFront answers. Only that header is touched; no dependencies, so
// the local model of CloudFront (local/aws/) runs this same file on every origin response.

const REMAPPED = 'x-amzn-remapped-www-authenticate';

// Types: restore-www-authenticate.d.mts.
export async function handler(event) {
  const { response } = event.Records[0].cf;
  const remapped = response.headers[REMAPPED];
  if (remapped) {
    delete response.headers[REMAPPED];
    response.headers['www-authenticate'] = [
      ...(response.headers['www-authenticate'] ?? []),
      ...remapped.map(({ value }) => ({ key: 'WWW-Authenticate', value })),
    ];
  }
  return response;
}
