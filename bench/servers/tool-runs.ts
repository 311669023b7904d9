// How many times a benchmark server's tool handlers have run in this process. The probe that loads
// a bundle reads it to prove that a timed cache hit never ran the tool: the bundle and the probe
// are built separately and share only globals, hence a registered symbol.
const TOOL_RUNS = Symbol.for('serverless-mcp-kit.bench.toolRuns');

type Counted = { [TOOL_RUNS]?: number };

export function countToolRun(): void {
  const g = globalThis as Counted;
  g[TOOL_RUNS] = (g[TOOL_RUNS] ?? 0) + 1;
}

export const toolRuns = (): number => (globalThis as Counted)[TOOL_RUNS] ?? 0;
