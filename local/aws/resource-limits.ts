// Lambda's resource limits for one modelled execution environment, where this machine lets the
// model set them: memory (the function's memory size; past it the kernel kills the process, which
// Lambda reports as "Runtime exited with error: signal: killed", Runtime.ExitError) and CPU in
// proportion to memory (1,769 MB is one vCPU, so 1,024 MB gets about 0.58). Through cgroup v2
// (memory.max, cpu.max) or v1 (memory.limit_in_bytes, cpu.cfs_quota_us), in a child of this
// process's own cgroup. Where neither is writable (not root, no delegation, macOS) the fallback is
// no limit at all, said once in the log: the REPORT line still shows the memory used.
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Lambda's memory for one full vCPU. */
export const MB_PER_VCPU = 1769;
const PERIOD_US = 100_000;

export interface EnvironmentLimits {
  /** How the limits are applied: 'cgroup v2', 'cgroup v1' or 'none'. */
  readonly how: string;
  /** Puts a process under the limits. */
  join(pid: number): void;
  /** Removes the cgroups once the process is gone. */
  release(): void;
}

/** This process's cgroup path in one hierarchy (v2: the "0::" line; v1: the controller's line). */
function ownPath(controller: string | undefined): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      if (controller === undefined ? line.startsWith('0::') : controllers?.split(',').includes(controller)) return path;
    }
  } catch {}
  return undefined;
}

/** Creates the cgroup and writes its settings; undefined (and nothing left behind) when refused. */
function group(dir: string, settings: Record<string, string>): string | undefined {
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  try {
    for (const [file, value] of Object.entries(settings)) writeFileSync(join(dir, file), value);
    return dir;
  } catch {
    rmdirSync(dir);
    return undefined;
  }
}

function cgroups(name: string, memoryMb: number): { how: string; dirs: string[] } | undefined {
  const bytes = String(memoryMb * 1024 * 1024);
  const quota = String(Math.round((memoryMb / MB_PER_VCPU) * PERIOD_US));
  const v2 = ownPath(undefined);
  if (existsSync('/sys/fs/cgroup/cgroup.controllers') && v2 !== undefined) {
    const dir = group(join('/sys/fs/cgroup', v2, name), { 'memory.max': bytes, 'memory.swap.max': '0', 'cpu.max': `${quota} ${PERIOD_US}` });
    if (dir) return { how: 'cgroup v2', dirs: [dir] };
  }
  const memory = ownPath('memory');
  const cpu = ownPath('cpu');
  if (memory === undefined || cpu === undefined || !existsSync('/sys/fs/cgroup/memory') || !existsSync('/sys/fs/cgroup/cpu')) return undefined;
  const memoryDir = group(join('/sys/fs/cgroup/memory', memory, name), { 'memory.limit_in_bytes': bytes });
  if (!memoryDir) return undefined;
  const cpuDir = group(join('/sys/fs/cgroup/cpu', cpu, name), { 'cpu.cfs_period_us': String(PERIOD_US), 'cpu.cfs_quota_us': quota });
  if (!cpuDir) {
    rmdirSync(memoryDir);
    return undefined;
  }
  return { how: 'cgroup v1', dirs: [memoryDir, cpuDir] };
}

const PREFIX = 'mcp-lambda-';
let fallbackLogged = false;
let created = 0;

/** Removes the cgroups of model processes that are gone (stopped before their children exited). */
function sweep() {
  const parents = [
    ownPath(undefined) && join('/sys/fs/cgroup', ownPath(undefined)!),
    ownPath('memory') && join('/sys/fs/cgroup/memory', ownPath('memory')!),
    ownPath('cpu') && join('/sys/fs/cgroup/cpu', ownPath('cpu')!),
  ];
  for (const parent of parents) {
    if (!parent || !existsSync(parent)) continue;
    let entries: string[] = [];
    try {
      entries = readdirSync(parent).filter((name) => name.startsWith(PREFIX));
    } catch {}
    for (const name of entries) {
      const pid = Number(name.slice(PREFIX.length).split('-')[0]);
      if (existsSync(`/proc/${pid}`)) continue;
      try {
        rmdirSync(join(parent, name));
      } catch {}
    }
  }
}

/** Limits for one new environment of this process. */
export function environmentLimits(memoryMb: number, log: (line: string) => void): EnvironmentLimits {
  if (created === 0) sweep();
  const found = cgroups(`${PREFIX}${process.pid}-${++created}`, memoryMb);
  if (!found) {
    if (!fallbackLogged)
      log(
        `[lambda] no writable cgroup here: environments run without Lambda's memory limit and CPU share (${(memoryMb / MB_PER_VCPU).toFixed(2)} vCPU at ${memoryMb} MB)`,
      );
    fallbackLogged = true;
    return { how: 'none', join() {}, release() {} };
  }
  return {
    how: found.how,
    join(pid) {
      // A process that already exited has nothing to limit.
      for (const dir of found.dirs) {
        try {
          writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        } catch {}
      }
    },
    release() {
      for (const dir of found.dirs) {
        try {
          rmdirSync(dir);
        } catch {}
      }
    },
  };
}
