// Starts probe processes the way Lambda starts a function: plain `node` (this runner's binary), a
// small explicit environment, stdout to /dev/null (cheap, but every log line is still written),
// and replies over IPC with a deadline on each, so a stuck probe fails the run instead of hanging it.
import { spawn, type ChildProcess } from 'node:child_process';
import { KIT_ENV } from './env.ts';
import type { ProbeMessage } from './probes/protocol.ts';

const STDERR_KEEP = 4_000;

/**
 * Only what a function on Lambda would have, so nothing from the caller's shell (NODE_OPTIONS,
 * MCP_SECRETS_ARN, AWS profiles, UPSTASH_*) changes what is measured.
 */
export function lambdaEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ...KIT_ENV, ...extra };
}

export interface Probe {
  child: ChildProcess;
  /** The probe's next message; rejects after `timeoutMs`, on exit, or on a reported failure. */
  next(timeoutMs: number): Promise<ProbeMessage>;
  stop(): void;
}

export function startProbe(script: string, args: string[], env: Record<string, string>): Probe {
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-STDERR_KEEP)));
  const inbox: ProbeMessage[] = [];
  let waiting: ((m: ProbeMessage) => void) | undefined;
  child.on('message', (m: ProbeMessage) => (waiting ? waiting(m) : inbox.push(m)));
  return {
    child,
    next(timeoutMs) {
      const queued = inbox.shift();
      if (queued) return queued.kind === 'failed' ? Promise.reject(new Error(`${script}: ${queued.error}`)) : Promise.resolve(queued);
      if (child.exitCode !== null) return Promise.reject(new Error(`${script} exited (${child.exitCode}) before answering:\n${stderr}`));
      return new Promise((resolve, reject) => {
        const done = () => {
          waiting = undefined;
          clearTimeout(timer);
          child.off('exit', onExit);
        };
        const onExit = (code: number | null) => {
          done();
          reject(new Error(`${script} exited (${code}) before answering:\n${stderr}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script} did not answer within ${timeoutMs} ms:\n${stderr}`));
        }, timeoutMs);
        child.once('exit', onExit);
        waiting = (m) => {
          done();
          if (m.kind === 'failed') reject(new Error(`${script}: ${m.error}\n${stderr}`));
          else resolve(m);
        };
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
