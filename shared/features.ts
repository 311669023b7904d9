// Which optional features run where, as the logs and `GET /health` report them: a leaf below the
// kit's composition root and the HTTP layer, which both read it.
import type { KitConfig } from './config.ts';

/** What runs where, for the logs and `GET /health`: features that need Redis say when they are off. */
export function describeFeatures(config: Readonly<KitConfig>, redis: boolean, streamsOff = false) {
  return {
    rateLimit: config.rateLimit.enabled ? 'on' : !redis && !config.rateLimit.explicit && config.stage !== 'local' ? 'off: Redis is not configured' : 'off',
    cache: redis ? 'redis' : 'in-process',
    events: redis ? 'redis' : 'in-process',
    relay: redis ? 'redis' : 'table',
    streamCaps: redis ? 'redis' : streamsOff ? 'no streams: Redis is not configured' : 'per instance',
  };
}

export type KitFeatures = ReturnType<typeof describeFeatures>;
