// Clients that connect anew for each call (the Inspector CLI does, as a 2025-era client) start a new
// session every time, as README "Connect a client" says: a session notebook is empty in the next
// run, but a handle carries state across runs; a confirmation token belongs to the session that was
// asked, so the next run's is refused, and the refusal says why. Controls: one session confirms.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import notes from '../../functions/notes/server.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
let server: Awaited<ReturnType<typeof startInProcess>>;
before(async () => {
  dynamo = await startTestDynamo();
  server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_REQUEST_STATE_KEY: 'confirm-session-test-key-0123456789abcdef' });
});
after(async () => {
  await server.stop();
  await dynamo.stop();
});

/** One run of a CLI client without elicitation: a new session, its calls, closed; the last call's result. */
async function run(...calls: [string, Record<string, unknown>][]) {
  const client = new LegacyClient({ name: 'one-shot', version: '1' }, { capabilities: {} });
  await client.connect(new LegacyTransport(new URL(server.url)));
  try {
    let result;
    for (const [name, args] of calls) result = await client.callTool({ name, arguments: args });
    return result!;
  } finally {
    await client.close();
  }
}

const tokenIn = (result: unknown) => /"confirm": "([^"]+)"/.exec(text(result))![1]!;

test('a token from an earlier session is refused with a message naming per-run sessions', async () => {
  const token = tokenIn(await run(['note_add', { text: 'one' }], ['notebook_clear', {}]));
  const refused = await run(['note_add', { text: 'one' }], ['notebook_clear', { confirm: token }]);
  assert.equal(refused.isError, true);
  assert.equal(
    text(refused),
    'The "confirm" token is not valid for this call (expired, already used, given for other arguments, or given in another session: ' +
      'a 2025-era client that connects anew for each call, such as the Inspector CLI, starts a new session each time); call the same tool again without it to be asked again.',
  );

  // Control: the same steps in one session confirm.
  const client = new LegacyClient({ name: 'one-session', version: '1' }, { capabilities: {} });
  await client.connect(new LegacyTransport(new URL(server.url)));
  await client.callTool({ name: 'note_add', arguments: { text: 'one' } });
  const inSession = tokenIn(await client.callTool({ name: 'notebook_clear', arguments: {} }));
  const confirmed = await client.callTool({ name: 'notebook_clear', arguments: { confirm: inSession } });
  assert.ok(!confirmed.isError, text(confirmed));
  await client.close();
});

test('a session notebook does not outlive its run; a notebook handle does', async () => {
  assert.match(text(await run(['note_add', { text: 'from run 1' }])), /^Added note 1 to session notebook\.$/);
  assert.equal(text(await run(['note_list', {}])), 'The notebook is empty.');

  // As the README says: note_add with --protocol-era modern returns a handle; later runs pass it as notebook.
  const modern = new ModernClient({ name: 'one-shot', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await modern.connect(new ModernTransport(new URL(server.url)));
  const added = await modern.callTool({ name: 'note_add', arguments: { text: 'kept by the handle' } });
  await modern.close();
  const handle = (added.structuredContent as { notebook: string }).notebook;
  assert.match(text(await run(['note_list', { notebook: handle }])), /kept by the handle/);
});
