// The `live` alias of the modelled path and the CodeDeploy deployment that shifts it
// (infra/endpoint/canary.ts): two published versions, each its own Lambda model, the alias sending
// a weighted share of unqualified invocations to the new one; a qualified invocation (a task's
// worker, shared/tasks/dispatch.ts) runs the version it names. The deployment's rollback alarm is
// modelled as a count of the new version's function errors (the construct's Errors alarm: 5 in
// 5 minutes by default): at the threshold the alias goes back to the old version for good, as
// CodeDeploy does on the alarm; with no alarm before `promoteAfterMs` it moves wholly to the new one.
// Not modelled: the alarm's 5-minute period (the count never decays) and the p99 duration alarm.
import type { InvocationType, InvokeResult, LambdaModel } from './lambda.ts';

/** What API Gateway and the Invoke API call: one version, or the alias in front of several. */
export interface FunctionInvoker {
  /** `trace`: the Invoke's X-Amzn-Trace-Id (the AWS SDK sends the caller's `_X_AMZN_TRACE_ID`). */
  invoke(event: unknown, type: InvocationType, qualifier?: string, trace?: string): Promise<InvokeResult>;
}

export interface LambdaAliasOptions {
  /** The version the alias is on, and its model. */
  primary: { version: string; lambda: LambdaModel };
  /** The release being shifted in, and its share of unqualified invocations (0 to 1). */
  canary: { version: string; lambda: LambdaModel; weight: number };
  /** The release's function errors that roll it back (the deployment group's alarm). @default 5 */
  rollbackOnErrors?: number;
  /** With no rollback by then, the alias moves wholly to the release. @default - never: the test decides */
  promoteAfterMs?: number;
  random: () => number;
  log: (line: string) => void;
}

export type AliasState = 'shifting' | 'promoted' | 'rolled back';

export class LambdaAlias implements FunctionInvoker {
  private readonly versions: Map<string, LambdaModel>;
  private weight: number;
  private errors = 0;
  private timer?: ReturnType<typeof setTimeout>;
  state: AliasState = 'shifting';

  constructor(private readonly options: LambdaAliasOptions) {
    const { primary, canary } = options;
    if (!(canary.weight >= 0 && canary.weight <= 1)) throw new Error(`canary weight must be between 0 and 1, got ${canary.weight}`);
    this.versions = new Map([
      [primary.version, primary.lambda],
      [canary.version, canary.lambda],
    ]);
    this.weight = canary.weight;
    options.log(
      `[codedeploy] live: version ${primary.version}, ${Math.round(canary.weight * 100)}% to version ${canary.version}; rolled back after ${this.threshold} of its errors`,
    );
    if (options.promoteAfterMs !== undefined) this.timer = setTimeout(() => this.settle('promoted'), options.promoteAfterMs);
  }

  private get threshold() {
    return this.options.rollbackOnErrors ?? 5;
  }

  /** The alias's routing now: the share of unqualified invocations the release gets. */
  get canaryWeight(): number {
    return this.weight;
  }

  /** Errors of the release counted so far. */
  get canaryErrors(): number {
    return this.errors;
  }

  async invoke(event: unknown, type: InvocationType, qualifier?: string, trace?: string): Promise<InvokeResult> {
    const { primary, canary } = this.options;
    const version = qualifier && qualifier !== 'live' ? qualifier : this.options.random() < this.weight ? canary.version : primary.version;
    const lambda = this.versions.get(version);
    if (!lambda) return { kind: 'error', errorType: 'ResourceNotFoundException', errorMessage: `Function not found: version ${version}`, invokeStatus: 404 };
    const result = await lambda.invoke(event, type, undefined, trace);
    if (version === canary.version) this.watch(result);
    return result;
  }

  /** Counts the release's function errors (not throttles): what its Errors alarm sums. */
  private watch(result: InvokeResult) {
    if (result.kind === 'error' && result.invokeStatus === 200) this.countError();
    if (result.kind === 'stream') void result.ended.then((error) => error && this.countError());
  }

  private countError() {
    this.errors++;
    if (this.state === 'shifting' && this.errors >= this.threshold) this.settle('rolled back');
  }

  private settle(state: Exclude<AliasState, 'shifting'>) {
    if (this.state !== 'shifting') return;
    clearTimeout(this.timer);
    this.state = state;
    this.weight = state === 'promoted' ? 1 : 0;
    const { primary, canary } = this.options;
    this.options.log(
      state === 'promoted'
        ? `[codedeploy] live: shifted wholly to version ${canary.version}`
        : `[codedeploy] live: version ${canary.version} failed ${this.errors} times, alarm; rolled back to version ${primary.version}`,
    );
  }

  stop() {
    clearTimeout(this.timer);
  }
}
