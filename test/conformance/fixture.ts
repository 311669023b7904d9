// The server the official MCP conformance suite (@modelcontextprotocol/conformance) tests: its
// named fixture tools, resources and prompts, built with the kit's own API so the suite measures
// the kit. Behaviours follow the suite's scenario descriptions; nothing here is for real use.
import {
  ProtocolError,
  ProtocolErrorCode,
  acceptedContent,
  completable,
  fromJsonSchema,
  inputRequired,
  inputResponse,
  type InputRequests,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { defineServer, prompt, resource, resourceTemplate, tool } from '../../shared/server/define.ts';
import type { ToolContext } from '../../shared/server/context.ts';

/** 1×1 red PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A WAV header with two bytes of silence. */
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

const nameSchema = z.object({ name: z.string() });
const askName = (message: string) => inputRequired.elicit({ message, requestedSchema: nameSchema });
const capitalQuestion = inputRequired.createMessage({
  messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
  maxTokens: 100,
});

/** Reads a sampling answer's text, whatever content shape the client used. */
function sampledText(responses: Record<string, unknown> | undefined, key: string): string | undefined {
  const view = inputResponse(responses, key);
  if (view.kind !== 'sampling') return undefined;
  const content = view.result.content;
  const first = Array.isArray(content) ? content[0] : content;
  return first?.type === 'text' ? first.text : '';
}

function askCapital(_args: unknown, ctx: ToolContext) {
  const answer = sampledText(ctx.mcp.mcpReq.inputResponses, 'capital_question');
  if (answer === undefined) return inputRequired({ inputRequests: { capital_question: capitalQuestion } });
  return `The model answered: ${answer}`;
}

function rootsOf(responses: Record<string, unknown> | undefined, key: string): string[] | undefined {
  const view = inputResponse(responses, key);
  return view.kind === 'roots' ? view.roots.map((r) => r.uri) : undefined;
}

/** JSON Schema 2020-12 keywords the suite expects `tools/list` to carry through untouched. */
const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
} as const;

/** Sleeps `ms`, or less when the call is cancelled. */
const sleepUnless = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
const confirmSchema = z.object({ confirm: z.boolean() });

/** The tasks extension scenarios' tools (tasks-*), as a server author would write them with the kit. */
const taskTools = [
  tool('greet', { description: 'Greets by name, at once (never a task)', input: z.object({ name: z.string() }) }, ({ name }) => `Hello, ${name}!`),
  tool(
    'slow_compute',
    {
      description: 'Computes for the given seconds; a task for clients that take tasks',
      task: 'optional',
      input: z.object({ seconds: z.number().min(0).max(120), label: z.string().optional() }),
    },
    async ({ seconds, label }, ctx) => {
      await ctx.task.start();
      await sleepUnless(seconds * 1000, ctx.signal);
      if (ctx.signal.aborted) return 'Stopped: the computation was cancelled.';
      return `Computed ${label ?? 'the result'} in ${seconds} s.`;
    },
  ),
  tool('failing_job', { description: 'A job whose tool fails after a second (runs only as a task)', task: 'required' }, async (_args, ctx) => {
    await ctx.task.start();
    await sleepUnless(1000, ctx.signal);
    return { isError: true, content: [{ type: 'text', text: 'The job failed: the input could not be processed.' }] };
  }),
  tool('protocol_error_job', { description: 'A job that fails with a protocol error', task: 'optional' }, async (_args, ctx) => {
    await ctx.task.start();
    throw new ProtocolError(ProtocolErrorCode.InternalError, 'The job hit an internal error it cannot recover from');
  }),
  tool(
    'confirm_delete',
    { description: 'Asks before deleting a file', task: 'optional', input: z.object({ filename: z.string() }) },
    async ({ filename }, ctx) => {
      await ctx.task.start();
      const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'confirm', confirmSchema);
      if (!answer)
        return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: `Delete ${filename}?`, requestedSchema: confirmSchema }) } });
      return answer.confirm ? `Deleted ${filename}.` : `Kept ${filename}.`;
    },
  ),
  tool('multi_input', { description: 'Asks two questions at once', task: 'optional' }, async (_args, ctx) => {
    await ctx.task.start();
    const schema = z.object({ name: z.string().optional(), confirm: z.boolean().optional() });
    const first = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'first', schema);
    const second = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'second', schema);
    if (!first || !second) {
      return inputRequired({
        inputRequests: {
          ...(!first && { first: inputRequired.elicit({ message: 'First question: your name?', requestedSchema: schema }) }),
          ...(!second && { second: inputRequired.elicit({ message: 'Second question: go ahead?', requestedSchema: schema }) }),
        },
      });
    }
    return `Both answered (${first.name ?? 'no name'}).`;
  }),
  tool('test_tool_with_task', { description: 'Asks for a name first (MRTR), then runs as a task', task: 'required' }, async (_args, ctx) => {
    const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'user_name', nameSchema);
    if (!answer) {
      return inputRequired({ inputRequests: { user_name: askName('What is your name?') }, requestState: await ctx.mintRequestState({ asked: 'user_name' }) });
    }
    await ctx.task.start();
    return `Hello, ${answer.name}! The task ran with your answer.`;
  }),
];

