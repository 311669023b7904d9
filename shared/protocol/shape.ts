// Shapes every message the legacy (2025-era) layer sends for the session's negotiated revision,
// from the table in revisions.ts: members the revision's schema lacks are dropped, content types
// it lacks become text that still leads to the content. 2026-07-28 traffic is the SDK's, never here.
import { isObject } from './wire.ts';
import { SHAPED_REVISIONS, lacksOf, type Entity, type Lacks, type Revision } from './revisions.ts';

type Json = Record<string, unknown>;
/** What the shaper reads of a JSON-RPC message; everything else passes through untouched. */
export interface OutgoingMessage {
  id?: unknown;
  method?: string;
  params?: Json;
  result?: unknown;
  error?: unknown;
}

function hasAny(value: Json, keys: readonly string[]): boolean {
  for (const key of keys) if (key in value) return true;
  return false;
}

/** `value` without `keys`: the same object when it has none of them, so unchanged output is never copied. */
function omit<T>(value: T, keys: readonly string[]): T {
  if (!isObject(value) || !hasAny(value, keys)) return value;
  // Built afresh rather than spread-and-delete: `delete` turns the copy into a slow dictionary object.
  const copy: Json = {};
  for (const key in value) if (!keys.includes(key)) copy[key] = value[key];
  return copy as T;
}

/** `value` with `key` set to `next`: the same object when that is what it holds already. */
function withMember<T extends Json>(value: T, key: string, next: unknown): T {
  return value[key] === next ? value : { ...value, [key]: next };
}

/** `items` mapped: the same array when no item changed. */
function mapSame(items: unknown, fn: (item: Json) => Json): unknown {
  if (!Array.isArray(items)) return items;
  let copy: unknown[] | undefined;
  items.forEach((item, i) => {
    const next = isObject(item) ? fn(item) : item;
    if (next !== item) (copy ??= [...items])[i] = next;
  });
  return copy ?? items;
}

const kib = (base64: unknown) => `${((String(base64).length * 3) / 4 / 1024).toFixed(1)} KiB`;

/** Result kinds, told apart by the member only their schema type has, and the entities each touches. */
const RESULTS: { key: string; entities: Entity[]; content?: true; valueRule?: true; shape: (s: RevisionShaper, r: Json) => Json }[] = [
  { key: 'content', entities: ['callToolResult'], content: true, valueRule: true, shape: (s, r) => s.callToolResult(r) },
  {
    key: 'tools',
    entities: ['tool', 'jsonSchema'],
    valueRule: true,
    shape: (s, r) =>
      withMember(
        r,
        'tools',
        mapSame(r.tools, (t) => s.tool(t)),
      ),
  },
  {
    key: 'contents',
    entities: ['resourceContents'],
    shape: (s, r) =>
      withMember(
        r,
        'contents',
        mapSame(r.contents, (c) => s.drop(c, 'resourceContents')),
      ),
  },
  {
    key: 'messages',
    entities: [],
    content: true,
    shape: (s, r) =>
      withMember(
        r,
        'messages',
        mapSame(r.messages, (m) => s.withContent(m)),
      ),
  },
  {
    key: 'resources',
    entities: ['resource', 'annotations'],
    shape: (s, r) =>
      withMember(
        r,
        'resources',
        mapSame(r.resources, (x) => s.resource(x)),
      ),
  },
  {
    key: 'resourceTemplates',
    entities: ['resource', 'annotations'],
    shape: (s, r) =>
      withMember(
        r,
        'resourceTemplates',
        mapSame(r.resourceTemplates, (x) => s.resource(x)),
      ),
  },
  {
    key: 'prompts',
    entities: ['prompt', 'promptArgument'],
    shape: (s, r) =>
      withMember(
        r,
        'prompts',
        mapSame(r.prompts, (p) => s.prompt(p)),
      ),
  },
  { key: 'serverInfo', entities: ['implementation', 'serverCapabilities'], shape: (s, r) => s.initializeResult(r) },
];

/** Server-to-client notifications and requests whose params differ between revisions. */
const METHODS: { method: string; entities: Entity[]; content?: true; shape: (s: RevisionShaper, p: Json) => Json }[] = [
  { method: 'notifications/progress', entities: ['progress'], shape: (s, p) => s.drop(p, 'progress') },
  {
    method: 'elicitation/create',
    entities: ['elicitation', 'jsonSchema'],
    shape: (s, p) => withMember(s.drop(p, 'elicitation'), 'requestedSchema', s.drop(p.requestedSchema, 'jsonSchema')),
  },
  {
    method: 'sampling/createMessage',
    entities: [],
    content: true,
    shape: (s, p) =>
      withMember(
        p,
        'messages',
        mapSame(p.messages, (m) => s.withContent(m)),
      ),
  },
];

/** Everything content blocks carry that a revision may lack: the entities content shaping reads. */
const CONTENT_ENTITIES: Entity[] = ['content', 'annotations', 'resourceContents', 'resource'];

/** The shaping for one revision. Only the result kinds and methods the revision differs in are looked at. */
class RevisionShaper {
  private readonly results: typeof RESULTS;
  private readonly methods: Map<string, (typeof METHODS)[number]['shape']>;
  private readonly shapesContent: boolean;

  constructor(
    private readonly revision: Revision,
    private readonly lacks: Lacks,
  ) {
    const differs = (entities: Entity[]) => entities.some((e) => lacks.members[e].length > 0);
    this.shapesContent = lacks.contentTypes.size > 0 || differs(CONTENT_ENTITIES);
    const needed = (k: { entities: Entity[]; content?: true; valueRule?: true }) => k.valueRule || differs(k.entities) || (k.content && this.shapesContent);
    this.results = RESULTS.filter(needed);
    this.methods = new Map(METHODS.filter(needed).map((m) => [m.method, m.shape]));
  }

