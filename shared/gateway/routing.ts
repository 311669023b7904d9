// Where a gateway request goes: the upstream a prefixed tool or prompt name or a prefixed resource
// URI names (names.ts), once the caller may reach it. Every refusal is an error that says what
// exists instead: the naming convention with suggestions, the upstreams, a tool its upstream does
// not list, one left out of lists and why. An upstream not open to the caller is, in every answer
// it gets, one that does not exist: errors name only the upstreams the caller may use.
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Principal } from '../principal.ts';
import type { Catalog } from './catalog.ts';
import { splitName, splitUri } from './names.ts';
import { mayUse, type Upstream } from './upstreams.ts';

const capitalized = (noun: string) => `${noun[0]!.toUpperCase()}${noun.slice(1)}`;

export function createRouter(upstreams: Map<string, Upstream>, catalog: Catalog) {
  const names = (principal: Principal) =>
    [...upstreams.values()]
      .filter((u) => mayUse(u, principal))
      .map((u) => u.config.name)
      .join(', ') || 'none open to you';
  /** The upstream of that name, when the caller may use it. */
  const usable = (name: string, principal: Principal) => {
    const upstream = upstreams.get(name);
    return upstream && mayUse(upstream, principal) ? upstream : undefined;
  };
  const invalid = (message: string) => new ProtocolError(ProtocolErrorCode.InvalidParams, message);

  return {
    /** The upstream a prefixed tool or prompt name goes to, and the upstream's own name for it. */
    name(kind: 'tools' | 'prompts', prefixed: string, principal: Principal): { upstream: Upstream; name: string } {
      const noun = kind === 'tools' ? 'tool' : 'prompt';
      const split = splitName(prefixed);
      if (!split) {
        const suggestions = catalog.suggest(kind, prefixed, principal);
        const hint = suggestions.length ? `; did you mean ${suggestions.join(' or ')}?` : ` (upstreams: ${names(principal)})`;
        throw invalid(`Unknown ${noun} "${prefixed}": ${noun}s behind this gateway are named <upstream>__<${noun}>${hint}`);
      }
      const upstream = usable(split.upstream, principal);
      if (!upstream) throw invalid(`Unknown ${noun} "${prefixed}": no upstream is named "${split.upstream}" (upstreams: ${names(principal)})`);
      const known = catalog.lookup(kind, split.upstream, prefixed);
      if (known.kind === 'left out') throw invalid(`${capitalized(noun)} "${prefixed}" is left out: ${known.reason}`);
      if (known.kind === 'absent') throw invalid(`Unknown ${noun} "${prefixed}": upstream "${split.upstream}" lists no ${noun} "${split.name}"`);
      return { upstream, name: split.name };
    },

    /** The upstream a prefixed resource URI goes to, and the upstream's own URI; not found otherwise. */
    uri(prefixed: string, principal: Principal): { upstream: Upstream; uri: string } {
      const split = splitUri(prefixed);
      const upstream = split && usable(split.upstream, principal);
      if (!split || !upstream) {
        throw new ProtocolError(
          ProtocolErrorCode.ResourceNotFound,
          `Resource not found: ${prefixed} (resources behind this gateway are <upstream>+<uri>; upstreams: ${names(principal)})`,
          { uri: prefixed },
        );
      }
      return { upstream, uri: split.uri };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
