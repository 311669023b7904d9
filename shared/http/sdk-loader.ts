// Loads the SDK lane (sdk-lanes.ts, and with it the MCP SDK) on the first request the direct lane
// does not take, so a cold start that serves only direct calls never pays for it. A failed load is
// retried by the next request rather than remembered.
import type { SdkLaneOptions, SdkLanes } from './sdk-lanes.ts';

export interface SdkLoader {
  /** The loaded lanes; the first call starts the load. */
  (): Promise<SdkLanes>;
  /** Closes the SDK lane's open exchanges and listen streams, if it was ever loaded. */
  close(): Promise<void>;
}

export function sdkLoader(options: SdkLaneOptions): SdkLoader {
  let loading: Promise<SdkLanes> | undefined;
  const load = () => (loading ??= import('./sdk-lanes.ts').then(({ createSdkLanes }) => createSdkLanes(options)));
  const lanes = () => load().catch((error: unknown) => ((loading = undefined), Promise.reject(error)));
  return Object.assign(lanes, {
    close: async () => {
      if (loading) await (await loading.catch(() => undefined))?.modern.close();
    },
  });
}
