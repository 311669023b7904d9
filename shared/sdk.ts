// The MCP SDK's server package, loaded the first time something needs it. Building its protocol
// schemas is most of what a cold start would otherwise pay before the first answer, and the
// common modern call (shared/http/direct-lane.ts) needs none of it. Modules on the direct lane
// import the SDK's types freely but its values only through this function.
type Sdk = typeof import('@modelcontextprotocol/server');

let loading: Promise<Sdk> | undefined;

export function sdk(): Promise<Sdk> {
  return (loading ??= import('@modelcontextprotocol/server'));
}
