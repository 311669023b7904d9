// Where an artifact lives and what it is called: the S3 key, derived from the owner, and the
// `artifact://` URI handed to clients, which names neither principal nor session. A read recomputes
// the key from the URI plus who is reading, so another reader's key simply misses; no lookup needed.
// node:crypto is taken on first use (`process.getBuiltinModule`), not imported: a cold start
// whose first call hashes nothing does not load it.
import { ArtifactInputError } from './errors.ts';

export type ArtifactScope = { kind: 'session'; id: string } | { kind: 'handle'; id: string } | { kind: 'principal' };

/** Whose an artifact is: a principal, narrowed to one legacy session, one state handle, or none (all its calls). */
export interface ArtifactOwner {
  readonly principalId: string;
  readonly scope: ArtifactScope;
}

/**
 * Who is reading, as the request knows it. The scope comes from the URI: `s` needs the reader's
 * legacy session, `h` carries the handle (which the client already holds), `p` needs nothing more.
 */
export interface ArtifactReader {
  readonly principalId: string;
  /** The reader's legacy session id; absent for modern (stateless) requests. */
  readonly sessionId?: string;
}

export interface ArtifactAddress {
  readonly owner: ArtifactOwner;
  /** 128 random bits, base64url. */
  readonly id: string;
  readonly name: string;
}

const SCHEME = 'artifact://';
const NAME_MAX_CHARS = 200;
const SCOPE_ID_MAX_CHARS = 256;
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /\p{Cs}/u;

export const newArtifactId = () => process.getBuiltinModule('node:crypto').randomBytes(16).toString('base64url');

function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'artifact name must be a string';
  if (name.length === 0 || name.length > NAME_MAX_CHARS) return `artifact name must be 1-${NAME_MAX_CHARS} characters, got ${name.length}`;
  const quoted = JSON.stringify(name);
  if (name.includes('/')) return `artifact name ${quoted} must not contain "/"`;
  if (CONTROL.test(name)) return `artifact name ${quoted} must not contain control characters`;
  if (LONE_SURROGATE.test(name)) return `artifact name ${quoted} is not well-formed Unicode`;
  // URI parsers resolve these as dot segments, so the link would not survive a round trip.
  if (name === '.' || name === '..') return `artifact name must not be ${quoted}`;
  return undefined;
}

/** Refuses a name that cannot be one path segment of both the key and the URI. */
export function checkName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new ArtifactInputError(problem);
}

export function checkOwner(owner: ArtifactOwner): void {
  if (typeof owner?.principalId !== 'string' || owner.principalId === '') {
    throw new ArtifactInputError('artifact owner needs a non-empty principalId');
  }
  const scope = owner.scope;
  if (scope?.kind === 'principal') return;
  if (scope?.kind !== 'session' && scope?.kind !== 'handle') {
    throw new ArtifactInputError('artifact owner scope must be { kind: "session" | "handle", id } or { kind: "principal" }');
  }
  if (typeof scope.id !== 'string' || scope.id === '' || scope.id.length > SCOPE_ID_MAX_CHARS) {
    throw new ArtifactInputError(`artifact owner ${scope.kind} id must be 1-${SCOPE_ID_MAX_CHARS} characters`);
  }
}

export function artifactUri({ owner, id, name }: ArtifactAddress): string {
  const tail = `${id}/${encodeURIComponent(name)}`;
  switch (owner.scope.kind) {
    case 'session':
      return `${SCHEME}s/${tail}`;
    case 'handle':
      return `${SCHEME}h/${encodeURIComponent(owner.scope.id)}/${tail}`;
    case 'principal':
      return `${SCHEME}p/${tail}`;
  }
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The address `uri` names for this reader, or undefined when it cannot name anything of theirs. */
export function resolveArtifactUri(uri: string, reader: ArtifactReader): ArtifactAddress | undefined {
  if (typeof uri !== 'string' || !uri.startsWith(SCHEME)) return undefined;
  const [kind, ...rest] = uri.slice(SCHEME.length).split('/').map(decode);
  let scope: ArtifactScope;
  if (kind === 's' && reader.sessionId) scope = { kind: 'session', id: reader.sessionId };
  else if (kind === 'p') scope = { kind: 'principal' };
  else if (kind === 'h' && rest[0]) scope = { kind: 'handle', id: rest.shift()! };
  else return undefined;
  const [id, name, extra] = rest;
  if (extra !== undefined || id === undefined || !ID_PATTERN.test(id) || nameProblem(name) !== undefined) return undefined;
  return { owner: { principalId: reader.principalId, scope }, id, name: name! };
}

const digest = (value: string) => process.getBuiltinModule('node:crypto').createHash('sha256').update(value).digest('hex').slice(0, 32);

function scopeSegment(scope: ArtifactScope): string {
  switch (scope.kind) {
    case 'session':
      return `s-${digest(scope.id)}`;
    case 'handle':
      return `h-${digest(scope.id)}`;
    case 'principal':
      return 'p';
  }
}

/**
 * `<prefix><sha256(principal)>/<s-<sha256(session)> | h-<sha256(handle)> | p>/<id>/<name>`: the
 * name verbatim (validated; at most 600 UTF-8 bytes), so the key stays well under S3's 1024.
 */
export function objectKey(prefix: string, { owner, id, name }: ArtifactAddress): string {
  return `${prefix}${digest(owner.principalId)}/${scopeSegment(owner.scope)}/${id}/${name}`;
}
