// Keeps every tool result within what Lambda and API Gateway can carry: a result whose JSON is
// larger than the threshold is stored as an artifact and replaced by a resource_link and a short
// summary. Small results pay only a length estimate, never a serialization.
import type { CallToolResult } from '@modelcontextprotocol/server';
import { ArtifactStorageError } from '../artifacts/errors.ts';
import type { KitLogger } from '../log.ts';
import type { ToolContext } from './context.ts';

const encoder = new TextEncoder();

/** An upper bound on the UTF-8 size of the result's JSON, cheap to compute. */
function estimate(result: CallToolResult): number {
  let chars = 256;
  for (const block of result.content ?? []) {
    const b = block as { text?: string; data?: string; resource?: { text?: string; blob?: string } };
    chars += 128 + (b.text?.length ?? 0) + (b.data?.length ?? 0) + (b.resource?.text?.length ?? 0) + (b.resource?.blob?.length ?? 0);
  }
  // JSON escaping and UTF-8 can grow a character to six bytes; structured content is measured exactly.
  return chars * 6 + (result.structuredContent ? encoder.encode(JSON.stringify(result.structuredContent)).length : 0);
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MiB`;

/** `serverLog`: the server's own log, for what S3 said (a tool's log may be forwarded to the client). */
export async function offloadLargeResult(
  result: CallToolResult,
  tool: string,
  thresholdBytes: number,
  ctx: ToolContext,
  serverLog: KitLogger,
): Promise<CallToolResult> {
  if (estimate(result) <= thresholdBytes) return result;
  const json = JSON.stringify(result);
  const bytes = encoder.encode(json).length;
  if (bytes <= thresholdBytes) return result;

  const structuredBytes = result.structuredContent ? encoder.encode(JSON.stringify(result.structuredContent)).length : 0;
  if (structuredBytes > thresholdBytes / 2) {
    return {
      isError: true,
      content: [
        {
          type: 'text',
          text: `${tool} produced ${mib(structuredBytes)} of structured content, more than a response can carry; return less, or store it with ctx.artifacts`,
        },
      ],
    };
  }
  let link;
  try {
    link = await ctx.artifacts.put(`${tool}-result.json`, json, { contentType: 'application/json', description: `Full result of ${tool}` });
  } catch (err) {
    if (!(err instanceof ArtifactStorageError)) throw err;
    serverLog.warn('a result too large to return could not be stored', { tool, bytes, dependency: err.dependency, detail: err.detail });
    return {
      isError: true,
      content: [{ type: 'text', text: `${tool} produced ${mib(bytes)}, too large to return, and it could not be stored: ${err.message}; retry shortly` }],
    };
  }
  ctx.log.info('tool result offloaded to an artifact', { bytes, uri: link.uri });
  return {
    content: [
      {
        type: 'text',
        text: `The result of ${tool} is ${mib(bytes)}, more than a response may carry (${mib(thresholdBytes)}), so it was stored as an artifact: read ${link.uri} with resources/read.`,
      },
      link,
    ],
    ...(result.structuredContent !== undefined && { structuredContent: result.structuredContent }),
  };
}
