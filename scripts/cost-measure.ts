// `npm run cost:measure`: measures the billable units of each request type on the modelled
// deployed path (cost/measure.ts) and writes them to cost/units.json, which `npm run cost` reads.
// Usage: npm run cost:measure [-- --samples 5 --stream-seconds 60 --stream-samples 2 --only modernCall,task --out file]
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { measureUnits } from '../cost/measure.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '5' },
    'stream-seconds': { type: 'string', default: '60' },
    'stream-samples': { type: 'string', default: '2' },
    only: { type: 'string' },
    out: { type: 'string', default: 'cost/units.json' },
  },
});
const whole = (name: string, raw: string) => {
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`--${name} takes a whole number above 0, got "${raw}"`);
  return Number(raw);
};

const started = Date.now();
const units = await measureUnits({
  samples: whole('samples', values.samples),
  streamSeconds: whole('stream-seconds', values['stream-seconds']),
  streamSamples: whole('stream-samples', values['stream-samples']),
  ...(values.only && { only: values.only.split(',') }),
  progress: (line) => process.stderr.write(`cost:measure ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}\n`),
});
await writeFile(values.out, `${JSON.stringify(units, null, 2)}\n`);
process.stderr.write(`written to ${values.out}\n`);
