// The kit's import rules, as README "Layout" states them: shared/ imports nothing outside itself,
// no Node module outside the adapters but the two web runtimes also have (crypto, async_hooks),
// no import circle (type-only imports count), and every import runs down the layer order below or
// stays in its layer. Each rule is checked against a control graph that breaks it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHARED = join(ROOT, 'shared');

/** Lowest first: a module may import its own layer and those below, never one above. */
const LAYERS: readonly (readonly string[])[] = [
  ['protocol', 'config', 'principal.ts'],
  [
    'config.ts',
    'trace.ts',
    'trace-export.ts',
    'log.ts',
    'audit.ts',
    'metrics.ts',
    'dependency.ts',
    'pending-work.ts',
    'request-scope.ts',
    'features.ts',
    'redis.ts',
    'sdk.ts',
  ],
  ['store', 'artifacts', 'cache', 'events', 'relay', 'client', 'auth'],
  ['tasks'],
  ['server'],
  ['http', 'gateway'],
  ['kit.ts', 'index.ts'],
  ['adapters'],
];
const NODE_OUTSIDE_ADAPTERS = new Set(['node:crypto', 'node:async_hooks']);

type Graph = Map<string, { local: string[]; bare: string[] }>;

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module of shared/ (paths relative to it) with what it imports. */
function importGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of sources(SHARED)) {
    const local: string[] = [];
    const bare: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = (m[1] ?? m[2])!;
      if (target.startsWith('.')) local.push(relative(SHARED, normalize(join(dirname(file), target))));
      else bare.push(target);
    }
    graph.set(relative(SHARED, file), { local, bare });
  }
  return graph;
}

/** The layer a module is in: its folder's, or its own file's at the top of shared/. */
function layerOf(module: string): number {
  const top = module.split('/')[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  if (layer < 0) throw new Error(`shared/${module} is in no layer: add "${top}" to LAYERS here and to README "Layout"`);
  return layer;
}

function problems(graph: Graph): string[] {
  const found: string[] = [];
  for (const [module, { local, bare }] of graph) {
    for (const target of local) {
      if (target.startsWith('..')) found.push(`${module} imports ${target}, outside shared/`);
      else if (layerOf(target) > layerOf(module))
        found.push(`${module} (layer ${layerOf(module)}) imports ${target} (layer ${layerOf(target)}), up the layer order`);
    }
    if (!module.startsWith('adapters/')) {
      for (const target of bare)
        if (target.startsWith('node:') && !NODE_OUTSIDE_ADAPTERS.has(target))
          found.push(`${module} imports ${target}: only shared/adapters/ may use Node-only modules`);
    }
  }
  return [...found, ...circles(graph)];
}

/** Each import circle once, as the path around it. */
function circles(graph: Graph): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const found: string[] = [];
  const visit = (module: string, path: string[]) => {
    state.set(module, 'open');
    for (const next of graph.get(module)?.local ?? []) {
      if (state.get(next) === 'open') found.push(`import circle: ${[...path.slice(path.indexOf(next)), next].join(' -> ')}`);
      else if (!state.has(next) && graph.has(next)) visit(next, [...path, next]);
    }
    state.set(module, 'done');
  };
  for (const module of graph.keys()) if (!state.has(module)) visit(module, [module]);
  return found;
}

describe('the import rules of shared/', () => {
  it('hold: nothing outside shared/, no Node-only module outside the adapters, no circle, nothing up the layers', () => {
    assert.deepEqual(problems(importGraph()), []);
  });

  it('control: each broken rule is reported', () => {
    const graph: Graph = new Map([
      ['protocol/wire.ts', { local: ['http/app.ts'], bare: [] }],
      ['http/app.ts', { local: ['protocol/wire.ts', '../local/start.ts'], bare: ['node:fs'] }],
      ['store/a.ts', { local: ['store/b.ts'], bare: [] }],
      ['store/b.ts', { local: ['store/a.ts'], bare: [] }],
      ['adapters/node.ts', { local: [], bare: ['node:net'] }],
    ]);
    const found = problems(graph);
    assert.ok(
      found.some((p) => p.startsWith('protocol/wire.ts (layer 0) imports http/app.ts (layer 5)')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.includes('../local/start.ts, outside shared/')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('http/app.ts imports node:fs')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p === 'import circle: store/a.ts -> store/b.ts -> store/a.ts'),
      found.join('\n'),
    );
    assert.ok(!found.some((p) => p.startsWith('adapters/node.ts')), 'the adapters may use Node');
  });
});
