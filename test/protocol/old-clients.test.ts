// Real old clients through the notes example, end to end: the official SDK 1.11.5 client (the last
// 1.x that speaks 2025-03-26 at most, and parses results with its own zod schemas), and a 2024-11-05
// session. No official client speaks 2024-11-05 over Streamable HTTP, so that session is the same
// 1.11.5 client with its initialize request's protocolVersion rewritten to 2024-11-05 by a fetch
// wrapper (the client accepts 2024-11-05 back). The same wrapper keeps every raw JSON answer, which
// is checked against what the session's schema defines, independently of shared/protocol's table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'sdk-1-11/client/index.js';
import { StreamableHTTPClientTransport } from 'sdk-1-11/client/streamableHttp.js';
import { z } from 'zod';
import notes from '../../functions/notes/server.ts';
import { defineServer, tool } from '../../shared/server/define.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

const BIG_LINES = 120_000;
const server = defineServer({
  ...notes,
  tools: [
    ...notes.tools,
    tool(
      'big_report',
      {
        description: 'A report larger than a response may carry (offloaded to an artifact)',
        input: z.object({}),
        output: z.object({ lines: z.number() }),
        annotations: { readOnlyHint: true },
      },
      () => ({
        content: [{ type: 'text', text: Array.from({ length: BIG_LINES }, (_, i) => `line ${i} of the big report`).join('\n') }],
        structuredContent: { lines: BIG_LINES },
      }),
    ),
  ],
});

type Json = Record<string, unknown>;
const keysOf = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v) : []);

/**
 * Members a message carries that the revision's schema does not define, as paths. Written from
 * schema/2024-11-05/schema.ts and schema/2025-03-26/schema.ts: the types the notes example sends.
 */
function undefinedMembers(message: Json, revision: '2024-11-05' | '2025-03-26'): string[] {
  const old = revision === '2024-11-05';
  const allowed = {
    result: [
      'content',
      'isError',
      '_meta',
      'tools',
      'nextCursor',
      'prompts',
      'resourceTemplates',
      'resources',
      'contents',
      'protocolVersion',
      'capabilities',
      'serverInfo',
      'instructions',
    ],
    tool: ['name', 'description', 'inputSchema', ...(old ? [] : ['annotations'])],
    content: ['type', 'text', 'data', 'mimeType', 'resource', 'annotations'],
    contentTypes: ['text', 'image', 'resource', ...(old ? [] : ['audio'])],
    template: ['uriTemplate', 'name', 'description', 'mimeType', 'annotations'],
    prompt: ['name', 'description', 'arguments'],
    argument: ['name', 'description', 'required'],
    contents: ['uri', 'mimeType', 'text', 'blob'],
    serverInfo: ['name', 'version'],
    capabilities: ['experimental', 'logging', 'prompts', 'resources', 'tools', ...(old ? [] : ['completions'])],
    progress: ['progressToken', 'progress', 'total', '_meta', ...(old ? [] : ['message'])],
  };
  const bad: string[] = [];
  const check = (path: string, value: unknown, members: string[]) => {
    for (const k of keysOf(value)) if (!members.includes(k)) bad.push(`${path}.${k}`);
  };
  const r = message.result as Json | undefined;
  if (message.method === 'notifications/progress') check('params', message.params, allowed.progress);
  if (!r) return bad;
  check('result', r, allowed.result);
  for (const [i, t] of ((r.tools ?? []) as Json[]).entries()) {
    check(`tools[${i}]`, t, allowed.tool);
    if ('$schema' in (t.inputSchema as Json)) bad.push(`tools[${i}].inputSchema.$schema`);
  }
  for (const [i, c] of ((r.content ?? []) as Json[]).entries()) {
    check(`content[${i}]`, c, allowed.content);
    if (!allowed.contentTypes.includes(c.type as string)) bad.push(`content[${i}].type=${c.type}`);
  }
  for (const [i, t] of ((r.resourceTemplates ?? []) as Json[]).entries()) check(`resourceTemplates[${i}]`, t, allowed.template);
  for (const [i, p] of ((r.prompts ?? []) as Json[]).entries()) {
    check(`prompts[${i}]`, p, allowed.prompt);
    for (const a of (p.arguments ?? []) as Json[]) check(`prompts[${i}].arguments`, a, allowed.argument);
  }
  for (const [i, c] of ((r.contents ?? []) as Json[]).entries()) check(`contents[${i}]`, c, allowed.contents);
  if (r.serverInfo) check('serverInfo', r.serverInfo, allowed.serverInfo);
  if (r.capabilities) check('capabilities', r.capabilities, allowed.capabilities);
  return bad;
}

/** The JSON-RPC messages in a POST answer: one JSON body, or the `data:` lines of an SSE stream. */
function messagesOf(body: string, contentType: string): Json[] {
  if (contentType.includes('application/json')) return [JSON.parse(body)].flat();
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)));
}

/**
 * Replaces the global fetch (SDK 1.11.5's transport takes no fetch option) for requests to `url`:
 * rewrites initialize's protocolVersion when asked, and keeps every POST answer's messages.
 */
