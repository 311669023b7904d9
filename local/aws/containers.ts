// The container tier of `npm run start:aws` with MCP_AWS_CONTAINERS=true: the ECS service (N
// long-lived tasks, each a Node process running the container bundle, no freeze, many requests
// at once) behind a model of the private ALB that CloudFront's VPC origin reaches. The bundle is
// built with the construct's esbuild options from `containerEntrySource`. The ALB sends each
// request to the registered task with the fewest requests in flight; a task is registered once
// `GET /health` answers, deregistered before it is stopped (as ECS does) or when it dies. No
// registered task: the ALB answers 503 itself, as AWS's does (the edge adds Retry-After:
// infra/edge/stream-unavailable.mjs); a task that refuses the connection: 502.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { bundleFunction } from '../../infra/bundle.ts';
import { containerEntrySource } from '../../infra/function-bundle.ts';
import { freePort } from '../free-port.ts';
import { loadedBytes } from './build.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ADAPTER = join(ROOT, 'shared/adapters/container.ts');
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);

/** The server definition a container serves: the entry itself, or the `server.ts` beside a Lambda `handler.ts`. */
async function serverFile(entry: string): Promise<string> {
  const file = resolve(entry);
  if (!/export\s+(const|async function|function)\s+handler\b/.test(await readFile(file, 'utf8'))) return file;
  const beside = join(dirname(file), 'server.ts');
  if (!existsSync(beside))
    throw new Error(
      `MCP_AWS_CONTAINERS: ${entry} is a Lambda handler with no server.ts beside it; start:aws needs the server definition to build the container`,
    );
  return beside;
}

/** Builds `.local/aws/<name>-container/index.mjs`; returns its path and what it loads at start. */
export async function buildContainer(entry: string, outDir = join(ROOT, '.local/aws')): Promise<{ bundle: string; bytes: number }> {
  const server = await serverFile(entry);
  const name = `${basename(dirname(server))}-container`;
  const dir = join(outDir, 'entries', name);
  await mkdir(dir, { recursive: true });
  const source = join(dir, 'container.ts');
  await writeFile(source, containerEntrySource(server, ADAPTER));
  const target = join(outDir, name);
  const metafile = await bundleFunction({ entry: source, outdir: target, options: {}, workingDir: ROOT });
  return { bundle: join(target, 'index.mjs'), bytes: loadedBytes(metafile, target) };
}

export class ContainerTask {
  readonly child: ChildProcess;
  /** Registered in the target group: healthy, and not being stopped. */
  registered = false;
  inFlight = 0;
  readonly exited: Promise<number | null>;

  constructor(
    readonly id: number,
    readonly port: number,
    bundle: string,
    environment: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {
    this.child = spawn(process.execPath, ['--enable-source-maps', bundle], {
      cwd: dirname(bundle),
      env: { PATH: process.env.PATH, TZ: ':UTC', LANG: 'en_US.UTF-8', ...environment, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line) log(`[task ${id}] ${line}`);
      });
    }
    this.exited = new Promise((done) =>
      this.child.once('exit', (code, signal) => {
        this.registered = false;
        log(`[task ${id}] exited (${signal ?? code})`);
        done(code);
      }),
    );
  }

  /** Resolves once `GET /health` answers 200 (the target group's health check); fails if the process exits first. */
  async healthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!exited && Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${this.port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        this.registered = true;
        this.log(`[alb] task ${this.id} registered (port ${this.port})`);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`container task ${this.id} did not pass its health check${exited ? ': it exited' : ` within ${timeoutMs} ms`}`);
  }
}

export interface ContainerServiceOptions {
  bundle: string;
  environment: Record<string, string>;
  /** Tasks the service runs. */
  tasks: number;
  log: (line: string) => void;
}

/** The ECS service: its tasks, started and stopped as ECS does it. */
export class ContainerService {
  readonly tasks: ContainerTask[] = [];
  /** Requests the ALB sent to a task, ever (what reached the containers at all). */
  requests = 0;
  private nextId = 1;

