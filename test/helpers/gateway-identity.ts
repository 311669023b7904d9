// The two-caller cases both gateway identity suites run, in this process (test/gateway/identity.test.ts)
// and on the modelled deployed path (test/gateway/deployed-identity.test.ts): Bob cannot use Alice's
// handles, resources, exported artifacts, confirmations, handle quota, rate limit or 2025-era upstream
// session, in either era, nor reach her tasks. Each case has its control through `identity: gateway`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { text, type PlainCaller } from './gateway.ts';
import { noTaskOfAnotherCaller, taskToolRunsInTheCall, type TaskPaths } from './gateway-tasks.ts';

type Era = 'modern' | 'legacy';

/**
 * A gateway with API-key callers alice, bob, qalice, qbob, ralice and rbob, and these upstreams, each
 * trusting the gateway: `notes` (and `shared`, the same server through one shared identity), `session`
 * (the same server through the 2025 era), `quota` and `quota-shared` (two notebooks a principal),
 * `limited` and `limited-shared` (six requests a principal a minute, one attempt a call).
 */
export interface TwoCallers {
  /** A caller of the gateway with that principal's API key, closed by the suite. */
  as(who: string, era: Era): Promise<PlainCaller>;
  /** Where the gateway and its `notes` upstream are, and alice's and bob's keys: asked once the suite has started. */
  where(): Pick<TaskPaths, 'gatewayUrl' | 'upstreamUrl' | 'dynamoEndpoint' | 'keys'>;
  /** Lists that reach, all but surely, every gateway environment: 1 for one process. */
  sessionTries: number;
}

const handleOf = (result: unknown) => (result as { structuredContent: { notebook: string } }).structuredContent.notebook;
const isError = (result: unknown) => (result as { isError?: boolean }).isError === true;
/** What a call or read answered, as text: its content, its tool error, or the JSON-RPC error's message. */
const outcome = (answer: Promise<unknown>) =>
  answer.then(
    (r) => JSON.stringify(r),
    (err: Error) => err.message,
  );
/** A call's text, or 'ok' when it succeeded, its tool error's text, or the JSON-RPC error's message. */
const okOr = (answer: Promise<unknown>) =>
  answer.then(
    (r) => (isError(r) ? text(r) : 'ok'),
    (err: Error) => err.message,
  );
/** Through `notes` bob is his own principal; through `shared` (the control) he is the gateway, as alice is. */
const THROUGH = [
  ['notes', false],
  ['shared', true],
] as const;

/** Defines the cases in the calling describe. */
export function twoCallerCases(gateway: TwoCallers): void {
  for (const era of ['modern', 'legacy'] as const) describe(`callers of the ${era} era`, () => eraCases(gateway, era));

  it('counts the per-principal handle quota per caller (control: shared, one caller uses it up for all)', async () => {
    const [alice, bob] = [await gateway.as('qalice', 'modern'), await gateway.as('qbob', 'legacy')];
    const add = (c: PlainCaller, upstream: string) => okOr(c.callTool({ name: `${upstream}__note_add`, arguments: { text: 'n' } }));
    assert.equal(await add(alice, 'quota'), 'ok');
    assert.equal(await add(alice, 'quota'), 'ok');
    assert.match(await add(alice, 'quota'), /state handles/);
    assert.equal(await add(bob, 'quota'), 'ok');
    // Through the shared identity the gateway is one principal: two notebooks, then none for anyone.
    assert.equal(await add(alice, 'quota-shared'), 'ok');
    assert.equal(await add(alice, 'quota-shared'), 'ok');
    assert.match(await add(bob, 'quota-shared'), /state handles/);
  });

  it("limits each caller's rate on its own, and her refusals do not open the circuit for him (control: shared)", async () => {
    const [alice, bob] = [await gateway.as('ralice', 'modern'), await gateway.as('rbob', 'legacy')];
    const echo = (c: PlainCaller, upstream: string) => okOr(c.callTool({ name: `${upstream}__echo`, arguments: { text: 'x' } }));
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
    const tasks = (): TaskPaths => ({ ...gateway.where(), upstream: 'notes', caller: gateway.as });
    it('a task-capable caller of either era gets the task tool run inside its call: nothing is made a task upstream', () => taskToolRunsInTheCall(tasks()));
    it("answers no task method, so bob cannot get, read or cancel alice's upstream task through it", () => noTaskOfAnotherCaller(tasks()));
  });
}

