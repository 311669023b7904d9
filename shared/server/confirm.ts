// Confirmations a tool asks the user for before it does something it cannot undo, in both eras,
// and the binding that keeps MRTR state to the request it was minted for.
// - A client that can elicit is asked with an MRTR `input_required` (2026-07-28), which the SDK
//   turns into a real `elicitation/create` for 2025-era sessions. Accept confirms; decline and
//   cancel mean "nothing done", never another prompt.
// - A client that cannot (no `elicitation` capability) gets, in both eras, a plain result that
//   says what would happen and how to confirm: the same call again with the `confirm` argument set
//   to a signed token.
// - Every confirmation is single-use (its nonce is claimed in the table when it is answered, whatever
//   the answer, so a declined question cannot be accepted later) and bound to the caller, the
//   session, the tool and its arguments, so it can neither be replayed nor moved to another call.
//   A question put through MRTR and a token given as text are sealed as different kinds: neither
//   passes for the other (a `requestState` sent back as the `confirm` argument skips no question).
// - Every answer is audited (shared/audit.ts): accepted, declined or dismissed, or invalid (a
//   replayed answer, a token expired or made for another call).
import * as z from 'zod/v4';
import { sdk } from '../sdk.ts';
import { canonicalJson } from '../cache/tool-cache.ts';
import type { RequestScope } from '../request-scope.ts';
import type { ToolReturn } from './returns.ts';

/** The argument a client without elicitation passes the confirmation token back in. */
export const CONFIRM_ARGUMENT = 'confirm';

/** Declare it in a tool's input (`confirm: confirmToken`) so models see where the token goes. */
export const confirmToken = z.string().optional().describe('Only when a previous call of this tool asked for confirmation: the token it gave');

export type Confirmation<T> =
  /** Return `result`: it asks the user (or tells a client without elicitation how to confirm). */
  | { status: 'ask'; result: ToolReturn }
  /** The user confirmed the question that was asked with `pinned`. */
  | { status: 'confirmed'; pinned: T }
  /** The user said no, or dismissed the question: do nothing, and do not ask again. */
  | { status: 'declined' | 'cancelled' };

interface Sealed<T> {
  /** Nonce, claimed when the confirmation is used. */
  n: string;
  /** What the tool pinned when it asked (the version the user saw, say). */
  p: T;
  /** How it was asked: `q` an MRTR question (answered in inputResponses), `t` a token for the `confirm` argument. */
  k: 'q' | 't';
}

export interface ConfirmServices {
  mint(payload: unknown): Promise<string>;
  /** Verifies a token the caller passed back; throws when it is not one of ours for this call. */
  verify(token: string): Promise<unknown>;
  /** True the first time a nonce is claimed. */
  claim(nonce: string): Promise<boolean>;
  /** How long a token stays valid, for the message. */
  ttlSeconds: number;
  /** Writes the audit line of an answer; `how`: elicitation (MRTR) or a token. */
  audit(
    event: 'confirmation.accepted' | 'confirmation.declined' | 'confirmation.invalid',
    fields: { how: 'elicitation' | 'token'; answer?: string; why?: string },
  ): void;
}

/**
 * What MRTR state and confirmation tokens are bound to: the caller, the session, and what the
 * request acts on with its arguments (canonical JSON; the confirmation token itself left out).
 */
export function requestBinding(scope: RequestScope): string {
  const params = scope.request?.params ?? {};
  const { [CONFIRM_ARGUMENT]: _token, ...args } = (params.arguments ?? {}) as Record<string, unknown>;
  return canonicalJson([scope.principal.id, scope.sessionId ?? '', scope.request?.method ?? '', params.name ?? null, params.uri ?? null, args]);
}

const confirmSchema = z.object({ confirm: z.boolean().describe('Go ahead?') });

export interface ConfirmInput {
  scope: RequestScope;
  /** The verified requestState of an MRTR retry, if any. */
  state: unknown;
  /** MRTR input responses of a retry, if any. */
  responses: Record<string, unknown> | undefined;
}

