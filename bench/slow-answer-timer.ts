// What the slow-answer deadline costs per request (shared/http/slow-answer.ts: a `setTimeout`
// per request, cleared when the answer comes first) against one shared timer of our own per
// keep-alive interval (its entries in a Set in deadline order, as 34f6a85 had it), in one process,
// interleaved: quick answers with 1 and with 1,000 requests open at once (every request pays
// this), then 3,000 slow answers arriving 10 µs apart, each opening at its own deadline (CPU ms).
//   npx tsx bench/slow-answer-timer.ts [rounds=15]
import { streamIfSlow } from '../shared/http/slow-answer.ts';

const rounds = Number(process.argv[2] ?? 15);
const noLateError = () => ({ code: -32603, message: 'unused' });
const OK = new Response('{}');
const opened = () => new Response('stream');

type Entry = { at: number; open: () => void };

/** The alternative: one shared timer per interval, armed for the first entry; a firing stops at the first entry not due. */
class SharedTimer {
  private readonly pending = new Set<Entry>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  constructor(private readonly intervalMs: number) {}
  watch(entry: Entry) {
    this.pending.add(entry);
    if (!this.timer) this.arm(this.intervalMs);
  }
  unwatch(entry: Entry) {
    this.pending.delete(entry);
  }
  private arm(ms: number) {
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }
  private fire() {
    this.timer = undefined;
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.at > now) return this.arm(entry.at - now);
      this.pending.delete(entry);
      entry.open();
    }
  }
}
const shared = new Map<number, SharedTimer>();
function sharedTimer(answer: Promise<Response>, afterMs: number): Promise<Response> {
  let queue = shared.get(afterMs);
  if (!queue) shared.set(afterMs, (queue = new SharedTimer(afterMs)));
  const watched = queue;
  return new Promise((resolve, reject) => {
    let isOpen = false;
    const entry: Entry = { at: performance.now() + afterMs, open: () => ((isOpen = true), resolve(opened())) };
    watched.watch(entry);
    answer.then(
      (r) => isOpen || (watched.unwatch(entry), resolve(r)),
      (e: unknown) => isOpen || (watched.unwatch(entry), reject(e)),
    );
  });
}

type Impl = (answer: Promise<Response>, afterMs: number) => Promise<Response>;
const impls: Record<string, Impl> = {
  'setTimeout per request (kit)': (answer, afterMs) => streamIfSlow(answer, afterMs, 1, 'r', noLateError),
  'shared timer per interval': sharedTimer,
};

/** µs per request: `open` requests pending at once, all answered at once, `times` over. */
async function quick(impl: Impl, open: number, times: number): Promise<number> {
  const started = performance.now();
  for (let t = 0; t < times; t++) {
    const answers: ((r: Response) => void)[] = [];
    const pending = Array.from({ length: open }, () => impl(new Promise<Response>((resolve) => answers.push(resolve)), 25_000));
    for (const answer of answers) answer(OK);
    await Promise.all(pending);
  }
  return ((performance.now() - started) * 1000) / (open * times);
}

/** CPU ms for `n` slow answers arriving 10 µs apart, each left to open at its deadline. */
async function slow(impl: Impl, n: number): Promise<number> {
  const cpu = process.cpuUsage();
  const answers: ((r: Response) => void)[] = [];
  const pending: Promise<Response>[] = [];
  for (let k = 0; k < n; k++) {
    pending.push(impl(new Promise<Response>((resolve) => answers.push(resolve)), 50));
    for (const until = performance.now() + 0.01; performance.now() < until; );
  }
  await Promise.all(pending);
  for (const answer of answers) answer(OK);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
// A pending answer's request holds a real process open; here, this does.
const alive = setInterval(() => {}, 1_000);
const samples = Object.fromEntries(Object.keys(impls).map((name) => [name, { one: [] as number[], thousand: [] as number[], slow: [] as number[] }]));
for (const impl of Object.values(impls)) await quick(impl, 1, 20_000), await quick(impl, 1_000, 20);
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(impls);
  for (const name of r % 2 ? names : names.reverse()) {
    const s = samples[name]!;
    s.one.push(await quick(impls[name]!, 1, 20_000));
    s.thousand.push(await quick(impls[name]!, 1_000, 20));
    if (r < 4) s.slow.push(await slow(impls[name]!, 3_000));
  }
}
clearInterval(alive);
console.log('| | 1 open (µs/request) | 1,000 open (µs/request) | 3,000 slow (CPU ms) |\n| --- | ---: | ---: | ---: |');
for (const [name, s] of Object.entries(samples))
  console.log(`| ${name} | ${median(s.one).toFixed(2)} | ${median(s.thousand).toFixed(2)} | ${median(s.slow).toFixed(0)} |`);
