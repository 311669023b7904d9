// Types of restore-www-authenticate.mjs for the TypeScript that imports it (tests, local/aws/).
// Not deployed: the Lambda@Edge asset leaves *.d.mts out.

/** Lambda@Edge headers: lowercase name to the list of its values, each with the name as sent. */
export type EdgeHeaders = Record<string, { key?: string; value: string }[]>;

export interface OriginResponseEvent {
  Records: [{ cf: { config?: Record<string, string>; request?: unknown; response: { status: string; statusDescription?: string; headers: EdgeHeaders } } }];
}

/** Renames x-amzn-remapped-www-authenticate back to www-authenticate; returns the event's response. */
export function handler(event: OriginResponseEvent): Promise<OriginResponseEvent['Records'][0]['cf']['response']>;
