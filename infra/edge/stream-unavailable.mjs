// Lambda@Edge, origin response, on a distribution with containers (it replaces
// restore-www-authenticate.mjs there and does its work too). A notification stream routed to the
// container origin (route-streams.js's rule) that the ALB could not serve, because no task is
// registered (503) or the task refused or timed out (502, 504), gets 503 with Retry-After and a
// JSON-RPC error saying to listen again: clients back off instead of failing on an HTML page.
// Every other answer passes through. No dependencies but its sibling, so the local model of
// CloudFront (local/aws/) runs this same file.
import { handler as restoreWwwAuthenticate } from './restore-www-authenticate.mjs';

/**
 * Seconds a client waits before it listens again: how long a new task takes to be registered,
 * since no task could take the stream and autoscaling or ECS's replacement is the way out. Fargate
 * starting the task and the bootstrap loading the bundle (about 30 s), then the target group's two
 * healthy checks 15 s apart: infra/endpoint/containers.ts's REGISTRATION_SECONDS, which the synth
 * tests hold equal to this. A task's own 503 (draining, or full while another may have room) has a
 * shorter Retry-After and passes through unchanged.
 */
export const RETRY_AFTER_SECONDS = 60;
const ALB_FAILURES = new Set(['502', '503', '504']);

/** The viewer-request rule: a modern listen, or a 2025 session's GET stream. */
function isStream(request) {
  const headers = request?.headers ?? {};
  const method = headers['mcp-method']?.[0]?.value;
  if (request?.method === 'POST') return method === 'subscriptions/listen';
  return request?.method === 'GET' && Boolean(headers['mcp-session-id']);
}

// Types: stream-unavailable.d.mts.
export async function handler(event) {
  const response = await restoreWwwAuthenticate(event);
  const { request } = event.Records[0].cf;
  if (!isStream(request) || !ALB_FAILURES.has(response.status) || response.headers['retry-after']) return response;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: null,
    error: {
      code: -32000,
      message: `Service Unavailable: no container can hold notification streams right now (the ALB answered ${response.status}); listen again after Retry-After. Calls are not affected.`,
    },
  });
  return {
    status: '503',
    statusDescription: 'Service Unavailable',
    headers: {
      'content-type': [{ key: 'Content-Type', value: 'application/json' }],
      'retry-after': [{ key: 'Retry-After', value: String(RETRY_AFTER_SECONDS) }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
    },
    body,
  };
}