export default defineServer({
  name: 'kit-conformance-fixture',
  version: '1.0.0',
  tools: [
    ...taskTools,
    tool('test_simple_text', { description: 'Returns simple text content' }, () => 'This is a simple text response for testing.'),
    tool('test_image_content', { description: 'Returns image content' }, () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] })),
    tool('test_audio_content', { description: 'Returns audio content' }, () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] })),
    tool('test_embedded_resource', { description: 'Returns an embedded resource' }, () => ({
      content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
    })),
    tool('test_multiple_content_types', { description: 'Returns text, image and resource content together' }, () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) },
        },
      ],
    })),
    tool('test_tool_with_logging', { description: 'Sends three log messages while it runs' }, async (_args, ctx) => {
      ctx.log.info('Tool execution started');
      await sleep(50);
      ctx.log.info('Tool processing data');
      await sleep(50);
      ctx.log.info('Tool execution completed');
      return 'Tool with logging executed successfully';
    }),
    tool('test_logging_tool', { description: 'Logs one message; it reaches the client only when the client asked for logs' }, (_args, ctx) => {
      ctx.log.info('test_logging_tool ran');
      return 'Logged one message.';
    }),
    tool('test_tool_with_progress', { description: 'Reports progress 0, 50 and 100 of 100' }, async (_args, ctx) => {
      for (const step of [0, 50, 100]) {
        await ctx.progress(step, 100, `Completed step ${step} of 100`);
        if (step < 100) await sleep(50);
      }
      return String(ctx.mcp.mcpReq._meta?.progressToken ?? 'no progress token');
    }),
    tool('test_error_handling', { description: 'Always fails' }, () => {
      throw new Error('This tool intentionally returns an error for testing');
    }),
    tool(
      'test_sampling',
      {
        description: 'Asks the client for an LLM completion (2025 sessions)',
        input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
      },
      async ({ prompt: question }, ctx) => {
        const result = await ctx.mcp.mcpReq.requestSampling({ messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 100 });
        const content = Array.isArray(result.content) ? result.content[0] : result.content;
        return `LLM response: ${content?.type === 'text' ? content.text : 'No response'}`;
      },
    ),
    tool(
      'test_elicitation',
      { description: 'Asks the user for input (2025 sessions)', input: z.object({ message: z.string().describe('The message to show the user') }) },
      async ({ message }, ctx) => {
        const result = await ctx.mcp.mcpReq.elicitInput({
          message,
          requestedSchema: {
            type: 'object',
            properties: { username: { type: 'string', description: "User's response" }, email: { type: 'string', description: "User's email address" } },
            required: ['username', 'email'],
          },
        });
        return `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
      },
    ),
    tool('test_elicitation_sep1034_defaults', { description: 'Elicits a form whose fields all have defaults (SEP-1034)' }, async (_args, ctx) => {
      const result = await ctx.mcp.mcpReq.elicitInput({
        message: 'Please review and update the form fields with defaults',
        requestedSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
            verified: { type: 'boolean', description: 'Verification status', default: true },
          },
          required: [],
        },
      });
      return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
    }),
    tool('test_elicitation_sep1330_enums', { description: 'Elicits every enum schema variant (SEP-1330)' }, async (_args, ctx) => {
      const result = await ctx.mcp.mcpReq.elicitInput({
        message: 'Please select options from the enum fields',
        requestedSchema: {
          type: 'object',
          properties: {
            untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
            titledSingle: {
              type: 'string',
              description: 'Select one option with titles',
              oneOf: [
                { const: 'value1', title: 'First Option' },
                { const: 'value2', title: 'Second Option' },
                { const: 'value3', title: 'Third Option' },
              ],
            },
            legacyEnum: {
              type: 'string',
              description: 'Select one option (legacy)',
              enum: ['opt1', 'opt2', 'opt3'],
              enumNames: ['Option One', 'Option Two', 'Option Three'],
            },
            untitledMulti: {
              type: 'array',
              description: 'Select multiple options',
              minItems: 1,
              maxItems: 3,
              items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
            },
            titledMulti: {
              type: 'array',
              description: 'Select multiple options with titles',
              minItems: 1,
              maxItems: 3,
              items: {
                anyOf: [
                  { const: 'value1', title: 'First Choice' },
                  { const: 'value2', title: 'Second Choice' },
                  { const: 'value3', title: 'Third Choice' },
                ],
              },
            },
          },
          required: [],
        },
      });
      return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
    }),
    tool('test_streaming_elicitation', { description: 'Answers with an input request, never with a request of its own' }, () =>
      inputRequired({ inputRequests: { user_name: askName('What is your name?') } }),
    ),
    tool(
      'test_header_param',
      {
        description: 'Echoes a parameter that clients mirror into the Mcp-Param-Region header (SEP-2243)',
        input: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }),
      },
      ({ region }) => `Region: ${region}`,
    ),
    // The kit does not resume broken streams (no event ids), so this answers in one piece where the
    // suite's reference server closes the stream mid-call and expects the client to reconnect.
    tool('test_reconnection', { description: 'Answers at once; the kit has no stream resumption to exercise' }, () => 'Reconnection test completed.'),
    tool('test_trigger_tool_change', { description: 'Announces a tools list change' }, (_args, ctx) => {
      ctx.notify.toolsChanged();
      return 'Announced a tools list change.';
    }),
    tool('test_trigger_prompt_change', { description: 'Announces a prompts list change' }, (_args, ctx) => {
      ctx.notify.promptsChanged();
      return 'Announced a prompts list change.';
    }),
    tool('test_input_required_result_elicitation', { description: 'MRTR: asks for a name, then greets' }, (_args, ctx) => {
      const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'user_name', nameSchema);
      // A missing, wrong or malformed answer asks again rather than failing the call.
      if (!answer) return inputRequired({ inputRequests: { user_name: askName('What is your name?') } });
      return `Hello, ${answer.name}!`;
    }),
    tool('test_input_required_result_sampling', { description: 'MRTR: asks the client LLM a question' }, askCapital),
    // The SDK answers -32021 (HTTP 400) when a handler asks for input through a capability the
    // client did not declare, so the sampling round trip doubles as the capability check.
    tool('test_missing_capability', { description: 'Asks the client LLM a question; a client without sampling gets -32021' }, askCapital),
    tool('test_input_required_result_list_roots', { description: "MRTR: asks for the client's roots" }, (_args, ctx) => {
      const roots = rootsOf(ctx.mcp.mcpReq.inputResponses, 'client_roots');
      if (!roots) return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
      return `Client roots: ${roots.join(', ') || '(none)'}`;
    }),
    tool('test_input_required_result_request_state', { description: 'MRTR: round-trips a signed requestState' }, async (_args, ctx) => {
      const confirmSchema = z.object({ ok: z.boolean() });
      const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'confirm', confirmSchema);
      const state = ctx.requestState<{ step: string }>();
      if (!answer || state?.step !== 'confirm') {
        return inputRequired({
          inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: confirmSchema }) },
          requestState: await ctx.mintRequestState({ step: 'confirm' }),
        });
      }
      return `state-ok: confirmed=${answer.ok}`;
    }),
    tool('test_input_required_result_multiple_inputs', { description: 'MRTR: elicitation, sampling and roots in one round' }, async (_args, ctx) => {
      const responses = ctx.mcp.mcpReq.inputResponses;
      const name = acceptedContent(responses, 'user_name', nameSchema);
      const greeting = sampledText(responses, 'greeting');
      const roots = rootsOf(responses, 'client_roots');
      if (!name || greeting === undefined || !roots || !ctx.requestState()) {
        return inputRequired({
          inputRequests: {
            user_name: askName('What is your name?'),
            greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
            client_roots: inputRequired.listRoots(),
          },
          requestState: await ctx.mintRequestState({ step: 'all' }),
        });
      }
      return `${greeting} ${name.name}; roots: ${roots.join(', ') || '(none)'}`;
    }),
    tool('test_input_required_result_multi_round', { description: 'MRTR: two rounds of questions, state carried between them' }, async (_args, ctx) => {
      const responses = ctx.mcp.mcpReq.inputResponses;
      const state = ctx.requestState<{ round: number; name?: string }>();
      const colorSchema = z.object({ color: z.string() });
      if (state?.round === 2 && state.name) {
        const answer = acceptedContent(responses, 'step2', colorSchema);
        if (answer) return `${state.name} likes ${answer.color}.`;
      }
      const name = state?.round === 1 ? acceptedContent(responses, 'step1', nameSchema)?.name : state?.name;
      if (name) {
        return inputRequired({
          inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: colorSchema }) },
          requestState: await ctx.mintRequestState({ round: 2, name }),
        });
      }
      return inputRequired({
        inputRequests: { step1: askName('Step 1: What is your name?') },
        requestState: await ctx.mintRequestState({ round: 1 }),
      });
    }),
    tool('test_input_required_result_tampered_state', { description: 'MRTR: refuses a requestState it did not sign' }, async (_args, ctx) => {
      // A tampered state never reaches here: the kit's codec rejects it before the handler runs.
      if (ctx.requestState()) return 'state verified';
      return inputRequired({ inputRequests: { user_name: askName('What is your name?') }, requestState: await ctx.mintRequestState({ step: 'name' }) });
    }),
  ],
  resources: [
    resource(
      'static-text',
      'test://static-text',
      { metadata: { title: 'Static Text Resource', description: 'A static text resource for testing', mimeType: 'text/plain' } },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] }),
    ),
    resource(
      'static-binary',
      'test://static-binary',
      { metadata: { title: 'Static Binary Resource', description: 'A static binary resource (image) for testing', mimeType: 'image/png' } },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: PNG }] }),
    ),
    resource(
      'watched-resource',
      'test://watched-resource',
      { metadata: { title: 'Watched Resource', description: 'A resource clients may subscribe to', mimeType: 'text/plain' } },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }] }),
    ),
    resourceTemplate(
      'template',
      'test://template/{id}/data',
      { metadata: { title: 'Resource Template', description: 'A resource template with parameter substitution', mimeType: 'application/json' } },
      (uri, { id }) => ({
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }],
      }),
    ),
  ],
  prompts: [
    prompt('test_simple_prompt', { title: 'Simple Test Prompt', description: 'A simple prompt without arguments' }, () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    })),
    prompt(
      'test_prompt_with_arguments',
      {
        title: 'Prompt With Arguments',
        description: 'A prompt with required arguments',
        args: z.object({
          arg1: completable(z.string().describe('First test argument'), (value) => ['paris', 'park', 'party'].filter((v) => v.startsWith(value))),
          arg2: z.string().describe('Second test argument'),
        }),
      },
      ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] }),
    ),
    prompt(
      'test_prompt_with_embedded_resource',
      {
        title: 'Prompt With Embedded Resource',
        description: 'A prompt that includes an embedded resource',
        args: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
      },
      ({ resourceUri }) => ({
        messages: [
          {
            role: 'user',
            content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } },
          },
          { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
        ],
      }),
    ),
    prompt('test_prompt_with_image', { title: 'Prompt With Image', description: 'A prompt that includes image content' }, () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    })),
    prompt('test_input_required_result_prompt', { description: 'MRTR on prompts/get: asks for context first' }, (_args, ctx) => {
      const contextSchema = z.object({ context: z.string() });
      const answer = acceptedContent(ctx.mcp.mcpReq.inputResponses, 'user_context', contextSchema);
      if (!answer) {
        return inputRequired({
          inputRequests: { user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: contextSchema }) },
        });
      }
      return { messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${answer.context}` } }] };
    }),
  ],
  extend(server, context) {
    // The client's declared capabilities live on the SDK instance (per request in 2026-07-28,
    // restored from the session in 2025); kit tool handlers do not see them.
    const clientCapabilities = () => server.server.getClientCapabilities() ?? {};
    server.registerTool('test_input_required_result_capabilities', { description: 'MRTR: asks only for what the client declared it can answer' }, (ctx) => {
      if (ctx.mcpReq.inputResponses) return text('Thanks for the answers.');
      const caps = clientCapabilities();
      const inputRequests: InputRequests = {};
      if (caps.elicitation) inputRequests.user_name = askName('What is your name?');
      if (caps.sampling) inputRequests.capital_question = capitalQuestion;
      if (caps.roots) inputRequests.client_roots = inputRequired.listRoots();
      if (Object.keys(inputRequests).length === 0) return text('The client declared nothing to ask through.');
      return inputRequired({ inputRequests });
    });
    // The suite checks that these keywords survive `tools/list`; a zod schema cannot express them all.
    server.registerTool(
      'json_schema_2020_12_tool',
      { description: 'Tool with JSON Schema 2020-12 features', inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12) },
      (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
    );
    // 2025 sessions may subscribe to resource updates. The set is kept in session state so every
    // instance sees it; the kit's GET stream does not narrow `resources/updated` to it yet.
    server.server.registerCapabilities({ resources: { subscribe: true } });
    const subscriptions = (ctx: Parameters<typeof context>[0]) => context(ctx, 'resources/subscribe').state;
    server.server.setRequestHandler('resources/subscribe', async (request, ctx) => {
      const state = subscriptions(ctx);
      const uris = new Set((await state.get<string[]>('subscriptions')) ?? []).add(request.params.uri);
      await state.put('subscriptions', [...uris]);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async (request, ctx) => {
      const state = subscriptions(ctx);
      const uris = ((await state.get<string[]>('subscriptions')) ?? []).filter((u) => u !== request.params.uri);
      await state.put('subscriptions', uris);
      return {};
    });
  },
});
