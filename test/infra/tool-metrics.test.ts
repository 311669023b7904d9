// Per-tool monitoring (infra/tool-metrics.ts): the dashboard finds every tool's series of the
// metrics the access line carries, and a per-tool error-rate alarm watches exactly the metrics
// the function emits for that tool, in both eras. Bundling skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { McpServerEndpoint, type McpServerEndpointProps } from '../../infra/mcp-server-endpoint.ts';
import { createToolMetrics, TOOL_METRICS } from '../../shared/metrics.ts';

const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const TMP = mkdtempSync(join(tmpdir(), 'mcp-kit-tool-metrics-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function synth(props: Partial<McpServerEndpointProps> = {}) {
  const app = new App({ outdir: mkdtempSync(join(TMP, 'app-')), context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Endpoint');
  new McpServerEndpoint(stack, 'Server', {
    serverName: 'notes',
    stage: 'prod',
    entry: 'functions/notes/handler.ts',
    auth: { mode: 'none', allowUnauthenticated: true },
    ...props,
  });
  return Template.fromStack(stack);
}

/** The per-tool dimension set of a line the function writes for `tool` in `era`. */
function emitted(tool: string, era: string) {
  const fragment = createToolMetrics('notes', 'prod', [tool])(tool, era, Date.now(), 1, 'result', 200, false)!;
  const line = JSON.parse(`{${fragment}}`);
  const [directive] = line._aws.CloudWatchMetrics;
  const perTool = (directive.Dimensions as string[][]).find((set) => set.includes('Tool'))!;
  return {
    namespace: directive.Namespace as string,
    names: (directive.Metrics as { Name: string }[]).map((m) => m.Name),
    dimensions: Object.fromEntries(perTool.map((d) => [d, line[d]])),
  };
}

describe('per-tool monitoring', () => {
  it('graphs every tool of the server and stage by SEARCH, for calls, errors, duration, cache hits and rate limits', () => {
    const template = synth();
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as any[];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of TOOL_METRICS) {
      assert.ok(body.includes(`MetricName=\\\\\\"${metric}\\\\\\" Server=\\\\\\"notes\\\\\\" Stage=\\\\\\"prod\\\\\\"`), `no per-tool SEARCH for ${metric}`);
    }
    assert.ok(body.includes('{McpKit,Era,Server,Stage,Tool}'), 'SEARCH does not name the per-tool dimension set');
  });

  it('has no tool alarm unless asked', () => {
    assert.deepEqual(Object.keys(synth().findResources('AWS::CloudWatch::Alarm', { Properties: { Metrics: [] } })), []);
    const tool = Object.values(synth().findResources('AWS::CloudWatch::Alarm')).filter((a: any) => String(a.Properties.AlarmDescription).includes("'s calls"));
    assert.deepEqual(tool, []);
  });

  it('alarms per named tool on the error share of both eras, on exactly the metrics the function emits', () => {
    const template = synth({ alarms: { toolErrorRate: { tools: ['note_add', 'notebook_export'], rate: 0.2, minCalls: 5 } } });
    const alarms = (Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[]).filter((a) =>
      String(a.Properties.AlarmDescription).includes("'s calls"),
    );
    assert.equal(alarms.length, 2);
    for (const [i, tool] of ['note_add', 'notebook_export'].entries()) {
      const alarm = alarms[i].Properties;
      assert.equal(alarm.Threshold, 0.2);
      const expression = alarm.Metrics.find((m: any) => m.Expression).Expression as string;
      assert.match(expression, /^IF\(\(FILL\(calls_modern, 0\) \+ FILL\(calls_legacy, 0\)\) >= 5, /);
      const watched = alarm.Metrics.filter((m: any) => m.MetricStat).map((m: any) => ({
        namespace: m.MetricStat.Metric.Namespace,
        name: m.MetricStat.Metric.MetricName,
        dimensions: Object.fromEntries(m.MetricStat.Metric.Dimensions.map((d: { Name: string; Value: string }) => [d.Name, d.Value])),
      }));
      for (const era of ['modern', 'legacy']) {
        const line = emitted(tool, era);
        for (const name of ['Calls', 'Errors']) {
          assert.ok(line.names.includes(name));
          assert.ok(
            watched.some((w: any) => w.namespace === line.namespace && w.name === name && isDeepStrictEqual(w.dimensions, line.dimensions)),
            `${tool}: no ${name} for ${era} as emitted: ${JSON.stringify(watched)}`,
          );
        }
      }
    }
  });

  it('refuses alarm settings that cannot work', () => {
    assert.throws(() => synth({ alarms: { toolErrorRate: { tools: [] } } }), /name each tool once, at least one/);
    assert.throws(() => synth({ alarms: { toolErrorRate: { tools: ['a', 'a'] } } }), /name each tool once/);
    assert.throws(() => synth({ alarms: { toolErrorRate: { tools: ['a'], rate: 0 } } }), /rate must be in \(0, 1\]/);
    assert.throws(() => synth({ alarms: { toolErrorRate: { tools: ['a'], minCalls: 0.5 } } }), /minCalls must be a whole number/);
  });
});
