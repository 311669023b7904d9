// A worker run is claimed once: two deliveries of the same event race for the claim on the real
// table (dynalite), and the one whose conditional write loses runs nothing, though its first try
// had found the run unclaimed. Lambda's queue delivers at least once, so this race happens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Relay } from '../../shared/relay/relay.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { TaskService, type TaskServiceOptions } from '../../shared/tasks/service.ts';
import { TaskStore, newTaskId } from '../../shared/tasks/store.ts';
import { startTestDynamo } from '../helpers/server.ts';

describe('claiming a worker run', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  before(async () => {
    dynamo = await startTestDynamo();
  });
  after(() => dynamo.stop());

  const table = () => new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
  const storeOn = (t: Table) => new TaskStore(t, { ttlMs: 60_000, pollIntervalMs: 100, inlineResultBytes: 300_000 });
  const quietRelay = { kind: 'table', send: async () => {}, watch: () => ({ hurry() {}, stop() {} }) } as Relay;

  function service(store: TaskStore, ran: string[]) {
    return new TaskService({
      store,
      relay: quietRelay,
      artifacts: {} as TaskServiceOptions['artifacts'],
      log: { debug() {}, info() {}, warn() {}, error() {} } as unknown as TaskServiceOptions['log'],
      execute: async ({ record }) => (ran.push(record.id), { content: [{ type: 'text', text: 'done' }] }) as never,
      staleAfterMs: 60_000,
      maxTtlMs: 60_000,
      stage: 'test',
      server: 'claim-test',
      metrics: false,
    });
  }

  it('runs nothing when another delivery claims the run between its read and its write', async () => {
    const other = storeOn(table());
    const racing = table();
    const id = newTaskId();
    await other.create({ id, principalId: 'p', wire: '2026', request: { tool: 'countdown', arguments: {}, scopes: [] } });
    // The other delivery's claim lands just before this one's first conditional write.
    const put = racing.put.bind(racing);
    let raced = false;
    racing.put = async (...args: Parameters<Table['put']>) => {
      if (!raced && args[1]?.startsWith('version')) {
        raced = true;
        await other.transition(id, ['working'], () => ({ claimedRun: 1 }));
      }
      return put(...args);
    };
    const ran: string[] = [];
    await service(storeOn(racing), ran).run(id, 1);
    assert.ok(raced, 'the claim raced');
    assert.deepEqual(ran, [], 'the delivery that lost the race ran nothing');
    // Control: a delivery that meets no race runs the work.
    const alone = newTaskId();
    await other.create({ id: alone, principalId: 'p', wire: '2026', request: { tool: 'countdown', arguments: {}, scopes: [] } });
    await service(storeOn(table()), ran).run(alone, 1);
    assert.deepEqual(ran, [alone]);
  });
});
