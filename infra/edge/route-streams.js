import cf from 'cloudfront';

// CloudFront Function (JavaScript runtime 2.0), viewer request, used only when the endpoint has
// containers. Notification streams go to the container origin, everything else to the function
// origin the behavior names: a modern `subscriptions/listen` (the Mcp-Method header the 2026-07-28
// revision sends with every POST) and a 2025 session's GET stream (GET with Mcp-Session-Id).
// The container serves the same app, so a request routed there by a lying header is served all
// the same; the route decides cost, not access. No state, no dependencies: the local model of
// CloudFront (local/aws/) evaluates this same file with a stand-in for the 'cloudfront' module.

/** Origin ids the distribution gives its two origins; infra/endpoint and the model use these. */
var CONTAINER_ORIGIN = 'containers';

// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls the function named handler
function handler(event) {
  var request = event.request;
  var headers = request.headers;
  var method = headers['mcp-method'];
  var listen = request.method === 'POST' && method && method.value === 'subscriptions/listen';
  var sessionStream = request.method === 'GET' && headers['mcp-session-id'];
  if (listen || sessionStream) cf.selectRequestOriginById(CONTAINER_ORIGIN);
  return request;
}
