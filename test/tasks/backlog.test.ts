// The container task queue's backlog metrics (shared/tasks/backlog.ts), with a real DynamoDB
// emulator and real kit instances: one plays the function (queues container tasks), one a
// container whose workers hold one run at a time. With its only slot taken by an endless task, a
// second task waits: the workers still read the queue every poll (what the backlog alarm and
// autoscaling need most then), and the reporter turns what they read into an EMF line whose
// oldest-age grows with the wait. Controls: an empty queue reports 0 and 0; the reporter writes at
// most every 15 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKeyStore } from '../../shared/auth/api-keys.ts';
import { METRICS_NAMESPACE } from '../../shared/metrics.ts';
import { Table, createDynamoClient } from '../../shared/store/table.ts';
import { BACKLOG_EVERY_MS, BACKLOG_METRICS, backlogReporter } from '../../shared/tasks/backlog.ts';
import { type QueuedRun, TaskQueue } from '../../shared/tasks/queue.ts';
import type { TaskWorkers } from '../../shared/tasks/workers.ts';
import { containerTasksServer, jobs } from '../fixtures/container-tasks.ts';
import { rpc } from '../helpers/gateway-tasks.ts';
import { startInProcess, startTestDynamo, startTestS3 } from '../helpers/server.ts';

async function until<T>(read: () => T, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('container task backlog metrics', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  const kits: Awaited<ReturnType<typeof startInProcess>>[] = [];
  let workers: TaskWorkers | undefined;
  let key: string;

  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
    const keys = new ApiKeyStore(new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit'), { cacheSeconds: 1 });
    key = (await keys.create({ principalId: 'alice', scopes: [] })).key;
  });
  after(async () => {
    await workers?.stop();
    await Promise.all(kits.map((k) => k.stop()));
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  it('a full worker still reads the queue each poll, and the oldest waiting run ages in the metric', async () => {
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      MCP_AUTH_MODE: 'apikey',
      MCP_CONTAINER_TASKS: 'true',
      MCP_TASK_LEASE_SECONDS: '5',
    };
    const [fn, container] = await Promise.all([startInProcess(containerTasksServer('function'), env), startInProcess(containerTasksServer('ctr'), env)]);
    kits.push(fn, container);
    const polls: (readonly QueuedRun[])[] = [];
    workers = container.kit.startTaskWorkers({ concurrency: 1, pollMs: 50, drainMs: 100, onPoll: (waiting) => polls.push(waiting) });
    await until(
      () => polls.length,
      (n) => n > 0,
      'a first poll',
    );

    const lines: string[] = [];
    const report = backlogReporter('container-tasks', 'test', (line) => lines.push(line));
    report(polls.at(-1)!, 1_000_000);
    const empty = JSON.parse(lines[0]!);
    assert.deepEqual([empty[BACKLOG_METRICS.oldestAge], empty[BACKLOG_METRICS.waiting]], [0, 0], 'control: nothing waits');

    const auth = { authorization: `Bearer ${key}` };
    const endless = await rpc(fn.url, auth, 'tools/call', { name: 'endless_job', arguments: {} });
    const endlessId = endless.result!.taskId as string;
    await until(
      () => jobs.starts.get(endlessId) ?? [],
      (s) => s.length === 1,
      'the endless task running on the container',
    );
    const queuedAt = Date.now();
    const second = await rpc(fn.url, auth, 'tools/call', { name: 'long_job', arguments: { ms: 10 } });
    const secondId = second.result!.taskId as string;
    const seen = polls.length;
    const waiting = await until(
      () => polls.slice(seen).filter((p) => p.some((run) => run.taskId === secondId)),
      (full) => full.length >= 3,
      'three polls that read the waiting task while the worker is full',
    );
    assert.equal(jobs.starts.get(secondId), undefined, 'the second task is not run: the only slot is taken');
    assert.deepEqual(
      waiting.at(-1)!.map((run) => run.taskId),
      [secondId],
      'the running task is leased, so only the second waits',
    );

    const at = Date.now() + 5000;
    report(waiting.at(-1)!, at);
    assert.equal(lines.length, 2);
    const line = JSON.parse(lines[1]!);
    assert.equal(line._aws.CloudWatchMetrics[0].Namespace, METRICS_NAMESPACE);
    assert.deepEqual(line._aws.CloudWatchMetrics[0].Dimensions, [['Server', 'Stage']]);
    assert.deepEqual([line.Server, line.Stage, line[BACKLOG_METRICS.waiting]], ['container-tasks', 'test', 1]);
    const age = line[BACKLOG_METRICS.oldestAge];
    assert.ok(age >= 5000 && age <= at - queuedAt + 1000, `the wait since it was queued, about 5 s on: ${age} ms`);

    report(waiting.at(-1)!, at + BACKLOG_EVERY_MS - 1);
    assert.equal(lines.length, 2, 'control: no second line within 15 s');
    report(waiting.at(-1)!, at + BACKLOG_EVERY_MS);
    assert.equal(JSON.parse(lines[2]!)[BACKLOG_METRICS.oldestAge], age + BACKLOG_EVERY_MS);
  });
});

