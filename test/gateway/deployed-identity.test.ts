// Two callers through a gateway on the modelled deployed path: the gateway and each notes server in
// their own modelled Lambda functions behind modelled API Gateway and CloudFront (test/helpers/aws.ts),
// every request landing in whichever environment Lambda picks. Alice and Bob call the gateway with
// API keys; the notes functions trust it (MCP_TRUSTED_GATEWAYS), so it speaks for each of them:
// Bob cannot use Alice's handles, resources, exported artifacts, confirmations, handle quota, rate
// limit or 2025-era upstream session, and no task is made upstream through the gateway, which
// answers no task method. The controls reach the same functions with `identity: gateway` (one
// shared principal), where Bob gets what Alice made. The functions start once for the whole suite.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { startAwsPath, type AwsPath } from '../helpers/aws.ts';
import { plainCaller, STATE_KEY, text, type PlainCaller } from '../helpers/gateway.ts';
import { noTaskOfAnotherCaller, taskToolRunsInTheCall, type TaskPaths } from '../helpers/gateway-tasks.ts';

/** Both functions read the same request-state key, as from one data plane's secret; the notes functions trust the gateway with it. */
const KEY = { MCP_REQUEST_STATE_KEY: STATE_KEY };
const TRUSTING = { ...KEY, MCP_AUTH_MODE: 'apikey', MCP_TRUSTED_GATEWAYS: JSON.stringify({ gateway: { fromRequestStateKey: true } }) };
const ERAS = ['modern', 'legacy'] as const;
/** Lists that reach, all but surely, each of the gateway's (at most 4) environments: a miss is (3/4)^30, 0.02%. */
const SESSION_TRIES = 30;

const keysOn = (path: AwsPath) =>
  new ApiKeyStore(new Table(async () => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: path.dynamoEndpoint }), 'mcp-kit'), { cacheSeconds: 30 });
const handleOf = (result: unknown) => (result as { structuredContent: { notebook: string } }).structuredContent.notebook;
const isError = (result: unknown) => (result as { isError?: boolean }).isError === true;
/** What a call or read answered, as text: its content, its tool error, or the JSON-RPC error's message. */
const outcome = (answer: Promise<unknown>) =>
  answer.then(
    (r) => JSON.stringify(r),
    (err: Error) => err.message,
  );

