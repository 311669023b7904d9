// The one DynamoDB table (pk/sk, TTL on `expiresAt`) and the few item operations the stores use.
// DynamoDB removes expired items late, so every read here treats `expiresAt <= now` as absent.
// The AWS SDK is loaded on first use: a request that never touches the table (a stateless tool
// call) does not pay for importing it at cold start.
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KitConfig } from '../config.ts';
import { traceAwsClient } from '../trace.ts';
import { DependencyRefusedError, DependencyUnavailableError, describeFailure } from '../dependency.ts';

type Sdk = typeof import('@aws-sdk/client-dynamodb');
let sdk: Promise<Sdk> | undefined;
const loadSdk = () => (sdk ??= import('@aws-sdk/client-dynamodb'));

export type Item = Record<string, AttributeValue>;

export interface TableOptions {
  /** Per-call timeout; a slow table fails the request instead of hanging it. @default 3000 */
  timeoutMs?: number;
}

export async function createDynamoClient(config: Pick<KitConfig, 'region' | 'dynamoEndpoint'>): Promise<DynamoDBClient> {
  const { DynamoDBClient } = await loadSdk();
  const client = new DynamoDBClient({
    region: config.region,
    ...(config.dynamoEndpoint && {
      endpoint: config.dynamoEndpoint,
      // Emulators accept any credentials; real AWS uses the default provider chain.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
    maxAttempts: 3,
  });
  traceAwsClient(client, 'DynamoDB');
  return client;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

const conditionFailed = (err: unknown) => (err as { name?: string }).name === 'ConditionalCheckFailedException';
/** The kit's own mistake in a call (or an input it let through too large), not the service's. */
const refused = (err: unknown) => (err as { name?: string }).name === 'ValidationException';

export class Table {
  private readonly timeoutMs: number;
  private ready?: Promise<{ sdk: Sdk; client: DynamoDBClient }>;

  /** `connect` is called once, on the first operation. */
  constructor(
    private readonly connect: () => Promise<DynamoDBClient>,
    readonly name: string,
    options: TableOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  private open() {
    return (this.ready ??= Promise.all([loadSdk(), this.connect()]).then(([sdk, client]) => ({ sdk, client })));
  }

  /**
   * Sends one command; a failure of the service (unreachable, timed out, throttled, table
   * missing, credentials refused) becomes a DependencyUnavailableError naming DynamoDB, a call it
   * refuses (an item or key over its limits) a DependencyRefusedError: neither carries its text.
   */
  private async send<T>(client: DynamoDBClient, command: unknown): Promise<T> {
    try {
      return (await client.send(command as never, { abortSignal: AbortSignal.timeout(this.timeoutMs) })) as T;
    } catch (err) {
      if (conditionFailed(err)) throw err;
      if (refused(err)) throw new DependencyRefusedError('DynamoDB', describeFailure(err), { cause: err });
      throw new DependencyUnavailableError('DynamoDB', describeFailure(err), { cause: err });
    }
  }

  /**
   * Reads an item; an item whose `expiresAt` has passed reads as absent. With `fields`, only those
   * attributes (and `expiresAt`) come back: less to carry and parse, though DynamoDB bills the read
   * on the whole item all the same.
   */
  async get(pk: string, sk: string, consistent = false, fields?: readonly string[]): Promise<Item | undefined> {
    const { sdk, client } = await this.open();
    const projection = fields && {
      ProjectionExpression: [...fields, 'expiresAt'].map((_, i) => `#f${i}`).join(', '),
      ExpressionAttributeNames: Object.fromEntries([...fields, 'expiresAt'].map((f, i) => [`#f${i}`, f])),
    };
    const out = await this.send<{ Item?: Item }>(
      client,
      new sdk.GetItemCommand({ TableName: this.name, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: consistent, ...projection }),
    );
    const item = out.Item;
    if (!item) return undefined;
    const exp = item.expiresAt?.N;
    return exp !== undefined && Number(exp) <= nowSeconds() ? undefined : item;
  }

  /** Writes an item, under a condition when given; false when the condition failed. */
  async put(item: Item, condition?: string, values?: Item, names?: Record<string, string>): Promise<boolean> {
    return this.conditional(
      (sdk) =>
        new sdk.PutItemCommand({
          TableName: this.name,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ExpressionAttributeNames: names,
        }),
    );
  }

  async update(pk: string, sk: string, update: string, condition: string, values: Item, names?: Record<string, string>): Promise<boolean> {
    return this.conditional(
      (sdk) =>
        new sdk.UpdateItemCommand({
          TableName: this.name,
          Key: { pk: { S: pk }, sk: { S: sk } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ExpressionAttributeNames: names,
        }),
    );
  }

  /** Deletes an item that exists and has not expired; false when there was nothing live to delete. */
  async delete(pk: string, sk: string): Promise<boolean> {
    return this.conditional(
      (sdk) =>
        new sdk.DeleteItemCommand({
          TableName: this.name,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)',
          ExpressionAttributeValues: { ':now': { N: String(nowSeconds()) } },
        }),
    );
  }

  /** Deletes an item under a condition; false when the condition failed. */
  async deleteIf(pk: string, sk: string, condition: string, values: Item): Promise<boolean> {
    return this.conditional(
      (sdk) =>
        new sdk.DeleteItemCommand({
          TableName: this.name,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
    );
  }

  /** The live items of one partition, read consistently, in sort-key order (one page: up to 1 MB). */
  async query(pk: string): Promise<Item[]> {
    const { sdk, client } = await this.open();
    const out = await this.send<{ Items?: Item[] }>(
      client,
      new sdk.QueryCommand({ TableName: this.name, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, ConsistentRead: true }),
    );
    const now = nowSeconds();
    return (out.Items ?? []).filter((item) => item.expiresAt?.N === undefined || Number(item.expiresAt.N) > now);
  }

  /**
   * One page of a partition, read consistently in sort-key order: at most `limit` items read (and
   * billed), of which those `filter` keeps come back, live ones only; `next` continues the read.
   * A page may keep none of what it read and still have a `next`.
   */
  async queryPage(pk: string, page: { limit: number; filter?: string; values?: Item; start?: Item }): Promise<{ items: Item[]; next?: Item }> {
    const { sdk, client } = await this.open();
    const out = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
      client,
      new sdk.QueryCommand({
        TableName: this.name,
        KeyConditionExpression: 'pk = :pk',
        ...(page.filter && { FilterExpression: page.filter }),
        ExpressionAttributeValues: { ':pk': { S: pk }, ...page.values },
        Limit: page.limit,
        ExclusiveStartKey: page.start,
        ConsistentRead: true,
      }),
    );
    const now = nowSeconds();
    const items = (out.Items ?? []).filter((item) => item.expiresAt?.N === undefined || Number(item.expiresAt.N) > now);
    return { items, ...(out.LastEvaluatedKey && { next: out.LastEvaluatedKey }) };
  }

  /** Removes an item whatever its state (no condition): for consumed messages. */
  async remove(pk: string, sk: string): Promise<void> {
    const { sdk, client } = await this.open();
    await this.send(client, new sdk.DeleteItemCommand({ TableName: this.name, Key: { pk: { S: pk }, sk: { S: sk } } }));
  }

  /**
   * Sends a conditional write. False when the condition failed (the caller decides whether that
   * is a conflict or a lost race); any other failure is thrown.
   */
  private async conditional(command: (sdk: Sdk) => { readonly input: object }): Promise<boolean> {
    const { sdk, client } = await this.open();
    try {
      await this.send(client, command(sdk));
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  /**
   * Every live item whose pk starts with `pkPrefix`, page by page, read consistently. A scan reads
   * (and is billed for) the whole table whatever the filter keeps: for rare administrative
   * listings, never for a request path.
   */
  async *scan(pkPrefix: string): AsyncGenerator<Item> {
    const { sdk, client } = await this.open();
    let startKey: Item | undefined;
    do {
      const page = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
        client,
        new sdk.ScanCommand({
          TableName: this.name,
          FilterExpression: 'begins_with(pk, :prefix) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)',
          ExpressionAttributeValues: { ':prefix': { S: pkPrefix }, ':now': { N: String(nowSeconds()) } },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}
