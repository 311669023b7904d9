// Differential tests of a direct lane against the SDK lane, for a kit's own tools
// (test/core/direct-lane.test.ts) and the gateway's (test/gateway/fast-lane.test.ts): the same
// 2026-07-28 `tools/call` to two kits, one with the direct lane and one without, compared as a
// client tells answers apart, with the lane the access line names.
import assert from 'node:assert/strict';
import { it, mock } from 'node:test';
import type { createKit } from '../../shared/kit.ts';

type Kit = ReturnType<typeof createKit>;

export const PV = 'io.modelcontextprotocol/protocolVersion';
export const CI = 'io.modelcontextprotocol/clientInfo';
export const CC = 'io.modelcontextprotocol/clientCapabilities';

export type Call = { body: Record<string, any>; headers: Record<string, string> };

/** A canonical call of the named tool, then `change`d. */
export function call(name: string, args?: unknown, change: (c: Call) => void = () => {}): Call {
  const meta = { [PV]: '2026-07-28', [CI]: { name: 'lanes-test', version: '1' }, [CC]: {} };
  const c: Call = {
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, ...(args !== undefined && { arguments: args }), _meta: meta } },
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
  };
  change(c);
  return c;
}

/** The JSON-RPC messages of a response body: each SSE event's data, or the JSON body, or none. */
export function messagesOf(type: string | null, body: string): any[] {
  if (type?.startsWith('text/event-stream'))
    return body
      .split('\n\n')
      .filter((f) => f.startsWith('event:'))
      .map((f) => JSON.parse(/^data: (.*)$/m.exec(f)![1]!));
  return body ? [JSON.parse(body)] : [];
}

/** What a client can tell apart: status, content type, the body's messages parsed; signed state masked (it differs every run). */
export async function observe(response: Response) {
  const type = response.headers.get('content-type');
  const body = (await response.text()).replace(/"requestState":"[^"]+"/g, '"requestState":"…"');
  return { status: response.status, type, messages: messagesOf(type, body) };
}

export type Answers = Awaited<ReturnType<typeof bothLanes>>;

/** Both kits' answers to one call, and the lane the access line names for the kit with the direct lane. */
export async function bothLanes(withLane: Kit, sdkOnly: Kit, c: Call) {
  const send = async (kit: Kit) =>
    observe(await kit.app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers: c.headers, body: JSON.stringify(c.body) })));
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (lines.push(chunk), true) : original(chunk, ...rest),
  );
  let direct;
  try {
    direct = await send(withLane);
  } finally {
    write.mock.restore();
  }
  const access = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'mcp request');
  const sdk = await send(sdkOnly);
  return { direct, sdk, lane: access?.lane as string | undefined };
}

/** One case a call: the direct lane answers `directCases` itself and leaves `sdkCases` to the SDK lane, each answer the SDK lane's. */
export function laneCases(directCases: [string, Call][], sdkCases: [string, Call][], both: (c: Call) => Promise<Answers>): void {
  for (const [name, c] of directCases) {
    it(`answers itself, as the SDK lane would: ${name}`, async () => {
      const { direct, sdk, lane } = await both(c);
      assert.deepEqual(direct, sdk);
      assert.equal(lane, 'direct');
    });
  }
  for (const [name, c] of sdkCases) {
    it(`leaves it to the SDK lane: ${name}`, async () => {
      const { direct, sdk, lane } = await both(c);
      // New tasks differ on every run; what is around them must not.
      const fresh = (o: typeof direct) => JSON.parse(JSON.stringify(o).replace(/"(taskId|createdAt|lastUpdatedAt)":"[^"]+"/g, '"$1":"…"'));
      assert.deepEqual(fresh(direct), fresh(sdk));
      // Undefined: refused by the kit before either lane (the same answer, by the same code).
      assert.notEqual(lane, 'direct');
    });
  }
}