function isSealed(value: unknown, kind: Sealed<unknown>['k']): value is { c: Sealed<unknown> } {
  const c = typeof value === 'object' && value !== null ? (value as { c?: { n?: unknown; k?: unknown } }).c : undefined;
  return typeof c?.n === 'string' && c.k === kind;
}

export async function confirm<T>(services: ConfirmServices, input: ConfirmInput, message: string, pinned: T): Promise<Confirmation<T>> {
  const { scope, state, responses } = input;
  // An answer to a question this tool asked through MRTR (or, for 2025 sessions, elicitation).
  if (isSealed(state, 'q')) {
    const answer = responses?.confirm as { action?: string; content?: { confirm?: unknown } } | undefined;
    // Claimed whatever the answer: once answered, the question is spent.
    const first = await services.claim(state.c.n);
    const how = 'elicitation';
    if (answer?.action === 'accept' && answer.content?.confirm === true) {
      // Replayed (or answered no before): ask afresh rather than act.
      if (!first) {
        services.audit('confirmation.invalid', { how, why: 'already answered' });
        return ask(services, input, message, pinned);
      }
      services.audit('confirmation.accepted', { how });
      return { status: 'confirmed', pinned: state.c.p as T };
    }
    const declined = answer?.action === 'accept' || answer?.action === 'decline';
    services.audit('confirmation.declined', { how, answer: answer?.action === 'accept' ? 'no' : String(answer?.action ?? 'none').slice(0, 20) });
    return { status: declined ? 'declined' : 'cancelled' };
  }
  // A token from the text a client without elicitation was given.
  const token = (scope.request?.params?.arguments as Record<string, unknown> | undefined)?.[CONFIRM_ARGUMENT];
  if (typeof token === 'string') {
    const how = 'token';
    let sealed: unknown;
    try {
      sealed = await services.verify(token);
    } catch {
      services.audit('confirmation.invalid', { how, why: 'not valid for this call' });
      return { status: 'ask', result: invalidToken() };
    }
    if (!isSealed(sealed, 't')) {
      services.audit('confirmation.invalid', { how, why: 'not a confirmation token' });
      return { status: 'ask', result: invalidToken() };
    }
    if (await services.claim(sealed.c.n)) {
      services.audit('confirmation.accepted', { how });
      return { status: 'confirmed', pinned: sealed.c.p as T };
    }
    services.audit('confirmation.invalid', { how, why: 'already used' });
    return ask(services, input, message, pinned);
  }
  return ask(services, input, message, pinned);
}

// The messages say "the same tool", not its name: behind a gateway the caller knows it by another (notes__notebook_clear).
const invalidToken = (): ToolReturn => ({
  isError: true,
  content: [
    {
      type: 'text',
      text: `The "${CONFIRM_ARGUMENT}" token is not valid for this call (expired, already used, given for other arguments, or given in another session: a 2025-era client that connects anew for each call, such as the Inspector CLI, starts a new session each time); call the same tool again without it to be asked again.`,
    },
  ],
});

async function ask<T>(services: ConfirmServices, input: ConfirmInput, message: string, pinned: T): Promise<Confirmation<T>> {
  const elicit = input.scope.clientCapabilities?.elicitation !== undefined;
  const sealed = await services.mint({ c: { n: crypto.randomUUID(), p: pinned, k: elicit ? 'q' : 't' } satisfies Sealed<T> });
  if (elicit) {
    const { inputRequired } = await sdk();
    return {
      status: 'ask',
      result: inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message, requestedSchema: confirmSchema }) }, requestState: sealed }),
    };
  }
  const minutes = Math.max(1, Math.round(services.ttlSeconds / 60));
  // An error result: nothing was done, and it needs no structuredContent even when the tool
  // declares an output schema.
  return {
    status: 'ask',
    result: {
      isError: true,
      content: [
        {
          type: 'text',
          text:
            `Needs confirmation: ${message} Nothing was done. This client cannot ask the user directly: show the user the question, ` +
            `and only if they agree call the same tool again with the same arguments and "${CONFIRM_ARGUMENT}": "${sealed}" (valid ${minutes} minutes, once).`,
        },
      ],
    },
  };
}