  constructor(readonly options: ContainerServiceOptions) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.tasks }, () => this.startTask()));
  }

  /** Places one more task; resolves when it is registered. */
  async startTask(): Promise<ContainerTask> {
    // The task definition's port: one per task here, all on loopback.
    const task = new ContainerTask(this.nextId++, await freePort(), this.options.bundle, this.options.environment, this.options.log);
    this.tasks.push(task);
    liveTasks.add(task);
    void task.exited.then(() => liveTasks.delete(task));
    await task.healthy();
    return task;
  }

  /** Stops a task as ECS does: deregistered first (no new requests), then SIGTERM; resolves to its exit code. */
  async stopTask(task: ContainerTask, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    task.registered = false;
    this.options.log(`[alb] task ${task.id} deregistered; ${signal} sent`);
    task.child.kill(signal);
    return task.exited;
  }

  /** The registered task with the fewest requests in flight (the ALB's least outstanding requests). */
  pick(): ContainerTask | undefined {
    let best: ContainerTask | undefined;
    for (const task of this.tasks) if (task.registered && (!best || task.inFlight < best.inFlight)) best = task;
    return best;
  }

  /** Open notification streams are connections in flight; this sums them. */
  inFlight(): number {
    return this.tasks.reduce((sum, t) => sum + (t.registered ? t.inFlight : 0), 0);
  }

  /** Stops every task as ECS does when the service goes (SIGTERM); one still running after `graceMs` is killed. */
  async stop(graceMs = 3_000): Promise<void> {
    const running = this.tasks.filter((t) => t.child.exitCode === null && t.child.signalCode === null);
    await Promise.all(
      running.map(async (task) => {
        const kill = setTimeout(() => task.child.kill('SIGKILL'), graceMs);
        await this.stopTask(task);
        clearTimeout(kill);
      }),
    );
  }
}

/** Every task still running: a model that is not stopped must not leave processes behind. */
const liveTasks = new Set<ContainerTask>();
process.once('exit', () => {
  for (const task of liveTasks) task.child.kill('SIGKILL');
});

/** What AWS's ALB sends when no target can take the request. */
function albError(res: ServerResponse, status: 502 | 503) {
  const title = status === 503 ? '503 Service Temporarily Unavailable' : '502 Bad Gateway';
  res.writeHead(status, { server: 'awselb/2.0', 'content-type': 'text/html' });
  res.end(`<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`);
}

/** The private ALB: the VPC origin's target. Forwards to a task, streaming both ways. */
export function createLoadBalancer(service: ContainerService, log: (line: string) => void) {
  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const task = service.pick();
    if (!task) {
      log(`[alb] ${req.method} ${req.url}: no registered target: 503`);
      albError(res, 503);
      return;
    }
    task.inFlight++;
    service.requests++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      task.inFlight--;
    };
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const upstream = httpRequest({ host: '127.0.0.1', port: task.port, method: req.method, path: req.url, headers }, (answer) => {
      const out: [string, string][] = [];
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined && !HOP_BY_HOP.has(name)) for (const v of [value].flat()) out.push([name, v]);
      res.writeHead(answer.statusCode ?? 502, out.flat());
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      answer.on('aborted', () => res.destroy());
      answer.on('end', finish);
    });
    upstream.on('error', (error) => {
      finish();
      if (res.headersSent) return void res.destroy();
      log(`[alb] task ${task.id} refused the connection (${error.message}): 502`);
      albError(res, 502);
    });
    req.on('error', () => {});
    req.pipe(upstream);
    res.on('close', () => {
      finish();
      if (!res.writableFinished) upstream.destroy();
    });
  };
}

export interface ContainerTier {
  service: ContainerService;
  /** The ALB's base URL (what the VPC origin points at). */
  url: string;
  bundleBytes: number;
  /** Starts the tasks; `environment` (given at creation) must be complete by then. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the bundle and opens the ALB; the tasks start with `start()`. */
export async function createContainerTier(
  entry: string,
  environment: Record<string, string>,
  tasks: number,
  log: (line: string) => void,
): Promise<ContainerTier> {
  const built = await buildContainer(entry);
  const service = new ContainerService({ bundle: built.bundle, environment, tasks, log });
  const alb: Server = createServer(createLoadBalancer(service, log));
  const url = await new Promise<string>((done, fail) => {
    alb.once('error', fail);
    alb.listen(0, '127.0.0.1', () => done(`http://127.0.0.1:${(alb.address() as AddressInfo).port}`));
  });
  return {
    service,
    url,
    bundleBytes: built.bytes,
    start: () => service.start(),
    async stop() {
      await service.stop();
      await new Promise<void>((done) => {
        alb.close(() => done());
        alb.closeAllConnections();
      });
    },
  };
}
