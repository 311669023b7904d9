// The MCP endpoint's middleware, composed once when the app is built. A step is Hono's middleware
// shape with `next` taking the context and returning the response; each `next` is bound at build
// time, so a request allocates no closures for the chain and Hono serves the endpoint through its
// single-handler fast path (its compose costs a closure and a promise per middleware per request).
import type { Context, Env } from 'hono';

export type Serve<E extends Env> = (c: Context<E>) => Promise<Response>;
export type Step<E extends Env> = (c: Context<E>, next: Serve<E>) => Promise<Response>;

/** `steps` run outermost first around `handler`. */
export function chain<E extends Env>(steps: readonly Step<E>[], handler: Serve<E>): Serve<E> {
  return steps.reduceRight<Serve<E>>((next, step) => (c) => step(c, next), handler);
}
