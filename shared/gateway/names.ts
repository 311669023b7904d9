// How the gateway names what upstreams offer, so that names from different upstreams never clash
// and every name says where it goes: tools and prompts become `<upstream>__<name>` (still a valid
// MCP tool name: letters, digits, `_`, `-`, `.`, at most 128 characters), resource URIs and URI
// templates `<upstream>+<uri>` (a valid URI scheme prefix, since upstream names are lowercase
// letters, digits and hyphens). Upstream names cannot contain `__` or `+`, so the first separator
// always ends the upstream's name.

export const NAME_SEPARATOR = '__';
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export const prefixName = (upstream: string, name: string) => `${upstream}${NAME_SEPARATOR}${name}`;

/** The upstream and its own name, or undefined for a name without a prefix. */
export function splitName(name: string): { upstream: string; name: string } | undefined {
  const at = name.indexOf(NAME_SEPARATOR);
  if (at <= 0 || at + NAME_SEPARATOR.length >= name.length) return undefined;
  return { upstream: name.slice(0, at), name: name.slice(at + NAME_SEPARATOR.length) };
}

/** Why a prefixed tool name is not one MCP clients accept, or undefined when it is. */
export function invalidToolName(prefixed: string): string | undefined {
  if (prefixed.length > 128) return `"${prefixed}" is longer than the 128 characters a tool name may have`;
  if (!TOOL_NAME.test(prefixed)) return `"${prefixed}" has characters a tool name may not have (letters, digits, _ - . only)`;
  return undefined;
}

export const prefixUri = (upstream: string, uri: string) => `${upstream}+${uri}`;

/** The upstream and its own URI, or undefined for a URI the gateway did not hand out. */
export function splitUri(uri: string): { upstream: string; uri: string } | undefined {
  const match = /^([a-z][a-z0-9-]*)\+([A-Za-z][A-Za-z0-9+.-]*:.*)$/s.exec(uri);
  return match ? { upstream: match[1]!, uri: match[2]! } : undefined;
}

type Content = { type?: string; uri?: unknown; resource?: { uri?: unknown } };

/**
 * An upstream's result with the resource URIs it names rewritten to gateway URIs: resource links
 * and embedded resources in content (tool results, prompt messages) and read contents. Items are
 * copied only where a URI changes.
 */
export function rewriteUris<T>(upstream: string, result: T): T {
  const rewriteContent = (item: Content): Content => {
    if (item?.type === 'resource_link' && typeof item.uri === 'string') return { ...item, uri: prefixUri(upstream, item.uri) };
    if (item?.type === 'resource' && typeof item.resource?.uri === 'string')
      return { ...item, resource: { ...item.resource, uri: prefixUri(upstream, item.resource.uri) } };
    return item;
  };
  const r = result as { content?: Content[]; contents?: { uri?: unknown }[]; messages?: { content?: Content | Content[] }[] };
  const out: Record<string, unknown> = { ...(result as object) };
  if (Array.isArray(r.content)) out.content = r.content.map(rewriteContent);
  if (Array.isArray(r.contents)) out.contents = r.contents.map((c) => (typeof c.uri === 'string' ? { ...c, uri: prefixUri(upstream, c.uri) } : c));
  if (Array.isArray(r.messages)) {
    out.messages = r.messages.map((m) => ({
      ...m,
      content: Array.isArray(m.content) ? m.content.map(rewriteContent) : m.content && rewriteContent(m.content),
    }));
  }
  return out as T;
}
