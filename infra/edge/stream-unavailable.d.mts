// Types of stream-unavailable.mjs for the TypeScript that imports it (tests, local/aws/).
// Not deployed: the Lambda@Edge asset leaves *.d.mts out.
import type { OriginResponseEvent } from './restore-www-authenticate.mjs';

/** Seconds the 503 for a stream no task took tells a client to wait: a new task's registration time. */
export const RETRY_AFTER_SECONDS: number;

/** restore-www-authenticate's work, then a stream the ALB could not serve becomes 503 with Retry-After and a JSON-RPC body. */
export function handler(event: OriginResponseEvent): Promise<OriginResponseEvent['Records'][0]['cf']['response'] & { body?: string }>;