  message<T extends OutgoingMessage>(m: T): T {
    if (isObject(m.result)) {
      const result = this.result(m.result);
      return result === m.result ? m : { ...m, result };
    }
    const shape = m.method !== undefined && m.params ? this.methods.get(m.method) : undefined;
    if (!shape) return m;
    const params = shape(this, m.params!);
    return params === m.params ? m : { ...m, params };
  }

  private result(r: Json): Json {
    for (const kind of this.results) if (kind.key in r) return kind.shape(this, r);
    return r;
  }

  drop<T>(value: T, entity: Entity): T {
    return omit(value, this.lacks.members[entity]);
  }

  callToolResult(r: Json): Json {
    let out = this.drop(r, 'callToolResult');
    // Where the member exists, every 2025-era schema types it as an object (schema/2025-06-18 and
    // schema/2025-11-25 CallToolResult.structuredContent); only 2026-07-28 allows any JSON value.
    if ('structuredContent' in out && !isObject(out.structuredContent)) out = omit(out, ['structuredContent']);
    if (r.structuredContent !== undefined && !('structuredContent' in out) && Array.isArray(out.content) && out.content.length === 0) {
      // The tool said it only in structured form: older clients get it as text instead of nothing.
      out = { ...out, content: [{ type: 'text', text: JSON.stringify(r.structuredContent) }] };
    }
    return this.shapesContent
      ? withMember(
          out,
          'content',
          mapSame(out.content, (c) => this.content(c)),
        )
      : out;
  }

  tool(t: Json): Json {
    const out = withMember(this.drop(t, 'tool'), 'inputSchema', this.drop(t.inputSchema, 'jsonSchema'));
    if (!isObject(out.outputSchema)) return out;
    // Same rule as structuredContent: `type: "object"` in every 2025-era Tool.outputSchema.
    if (out.outputSchema.type !== 'object') return omit(out, ['outputSchema']);
    return withMember(out, 'outputSchema', this.drop(out.outputSchema, 'jsonSchema'));
  }

  resource(r: Json): Json {
    return this.withAnnotations(this.drop(r, 'resource'));
  }

  prompt(p: Json): Json {
    const out = this.drop(p, 'prompt');
    return withMember(
      out,
      'arguments',
      mapSame(out.arguments, (a) => this.drop(a, 'promptArgument')),
    );
  }

  initializeResult(r: Json): Json {
    return withMember(withMember(r, 'serverInfo', this.drop(r.serverInfo, 'implementation')), 'capabilities', this.drop(r.capabilities, 'serverCapabilities'));
  }

  /** A prompt or sampling message: one content block (or, from 2025-11-25 sampling, a list). */
  withContent(m: Json): Json {
    const content = Array.isArray(m.content) ? mapSame(m.content, (c) => this.content(c)) : isObject(m.content) ? this.content(m.content) : m.content;
    return withMember(m, 'content', content);
  }

  private content(block: Json): Json {
    if (block.type === 'resource_link' && this.lacks.contentTypes.has('resource_link')) return this.linkAsText(block);
    if (block.type === 'audio' && this.lacks.contentTypes.has('audio')) return this.audioAsText(block);
    let out = this.withAnnotations(this.drop(block, 'content'));
    // ResourceLink extends Resource; EmbeddedResource carries ResourceContents.
    if (block.type === 'resource_link') out = this.drop(out, 'resource');
    if (block.type === 'resource') out = withMember(out, 'resource', this.drop(out.resource, 'resourceContents'));
    return out;
  }

  private withAnnotations(x: Json): Json {
    return isObject(x.annotations) ? withMember(x, 'annotations', this.drop(x.annotations, 'annotations')) : x;
  }

  /**
   * A resource link as text that names everything the link did, so the user (or the model) can
   * still fetch the content: `resources/read` of the URI serves it in every revision.
   */
  private linkAsText(link: Json): Json {
    const about = [link.mimeType, typeof link.size === 'number' && `${link.size} bytes`].filter(Boolean).join(', ');
    const name = JSON.stringify(link.title ?? link.name ?? link.uri);
    const description = typeof link.description === 'string' ? `: ${link.description.replace(/\.$/, '')}` : '';
    const text = `Resource ${name}${about ? ` (${about})` : ''}${description}. Read it with resources/read: ${link.uri}`;
    return this.withAnnotations({ type: 'text', text, ...(isObject(link.annotations) && { annotations: link.annotations }) });
  }

  private audioAsText(audio: Json): Json {
    const text = `[${audio.mimeType ?? 'audio'} audio of ${kib(audio.data)} not included: protocol revision ${this.revision}, which this session speaks, has no audio content]`;
    return this.withAnnotations({ type: 'text', text, ...(isObject(audio.annotations) && { annotations: audio.annotations }) });
  }
}

const SHAPERS = new Map<string, RevisionShaper>(SHAPED_REVISIONS.map((r) => [r, new RevisionShaper(r, lacksOf(r))]));

/**
 * `message` as the session's revision defines it; the same object when nothing in it is later
 * than that revision. Without a revision (the exchange that answers `initialize`) only an
 * initialize result is shaped, for the revision it names.
 */
export function shapeOutgoing<T extends OutgoingMessage>(message: T, revision: string | undefined): T {
  const version = revision ?? (isObject(message.result) && 'serverInfo' in message.result ? message.result.protocolVersion : undefined);
  const shaper = typeof version === 'string' ? SHAPERS.get(version) : undefined;
  return shaper ? shaper.message(message) : message;
}
