// Who is calling. Auth middleware sets it; until a request is authenticated it is `anonymous`.
// Sessions, state handles and artifacts are bound to the principal id that created them.

export interface Principal {
  /** Stable id: the token subject, the API key's principal, or `anonymous`. */
  readonly id: string;
  /** Scopes granted to this caller. */
  readonly scopes: readonly string[];
}

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', scopes: Object.freeze([]) });
