// The Lambda relay's shortcut for the direct lane's JSON answer (shared/adapters/lambda-stream.ts
// writes it from the parts `jsonAnswer` built it of, not from the Response): what it writes equals
// what the Response holds, with CORS on and off and tracing on and off; a request body is read from
// the event's text as the Request's stream would have given it (a BOM dropped, a lone surrogate
// replaced).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import echo from '../../functions/echo/server.ts';
import { streamResponses } from '../../shared/adapters/lambda-stream.ts';
import { jsonAnswerParts } from '../../shared/http/security-headers.ts';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { resolveDefinition } from '../../shared/server/define.ts';
import { installLambdaRuntime, invoke } from '../../bench/in-process-lambda.ts';
import { restEventFor } from '../../bench/probes/event.ts';
import { modernCall } from '../../bench/request.ts';

const ORIGIN = 'https://app.example';

/** The kit's app behind the relay, keeping the Response each request got: the same object the relay writes. */
async function relayed(options: { cors: boolean; tracing: boolean }) {
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    MCP_REQUEST_STATE_KEY: 'lambda-direct-answer-test-key-0123456789',
    LOG_LEVEL: 'ERROR',
    ...(options.cors && { MCP_ALLOWED_ORIGINS: ORIGIN }),
    ...(options.tracing && { MCP_TRACING: 'true' }),
  };
  const kit = createKit(await resolveDefinition(echo, env), loadConfig(env), { oneRequestPerInstance: true, traceExporter: { export() {} } as never });
  const responses: Response[] = [];
  const tap = (wrap?: (response: Response) => void) => ({
    fetch: async (request: Request, bindings: unknown) => {
      const response = await kit.app.fetch(request, bindings as never);
      wrap?.(response);
      responses.push(response);
      return response;
    },
  });
  return { kit, responses, tap };
}

function callEvent(origin?: string, body?: string) {
  const call = modernCall(1);
  return restEventFor({ headers: { ...call.headers, ...(origin && { origin }) }, body: body ?? call.body });
}

const run = (handler: ReturnType<typeof streamResponses>, event: unknown) => invoke(handler as never, event);

describe('Lambda relay of a direct-lane JSON answer', () => {
  installLambdaRuntime();

  for (const cors of [false, true]) {
    for (const tracing of [false, true]) {
      it(`writes the Response's own status, headers and body (CORS ${cors ? 'on' : 'off'}, tracing ${tracing ? 'on' : 'off'})`, async () => {
        const { kit, responses, tap } = await relayed({ cors, tracing });
        try {
          const result = await run(streamResponses(tap()), callEvent(cors ? ORIGIN : undefined));
          const response = responses[0]!;
          assert.ok(jsonAnswerParts(response), 'the answer came from the direct lane, so the shortcut was taken');
          assert.equal(result.statusCode, response.status);
          assert.deepEqual(result.headers, Object.fromEntries(response.headers));
          assert.equal(result.headers['set-cookie'], undefined);
          assert.equal(result.headers['content-type'], 'application/json');
          assert.equal(result.headers['x-content-type-options'], 'nosniff');
          assert.match(result.headers['x-request-id'] ?? '', /./);
          assert.equal(result.headers['access-control-allow-origin'], cors ? ORIGIN : undefined);
          assert.equal(result.body, await response.text());
        } finally {
          await kit.settle(1000).catch(() => {});
        }
      });
    }
  }

  it('would write stale headers if a step set one on a jsonAnswer afterwards (the contract the steps keep)', async () => {
    const { kit, tap } = await relayed({ cors: false, tracing: false });
    try {
      const result = await run(streamResponses(tap((response) => response.headers.set('x-late', '1'))), callEvent());
      assert.equal(result.headers['x-late'], undefined);
    } finally {
      await kit.settle(1000).catch(() => {});
    }
  });

  it("reads a body from the event's text as the Request's stream gives it: a BOM dropped, a lone surrogate replaced", async () => {
    const { kit, tap } = await relayed({ cors: false, tracing: false });
    const handler = streamResponses(tap());
    const echoed = async (body: string) => {
      const result = await run(handler, callEvent(undefined, body));
      assert.equal(result.statusCode, 200, result.body);
      return JSON.parse(result.body).result.content[0].text as string;
    };
    try {
      const call = JSON.parse(modernCall(1).body);
      const withText = (text: string) => JSON.stringify({ ...call, params: { ...call.params, arguments: { text } } });
      assert.equal(await echoed(withText('plain é 😀')), 'plain é 😀');
      assert.equal(await echoed(`\uFEFF${withText('after a BOM')}`), 'after a BOM');
      // Raw in the event's text (JSON.stringify would escape it).
      assert.equal(await echoed(withText('lone X surrogate').replace('X', '\uD800')), 'lone \uFFFD surrogate');
    } finally {
      await kit.settle(1000).catch(() => {});
    }
  });
});
