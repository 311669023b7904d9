// Confirmations (ctx.confirm, shown by the notes example's notebook_clear) in both eras: accept,
// decline and cancel each take exactly one question; a confirmation cannot be replayed, moved to
// another notebook, or outlive a clear; clients without elicitation get the same answer in both
// eras and a token that works once. Every refusal has a control that succeeds with only the tested
// factor changed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import notes from '../../functions/notes/server.ts';
import { postToolCall } from '../helpers/raw-call.ts';
import { startInProcess, startTestDynamo } from '../helpers/server.ts';

type Action = 'accept' | 'decline' | 'cancel';
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe('confirmations', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let server: Awaited<ReturnType<typeof startInProcess>>;
  const opened: { close(): Promise<void> }[] = [];

  before(async () => {
    dynamo = await startTestDynamo();
    server = await startInProcess(notes, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_REQUEST_STATE_KEY: 'confirm-test-request-state-key-0123456789' });
  });
  after(async () => {
    for (const c of opened) await c.close().catch(() => {});
    await server.stop();
    await dynamo.stop();
  });

  /** An SDK v2 client (2026-07-28) answering every question with `action`; counts the questions. */
  async function modern(action: Action | undefined) {
    const client = new ModernClient(
      { name: 'confirm', version: '1' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: action ? { elicitation: {} } : {} },
    );
    const asked: string[] = [];
    if (action) {
      client.setRequestHandler('elicitation/create', async (request) => {
        asked.push((request.params as { message: string }).message);
        return action === 'accept' ? { action, content: { confirm: true } } : { action };
      });
    }
    await client.connect(new ModernTransport(new URL(server.url)));
    opened.push(client);
    return { client, asked };
  }

  /** An SDK 1.x client (a 2025 session) answering every elicitation with `action`. */
  async function legacy(action: Action | undefined) {
    const client = new LegacyClient({ name: 'confirm', version: '1' }, { capabilities: action ? { elicitation: {} } : {} });
    const asked: string[] = [];
    if (action) {
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        asked.push(request.params.message);
        return action === 'accept' ? { action, content: { confirm: true } } : { action };
      });
    }
    await client.connect(new LegacyTransport(new URL(server.url)));
    opened.push(client);
    return { client, asked };
  }

  for (const era of ['modern', 'legacy'] as const) {
    const connect = era === 'modern' ? modern : legacy;
    /** A notebook with one note: a handle for modern clients, the session's own for legacy ones. */
    async function notebook(client: Awaited<ReturnType<typeof connect>>['client']) {
      const added = await client.callTool({ name: 'note_add', arguments: { text: 'keep me?' } });
      return era === 'modern' ? { notebook: (added.structuredContent as { notebook: string }).notebook } : {};
    }

    it(`${era}: accept clears after exactly one question`, async () => {
      const { client, asked } = await connect('accept');
      const args = await notebook(client);
      assert.match(text(await client.callTool({ name: 'notebook_clear', arguments: args })), /^Cleared /);
      assert.deepEqual(asked, [`Delete all 1 notes in ${era === 'modern' ? args.notebook : 'session notebook'}?`]);
      assert.equal(text(await client.callTool({ name: 'note_list', arguments: args })), 'The notebook is empty.');
    });

    for (const action of ['decline', 'cancel'] as const) {
      it(`${era}: ${action} does nothing and asks once`, async () => {
        const { client, asked } = await connect(action);
        const args = await notebook(client);
        assert.equal(text(await client.callTool({ name: 'notebook_clear', arguments: args })), 'Nothing deleted.');
        assert.equal(asked.length, 1, `asked ${asked.length} times`);
        assert.equal(text(await client.callTool({ name: 'note_list', arguments: args })), '1. keep me?');
      });
    }

    it(`${era}: a client without elicitation is told how to confirm, the same way in both eras, and the token works once`, async () => {
      const { client } = await connect(undefined);
      const args = await notebook(client);
      const first = await client.callTool({ name: 'notebook_clear', arguments: args });
      assert.equal(first.isError, true);
      assert.match(text(first), /^Needs confirmation: Delete all 1 notes in .*\? Nothing was done\. .*"confirm": "([^"]+)" \(valid 10 minutes, once\)\.$/);
      const token = /"confirm": "([^"]+)"/.exec(text(first))![1]!;
      assert.equal(text(await client.callTool({ name: 'note_list', arguments: args })), '1. keep me?', 'nothing was deleted by the first call');
      assert.match(text(await client.callTool({ name: 'notebook_clear', arguments: { ...args, confirm: token } })), /^Cleared /);
      // The same token again, after new notes: asked afresh, nothing deleted.
      await client.callTool({ name: 'note_add', arguments: { text: 'new note', ...args } });
      const replay = await client.callTool({ name: 'notebook_clear', arguments: { ...args, confirm: token } });
      assert.match(text(replay), /^Needs confirmation: Delete all 1 notes/);
      assert.equal(text(await client.callTool({ name: 'note_list', arguments: args })), '1. new note');
    });
  }

  describe('raw 2026-07-28 rounds', () => {
    const META = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    };
    const ACCEPT = { confirm: { action: 'accept', content: { confirm: true } } };
    type Answer = { result?: Record<string, unknown> & { content?: { text: string }[] }; error?: { code: number; message: string } };
    /** The same client without elicitation: it is given a token to pass as the `confirm` argument. */
    const NO_ELICITATION = { ...META, 'io.modelcontextprotocol/clientCapabilities': {} };
    const call = async (
      name: string,
      args: Record<string, unknown>,
      extra: Record<string, unknown> = {},
      meta: Record<string, unknown> = META,
    ): Promise<Answer> => {
      const res = await postToolCall(server.url, { name, arguments: args, ...extra }, { meta });
      return (await res.json()) as Answer;
    };
    const newNotebook = async (note: string) => (await call('note_add', { text: note })).result!.structuredContent as { notebook: string };
    const ask = async (notebook: string) => {
      const asked = await call('notebook_clear', { notebook });
      assert.equal(asked.result!.resultType, 'input_required', 'the tool asked before doing anything');
      return asked.result!.requestState as string;
    };
    const list = async (notebook: string) => (await call('note_list', { notebook })).result!.content![0]!.text;

    it('an accepted confirmation cannot be replayed, not even once the notebook holds notes again', async () => {
      const { notebook } = await newNotebook('first');
      const requestState = await ask(notebook);
      const confirmed = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState });
      assert.match(confirmed.result!.content![0]!.text, /^Cleared /);
      await call('note_add', { text: 'added after the clear', notebook });
      const replay = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState });
      assert.equal(replay.result!.resultType, 'input_required', 'a replay is asked again');
      assert.equal(await list(notebook), '1. added after the clear');
      // Control: a fresh question, answered, clears the new notes.
      const again = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState: await ask(notebook) });
      assert.match(again.result!.content![0]!.text, /^Cleared /);
    });

    it('a confirmation for one notebook is refused for another (-32602), and works for its own', async () => {
      const x = await newNotebook('in x');
      const y = await newNotebook('in y');
      const forX = await ask(x.notebook);
      const moved = await call('notebook_clear', { notebook: y.notebook }, { inputResponses: ACCEPT, requestState: forX });
      assert.equal(moved.error?.code, -32602);
      assert.match(moved.error!.message, /requestState/);
      assert.equal(await list(y.notebook), '1. in y');
      const own = await call('notebook_clear', { notebook: x.notebook }, { inputResponses: ACCEPT, requestState: forX });
      assert.match(own.result!.content![0]!.text, /^Cleared /);
    });

    it('notes added after the question are not deleted by the answer', async () => {
      const { notebook } = await newNotebook('seen');
      const requestState = await ask(notebook);
      await call('note_add', { text: 'not seen', notebook });
      const answered = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState });
      assert.match(answered.result!.content![0]!.text, /^Nothing deleted: .* changed after you were asked/);
      assert.equal(await list(notebook), '1. seen\n2. not seen');
    });

    for (const action of ['decline', 'cancel'] as const) {
      it(`a question answered with ${action} cannot be accepted later; one not answered yet can`, async () => {
        const { notebook } = await newNotebook('kept');
        const requestState = await ask(notebook);
        const refused = await call('notebook_clear', { notebook }, { inputResponses: { confirm: { action } }, requestState });
        assert.equal(refused.result!.content![0]!.text, 'Nothing deleted.');
        const later = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState });
        assert.equal(later.result!.resultType, 'input_required', `an accept after ${action} is asked afresh`);
        assert.equal(await list(notebook), '1. kept');
        // Control: the same accept on a question nobody answered yet clears.
        const fresh = await ask(notebook);
        assert.match((await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState: fresh })).result!.content![0]!.text, /^Cleared /);
      });
    }

    it('an MRTR requestState is not a confirm token; the token a client without elicitation is given is', async () => {
      const { notebook } = await newNotebook('kept');
      const requestState = await ask(notebook);
      const skipped = await call('notebook_clear', { notebook, confirm: requestState }, {}, NO_ELICITATION);
      assert.equal(skipped.result!.isError, true);
      assert.match(skipped.result!.content![0]!.text, /^The "confirm" token is not valid for this call/);
      assert.equal(await list(notebook), '1. kept');
      // Control: the same call with the token a client without elicitation was given clears.
      const told = await call('notebook_clear', { notebook }, {}, NO_ELICITATION);
      const token = /"confirm": "([^"]+)"/.exec(told.result!.content![0]!.text)![1]!;
      assert.match((await call('notebook_clear', { notebook, confirm: token }, {}, NO_ELICITATION)).result!.content![0]!.text, /^Cleared /);
    });

    it('a confirm token is not an answerable MRTR question: sent back as requestState with an accept, it asks afresh', async () => {
      const { notebook } = await newNotebook('kept');
      const told = await call('notebook_clear', { notebook }, {}, NO_ELICITATION);
      const token = /"confirm": "([^"]+)"/.exec(told.result!.content![0]!.text)![1]!;
      const moved = await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState: token });
      assert.equal(moved.result!.resultType, 'input_required');
      assert.equal(await list(notebook), '1. kept');
      // Control: the MRTR question's own requestState with the same accept clears.
      assert.match(
        (await call('notebook_clear', { notebook }, { inputResponses: ACCEPT, requestState: await ask(notebook) })).result!.content![0]!.text,
        /^Cleared /,
      );
    });
  });
});