describe('the backlog lines are written with MCP_METRICS off', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  before(async () => {
    [dynamo, s3] = await Promise.all([startTestDynamo(), startTestS3()]);
  });
  after(async () => {
    await Promise.all([dynamo.stop(), s3.stop()]);
  });

  it("a container's workers report the backlog though MCP_METRICS is false: the alarm and autoscaling read it", async () => {
    const env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, MCP_CONTAINER_TASKS: 'true', MCP_METRICS: 'false' };
    const container = await startInProcess(containerTasksServer('ctr-quiet'), env);
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).includes(BACKLOG_METRICS.oldestAge)) lines.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
    const quiet = container.kit.startTaskWorkers({ pollMs: 50, drainMs: 100 });
    try {
      await until(
        () => lines.length,
        (n) => n >= 1,
        'a backlog line from the workers',
      );
      const line = JSON.parse(lines[0]!);
      assert.deepEqual([line.Server, line[BACKLOG_METRICS.waiting]], ['container-tasks', 0]);
    } finally {
      process.stdout.write = write;
      await quiet.stop();
      await container.stop();
    }
  });
});

describe('the backlog counts a restarted run from when it became claimable again', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  before(async () => {
    dynamo = await startTestDynamo();
  });
  after(async () => {
    await dynamo.stop();
  });

  const ageOf = (waiting: readonly QueuedRun[], now: number) => {
    const lines: string[] = [];
    backlogReporter('s', 'test', (line) => lines.push(line))(waiting, now);
    return JSON.parse(lines[0]!)[BACKLOG_METRICS.oldestAge] as number;
  };

  it('a run whose lease expired or was released reads its wait since then, not since it was first queued', async () => {
    const table = new Table(() => createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint }), 'mcp-kit');
    const queue = new TaskQueue(table, { server: 'aging', stage: 'test', version: '1', leaseMs: 200 });
    await queue.enqueue('never-taken', 1, Date.now() + 60_000, 'job');
    await queue.enqueue('expired', 1, Date.now() + 60_000, 'job');
    await queue.enqueue('released', 1, Date.now() + 60_000, 'job');
    const first = await queue.waiting(3);
    const byId = (runs: readonly QueuedRun[], id: string) => runs.find((r) => r.taskId === id)!;
    const expired = (await queue.claim(byId(first, 'expired'), 'w1'))!;
    const released = (await queue.claim(byId(first, 'released'), 'w1'))!;
    const releasedAt = Date.now();
    assert.ok(await queue.release(released));
    // Read as of just after the 200 ms lease lapsed.
    const waiting = await queue.waiting(3, undefined, expired.until + 1);
    assert.deepEqual(waiting.map((r) => r.taskId).sort(), ['expired', 'never-taken', 'released']);
    assert.equal(byId(waiting, 'expired').leaseUntil, expired.until, 'an expired lease records when it ended');
    assert.ok(byId(waiting, 'released').leaseUntil >= releasedAt, 'a release records when it happened');

    // An hour on, each reads its own wait: the never-taken run from when it was queued (control),
    // the restarted ones from when their lease ended, though all three were queued together.
    const later = Date.now() + 3_600_000;
    const queuedAt = Number.parseInt(byId(waiting, 'never-taken').sk, 10);
    assert.equal(ageOf(waiting, later), later - queuedAt, 'control: the oldest is the never-taken run, aged from its queuing');
    const restarted = waiting.filter((r) => r.taskId !== 'never-taken');
    assert.equal(ageOf(restarted, later), later - Math.min(expired.until, byId(waiting, 'released').leaseUntil));
    assert.ok(ageOf([byId(waiting, 'expired')], later) < later - Number.parseInt(byId(waiting, 'expired').sk, 10));
  });
});
