// The API Gateway model: a regional REST API with Lambda proxy integrations in STREAM transfer
// mode, as McpServerEndpoint configures it. It turns an HTTP request into the REST (v1) proxy
// event, invokes the Lambda model, and relays the streamed response: prelude to status and
// headers (renaming the headers API Gateway remaps), body as it comes, cut after the idle timeout.
// What the gateway itself answers (unknown route, payload too large, Lambda errors and throttles)
// it answers with its own JSON bodies.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html
// https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html (an invoke Lambda
//   rejects, a throttle included, is API Gateway's 500: the kit's stream caps keep environments for calls)
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AWS_LIMITS, REST_HEADERS, apiRoutes } from '../../infra/deployed-path.ts';
import type { FunctionInvoker } from './alias.ts';
import type { FunctionError, InvokeResult } from './lambda.ts';
import { formatTraceHeader, parseTraceHeader, type XrayModel } from './xray.ts';

export interface RestApiOptions {
  /** The function, or its `live` alias when two versions run (local/aws/alias.ts). */
  lambda: FunctionInvoker;
  stage: string;
  /** The MCP path (`MCP_PATH`). */
  mcpPath: string;
  /** Host name the API answers as (`<id>.execute-api.<region>.amazonaws.com`). */
  domainName: string;
  /** A streamed response silent this long is cut. */
  idleTimeoutMs: number;
  /** The integration timeout: a response still streaming after this is cut. */
  integrationTimeoutMs: number;
  /** Content types passed to the function base64-encoded (the API's binaryMediaTypes). */
  binaryMediaTypes?: string[];
  /** Stage tracing on: the stage's segment, and the trace header the function gets (local/aws/xray.ts). @default - a trace id only, as with tracing off */
  xray?: XrayModel;
  log: (line: string) => void;
}

const REMAPPED = new Set<string>(REST_HEADERS.remappedResponse);
const DROPPED_RESPONSE = new Set<string>(REST_HEADERS.droppedResponse);
const DROPPED_REQUEST = new Set<string>([...REST_HEADERS.droppedRequest, 'host', 'keep-alive']);

function gatewayAnswer(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': extra.errorType ?? '', 'x-amzn-requestid': randomUUID(), ...extra });
  res.end(JSON.stringify({ message }));
}

/** Matches a path (after the stage) to one of the API's resources. */
function matchResource(path: string, mcpPath: string) {
  for (const route of apiRoutes(mcpPath)) {
    if (route.resource.endsWith('/{proxy+}')) {
      const base = route.resource.slice(0, -'/{proxy+}'.length);
      if (path.startsWith(`${base}/`) && path.length > base.length + 1) return { route, pathParameters: { proxy: path.slice(base.length + 1) } };
    } else if (path === route.resource) return { route, pathParameters: null };
  }
  return undefined;
}

function multiValue(entries: [string, string][]) {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of entries) {
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { single, multi };
}

