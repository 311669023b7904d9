// The 2025-era sessions a client (the gateway) holds with its upstreams, one per (upstream,
// partition), in DynamoDB: so every instance (on Lambda, every execution environment) resumes the
// session the first one opened instead of opening its own, and a caller's session state upstream
// is the same whichever instance serves her. Only the id and what the handshake negotiated are
// kept; the upstream owns the session and may forget it (the client then opens a new one here).
import type { ResumableSession, UpstreamSessionStore } from '../client/connection.ts';
import { nowSeconds, type Item, type Table } from './table.ts';

const SK = 'META';

function fromItem(item: Item): ResumableSession {
  return { id: item.sessionId!.S!, protocolVersion: item.protocolVersion!.S!, capabilities: JSON.parse(item.capabilities!.S!) };
}

export class DynamoUpstreamSessions implements UpstreamSessionStore {
  /** `owner` names the client (the gateway), so two gateways on one table keep their sessions apart. */
  constructor(
    private readonly table: Table,
    private readonly owner: string,
    private readonly ttlSeconds: number,
  ) {}

  private pk(upstream: string, partition: string) {
    // Names and partitions are encoded, so no `#` in either can make two keys meet.
    return `UPSESSION#${[this.owner, upstream, partition].map(encodeURIComponent).join('#')}`;
  }

  async get(upstream: string, partition: string, consistent = false): Promise<ResumableSession | undefined> {
    const item = await this.table.get(this.pk(upstream, partition), SK, consistent);
    return item && fromItem(item);
  }

  /**
   * Records `session` when none is recorded or the recorded one is `replacing` (a session the
   * upstream forgot); false when another instance recorded a different one first.
   */
  put(upstream: string, partition: string, session: ResumableSession, replacing?: string): Promise<boolean> {
    const item: Item = {
      pk: { S: this.pk(upstream, partition) },
      sk: { S: SK },
      sessionId: { S: session.id },
      protocolVersion: { S: session.protocolVersion },
      capabilities: { S: JSON.stringify(session.capabilities) },
      expiresAt: { N: String(nowSeconds() + this.ttlSeconds) },
    };
    const now = { ':now': { N: String(nowSeconds()) } };
    return replacing === undefined
      ? this.table.put(item, 'attribute_not_exists(pk) OR expiresAt <= :now', now)
      : this.table.put(item, 'attribute_not_exists(pk) OR expiresAt <= :now OR sessionId = :gone', { ...now, ':gone': { S: replacing } });
  }
}
