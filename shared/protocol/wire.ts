// Wire constants both eras share: the protocol revisions the kit serves and the `_meta` keys it
// reads and writes, plus the few value tests more than one side needs (a JSON object, a progress
// token, a schema with header parameters), each spelled once here. A leaf: it imports nothing.

/** The stateless revision (`_meta` envelope, MRTR, subscriptions/listen). */
export const MODERN_REVISION = '2026-07-28';
/** The 2025-era revisions served with sessions, newest first. */
export const LEGACY_REVISIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

/** Every `_meta` key the protocol reserves starts with this. */
export const PROTOCOL_META_PREFIX = 'io.modelcontextprotocol/';
export const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_INFO_META = 'io.modelcontextprotocol/clientInfo';
export const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';
export const SERVER_INFO_META = 'io.modelcontextprotocol/serverInfo';
export const LOG_LEVEL_META = 'io.modelcontextprotocol/logLevel';
export const SUBSCRIPTION_ID_META = 'io.modelcontextprotocol/subscriptionId';

/** A progress token of the type the SDK's schema takes: a string or a safe integer. */
export const isProgressToken = (token: unknown): token is string | number => typeof token === 'string' || Number.isSafeInteger(token);

/** Whether a tool's input schema (JSON Schema, as listed) puts parameters in headers (`x-mcp-header`, SEP-2243). */
export const declaresHeaderParams = (schema: unknown) => JSON.stringify(schema).includes('"x-mcp-header"');

/** A JSON object: not null, not an array. */
export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
