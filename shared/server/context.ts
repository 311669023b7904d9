// The context a tool, resource or prompt handler receives: who is calling, state, logs, progress,
// cancellation, and MRTR request state. Built per call from the SDK's ServerContext and the
// request scope the HTTP layer attached; parts that cost anything are created on first use.
import type { ServerContext, ServerNotifier } from '@modelcontextprotocol/server';
import type { ArtifactStore, ArtifactBody, PutOptions as ArtifactPutOptions } from '../artifacts/store.ts';
import type { ResourceLink } from '@modelcontextprotocol/server';
import type { KitLogger } from '../log.ts';
import { limitKeyOf, type Principal } from '../principal.ts';
import type { StateScope, StateStore } from '../store/state.ts';
import { requestScopeOf, type RequestScope } from '../request-scope.ts';
import { confirm, type Confirmation, type ConfirmServices } from './confirm.ts';

/** Per-app services handlers reach through their context. */
export interface KitServices {
  readonly state: StateStore;
  readonly log: KitLogger;
  readonly requestState: {
    mint(payload: unknown, ctx: ServerContext): Promise<string>;
    verify(state: string, ctx: ServerContext): Promise<unknown>;
    readonly ttlSeconds: number;
  };
  readonly notify: ServerNotifier;
  readonly artifacts: ArtifactStore;
}

export type LogData = Record<string, unknown>;

export interface ToolContext {
  readonly principal: Principal;
  /** Legacy session id; undefined for modern (stateless) requests. */
  readonly sessionId: string | undefined;
  readonly era: 'legacy' | 'modern';
  /**
   * State for this caller: the legacy session's scope, or for a modern request a new handle minted
   * on first write (return `state.handle` to the client so it can pass it back).
   */
  readonly state: StateScope;
  /** Reopens a handle an earlier call returned. Unknown, expired and other callers' handles all fail alike. */
  openState(handle: string): Promise<StateScope>;
  /** Server logs (JSON) that also reach the client when it asked for log notifications. */
  readonly log: {
    debug(message: string, data?: LogData): void;
    info(message: string, data?: LogData): void;
    warn(message: string, data?: LogData): void;
    error(message: string, data?: LogData): void;
  };
  /** Reports progress when the client sent a progress token; a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Aborted when the client cancels or disconnects, or when the tool runs past MCP_TOOL_TIMEOUT_MS. */
  readonly signal: AbortSignal;
  /** Seals a payload into a signed MRTR `requestState` any instance can verify. */
  mintRequestState(payload: unknown): Promise<string>;
  /** The verified `requestState` payload of an MRTR retry, if any. */
  requestState<T>(): T | undefined;
  /**
   * Asks the user to confirm before something that cannot be undone, in both eras (see
   * shared/server/confirm.ts). `pinned` is what the question is about (the version the user sees):
   * a confirmed answer hands it back, so the tool can check nothing changed in between.
   * `ask` → return `result`; `declined` / `cancelled` → do nothing, and do not ask again.
   */
  confirm<T>(message: string, pinned: T): Promise<Confirmation<T>>;
  /** Files and large outputs in S3, readable only by this caller (see README "Artifacts"). */
  readonly artifacts: ToolArtifacts;
  /**
   * Tells listening clients that lists or a resource changed (`subscriptions/listen` streams and
   * legacy GET streams, on every instance when the event bus is Redis).
   */
  readonly notify: ServerNotifier;
  /** The SDK's own context, for anything the kit does not wrap. */
  readonly mcp: ServerContext;
  /** For tools that may run as tasks (`task` in their definition). */
  readonly task: ToolTask;
}

export interface ToolTask {
  /** The task this run belongs to; undefined when the call is not (yet) a task. */
  readonly id: string | undefined;
  /**
   * Marks where the task begins. When the client takes tasks, the request that gets here answers
   * with a new task and a worker runs the handler again, from the top, with the same arguments
   * and answers: in the request this throws `TaskStarted` (let it through), in the worker it
   * returns. For a client that takes no tasks it returns at once and the call runs directly.
   */
  start(): Promise<void>;
  /**
   * What this run's last `checkpoint()` saved, when an earlier attempt at it stopped before it
   * finished (a container task restarted on another container); undefined otherwise.
   */
  readonly resumeFrom: unknown;
  /**
   * Saves `value` (JSON, at most 64 KB) with the task, for a restarted attempt to find in
   * `resumeFrom`. Throws when the run no longer holds the task; does nothing outside a task's worker.
   */
  checkpoint(value: unknown): Promise<void>;
}

export interface ToolArtifacts {
  /**
   * Stores a file and returns a `resource_link` to put in the result. Owned by the legacy session,
   * or for a modern request by the principal, or by `handle` when given.
   */
  put(name: string, body: ArtifactBody, options?: Omit<ArtifactPutOptions, 'signal'> & { handle?: string }): Promise<ResourceLink>;
  /** A presigned GET URL (at most 900 s) for an artifact this caller may read. */
  presign(uri: string, expiresInSeconds?: number): Promise<string>;
}

