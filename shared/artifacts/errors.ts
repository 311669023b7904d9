// The three ways an artifact call fails, as types a tool author or the resource handler can branch
// on: bad input (the caller's bug), not found (also: someone else's, expired), storage down.
import { DependencyUnavailableError } from '../dependency.ts';

/** A name, owner, content type, TTL or presign lifetime the store refuses; the message says which and why. */
export class ArtifactInputError extends Error {
  override name = 'ArtifactInputError';
}

/**
 * The artifact does not exist for this reader. Deliberately the same for an unknown URI, another
 * principal's or session's artifact, and an expired one, so the error reveals nothing.
 */
export class ArtifactNotFoundError extends Error {
  override name = 'ArtifactNotFoundError';
  constructor(readonly uri: string) {
    super(`artifact not found: ${uri}`);
  }
}

/** S3 could not be reached or refused the call (timeout, access denied, missing bucket); what S3 said is `detail`, for the log. */
export class ArtifactStorageError extends DependencyUnavailableError {
  override name = 'ArtifactStorageError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super('S3', detail, options);
    this.message = 'artifact storage unavailable';
  }
}
