// What the two-caller gateway suites check of tasks, on whichever path they run (npm start in
// this process, or the modelled deployed path): the gateway makes no task upstream and answers no
// task method, and a task made upstream for one caller, as the gateway names it, is not another's.
// Its raw task-declaring request and task-record scan serve the other task suites too.
import assert from 'node:assert/strict';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { OnBehalfOf } from '../../shared/gateway/assertions.ts';
import type { UpstreamConfig } from '../../shared/gateway/config.ts';
import type { Principal } from '../../shared/principal.ts';
import { createDynamoClient } from '../../shared/store/table.ts';
import { STATE_KEY, type PlainCaller } from './gateway.ts';

const TASKS = 'io.modelcontextprotocol/tasks';

export interface TaskPaths {
  gatewayUrl: string;
  /** The notes upstream the gateway calls `upstream`, on this URL, trusting the gateway named `gateway` with STATE_KEY. */
  upstream: string;
  upstreamUrl: string;
  /** The table the upstream keeps its tasks in. */
  dynamoEndpoint: string;
  /** alice's and bob's API keys on the gateway. */
  keys: { alice: string; bob: string };
  /** A caller of the gateway, with that API key. */
  caller(who: 'alice' | 'bob', era: 'modern' | 'legacy'): Promise<PlainCaller>;
}

/** One 2026-07-28 request as raw HTTP, declaring the tasks extension: what a hostile client may send. */
export async function rpc(url: string, headers: Record<string, string>, method: string, params: Record<string, unknown>) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
    'io.modelcontextprotocol/clientInfo': { name: 'gateway-tasks', version: '1' },
  };
  const name = String(params.name ?? params.taskId ?? params.uri ?? '');
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name && { 'mcp-name': name }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
  });
  const body = await res.text();
  const json = res.headers.get('content-type')?.startsWith('text/event-stream') ? /^data: (.*)$/m.exec(body)![1]! : body;
  return JSON.parse(json) as { result?: Record<string, any>; error?: { code: number; message: string } };
}

/** Ids of the task records in a table, sorted. */
export async function taskIds(dynamoEndpoint: string): Promise<string[]> {
  const scan = await (await createDynamoClient({ region: 'us-east-1', dynamoEndpoint })).send(new ScanCommand({ TableName: 'mcp-kit' }));
  return (scan.Items ?? [])
    .filter((item: Record<string, { S?: string }>) => item.sk?.S === 'META') // the records, not their progress items
    .map((item: Record<string, { S?: string }>) => item.pk?.S ?? '')
    .filter((pk) => pk.startsWith('TASK#'))
    .map((pk) => pk.slice('TASK#'.length))
    .sort();
}

/** A task-capable caller of either era gets notes' task tool run inside its call, and no task record is made upstream. */
export async function taskToolRunsInTheCall(p: TaskPaths): Promise<void> {
  const before = await taskIds(p.dynamoEndpoint);
  const added = (await (await p.caller('alice', 'modern')).callTool({ name: `${p.upstream}__note_add`, arguments: { text: 'task or not' } })) as {
    structuredContent: { notebook: string };
  };
  const notebook = added.structuredContent.notebook;
  // 2026-07-28, declaring the tasks extension.
  const modern = await rpc(p.gatewayUrl, { authorization: `Bearer ${p.keys.alice}` }, 'tools/call', {
    name: `${p.upstream}__notebook_export`,
    arguments: { notebook },
  });
  assert.equal(modern.result?.resultType, 'complete', JSON.stringify(modern));
  assert.match(modern.result!.content[0].text, /^Exported 1 notes to /);
  // 2025-11-25, a task-augmented call: the gateway declares no tasks, so it is processed as a plain call.
  const legacy = (await p.caller('alice', 'legacy')) as unknown as LegacyClient;
  assert.equal(legacy.getServerCapabilities()?.tasks, undefined);
  const plain = await legacy.request(
    { method: 'tools/call', params: { name: `${p.upstream}__notebook_export`, arguments: { notebook }, task: {} } },
    CallToolResultSchema,
  );
  assert.match(String((plain.content[0] as { text: string }).text), /^Exported 1 notes to /);
  assert.deepEqual(await taskIds(p.dynamoEndpoint), before);
}

/**
 * The gateway answers no task method (-32601 in both eras), so bob cannot get, read, update or
 * cancel alice's upstream task through it; and upstream, were a gateway to forward them, bob as
 * the gateway names him finds no such task where alice (the control) finds it, not cancelled.
 */
export async function noTaskOfAnotherCaller(p: TaskPaths): Promise<void> {
  const callers = new OnBehalfOf('gateway', STATE_KEY);
  const upstream = { name: p.upstream, url: p.upstreamUrl, forwardScopes: [] } as unknown as UpstreamConfig;
  const asGateway = (id: string) => callers.headers(callers.partition({ id, scopes: [] } as unknown as Principal), upstream);
  // A task made upstream for alice as the gateway names her, as a gateway that forwarded tasks would make it.
  const aliceUp = await asGateway('apikey:alice');
  const notebook = (await rpc(p.upstreamUrl, aliceUp, 'tools/call', { name: 'note_add', arguments: { text: 'alice task' } })).result!.structuredContent
    .notebook;
  const created = await rpc(p.upstreamUrl, aliceUp, 'tools/call', { name: 'notebook_export', arguments: { notebook } });
  assert.equal(created.result?.resultType, 'task', JSON.stringify(created));
  const taskId = created.result!.taskId as string;
  for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
    const answer = await rpc(p.gatewayUrl, { authorization: `Bearer ${p.keys.bob}` }, method, { taskId });
    assert.equal(answer.error?.code, -32601, `${method}: ${JSON.stringify(answer)}`);
  }
  const bob = (await p.caller('bob', 'legacy')) as unknown as LegacyClient;
  for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/list']) {
    const answer = await bob.request({ method, params: method === 'tasks/list' ? {} : { taskId } } as never, z.any()).then(
      (r) => JSON.stringify(r),
      (err: Error) => err.message,
    );
    assert.match(answer, /-32601/, `${method}: ${answer}`);
  }
  const bobUp = await asGateway('apikey:bob');
  for (const method of ['tasks/get', 'tasks/cancel']) {
    const answer = await rpc(p.upstreamUrl, bobUp, method, { taskId });
    assert.match(answer.error?.message ?? '', /Unknown task .* not yours/, `${method} as bob upstream: ${JSON.stringify(answer)}`);
  }
  const mine = await rpc(p.upstreamUrl, aliceUp, 'tasks/get', { taskId });
  assert.equal(mine.result?.taskId, taskId, JSON.stringify(mine));
  assert.notEqual(mine.result?.status, 'cancelled');
}
