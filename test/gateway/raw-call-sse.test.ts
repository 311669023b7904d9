// A raw call's SSE answer (shared/client/raw-call.ts) whose one event is large and arrives in many
// chunks, as an upstream sends a big result (an image, a file) or a hostile one sends an event that
// never ends: the CPU to read it grows with its size, not with its square. Before, every chunk was
// appended to one string searched whole: 8 MB cost ~60 times 1 MB (1.4 s of CPU, a stalled event loop
// for every caller of the instance). CPU time, not wall time, and a ratio: this machine is shared.
// Also: events split at every byte, with each line end SSE allows; a stream ending on a lone CR used to
// lose its last event. The transport here is the interface's input (what carries the bytes), not a
// stand-in for kit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawCallTool } from '../../shared/client/raw-call.ts';
import type { UpstreamTransport } from '../../shared/client/transport.ts';

const CHUNK = 16 * 1024;

/** Answers with the SSE text `events(id)` in chunks of `chunk` bytes. */
function sseIn(chunk: number, events: (id: number) => string): UpstreamTransport {
  return async ({ body }) => {
    const bytes = new TextEncoder().encode(events((JSON.parse(body) as { id: number }).id));
    return {
      status: 200,
      statusText: 'OK',
      header: (name) => (name === 'content-type' ? 'text/event-stream' : null),
      text: async () => new TextDecoder().decode(bytes),
      cancel() {},
      async *stream() {
        for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
      },
    };
  };
}

const complete = (id: number, text: string) => JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', content: [{ type: 'text', text }] } });

/** One SSE event carrying a text result of `mb` MB, in 16 KB chunks; CRLF line ends, so a line end falls across chunks too. */
const sending = (mb: number) => sseIn(CHUNK, (id) => `event: message\r\ndata: ${complete(id, 'x'.repeat(mb << 20))}\r\n\r\n`);

/** The least CPU (ms) of `runs` raw calls answered with an `mb` MB event, the answer checked. */
async function cpuFor(mb: number, runs = 2): Promise<number> {
  let least = Infinity;
  for (let run = 0; run < runs; run++) {
    const start = process.cpuUsage();
    const result = await rawCallTool({ url: new URL('http://upstream.invalid/mcp'), send: sending(mb), meta: {}, nextId: () => 7 }, { name: 'big' }, {});
    const used = process.cpuUsage(start);
    assert.equal((result as { content: { text: string }[] }).content[0]!.text.length, mb << 20);
    least = Math.min(least, (used.user + used.system) / 1000);
  }
  return least;
}

describe('raw call: a large SSE event', () => {
  it('costs CPU in proportion to its size (8 MB within 20 times 1 MB; linear is ~8, the square 64)', async () => {
    await cpuFor(1, 1);
    const [small, large] = [await cpuFor(1), await cpuFor(8)];
    assert.ok(large / Math.max(small, 5) < 20, `1 MB: ${small.toFixed(0)} ms of CPU, 8 MB: ${large.toFixed(0)} ms`);
  });

  it('reads events split anywhere: byte by byte, LF, CRLF and lone CR line ends (the last CR ending the stream), a blank line across two chunks', async () => {
    for (const end of ['\n', '\r\n', '\r']) {
      const progress: unknown[] = [];
      const events = (id: number) =>
        [
          `: comment`,
          `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: id, progress: 1 } })}`,
          '',
          `data: ${complete(id, 'whole')}`,
          '',
          '',
        ].join(end);
      const result = await rawCallTool(
        { url: new URL('http://upstream.invalid/mcp'), send: sseIn(1, events), meta: {}, nextId: () => 3 },
        { name: 'small' },
        {
          onprogress: (p) => progress.push(p),
        },
      );
      assert.deepEqual(result, { content: [{ type: 'text', text: 'whole' }] }, JSON.stringify(end));
      assert.deepEqual(progress, [{ progress: 1 }], JSON.stringify(end));
    }
  });
});
