// Makes Upstash-dialect Lua scripts run on stock redis-server: drops shebang flags Redis does not
// know (@upstash/ratelimit sends `#!lua flags=allow-key-locking`) and maps script SHAs both ways.
import { createHash } from 'node:crypto';

const REDIS_FLAGS = new Set(['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

function redisDialect(script: string): string {
  if (!script.startsWith('#!')) return script;
  const eol = script.indexOf('\n');
  const shebang = eol < 0 ? script : script.slice(0, eol);
  const fixed = shebang.replace(
    /\bflags=(\S*)/,
    (_, flags: string) =>
      `flags=${flags
        .split(',')
        .filter((flag) => REDIS_FLAGS.has(flag))
        .join(',')}`,
  );
  return fixed === shebang ? script : fixed + script.slice(shebang.length);
}

/**
 * Rewrites script commands on the way to Redis. Clients keep using the SHA of the script they
 * sent; Redis caches the rewritten one, so EVALSHA/SCRIPT EXISTS are translated. After a restart
 * the map is empty and EVALSHA answers NOSCRIPT, which sends clients back to EVAL as usual.
 */
export class ScriptDialect {
  #redisSha = new Map<string, string>();

  /** The command to send, and for SCRIPT LOAD the SHA to answer with instead of Redis's. */
  prepare(args: string[]): { args: string[]; sha?: string } {
    const name = args[0]?.toLowerCase();
    const sub = args[1]?.toLowerCase();
    if ((name === 'eval' || name === 'eval_ro') && args[1] !== undefined) {
      return { args: [args[0]!, this.#register(args[1]), ...args.slice(2)] };
    }
    if (name === 'script' && sub === 'load' && args[2] !== undefined) {
      return { args: [args[0]!, args[1]!, this.#register(args[2])], sha: sha1(args[2]) };
    }
    if ((name === 'evalsha' || name === 'evalsha_ro') && args[1] !== undefined) {
      return { args: [args[0]!, this.#translate(args[1]), ...args.slice(2)] };
    }
    if (name === 'script' && sub === 'exists') {
      return { args: [args[0]!, args[1]!, ...args.slice(2).map((sha) => this.#translate(sha))] };
    }
    return { args };
  }

  #register(script: string): string {
    const redisScript = redisDialect(script);
    if (redisScript !== script) this.#redisSha.set(sha1(script), sha1(redisScript));
    return redisScript;
  }

  #translate(sha: string): string {
    return this.#redisSha.get(sha.toLowerCase()) ?? sha;
  }
}
