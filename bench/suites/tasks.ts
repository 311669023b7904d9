// Tasks: what running a call as a task costs next to the same call answered directly, in one Node
// process (the worker runs in-process) and on the modelled deployed path (the worker is an
// asynchronous invocation in another Lambda environment). Per place, four rows from the same
// client: the direct call, the time a task-creating call takes to answer, and the time from
// sending it to a tight-polling client seeing the task completed with its result, and from the
// worker finishing to that poll.
import type { Budget } from '../budget.ts';
import type { Section } from '../report.ts';
import { KIT_ENV } from '../env.ts';
import { summarize, type Summary } from '../stats.ts';
import fixture from '../../test/fixtures/tasks.ts';
import { startAwsPath } from '../../test/helpers/aws.ts';
import { startInProcess, startTestDynamo } from '../../test/helpers/server.ts';

export interface TasksPlan {
  warmup: number;
  samples: number;
}

const TASKS = 'io.modelcontextprotocol/tasks';
/** How often the timing client polls: tighter than any client would, so the row shows the server's part. */
const POLL_MS = 10;

function client(url: string) {
  return async (method: string, params: Record<string, unknown>, tasks: boolean): Promise<Record<string, any>> => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
      'io.modelcontextprotocol/clientInfo': { name: 'bench-tasks', version: '1' },
    };
    const name = method === 'tools/call' ? String(params.name) : String(params.taskId);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        'mcp-name': name,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
    });
    const body = (await res.json()) as { result?: Record<string, any>; error?: unknown };
    if (!body.result) throw new Error(`bench tasks: ${method} failed: ${JSON.stringify(body)}`);
    return body.result;
  };
}

async function serve(where: 'node' | 'aws') {
  if (where === 'aws') {
    const path = await startAwsPath('test/fixtures/tasks.ts', { LOG_LEVEL: 'ERROR', MCP_TASK_POLL_MS: '100' }, { concurrency: 4 });
    return { url: path.url, stop: () => path.stop() };
  }
  const dynamo = await startTestDynamo();
  const server = await startInProcess(fixture, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    MCP_REQUEST_STATE_KEY: KIT_ENV.MCP_REQUEST_STATE_KEY!,
    MCP_TASK_POLL_MS: '100',
  });
  return { url: server.url, stop: async () => (await server.stop(), await dynamo.stop()) };
}

async function measurePlace(where: 'node' | 'aws', plan: TasksPlan, budget: Budget) {
  const path = await serve(where);
  const rpc = client(path.url);
  const call = { name: 'countdown', arguments: { ms: 0 } };
  const direct: number[] = [];
  const create: number[] = [];
  const complete: number[] = [];
  const seen: number[] = [];
  try {
    for (let i = 0; i < plan.warmup + plan.samples && (complete.length === 0 || !budget.spent()); i++) {
      let started = performance.now();
      const answer = await rpc('tools/call', call, false);
      const directMs = performance.now() - started;
      if (answer.resultType !== 'complete') throw new Error(`bench tasks: a client without tasks got ${answer.resultType}`);
      started = performance.now();
      const created = await rpc('tools/call', call, true);
      const createMs = performance.now() - started;
      if (created.resultType !== 'task') throw new Error(`bench tasks: expected a task, got ${JSON.stringify(created)}`);
      let task = created;
      while (task.status === 'working') {
        await new Promise((r) => setTimeout(r, POLL_MS));
        task = await rpc('tasks/get', { taskId: created.taskId }, true);
      }
      const completeMs = performance.now() - started;
      // From the worker's completing write (its lastUpdatedAt; same clock) to this client holding it.
      const seenMs = Date.now() - Date.parse(task.lastUpdatedAt);
      if (task.status !== 'completed' || !String(task.result?.content?.[0]?.text).startsWith('counted down 0 ms in task ')) {
        throw new Error(`bench tasks: the task ended ${task.status}: ${JSON.stringify(task)}`);
      }
      if (i < plan.warmup) continue;
      direct.push(directMs);
      create.push(createMs);
      complete.push(completeMs);
      seen.push(seenMs);
    }
  } finally {
    await path.stop();
  }
  return { direct: summarize(direct), create: summarize(create), complete: summarize(complete), seen: summarize(seen) };
}

const row = (id: string, label: string, s: Summary) => ({ id, label, values: { p50: s.median, p99: s.p99, n: s.n } });

export async function measureTasks(plan: TasksPlan, budget: Budget): Promise<Section> {
  const node = await measurePlace('node', plan, budget);
  const aws = await measurePlace('aws', plan, budget);
  return {
    id: 'tasks',
    title: 'Tasks: a call as a task against the same call answered directly',
    method:
      'A 2026-07-28 client calls `countdown` with `ms: 0` (test/fixtures/tasks.ts: no work, so the rows show what the task ' +
      'machinery costs) three ways per sample: without declaring the tasks extension (answered directly), declaring it (the ' +
      'answer is the created task: timed to that answer), and from sending that call to seeing the task completed with its ' +
      `result, polling \`tasks/get\` every ${POLL_MS} ms. "Finished to a poll seeing it" runs from the task's \`lastUpdatedAt\` ` +
      "(the worker's completing write, millisecond clock of the same machine) to the poll answer holding it: at most a poll " +
      'interval plus one `tasks/get`. "One process": npm start, the worker runs in it after the answer; "modelled Lambda": ' +
      "the path of npm run start:aws, the worker is an asynchronous invocation (the model's Invoke API) in another environment, " +
      'the task record in dynalite. Interleaved per sample, after unrecorded warm-up samples that also start the environments.',
    iterations: `${node.complete.n} samples in one process, ${aws.complete.n} on the modelled Lambda, after ${plan.warmup} unrecorded each`,
    columns: [
      { key: 'p50', header: 'p50', unit: 'ms' },
      { key: 'p99', header: 'p99', unit: 'ms' },
      { key: 'n', header: 'samples', unit: 'count' },
    ],
    rows: [
      row('node-direct', 'one process: direct call', node.direct),
      row('node-create', 'one process: call answered with a task', node.create),
      row('node-complete', 'one process: call to task completed, seen by the client', node.complete),
      row('node-seen', 'one process: task finished to a poll seeing it', node.seen),
      row('aws-direct', 'modelled Lambda: direct call', aws.direct),
      row('aws-create', 'modelled Lambda: call answered with a task', aws.create),
      row('aws-complete', 'modelled Lambda: call to task completed, seen by the client', aws.complete),
      row('aws-seen', 'modelled Lambda: task finished to a poll seeing it', aws.seen),
    ],
  };
}
