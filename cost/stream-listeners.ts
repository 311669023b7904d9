// A load process for cost/container-streams.ts: holds many `subscriptions/listen` streams over raw
// node:http (a keep-alive agent, one socket a stream) and records, per stream, when the first list
// change after each `arm` arrives. Told what to do over IPC; does no measuring of the server itself.
import { Agent, request, type IncomingMessage } from 'node:http';

export type ListenerCommand =
  /** `bodyTemplate`: the listen request's JSON with "ID" where each stream's request id goes. */
  | { type: 'open'; url: string; count: number; firstId: number; headers: Record<string, string>; bodyTemplate: string }
  | { type: 'arm'; round: number }
  | { type: 'collect'; round: number }
  | { type: 'close' };

/** Received by the parent: `opened` after `open`, `armed` after `arm`, `delivered` once every stream got the round's event or on `collect`. */
export type ListenerReport =
  | { type: 'opened'; ok: number; refused: Record<string, number>; errors: string[] }
  | { type: 'armed'; round: number }
  | { type: 'delivered'; round: number; at: number[]; missing: number; ended: number };

const WAVE = 50;
const MARK = 'list_changed';

interface Stream {
  response: IncomingMessage;
  tail: string;
  at: number | undefined;
  ended: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const streams: Stream[] = [];
let round = -1;

const now = () => performance.timeOrigin + performance.now();
const send = (report: ListenerReport) => process.send!(report);

function report(): void {
  const at = streams.flatMap((s) => (s.at === undefined ? [] : [s.at]));
  send({ type: 'delivered', round, at, missing: streams.length - at.length, ended: streams.filter((s) => s.ended).length });
}

function watch(response: IncomingMessage): void {
  const stream: Stream = { response, tail: '', at: undefined, ended: false };
  streams.push(stream);
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    const text = stream.tail + chunk;
    stream.tail = text.slice(-MARK.length);
    if (round < 0 || stream.at !== undefined || !text.includes(MARK)) return;
    stream.at = now();
    if (streams.every((s) => s.at !== undefined)) report();
  });
  const end = () => void (stream.ended = true);
  response.on('end', end);
  response.on('error', end);
}

/** A JSON answer instead of a stream: the refusal, as `<status> <JSON-RPC code> <message>`. */
async function refusal(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += chunk;
  const error = (() => {
    try {
      return (JSON.parse(text) as { error?: { code: number; message: string } }).error;
    } catch {
      return undefined;
    }
  })();
  return `${response.statusCode} ${error ? `${error.code} ${error.message}` : text.slice(0, 80)}`;
}

/** 'ok' for a held stream, else why not: a refusal or a connection error. */
function openOne(url: URL, headers: Record<string, string>, body: string): Promise<{ ok: true } | { refused: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const stream = response.statusCode === 200 && String(response.headers['content-type']).startsWith('text/event-stream');
      if (stream) {
        watch(response);
        resolve({ ok: true });
      } else
        void refusal(response).then(
          (why) => resolve({ refused: why }),
          (error: Error) => resolve({ error: error.message }),
        );
    });
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(body);
  });
}

async function open(command: Extract<ListenerCommand, { type: 'open' }>): Promise<void> {
  const url = new URL(command.url);
  const body = (id: number) => command.bodyTemplate.replace('"ID"', String(id));
  const results: Awaited<ReturnType<typeof openOne>>[] = [];
  for (let i = 0; i < command.count; i += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, command.count - i) }, (_, j) => openOne(url, command.headers, body(command.firstId + i + j)));
    results.push(...(await Promise.all(wave)));
  }
  const refused: Record<string, number> = {};
  for (const r of results) if ('refused' in r) refused[r.refused] = (refused[r.refused] ?? 0) + 1;
  const errors = [...new Set(results.flatMap((r) => ('error' in r ? [r.error] : [])))];
  send({ type: 'opened', ok: results.filter((r) => 'ok' in r).length, refused, errors });
}

process.on('message', (message: ListenerCommand) => {
  if (message.type === 'open') {
    void open(message);
  } else if (message.type === 'arm') {
    for (const s of streams) s.at = undefined;
    round = message.round;
    send({ type: 'armed', round });
  } else if (message.type === 'collect') {
    report();
  } else if (message.type === 'close') {
    for (const s of streams) s.response.destroy();
    agent.destroy();
    process.exit(0);
  }
});