function wrapFetch(url: string, initializeAs?: string) {
  const original = globalThis.fetch;
  const answers: Promise<Json[]>[] = [];
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    if (String(input) !== url || init?.method !== 'POST') return original(input, init);
    let body = init.body as string;
    const sent = JSON.parse(body);
    if (initializeAs && sent.method === 'initialize') body = JSON.stringify({ ...sent, params: { ...sent.params, protocolVersion: initializeAs } });
    const response = await original(input, { ...init, body });
    const copy = response.clone();
    answers.push(copy.text().then((text) => (text ? messagesOf(text, copy.headers.get('content-type') ?? '') : [])));
    return response;
  };
  return {
    messages: async () => (await Promise.all(answers)).flat(),
    restore: () => {
      globalThis.fetch = original;
    },
  };
}

const textsOf = (result: object) => (result as { content: { text: string }[] }).content.map((c) => c.text);
const linkedUri = (text: string) => /Read it with resources\/read: (artifact:\/\/\S+)$/.exec(text)?.[1];

describe('old clients through the notes example', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let kit: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    kit = await startInProcess(server, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_REQUEST_STATE_KEY: 'old-clients-request-state-key-0123456789',
      MCP_SSE_KEEPALIVE_MS: '0',
    });
  });
  after(async () => {
    await kit?.stop();
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  for (const revision of ['2025-03-26', '2024-11-05'] as const) {
    describe(`a ${revision} session (SDK 1.11.5 client${revision === '2024-11-05' ? ', initialize rewritten to 2024-11-05' : ''})`, () => {
      let client: Client;
      let wire: ReturnType<typeof wrapFetch>;

      before(async () => {
        wire = wrapFetch(kit.url, revision === '2024-11-05' ? revision : undefined);
        client = new Client({ name: 'old-client', version: '1.11.5' });
        await client.connect(new StreamableHTTPClientTransport(new URL(kit.url)));
      });
      after(async () => {
        await client?.close();
        wire?.restore();
      });

      it('negotiates the revision', async () => {
        const [init] = await wire.messages();
        assert.equal((init!.result as Json).protocolVersion, revision);
      });

      it('lists tools, prompts and resource templates', async () => {
        const { tools } = await client.listTools();
        assert.ok(['note_add', 'note_list', 'notebook_export', 'big_report'].every((n) => tools.some((t) => t.name === n)));
        assert.deepEqual(
          (await client.listPrompts()).prompts.map((p) => p.name),
          ['summarize_notebook'],
        );
        const { resourceTemplates } = await client.listResourceTemplates();
        assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'artifact://{+path}'));
      });

      it('adds and lists notes', async () => {
        assert.match(textsOf(await client.callTool({ name: 'note_add', arguments: { text: `first ${revision}` } }))[0]!, /Added note 1/);
        assert.equal(textsOf(await client.callTool({ name: 'note_add', arguments: { text: `second ${revision}` } }))[0], 'Added note 2 to session notebook.');
        assert.equal(textsOf(await client.callTool({ name: 'note_list', arguments: {} }))[0], `1. first ${revision}\n2. second ${revision}`);
      });

      it('exports the notebook and reads the linked artifact', async () => {
        const result = await client.callTool({ name: 'notebook_export', arguments: {} });
        const [summary, link] = textsOf(result);
        assert.match(summary!, /^Exported 2 notes to artifact:\/\//);
        assert.match(link!, /^Resource "notebook\.md" \(text\/markdown, \d+ bytes\)/);
        const { contents } = await client.readResource({ uri: linkedUri(link!)! });
        assert.match(contents[0]!.text as string, new RegExp(`- first ${revision}.*\\n- second ${revision}`));
      });

      it('offloads a result over 1 MiB and serves it through the link', async () => {
        const result = await client.callTool({ name: 'big_report', arguments: {} });
        assert.equal(result.structuredContent, undefined);
        const [summary, link] = textsOf(result);
        assert.match(summary!, /^The result of big_report is [\d.]+ MiB/);
        assert.match(link!, /^Resource "big_report-result\.json" \(application\/json, \d+ bytes\): Full result of big_report\./);
        const { contents } = await client.readResource({ uri: linkedUri(link!)! });
        const full = JSON.parse(contents[0]!.text as string);
        assert.equal(full.content[0].text.split('\n').length, BIG_LINES);
      });

      it('streams progress notifications the client parses', async () => {
        const progress: { progress: number; total?: number }[] = [];
        const text = `${Array.from({ length: 2500 }, (_, i) => `w${i % 7}`).join(' ')} r${revision.replace(/-/g, '')}`;
        const result = await client.callTool({ name: 'word_stats', arguments: { text } }, undefined, { onprogress: (p) => progress.push(p) });
        assert.match(textsOf(result)[0]!, /^2501 words/);
        assert.deepEqual(
          progress.map((p) => p.progress),
          [1, 2, 3],
        );
      });

      it('receives no member its revision does not define, in any answer', async () => {
        const messages = await wire.messages();
        assert.ok(messages.length >= 10, `saw ${messages.length} messages`);
        assert.ok(messages.some((m) => m.method === 'notifications/progress'));
        assert.deepEqual(
          messages.flatMap((m) => undefinedMembers(m, revision)),
          [],
        );
      });
    });
  }
});
