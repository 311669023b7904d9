// What each 2025-era protocol revision's schema defines, as data: the first revision whose
// schema/<rev>/schema.ts (spec repo modelcontextprotocol/modelcontextprotocol) has each member or
// content type the kit can send. shape.ts reads this table; it holds no behaviour of its own.

/** The revisions the legacy layer serves, oldest first; dates, so they also compare as strings. */
export const SHAPED_REVISIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
export type Revision = (typeof SHAPED_REVISIONS)[number];

/** The schema types whose members differ between revisions. */
const ENTITIES = [
  'tool',
  'jsonSchema',
  'resource',
  'prompt',
  'promptArgument',
  'implementation',
  'serverCapabilities',
  'content',
  'annotations',
  'resourceContents',
  'callToolResult',
  'progress',
  'elicitation',
] as const;
export type Entity = (typeof ENTITIES)[number];

interface Member {
  on: Entity;
  key: string;
  /** The first revision that has it; 2026-07-28 for members no 2025-era revision has. */
  since: Revision | '2026-07-28';
}

/** Members a revision drops when it is older than `since`. Entities not listed are the same in every revision. */
export const MEMBERS: readonly Member[] = [
  // schema/2025-03-26/schema.ts: Tool.annotations (ToolAnnotations), ServerCapabilities.completions,
  // ProgressNotification.params.message.
  { on: 'tool', key: 'annotations', since: '2025-03-26' },
  { on: 'serverCapabilities', key: 'completions', since: '2025-03-26' },
  { on: 'progress', key: 'message', since: '2025-03-26' },
  // schema/2025-06-18/schema.ts: BaseMetadata.title (Tool, Resource, ResourceTemplate, Prompt,
  // PromptArgument, Implementation), `_meta` on those and on every content block and
  // ResourceContents, Tool.outputSchema, CallToolResult.structuredContent, Annotations.lastModified.
  { on: 'tool', key: 'title', since: '2025-06-18' },
  { on: 'tool', key: 'outputSchema', since: '2025-06-18' },
  { on: 'tool', key: '_meta', since: '2025-06-18' },
  { on: 'resource', key: 'title', since: '2025-06-18' },
  { on: 'resource', key: '_meta', since: '2025-06-18' },
  { on: 'prompt', key: 'title', since: '2025-06-18' },
  { on: 'prompt', key: '_meta', since: '2025-06-18' },
  { on: 'promptArgument', key: 'title', since: '2025-06-18' },
  { on: 'implementation', key: 'title', since: '2025-06-18' },
  { on: 'content', key: '_meta', since: '2025-06-18' },
  { on: 'resourceContents', key: '_meta', since: '2025-06-18' },
  { on: 'annotations', key: 'lastModified', since: '2025-06-18' },
  { on: 'callToolResult', key: 'structuredContent', since: '2025-06-18' },
  // schema/2025-11-25/schema.ts: Icons (Tool, Resource, ResourceTemplate, Prompt, Implementation),
  // Implementation.description/websiteUrl, Tool.execution (tasks), ServerCapabilities.tasks,
  // `$schema` on Tool.inputSchema/outputSchema and on the elicitation requestedSchema,
  // ElicitRequestFormParams.mode.
  { on: 'tool', key: 'icons', since: '2025-11-25' },
  { on: 'tool', key: 'execution', since: '2025-11-25' },
  { on: 'jsonSchema', key: '$schema', since: '2025-11-25' },
  { on: 'resource', key: 'icons', since: '2025-11-25' },
  { on: 'prompt', key: 'icons', since: '2025-11-25' },
  { on: 'implementation', key: 'icons', since: '2025-11-25' },
  { on: 'implementation', key: 'description', since: '2025-11-25' },
  { on: 'implementation', key: 'websiteUrl', since: '2025-11-25' },
  { on: 'serverCapabilities', key: 'tasks', since: '2025-11-25' },
  { on: 'elicitation', key: 'mode', since: '2025-11-25' },
  // schema/2026-07-28/schema.ts: ServerCapabilities.extensions (tasks is an extension there).
  { on: 'serverCapabilities', key: 'extensions', since: '2026-07-28' },
];

/**
 * The first revision whose content-block union has each type: text, image and embedded resources
 * from schema/2024-11-05/schema.ts, AudioContent from schema/2025-03-26/schema.ts, ResourceLink
 * from schema/2025-06-18/schema.ts (ContentBlock).
 */
export const CONTENT_TYPES: Readonly<Record<string, Revision>> = {
  text: '2024-11-05',
  image: '2024-11-05',
  resource: '2024-11-05',
  audio: '2025-03-26',
  resource_link: '2025-06-18',
};

/** What a revision's schema lacks of the table above: the members to drop per entity, and the content types to convert. */
export interface Lacks {
  members: Readonly<Record<Entity, readonly string[]>>;
  contentTypes: ReadonlySet<string>;
}

export function lacksOf(revision: Revision): Lacks {
  const dropped = (entity: Entity) => MEMBERS.filter((m) => m.on === entity && revision < m.since).map((m) => m.key);
  return {
    members: Object.fromEntries(ENTITIES.map((e) => [e, dropped(e)])) as Record<Entity, string[]>,
    contentTypes: new Set(Object.keys(CONTENT_TYPES).filter((type) => revision < CONTENT_TYPES[type]!)),
  };
}
