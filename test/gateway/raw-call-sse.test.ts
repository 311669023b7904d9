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
import type { CheckedTransport } from '../../shared/client/transport.ts';

const CHUNK = 16 * 1024;

/** Answers with the SSE text `events(id)` in chunks of `chunk` bytes, or cut before each of its LFs. */
function sseIn(chunk: number | 'at LF', events: (id: number) => string): CheckedTransport {
  return async ({ body }) => {
    const bytes = new TextEncoder().encode(events((JSON.parse(body) as { id: number }).id));
    const cuts: number[] = [];
    if (chunk === 'at LF') for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) cuts.push(at);
    return {
      status: 200,
      statusText: 'OK',
      header: (name) => (name === 'content-type' ? 'text/event-stream' : null),
      text: async () => new TextDecoder().decode(bytes),
      cancel() {},
      async *stream() {
        if (chunk === 'at LF') for (const [n, at] of cuts.entries()) yield bytes.subarray(n === 0 ? 0 : at, cuts[n + 1] ?? bytes.length);
        else for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
      },
    };
  };
}

const complete = (id: number, text: string) => JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'complete', content: [{ type: 'text', text }] } });

/** One SSE event carrying a text result of `mb` MB, in 16 KB chunks; CRLF line ends, so a line end falls across chunks too. */
const oneLine = (mb: number) => sseIn(CHUNK, (id) => `event: message\r\ndata: ${complete(id, 'x'.repeat(mb << 20))}\r\n\r\n`);

/** The same result with `mb` MB of padding as 16 KB data lines, each chunk starting with the LF that ends the line before. */
function manyLines(mb: number): CheckedTransport {
  const line = `data: "${'y'.repeat(CHUNK - 10)}",\n`;
  return sseIn('at LF', (id) => {
    const [head, tail] = complete(id, 'x'.repeat(mb << 20)).split(/(?=}}$)/);
    return `data: ${head},"pad":[\n${line.repeat(mb << 6)}data: ""]${tail}\n\n`;
  });
}

/** The least CPU (ms) of `runs` raw calls answered with an `mb` MB event, the answer checked. */
async function cpuFor(mb: number, runs = 2, sending = oneLine): Promise<number> {
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
  it('costs CPU in proportion to its size (8 MB within 20 times 1 MB; linear is ~8, the square 64), in one line or many', async (t) => {
    const diagnostics: string[] = [];
    for (const sending of [oneLine, manyLines]) {
      await cpuFor(1, 1, sending);
      const [small, large] = [await cpuFor(1, 2, sending), await cpuFor(8, 2, sending)];
      const ratio = `${sending.name}: 1 MB: ${small.toFixed(0)} ms of CPU, 8 MB: ${large.toFixed(0)} ms`;
      assert.ok(large / Math.max(small, 5) < 20, ratio);
      diagnostics.push(ratio);
    }
    t.diagnostic(diagnostics.join('; '));
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
