// ECS task scale-in protection for a container running task workers: while a run is held, the
// task asks its ECS agent (`${ECS_AGENT_URI}/task-protection/v1/state`) to protect it, so neither
// a scale-in nor a deploy stops it mid-run (a deploy waits for protection to end); once idle for
// `clearAfterMs` it clears the protection, so runs that start and stop in quick succession cost
// one request, not one per switch. The workers bound how long they stay busy (workers.ts
// `busyLimitMs`, set by the container adapter), so a steady backlog cannot keep a task protected for good. Protection expires by itself (ExpiresInMinutes) and is renewed
// at half that while held, so a process that dies protected frees its task soon. Every failure is
// logged and otherwise ignored: without protection a run is restarted elsewhere, as before.
import type { KitLogger } from '../log.ts';

/** How long the workers stay idle before the protection is cleared, unless told otherwise (ms). */
export const PROTECTION_CLEAR_AFTER_MS = 30_000;

export interface TaskProtectionOptions {
  /** How long one request protects the task. @default 60 */
  expiresInMinutes?: number;
  /** How long the workers must stay idle before the protection is cleared (ms). @default 30000 */
  clearAfterMs?: number;
}

export interface TaskProtection {
  /** The workers' `onBusy`: protect while runs are held, clear once idle for `clearAfterMs`. */
  busy(busy: boolean): void;
  /** Settles once the requests sent so far have been answered (or failed). */
  settled(): Promise<void>;
  /** Stops renewing; a clear still waiting out `clearAfterMs` is sent at once (the process is stopping). */
  stop(): void;
}

export function ecsTaskProtection(agentUri: string, log: KitLogger, options: TaskProtectionOptions = {}): TaskProtection {
  const minutes = options.expiresInMinutes ?? 60;
  const clearAfterMs = options.clearAfterMs ?? PROTECTION_CLEAR_AFTER_MS;
  const url = `${agentUri.replace(/\/$/, '')}/task-protection/v1/state`;
  let renew: ReturnType<typeof setInterval> | undefined;
  let sending: Promise<void> = Promise.resolve();
  const send = (enabled: boolean) => {
    const body = JSON.stringify(enabled ? { ProtectionEnabled: true, ExpiresInMinutes: minutes } : { ProtectionEnabled: false });
    sending = sending.then(async () => {
      try {
        const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
        const answer = await res.text();
        // The agent answers 200 with a `failure` object when ECS refused (no permission, say).
        if (!res.ok || /"failure"\s*:\s*\{/.test(answer))
          log.warn('ECS task protection was not set', { enabled, status: res.status, answer: answer.slice(0, 300) });
      } catch (error) {
        log.warn('ECS task protection was not set: the agent did not answer', { enabled, error: error instanceof Error ? error.message : String(error) });
      }
    });
  };
  let held = false;
  let clearing: ReturnType<typeof setTimeout> | undefined;
  const clear = () => {
    clearTimeout(clearing);
    clearing = undefined;
    clearInterval(renew);
    renew = undefined;
    held = false;
    send(false);
  };
  return {
    busy(busy) {
      if (!busy) {
        if (held && !clearing) {
          clearing = setTimeout(clear, clearAfterMs);
          clearing.unref?.();
        }
        return;
      }
      // Busy again before the clear went out: the protection asked for still holds.
      clearTimeout(clearing);
      clearing = undefined;
      if (held) return;
      held = true;
      send(true);
      renew = setInterval(() => send(true), (minutes * 60_000) / 2);
      renew.unref?.();
    },
    settled: () => sending,
    stop() {
      if (clearing) clear();
      clearInterval(renew);
      renew = undefined;
    },
  };
}