export function createRestApi(options: RestApiOptions) {
  const { lambda, stage, mcpPath, domainName } = options;
  const binaryTypes = options.binaryMediaTypes ?? [];

  function event(
    req: IncomingMessage,
    url: URL,
    resource: string,
    pathParameters: Record<string, string> | null,
    body: Buffer,
    requestId: string,
    traceHeader: string,
  ) {
    const raw: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      // API Gateway sets X-Amzn-Trace-Id itself, continuing the caller's when it sent one.
      if (!DROPPED_REQUEST.has(name.toLowerCase()) && name.toLowerCase() !== 'x-amzn-trace-id') raw.push([name, req.rawHeaders[i + 1]!]);
    }
    const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
    const forwardedFor = req.headers['x-forwarded-for'];
    raw.push(
      ['Host', domainName],
      ['X-Amzn-Trace-Id', traceHeader],
      ['X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${sourceIp}` : sourceIp],
      ['X-Forwarded-Port', '443'],
      ['X-Forwarded-Proto', 'https'],
    );
    const headers = multiValue(raw);
    const query = multiValue([...url.searchParams.entries()]);
    const path = url.pathname.slice(stage.length + 1);
    const contentType = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const binary = binaryTypes.some((t) => t === contentType || t === '*/*');
    const now = new Date();
    return {
      resource,
      path,
      httpMethod: req.method,
      headers: headers.single,
      multiValueHeaders: headers.multi,
      queryStringParameters: url.search ? query.single : null,
      multiValueQueryStringParameters: url.search ? query.multi : null,
      pathParameters,
      stageVariables: null,
      requestContext: {
        resourceId: 'local1',
        resourcePath: resource,
        httpMethod: req.method,
        extendedRequestId: requestId.slice(0, 16),
        requestTime: now.toUTCString(),
        path: url.pathname,
        accountId: '000000000000',
        protocol: `HTTP/${req.httpVersion}`,
        stage,
        domainPrefix: domainName.split('.')[0],
        requestTimeEpoch: now.getTime(),
        requestId,
        identity: { sourceIp: forwardedFor ? String(forwardedFor).split(',')[0]!.trim() : sourceIp, userAgent: req.headers['user-agent'] ?? null },
        domainName,
        apiId: domainName.split('.')[0],
      },
      body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
      isBase64Encoded: binary && body.length > 0,
    };
  }

  /** What the client sees when Lambda answered with an error instead of a response. */
  function failed(res: ServerResponse, error: FunctionError, requestId: string) {
    options.log(`[api] ${requestId} Lambda ${error.errorType}: ${error.errorMessage}`);
    // An invoke Lambda refused (throttled, payload too large) is a 500; a function that failed, 502.
    return gatewayAnswer(res, error.invokeStatus === 200 ? 502 : 500, 'Internal server error', { errorType: 'InternalServerErrorException' });
  }

  function relay(result: InvokeResult, res: ServerResponse, requestId: string) {
    if (result.kind === 'error') return failed(res, result, requestId);
    if (result.kind === 'buffered') return gatewayAnswer(res, 502, 'Internal server error', { errorType: 'InternalServerErrorException' });
    const { prelude, body } = result;
    const headers: [string, string][] = [];
    const add = (name: string, value: string) => {
      const lower = name.toLowerCase();
      if (!DROPPED_RESPONSE.has(lower)) headers.push([REMAPPED.has(lower) ? `x-amzn-Remapped-${name}` : name, value]);
    };
    for (const [name, value] of Object.entries(prelude.headers ?? {})) add(name, value);
    for (const [name, values] of Object.entries(prelude.multiValueHeaders ?? {})) for (const value of values) add(name, value);
    for (const cookie of prelude.cookies ?? []) headers.push(['set-cookie', cookie]);
    headers.push(['x-amzn-RequestId', requestId], ['x-amz-apigw-id', requestId.slice(0, 16)]);
    // A client that went away does not end the invocation: AWS does not document that Lambda tells
    // the function, so the model assumes the safe side (it runs, and bills, to its end).
    res.on('error', () => body.destroy());
    res.on('close', () => {
      if (!res.writableFinished) options.log(`[api] ${requestId} 499 client closed the connection before the answer ended`);
    });
    res.writeHead(prelude.statusCode ?? 200, headers.flat());
    res.flushHeaders();
    let idle: ReturnType<typeof setTimeout>;
    const cut = (why: string) => {
      options.log(`[api] ${requestId} stream cut: ${why}`);
      body.destroy();
      res.destroy();
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => cut(`no bytes for ${options.idleTimeoutMs} ms (idle timeout)`), options.idleTimeoutMs);
    };
    const total = setTimeout(() => cut(`integration timeout ${options.integrationTimeoutMs} ms`), options.integrationTimeoutMs);
    armIdle();
    body.on('data', (chunk: Buffer) => {
      armIdle();
      res.write(chunk);
    });
    const done = () => {
      clearTimeout(idle);
      clearTimeout(total);
    };
    body.on('end', () => {
      done();
      res.end();
    });
    body.on('error', () => {
      // The function failed or timed out mid-stream: the client sees the stream stop.
      done();
      res.destroy();
    });
    body.on('close', done);
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', `https://${domainName}`);
    if (!url.pathname.startsWith(`/${stage}/`)) return gatewayAnswer(res, 403, 'Forbidden', { errorType: 'ForbiddenException' });
    const matched = matchResource(url.pathname.slice(stage.length + 1), mcpPath);
    if (!matched?.route.methods.includes(req.method ?? '')) {
      return gatewayAnswer(res, 403, 'Missing Authentication Token', { errorType: 'MissingAuthenticationTokenException' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > AWS_LIMITS.restMaxPayloadBytes)
          return gatewayAnswer(res, 413, 'Request Too Long', { errorType: 'RequestTooLongException', connection: 'close' });
        chunks.push(chunk as Buffer);
      }
    } catch {
      // The client went away mid-upload: no invocation, the API goes on serving.
      options.log(`[api] ${requestId} 499 client closed the connection before its request was whole`);
      return;
    }
    const traced = options.xray?.hop(parseTraceHeader(req.headers['x-amzn-trace-id'] as string | undefined), {
      name: `${domainName.split('.')[0]}/${stage}`,
      origin: 'AWS::ApiGateway::Stage',
    });
    // Without stage tracing API Gateway still gives each request a trace id, recorded nowhere.
    const traceHeader = traced
      ? formatTraceHeader(traced.context)
      : `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${requestId.replace(/-/g, '').slice(0, 24)}`;
    if (traced) res.once('close', () => traced.end({ http: { request: { method: req.method, url: url.href }, response: { status: res.statusCode } } }));
    const result = await lambda.invoke(
      event(req, url, matched.route.resource, matched.pathParameters, Buffer.concat(chunks), requestId, traceHeader),
      'RequestResponse',
    );
    relay(result, res, requestId);
  };
}
