// `inputRequired(...)` for tool writers without the SDK at cold start: the SDK's builder (MRTR,
// 2026-07-28) rewritten as plain data, so the public entry can export it and a direct-lane call
// that never asks anything loads no SDK. One step needs the SDK: turning a Standard Schema (zod)
// `requestedSchema` into the flat JSON Schema elicitation allows. `inputRequired.elicit` leaves
// such a schema as given, and `withWireSchemas` converts it with the SDK's own `elicit` when the
// answer leaves the handler (tool runner, prompts, resource reads); an unsupported schema then
// fails there rather than at the call. test/protocol/input-required.test.ts pins both to the SDK.
import type { inputRequired as sdkInputRequired, InputRequiredResult } from '@modelcontextprotocol/server';
import { sdk } from '../sdk.ts';

type InputRequired = typeof sdkInputRequired;
type Spec = Parameters<InputRequired>[0];
type Embedded = { method: string; params?: Record<string, unknown> };

const isStandardSchema = (schema: unknown): boolean =>
  (typeof schema === 'object' || typeof schema === 'function') &&
  schema !== null &&
  '~standard' in schema &&
  typeof (schema as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function';

function build(spec: Spec): InputRequiredResult {
  const hasInputRequests = spec.inputRequests !== undefined && Object.keys(spec.inputRequests).length > 0;
  if (!hasInputRequests && typeof spec.requestState !== 'string') {
    throw new TypeError(
      'inputRequired() requires at least one of inputRequests (with at least one entry) or requestState (spec: every InputRequiredResult MUST include at least one of the two)',
    );
  }
  return {
    resultType: 'input_required',
    ...(spec.inputRequests !== undefined && { inputRequests: spec.inputRequests }),
    ...(spec.requestState !== undefined && { requestState: spec.requestState }),
  } as InputRequiredResult;
}

/** The SDK's `inputRequired`, with `elicit`, `elicitUrl`, `createMessage` and `listRoots`; loads no SDK. */
export const inputRequired = Object.assign(build, {
  elicit: (params: Record<string, unknown>) => ({ method: 'elicitation/create', params: { ...params, mode: 'form' } }),
  elicitUrl: (params: Record<string, unknown>) => ({ method: 'elicitation/create', params: { ...params, mode: 'url' } }),
  createMessage: (params: unknown) => ({ method: 'sampling/createMessage', params }),
  listRoots: () => ({ method: 'roots/list' }),
}) as unknown as InputRequired;

const needsWireSchema = (request: unknown): boolean =>
  (request as Embedded | undefined)?.method === 'elicitation/create' && isStandardSchema((request as Embedded).params?.requestedSchema);

/** The answer with every Standard Schema in its elicitations turned into JSON Schema by the SDK; the same object when there is none. */
export async function withWireSchemas<T>(answer: T): Promise<T> {
  const requests = typeof answer === 'object' && answer !== null ? (answer as { inputRequests?: Record<string, unknown> }).inputRequests : undefined;
  if (!requests || !Object.values(requests).some(needsWireSchema)) return answer;
  const { inputRequired: sdkBuilder } = await sdk();
  const converted = Object.entries(requests).map(([key, request]) => [
    key,
    needsWireSchema(request) ? sdkBuilder.elicit((request as Embedded).params as never) : request,
  ]);
  return { ...answer, inputRequests: Object.fromEntries(converted) };
}