function eraCases(gateway: TwoCallers, era: Era): void {
  const pair = async () => [await gateway.as('alice', era), await gateway.as('bob', era)] as const;

  it("keep alice's notebook and its resource from bob (control: a shared identity does not)", async () => {
    const [alice, bob] = await pair();
    for (const [upstream, bobSees] of THROUGH) {
      const handle = handleOf(await alice.callTool({ name: `${upstream}__note_add`, arguments: { text: `alice's secret via ${upstream}` } }));
      assert.match(text(await alice.callTool({ name: `${upstream}__note_list`, arguments: { notebook: handle } })), /alice's secret/);
      const listed = await outcome(bob.callTool({ name: `${upstream}__note_list`, arguments: { notebook: handle } }));
      assert.equal(/alice's secret/.test(listed), bobSees, `bob listing through ${upstream}: ${listed}`);
      const added = await okOr(bob.callTool({ name: `${upstream}__note_add`, arguments: { text: 'bob was here', notebook: handle } }));
      assert.equal(added === 'ok', bobSees, `bob adding through ${upstream}: ${added}`);
      const uri = `${upstream}+notes://notebook/${handle}`;
      assert.match(await outcome(alice.readResource({ uri })), /alice's secret/);
      assert.equal(/alice's secret/.test(await outcome(bob.readResource({ uri }))), bobSees, `bob reading ${uri}`);
    }
  });

  it("keep alice's exported notebook (its artifact link) from bob (control: a shared identity does not)", async () => {
    const [alice, bob] = await pair();
    for (const [upstream, bobSees] of THROUGH) {
      const handle = handleOf(await alice.callTool({ name: `${upstream}__note_add`, arguments: { text: 'exported secret' } }));
      const exported = (await alice.callTool({ name: `${upstream}__notebook_export`, arguments: { notebook: handle } })) as {
        content: { type: string; uri?: string }[];
      };
      const link = exported.content.find((c) => c.type === 'resource_link')!.uri!;
      assert.match(link, new RegExp(`^${upstream}\\+artifact://`));
      assert.match(await outcome(alice.readResource({ uri: link })), /exported secret/);
      const bobRead = await outcome(bob.readResource({ uri: link }));
      assert.equal(/exported secret/.test(bobRead), bobSees, `bob reading ${link}: ${bobRead}`);
    }
  });

  it("cannot use alice's confirmation token (control: a shared identity can)", async () => {
    const [alice, bob] = await pair();
    for (const [upstream, bobClears] of THROUGH) {
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

  const list = async (c: PlainCaller) => text(await c.callTool({ name: 'session__note_list', arguments: {} }));

  it("get their own 2025-era session upstream: bob does not see alice's session notebook in any gateway environment", async () => {
    const [alice, bob] = await pair();
    const mark = `alice session ${era} ${crypto.randomUUID()}`;
    assert.match(text(await alice.callTool({ name: 'session__note_add', arguments: { text: mark } })), /session notebook/);
    // Each side lists until it has surely reached every gateway environment: each resumes alice's
    // session from the table, and none may hand it to bob.
    let seen = 0;
    for (let i = 0; i < gateway.sessionTries && seen === 0; i++) if ((await list(alice)).includes(mark)) seen++;
    assert.equal(seen, 1, 'control: alice never saw her own session note');
    for (let i = 0; i < gateway.sessionTries; i++) assert.doesNotMatch(await list(bob), /alice session/);
  });

  it('sees her own 2025-era upstream session state whichever gateway environment serves her', async () => {
    const alice = await gateway.as('alice', era);
    const mark = `alice again ${era} ${crypto.randomUUID()}`;
    await alice.callTool({ name: 'session__note_add', arguments: { text: mark } });
    for (let i = 0; i < gateway.sessionTries; i++) assert.match(await list(alice), new RegExp(mark));
  });
}