describe('two callers through a modelled gateway to modelled kit servers', () => {
  let gateway: AwsPath;
  /** notes for handles, resources, artifacts, confirmations, sessions and tasks; quota: two notebooks a principal; limited: six requests a principal a minute, in Redis. */
  let notes: AwsPath, quota: AwsPath, limited: AwsPath;
  const keys: Record<string, string> = {};
  const open: PlainCaller[] = [];

  before(async () => {
    [notes, quota, limited] = await Promise.all([
      startAwsPath('functions/notes/handler.ts', TRUSTING, { concurrency: 3, s3: true }),
      startAwsPath('functions/notes/handler.ts', { ...TRUSTING, MCP_HANDLES_PER_PRINCIPAL: '2' }, { concurrency: 2 }),
      startAwsPath(
        'functions/notes/handler.ts',
        { ...TRUSTING, MCP_RATE_LIMIT_ENABLED: 'true', MCP_RATE_LIMIT_REQUESTS: '6' },
        { concurrency: 2, redis: true },
      ),
    ]);
    // The gateway's own key on each notes function, for the shared-identity controls (MCP_* variables reach the model).
    const [notesKey, quotaKey, limitedKey] = await Promise.all(
      [notes, quota, limited].map(async (p) => (await keysOn(p).create({ principalId: 'gateway' })).key),
    );
    const shared = (variable: string) => ({ identity: 'gateway', shareIdentity: true, auth: { apiKeyVariable: variable } });
    const once = { retry: { attempts: 1 } };
    const config = {
      upstreams: {
        notes: { url: notes.url },
        shared: { url: notes.url, ...shared('MCP_TEST_NOTES_KEY') },
        session: { url: notes.url, protocol: 'legacy' },
        quota: { url: quota.url },
        'quota-shared': { url: quota.url, ...shared('MCP_TEST_QUOTA_KEY') },
        limited: { url: limited.url, ...once },
        'limited-shared': { url: limited.url, ...shared('MCP_TEST_LIMITED_KEY'), ...once },
      },
    };
    gateway = await startAwsPath(
      'functions/gateway/handler.ts',
      {
        ...KEY,
        MCP_AUTH_MODE: 'apikey',
        MCP_GATEWAY_CONFIG: JSON.stringify(config),
        MCP_TEST_NOTES_KEY: notesKey!,
        MCP_TEST_QUOTA_KEY: quotaKey!,
        MCP_TEST_LIMITED_KEY: limitedKey!,
      },
      { concurrency: 4 },
    );
    const store = keysOn(gateway);
    for (const who of ['alice', 'bob', 'qalice', 'qbob', 'ralice', 'rbob']) keys[who] = (await store.create({ principalId: who })).key;
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await gateway?.stop();
    await Promise.all([notes?.stop(), quota?.stop(), limited?.stop()]);
  });

  const as = async (who: string, era: 'modern' | 'legacy') => {
    const c = await plainCaller(era, gateway.url, { authorization: `Bearer ${keys[who]}` });
    open.push(c);
    return c;
  };

  for (const era of ERAS) {
    describe(`callers of the ${era} era`, () => {
      it("keep alice's notebook and its resource from bob (control: a shared identity does not)", async () => {
        const [alice, bob] = [await as('alice', era), await as('bob', era)];
        for (const [upstream, bobSees] of [
          ['notes', false],
          ['shared', true],
        ] as const) {
          const handle = handleOf(await alice.callTool({ name: `${upstream}__note_add`, arguments: { text: `alice on Lambda via ${upstream}` } }));
          assert.match(text(await alice.callTool({ name: `${upstream}__note_list`, arguments: { notebook: handle } })), /alice on Lambda/);
          assert.equal(
            /alice on Lambda/.test(await outcome(bob.callTool({ name: `${upstream}__note_list`, arguments: { notebook: handle } }))),
            bobSees,
            `bob listing through ${upstream}`,
          );
          const uri = `${upstream}+notes://notebook/${handle}`;
          assert.match(await outcome(alice.readResource({ uri })), /alice on Lambda/);
          assert.equal(/alice on Lambda/.test(await outcome(bob.readResource({ uri }))), bobSees, `bob reading ${uri}`);
        }
      });

      it("keep alice's exported notebook (its artifact link) from bob (control: a shared identity does not)", async () => {
        const [alice, bob] = [await as('alice', era), await as('bob', era)];
        for (const [upstream, bobSees] of [
          ['notes', false],
          ['shared', true],
        ] as const) {
          const handle = handleOf(await alice.callTool({ name: `${upstream}__note_add`, arguments: { text: 'exported on Lambda' } }));
          const exported = (await alice.callTool({ name: `${upstream}__notebook_export`, arguments: { notebook: handle } })) as {
            content: { type: string; uri?: string }[];
          };
          const link = exported.content.find((c) => c.type === 'resource_link')!.uri!;
          assert.match(link, new RegExp(`^${upstream}\\+artifact://`));
          assert.match(await outcome(alice.readResource({ uri: link })), /exported on Lambda/);
          const bobRead = await outcome(bob.readResource({ uri: link }));
          assert.equal(/exported on Lambda/.test(bobRead), bobSees, `bob reading ${link}: ${bobRead}`);
        }
      });

      it("cannot use alice's confirmation token (control: a shared identity can)", async () => {
        const [alice, bob] = [await as('alice', era), await as('bob', era)];
        for (const [upstream, bobClears] of [
          ['notes', false],
          ['shared', true],
        ] as const) {
          const handle = handleOf(await alice.callTool({ name: `${upstream}__note_add`, arguments: { text: 'keep me' } }));
          const asked = text(await alice.callTool({ name: `${upstream}__notebook_clear`, arguments: { notebook: handle } }));
          const token = /"confirm":\s*"([^"]+)"|confirm[^A-Za-z0-9]+([A-Za-z0-9._~-]{40,})/.exec(asked);
          assert.ok(token, `no confirm token in: ${asked}`);
          const used = await bob
            .callTool({ name: `${upstream}__notebook_clear`, arguments: { notebook: handle, confirm: token[1] ?? token[2] } })
            .then(text, (err: Error) => err.message);
          assert.equal(/^Cleared/.test(used), bobClears, `bob confirming through ${upstream}: ${used}`);
          const left = text(await alice.callTool({ name: `${upstream}__note_list`, arguments: { notebook: handle } }));
          assert.equal(/keep me/.test(left), !bobClears, `alice's notebook after bob's try through ${upstream}: ${left}`);
        }
      });

      it("get their own 2025-era session upstream: bob does not see alice's session notebook in any gateway environment", async () => {
        const [alice, bob] = [await as('alice', era), await as('bob', era)];
        const mark = `alice session ${era} ${crypto.randomUUID()}`;
        const list = async (c: PlainCaller) => text(await c.callTool({ name: 'session__note_list', arguments: {} }));
        assert.match(text(await alice.callTool({ name: 'session__note_add', arguments: { text: mark } })), /session notebook/);
        // Each side lists until it has surely reached every gateway environment: each resumes alice's
        // session from the table, and none may hand it to bob.
        let seen = 0;
        for (let i = 0; i < SESSION_TRIES && seen === 0; i++) if ((await list(alice)).includes(mark)) seen++;
        assert.equal(seen, 1, 'control: alice never saw her own session note');
        for (let i = 0; i < SESSION_TRIES; i++) assert.doesNotMatch(await list(bob), new RegExp(mark));
      });

      it('sees her own 2025-era upstream session state whichever gateway environment serves her', async () => {
        const alice = await as('alice', era);
        const mark = `alice again ${era} ${crypto.randomUUID()}`;
        await alice.callTool({ name: 'session__note_add', arguments: { text: mark } });
        // As many lists as reach, all but surely, every gateway environment (each resumes her session from the table).
        for (let i = 0; i < SESSION_TRIES; i++) assert.match(text(await alice.callTool({ name: 'session__note_list', arguments: {} })), new RegExp(mark));
      });
    });
  }

  it('counts the per-principal handle quota per caller (control: shared, one caller uses it up for all)', async () => {
    const [alice, bob] = [await as('qalice', 'modern'), await as('qbob', 'legacy')];
    const add = (c: PlainCaller, upstream: string) =>
      c.callTool({ name: `${upstream}__note_add`, arguments: { text: 'n' } }).then(
        (r) => (isError(r) ? text(r) : 'ok'),
        (err: Error) => err.message,
      );
    assert.equal(await add(alice, 'quota'), 'ok');
    assert.equal(await add(alice, 'quota'), 'ok');
    assert.match(await add(alice, 'quota'), /state handles/);
    assert.equal(await add(bob, 'quota'), 'ok');
    assert.equal(await add(alice, 'quota-shared'), 'ok');
    assert.equal(await add(alice, 'quota-shared'), 'ok');
    assert.match(await add(bob, 'quota-shared'), /state handles/);
  });

  it("limits each caller's rate on its own, and her refusals do not open the circuit for him (control: shared)", async () => {
    const [alice, bob] = [await as('ralice', 'modern'), await as('rbob', 'legacy')];
    const echo = (c: PlainCaller, upstream: string) =>
      c.callTool({ name: `${upstream}__echo`, arguments: { text: 'x' } }).then(
        (r) => (isError(r) ? text(r) : 'ok'),
        (err: Error) => err.message,
      );
    const answers: string[] = [];
    // Six requests a principal a minute, the gateway's discovers among them; then well past the breaker's
    // five failures in every gateway environment, had a refusal counted as one.
    for (let i = 0; i < 40; i++) answers.push(await echo(alice, 'limited'));
    const refused = answers.filter((a) => /rate limited|429|Too Many/i.test(a));
    assert.ok(answers.indexOf('ok') === 0 && refused.length >= 34, answers.join('\n'));
    assert.equal(await echo(bob, 'limited'), 'ok');
    let i = 0;
    while ((await echo(alice, 'limited-shared')) === 'ok') assert.ok(++i <= 6, 'the shared principal was never limited');
    assert.match(await echo(bob, 'limited-shared'), /rate limited|429|Too Many/i);
  });

  describe('tasks', () => {
    const paths = (): TaskPaths => ({
      gatewayUrl: gateway.url,
      upstream: 'notes',
      upstreamUrl: notes.url,
      dynamoEndpoint: notes.dynamoEndpoint,
      keys: { alice: keys.alice!, bob: keys.bob! },
      caller: as,
    });
    it('a task-capable caller of either era gets the task tool run inside its call: nothing is made a task upstream', () => taskToolRunsInTheCall(paths()));
    it("answers no task method, so bob cannot get, read or cancel alice's upstream task through it", () => noTaskOfAnotherCaller(paths()));
  });
});
