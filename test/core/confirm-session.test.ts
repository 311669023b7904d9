// A confirmation token belongs to the 2025-era session that was asked: a client that connects anew
// for each call (the Inspector CLI does) starts a new session every time, so its token from the
// last run is refused, and the refusal says so. Control: the same token in its own session works.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
      'a 2025-era client that connects anew for each call, such as the Inspector CLI, starts a new session each time); call notebook_clear again without it to be asked again.',
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
