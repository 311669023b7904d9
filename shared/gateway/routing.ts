// Where a gateway request goes: the upstream a prefixed tool or prompt name or a prefixed resource
// URI names (names.ts), once the caller may reach it. Every refusal is an error that says what
// exists instead: the naming convention with suggestions, the upstreams, a tool its upstream does
// not list, one left out of lists and why, an upstream not open to this caller.
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Principal } from '../principal.ts';
import type { Catalog } from './catalog.ts';
import { splitName, splitUri } from './names.ts';
import { accessRefusal, type Upstream } from './upstreams.ts';

const capitalized = (noun: string) => `${noun[0]!.toUpperCase()}${noun.slice(1)}`;

export function createRouter(upstreams: Map<string, Upstream>, catalog: Catalog) {
  const names = () => [...upstreams.keys()].join(', ');
  const invalid = (message: string) => new ProtocolError(ProtocolErrorCode.InvalidParams, message);

  return {
    /** The upstream a prefixed tool or prompt name goes to, and the upstream's own name for it. */
    name(kind: 'tools' | 'prompts', prefixed: string, principal: Principal): { upstream: Upstream; name: string } {
      const noun = kind === 'tools' ? 'tool' : 'prompt';
      const split = splitName(prefixed);
      if (!split) {
        const suggestions = catalog.suggest(kind, prefixed);
        const hint = suggestions.length ? `; did you mean ${suggestions.join(' or ')}?` : ` (upstreams: ${names()})`;
        throw invalid(`Unknown ${noun} "${prefixed}": ${noun}s behind this gateway are named <upstream>__<${noun}>${hint}`);
      }
      const upstream = upstreams.get(split.upstream);
      if (!upstream) throw invalid(`Unknown ${noun} "${prefixed}": no upstream is named "${split.upstream}" (upstreams: ${names()})`);
      const refusal = accessRefusal(upstream, principal);
      if (refusal) throw invalid(`${capitalized(noun)} "${prefixed}" is not available to ${principal.id}: ${refusal}`);
      const known = catalog.lookup(kind, split.upstream, prefixed);
      if (known.kind === 'left out') throw invalid(`${capitalized(noun)} "${prefixed}" is left out: ${known.reason}`);
      if (known.kind === 'absent') throw invalid(`Unknown ${noun} "${prefixed}": upstream "${split.upstream}" lists no ${noun} "${split.name}"`);
      return { upstream, name: split.name };
    },

    /** The upstream a prefixed resource URI goes to, and the upstream's own URI; not found otherwise. */
    uri(prefixed: string, principal: Principal): { upstream: Upstream; uri: string } {
      const split = splitUri(prefixed);
      const upstream = split && upstreams.get(split.upstream);
      const notFound = (why: string) => new ProtocolError(ProtocolErrorCode.ResourceNotFound, `Resource not found: ${prefixed} (${why})`, { uri: prefixed });
      if (!split || !upstream) throw notFound(`resources behind this gateway are <upstream>+<uri>; upstreams: ${names()}`);
      const refusal = accessRefusal(upstream, principal);
      if (refusal) throw notFound(refusal);
      return { upstream, uri: split.uri };
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
