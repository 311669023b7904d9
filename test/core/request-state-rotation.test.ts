// Rotating the MRTR request-state key: state signed with the old key still verifies on instances
// that list it in MCP_REQUEST_STATE_PREVIOUS_KEYS, new state is signed with the new key, and an
// instance that no longer lists the old key refuses the old state.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import notes from '../../functions/notes/server.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

const OLD = 'old-request-state-key-0123456789abcdefgh';
const NEW = 'new-request-state-key-0123456789abcdefgh';
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
  'io.modelcontextprotocol/clientInfo': { name: 'rotation', version: '1' },
};
const ACCEPT = { confirm: { action: 'accept', content: { confirm: true } } };

type Answer = { result?: Record<string, unknown>; error?: { code: number; message: string } };

describe('request-state key rotation', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  const servers: Record<'before' | 'during' | 'after', Awaited<ReturnType<typeof startInProcess>>> = {} as never;

  before(async () => {
    dynamo = await startTestDynamo();
    const env = (keys: Record<string, string>) => ({ AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, ...keys });
    servers.before = await startInProcess(notes, env({ MCP_REQUEST_STATE_KEY: OLD }));
    servers.during = await startInProcess(notes, env({ MCP_REQUEST_STATE_KEY: NEW, MCP_REQUEST_STATE_PREVIOUS_KEYS: OLD }));
    servers.after = await startInProcess(notes, env({ MCP_REQUEST_STATE_KEY: NEW }));
  });
  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await dynamo.stop();
  });

  const call = async (url: string, params: { name: string } & Record<string, unknown>): Promise<Answer> =>
    (await (await postToolCall(url, params, { meta: META })).json()) as Answer;

  /** A notebook with a note, and the requestState `server` minted to confirm clearing it. */
  async function askToClear(url: string) {
    const added = await call(url, { name: 'note_add', arguments: { text: 'to clear' } });
    const notebook = (added.result!.structuredContent as { notebook: string }).notebook;
    const asked = await call(url, { name: 'notebook_clear', arguments: { notebook } });
    assert.equal(asked.result!.resultType, 'input_required');
    return { notebook, requestState: asked.result!.requestState as string };
  }

  const confirm = (url: string, asked: { notebook: string; requestState: string }) =>
    call(url, { name: 'notebook_clear', arguments: { notebook: asked.notebook }, inputResponses: ACCEPT, requestState: asked.requestState });

  it('state signed with the old key verifies where the old key is a previous key', async () => {
    const answered = await confirm(servers.during.url, await askToClear(servers.before.url));
    assert.equal(answered.result?.resultType, 'complete', JSON.stringify(answered));
  });

  it('new state is signed with the new key: an instance that knows only the new key accepts it', async () => {
    const answered = await confirm(servers.after.url, await askToClear(servers.during.url));
    assert.equal(answered.result?.resultType, 'complete', JSON.stringify(answered));
  });

  it('once the old key is dropped, state signed with it is refused with -32602', async () => {
    const answered = await confirm(servers.after.url, await askToClear(servers.before.url));
    assert.equal(answered.error?.code, -32602);
    assert.match(answered.error!.message, /requestState/);
  });
});
