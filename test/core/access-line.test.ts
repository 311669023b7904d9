// The access line is built as a string, not serialized from an object (access-log.ts, log.ts):
// held here to be exactly what JSON.stringify of the same fields writes, for any UTF-16 text in
// the fields a caller controls (quotes, backslashes, newlines, control characters, lone
// surrogates), and to stay one valid JSON line with the caller's values through the app, for
// hostile request ids, tool names and methods. The cached timestamp is held to toISOString.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { loadConfig } from '../../shared/config.ts';
import { createKit } from '../../shared/kit.ts';
import { accessMembers, type AccessNote } from '../../shared/http/access-log.ts';
import { isoTime, jsonString } from '../../shared/log.ts';
import { defineServer, tool } from '../../shared/server/define.ts';

/** Any UTF-16 code unit: lone surrogates and control characters included, hostile ones often. */
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('"', '\\', '\n', '\r', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '😀', 'é'),
);
const hostile = fc.string({ unit, maxLength: 40 });
const maybe = fc.option(hostile, { nil: undefined });

describe('access line members', () => {
  it('are what JSON.stringify writes for the same fields, for any text', () => {
    fc.assert(
      fc.property(
        hostile,
        maybe,
        maybe,
        maybe,
        hostile,
        fc.integer({ min: 100, max: 599 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (requestId, sessionId, method, tool, principal, status, durationMs) => {
          const note: AccessNote = { era: 'modern', lane: 'direct', sessionId, method, tool };
          const built = `{${accessMembers(requestId, '', note, principal, status, durationMs)}}`;
          const expected = JSON.stringify({ requestId, era: 'modern', lane: 'direct', sessionId, principal, method, tool, status, durationMs });
          assert.equal(built, expected);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('quotes strings as JSON.stringify does, escapes and all', () => {
    fc.assert(fc.property(hostile, (s) => assert.equal(jsonString(s), JSON.stringify(s))));
    // The fast path (nothing to escape) and a control: the escaped path.
    assert.equal(jsonString('echo'), '"echo"');
    assert.equal(jsonString('a"b\n\ud800'), '"a\\"b\\n\\ud800"');
  });

  it('timestamps as toISOString does, across second and day boundaries', () => {
    const edges = [0, 999, 1_000, 86_399_999, 86_400_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1)];
    for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString());
    fc.assert(fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 0, 1) }), (ms) => assert.equal(isoTime(ms), new Date(ms).toISOString())));
    // Back and forth within one second and across seconds: the cached second never leaks.
    const now = Date.now();
    for (const ms of [now, now + 1, now - 1_000, now, now + 60_000, now + 5]) assert.equal(isoTime(ms), new Date(ms).toISOString());
  });
});

const server = defineServer({
  name: 'logged',
  version: '1.0.0',
  tools: [tool('echo', { description: 'echo', input: z.object({ text: z.string() }) }, ({ text }) => text)],
});

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'access-line-test', version: '1' },
};

describe('access lines through the app', () => {
  let kit: ReturnType<typeof createKit>;

  before(() => {
    // Modern calls touch no store: the endpoints point at a closed port.
    const config = loadConfig({
      LOG_LEVEL: 'INFO',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      MCP_REQUEST_STATE_KEY: 'access-line-test-key-0123456789abcdef',
    });
    kit = createKit(server, config);
  });
  after(() => kit.close());

  /** The raw access lines `requests` write. */
  async function linesOf(requests: { requestId: string; method: string; tool: string }[]): Promise<string[]> {
    const seen: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array, ...rest: never[]) =>
      typeof chunk === 'string' && chunk.includes('"message":"mcp request"') ? (seen.push(chunk), true) : original(chunk, ...rest),
    );
    try {
      for (const r of requests) {
        const body = { jsonrpc: '2.0', id: 1, method: r.method, params: { name: r.tool, arguments: { text: 'hi' }, _meta: META } };
        const response = await kit.app.fetch(
          new Request('http://127.0.0.1/mcp', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-protocol-version': '2026-07-28',
              'mcp-method': 'tools/call',
              'mcp-name': 'echo',
              'x-request-id': r.requestId,
            },
            body: JSON.stringify(body),
          }),
        );
        await response.text();
      }
    } finally {
      write.mock.restore();
    }
    return seen;
  }

  it('is one valid JSON line per request carrying the hostile values as sent', async () => {
    const requests = [
      // The control: plain values, the direct lane.
      { requestId: 'plain-id', method: 'tools/call', tool: 'echo' },
      { requestId: 'quote"back\\slash', method: 'tools/call', tool: 'to"ol\nwith\r\nnewlines\u0000and\u001fcontrols' },
      { requestId: 'tab\there', method: 'tools/"call"\n', tool: 'lone \ud800 surrogate \udfff and 😀 é \u2028' },
      // Header values are Latin-1 on the wire: the byte 0xE9 arrives as 'é'.
      { requestId: 'caf\u00e9', method: 'tools/call', tool: '{"injected":true}' },
    ];
    const lines = await linesOf(requests);
    assert.equal(lines.length, requests.length);
    for (const [k, line] of lines.entries()) {
      assert.ok(line.endsWith('}\n') && line.indexOf('\n') === line.length - 1, `one line: ${JSON.stringify(line)}`);
      const parsed = JSON.parse(line);
      const sent = requests[k]!;
      assert.equal(parsed.requestId, sent.requestId);
      assert.equal(parsed.method, sent.method);
      assert.equal(parsed.message, 'mcp request');
      assert.equal(parsed.level, 'INFO');
      assert.equal(parsed.service, 'logged');
      assert.equal(typeof parsed.status, 'number');
      assert.equal(typeof parsed.durationMs, 'number');
      assert.ok(!Number.isNaN(Date.parse(parsed.timestamp)));
      assert.equal(parsed.injected, undefined);
      if (sent.method === 'tools/call') assert.equal(parsed.tool, sent.tool);
    }
    assert.equal(JSON.parse(lines[0]!).lane, 'direct', 'the control went the direct lane');
    assert.equal(JSON.parse(lines[0]!).status, 200);
  });
});