const CLIENT_LEVEL = { debug: 'debug', info: 'info', warn: 'warning', error: 'error' } as const;

class KitToolContext implements ToolContext {
  private _state?: StateScope;
  private _log?: ToolContext['log'];
  constructor(
    private readonly services: KitServices,
    private readonly scope: RequestScope,
    readonly mcp: ServerContext,
    private readonly target: string,
  ) {}

  get principal() {
    return this.scope.principal;
  }
  get sessionId() {
    return this.scope.sessionId;
  }
  get era() {
    return this.scope.era;
  }
  private expiry?: AbortController;
  private expiredReason?: Error;
  private _signal?: AbortSignal;

  /** Aborted when the client cancels or disconnects, or when the tool runs past its time limit. */
  get signal() {
    if (!this._signal) {
      this.expiry = new AbortController();
      if (this.expiredReason) this.expiry.abort(this.expiredReason);
      this._signal = AbortSignal.any([this.mcp.mcpReq.signal, this.expiry.signal]);
    }
    return this._signal;
  }

  private starting?: () => Promise<void>;

  get task(): ToolTask {
    const task = this.scope.task;
    return { id: task?.id, start: this.starting ?? (async () => {}), resumeFrom: task?.resumeFrom, checkpoint: task?.checkpoint ?? (async () => {}) };
  }

  /** In the request that may create a task: what `ctx.task.start()` does there. */
  beginTask(start: () => Promise<void>) {
    this.starting = start;
  }

  /** Ends the call's time: aborts `signal` for handlers that watch it. */
  expire(reason: Error) {
    this.expiredReason = reason;
    this.expiry?.abort(reason);
  }
  get notify() {
    return this.services.notify;
  }

  get artifacts(): ToolArtifacts {
    const { principal, sessionId } = this.scope;
    const store = this.services.artifacts;
    return {
      put: (name, body, { handle, ...options } = {}) =>
        store.put(
          {
            principalId: principal.id,
            scope: handle ? { kind: 'handle', id: handle } : sessionId ? { kind: 'session', id: sessionId } : { kind: 'principal' },
          },
          name,
          body,
          { ...options, signal: this.signal },
        ),
      presign: (uri, expiresInSeconds) => store.presign(uri, { principalId: principal.id, sessionId }, expiresInSeconds),
    };
  }

  get state(): StateScope {
    this._state ??= this.scope.sessionId
      ? this.services.state.forSession(this.scope.sessionId)
      : this.services.state.newHandle(this.scope.principal.id, limitKeyOf(this.scope.principal));
    return this._state;
  }

  openState(handle: string) {
    return this.services.state.open(handle, this.scope.principal.id);
  }

  get log(): ToolContext['log'] {
    if (this._log) return this._log;
    const base = { requestId: this.scope.requestId, target: this.target, principal: this.scope.principal.id };
    const emit = (level: keyof typeof CLIENT_LEVEL) => (message: string, data?: LogData) => {
      this.services.log[level](message, { ...base, ...data });
      if (this.scope.forwardLogs) {
        this.mcp.mcpReq.log(CLIENT_LEVEL[level], { message, ...data }, this.target).catch(() => {});
      }
    };
    this._log = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
    return this._log;
  }

  async progress(progress: number, total?: number, message?: string) {
    // A task's progress is its status message, for whoever polls it.
    if (this.scope.task) return this.scope.task.report(message ?? (total === undefined ? `${progress}` : `${progress} of ${total}`));
    const token = this.mcp.mcpReq._meta?.progressToken;
    if (token === undefined) return;
    await this.mcp.mcpReq.notify({
      method: 'notifications/progress',
      params: { progressToken: token, progress, ...(total !== undefined && { total }), ...(message !== undefined && { message }) },
    });
  }

  mintRequestState(payload: unknown) {
    return this.services.requestState.mint(payload, this.mcp);
  }

  requestState<T>() {
    return this.mcp.mcpReq.requestState<T>();
  }

  confirm<T>(message: string, pinned: T): Promise<Confirmation<T>> {
    const { requestState, state } = this.services;
    const services = {
      mint: (payload: unknown) => requestState.mint(payload, this.mcp),
      verify: (token: string) => requestState.verify(token, this.mcp),
      claim: (nonce: string) => state.claimOnce(`confirm:${nonce}`, requestState.ttlSeconds),
      ttlSeconds: requestState.ttlSeconds,
      audit: (event: Parameters<ConfirmServices['audit']>[0], fields: object) => {
        const { requestId, principal, sessionId, era } = this.scope;
        this.services.log.audit(event, { requestId, principal: principal.id, ...(sessionId && { sessionId }), era, tool: this.target, ...fields });
      },
    };
    return confirm(services, { scope: this.scope, state: this.requestState(), responses: this.mcp.mcpReq.inputResponses }, message, pinned);
  }
}

export type ExpiringToolContext = ToolContext & { expire(reason: Error): void; beginTask(start: () => Promise<void>): void };

export function createToolContext(services: KitServices, mcp: ServerContext, target: string): ExpiringToolContext {
  return new KitToolContext(services, requestScopeOf(mcp), mcp, target);
}
