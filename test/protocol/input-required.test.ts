// The kit's inputRequired (shared/server/input-required.ts) is the SDK's, without loading the SDK:
// the same values for every builder, a zod requestedSchema converted by the SDK's own elicit once
// the answer leaves the handler (the same schema, or the same TypeError for one elicitation cannot
// carry), and end to end a 2026-07-28 client and a 2025 session are asked with JSON Schema.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { acceptedContent, inputRequired as sdkInputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { defineServer, inputRequired, tool } from '../../shared/index.ts';
import { withWireSchemas } from '../../shared/server/input-required.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const okSchema = z.object({ ok: z.boolean().describe('Go on?') });
const jsonSchema = { type: 'object' as const, properties: { ok: { type: 'boolean' as const } }, required: ['ok'] };

describe('inputRequired from the kit', () => {
  it('builds what the SDK builds', () => {
    const specs = [
      { requestState: 's' },
      { inputRequests: { a: { method: 'roots/list' } } },
      { inputRequests: { a: { method: 'roots/list' } }, requestState: 's' },
    ];
    for (const spec of specs) assert.deepEqual(inputRequired(spec as never), sdkInputRequired(spec as never));
    for (const spec of [{}, { inputRequests: {} }]) {
      assert.throws(() => sdkInputRequired(spec as never), TypeError);
      assert.throws(() => inputRequired(spec as never), { name: 'TypeError', message: /requires at least one of inputRequests/ });
    }
    const elicit = { message: 'OK?', requestedSchema: jsonSchema };
    assert.deepEqual(inputRequired.elicit(elicit), sdkInputRequired.elicit(elicit));
    const url = { message: 'Sign in', url: 'https://example.com/x', elicitationId: 'e1' };
    assert.deepEqual(inputRequired.elicitUrl(url), sdkInputRequired.elicitUrl(url));
    const sampling = { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: 'hi' } }], maxTokens: 10 };
    assert.deepEqual(inputRequired.createMessage(sampling), sdkInputRequired.createMessage(sampling));
    assert.deepEqual(inputRequired.listRoots(), sdkInputRequired.listRoots());
  });

  it('converts a zod schema as the SDK does, when the answer leaves the handler', async () => {
    const kit = inputRequired({ inputRequests: { ok: inputRequired.elicit({ message: 'OK?', requestedSchema: okSchema }), roots: inputRequired.listRoots() } });
    const sdk = sdkInputRequired({
      inputRequests: { ok: sdkInputRequired.elicit({ message: 'OK?', requestedSchema: okSchema }), roots: sdkInputRequired.listRoots() },
    });
    assert.deepEqual(await withWireSchemas(kit), sdk);
    // Control: without conversion the zod object would go out as the schema.
    assert.notDeepEqual(kit, sdk);
    const plain = inputRequired({ inputRequests: { ok: inputRequired.elicit({ message: 'OK?', requestedSchema: jsonSchema }) } });
    assert.equal(await withWireSchemas(plain), plain, 'nothing to convert: the same object, no SDK load');
  });

  it("refuses a schema elicitation cannot carry with the SDK's TypeError", async () => {
    const nested = z.object({ where: z.object({ city: z.string() }) });
    const sdkError = (() => {
      try {
        sdkInputRequired.elicit({ message: 'Where?', requestedSchema: nested });
      } catch (error) {
        return error as Error;
      }
    })();
    assert.ok(sdkError instanceof TypeError);
    await assert.rejects(withWireSchemas(inputRequired({ inputRequests: { w: inputRequired.elicit({ message: 'Where?', requestedSchema: nested }) } })), {
      name: 'TypeError',
      message: sdkError.message,
    });
  });
});

describe("a tool asking with the kit's inputRequired, end to end", () => {
  const server = defineServer({
    name: 'asking',
    version: '1.0.0',
    tools: [
      tool('go', { description: 'Asks for an OK first' }, async (_args, ctx) => {
        const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'ok', okSchema);
        if (!answer) return inputRequired({ inputRequests: { ok: inputRequired.elicit({ message: 'OK to go on?', requestedSchema: okSchema }) } });
        return answer.ok ? 'went on' : 'stopped';
      }),
    ],
  });
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let running: Awaited<ReturnType<typeof startInProcess>>;
  const opened: { close(): Promise<void> }[] = [];
  before(async () => {
    dynamo = await startTestDynamo();
    running = await startInProcess(server, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_REQUEST_STATE_KEY: 'input-required-test-key-0123456789abcdef' });
  });
  after(async () => {
    for (const c of opened) await c.close().catch(() => {});
    await running.stop();
    await dynamo.stop();
  });

  const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

  it('a 2026-07-28 client is asked with JSON Schema, answers, and the tool goes on', async () => {
    const client = new ModernClient(
      { name: 'asked', version: '1' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: {} } },
    );
    const schemas: unknown[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      schemas.push((request.params as { requestedSchema: unknown }).requestedSchema);
      return { action: 'accept', content: { ok: true } };
    });
    await client.connect(new ModernTransport(new URL(running.url)));
    opened.push(client);
    assert.equal(text(await client.callTool({ name: 'go', arguments: {} })), 'went on');
    assert.equal(schemas.length, 1);
    assert.deepEqual((schemas[0] as { properties: unknown }).properties, { ok: { type: 'boolean', description: 'Go on?' } });
  });

  it('a 2025 session is asked by a real elicitation/create with the same schema', async () => {
    const client = new LegacyClient({ name: 'asked', version: '1' }, { capabilities: { elicitation: {} } });
    const schemas: unknown[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      schemas.push((request.params as { requestedSchema?: unknown }).requestedSchema);
      return { action: 'accept', content: { ok: false } };
    });
    await client.connect(new LegacyTransport(new URL(running.url)));
    opened.push(client);
    assert.equal(text(await client.callTool({ name: 'go', arguments: {} })), 'stopped');
    assert.deepEqual((schemas[0] as { properties: unknown }).properties, { ok: { type: 'boolean', description: 'Go on?' } });
  });
});
