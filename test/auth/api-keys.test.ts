// API keys against a real DynamoDB emulator: only a hash is stored, malformed keys cost no I/O,
// expiry is honoured, and revocation takes effect at once on the revoking instance and within
// `cacheSeconds` on every other; then `npm run keys` end to end as a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AmbiguousApiKeyIdError, ApiKeyInputError, ApiKeyStore, apiKeyId } from '../../shared/auth/api-keys.ts';
import { Table, createDynamoClient, nowSeconds } from '../../shared/store/table.ts';
import { startTestDynamo } from '../helpers/server.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const KEY = /^mcpk_[A-Za-z0-9_-]{43}$/;
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const randomKey = () => `mcpk_${randomBytes(32).toString('base64url')}`;

describe('API keys', () => {
  let dynamo: Awaited<ReturnType<typeof startTestDynamo>>;
  let table: Table;
  /** Names of the DynamoDB commands sent, to prove what costs I/O and what does not. */
  const sent: string[] = [];

  before(async () => {
    dynamo = await startTestDynamo();
    const client = await createDynamoClient({ region: 'us-east-1', dynamoEndpoint: dynamo.endpoint });
    const send = client.send.bind(client);
    client.send = ((command: object, ...rest: []) => {
      sent.push(command.constructor.name);
      return send(command as never, ...rest);
    }) as DynamoDBClient['send'];
    table = new Table(async () => client, 'mcp-kit');
  });
  after(() => dynamo.stop());

  it("a created key verifies to its owner's principal (apikey:<owner>) and scopes, and only its hash is stored", async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 30 });
    const { key, id, record } = await store.create({ principalId: 'ci-bot', scopes: ['tools:call', 'notes:read'], name: 'CI' });
    assert.match(key, KEY);
    assert.equal(id, sha256(key).slice(0, 12));
    assert.equal(apiKeyId(key), id);
    assert.deepEqual(record, { id, principalId: 'ci-bot', scopes: ['tools:call', 'notes:read'], name: 'CI', createdAt: record.createdAt });
    assert.deepEqual(await store.verify(key), { id: 'apikey:ci-bot', scopes: ['tools:call', 'notes:read'] });

    const raw = await table.get(`APIKEY#${sha256(key)}`, 'META');
    assert.ok(raw, 'stored under APIKEY#<sha256 hex> / META');
    assert.deepEqual(Object.keys(raw).sort(), ['createdAt', 'name', 'pk', 'principalId', 'scopes', 'sk']);
    assert.ok(!JSON.stringify(raw).includes(key.slice('mcpk_'.length)), 'the key itself is nowhere in the item');
    const rotated = await store.create({ principalId: 'ci-bot' });
    assert.notEqual(rotated.key, key);
    assert.equal((await store.verify(rotated.key))?.id, 'apikey:ci-bot', 'every key of an owner is the same principal');
    // The prefix keeps owners apart from unauthenticated callers and from OAuth subjects.
    assert.equal((await store.verify((await store.create({ principalId: 'anonymous' })).key))?.id, 'apikey:anonymous');
  });

  it('wrong and malformed keys verify to nothing; malformed ones without touching the table, unknown ones once per cache period', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 30 });
    const { key } = await store.create({ principalId: 'p' });
    sent.length = 0;
    const malformed = [
      '',
      'mcpk_',
      key.slice(0, -1),
      `${key}A`,
      key.replace('mcpk_', 'mcpk-'),
      `Bearer ${key}`,
      ` ${key}`,
      `${key.slice(0, -1)}=`,
      key.replace('mcpk_', 'MCPK_'),
      'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
    ];
    for (const bad of malformed) assert.equal(await store.verify(bad), undefined, JSON.stringify(bad));
    assert.deepEqual(sent, [], 'malformed keys cost no I/O');

    const unknown = randomKey();
    assert.equal(await store.verify(unknown), undefined);
    assert.equal(await store.verify(unknown), undefined);
    assert.ok(await store.verify(key));
    assert.ok(await store.verify(key));
    assert.deepEqual(sent, ['GetItemCommand', 'GetItemCommand'], 'one read per key, then the cache answers (found or not)');
  });

  it('honours expiry, even for a key this instance has cached', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 60 });
    const { key, id, record } = await store.create({ principalId: 'p', ttlDays: 2 });
    assert.equal(record.expiresAt, record.createdAt + 2 * 86_400);
    const pk = `APIKEY#${sha256(key)}`;
    assert.equal((await table.get(pk, 'META'))?.expiresAt?.N, String(record.expiresAt), 'the TTL attribute is set');

    // Expires in 0.5 to 1.5 s: long enough to be verified (and cached) first.
    const soon = Math.ceil((Date.now() + 500) / 1000);
    await table.update(pk, 'META', 'SET expiresAt = :e', 'attribute_exists(pk)', { ':e': { N: String(soon) } });
    assert.ok(await store.verify(key));
    await sleep(soon * 1000 - Date.now() + 50);
    assert.equal(await store.verify(key), undefined, 'expired, though the cache period has not passed');
    assert.ok(!(await store.list()).some((r) => r.id === id), 'an expired key is not listed');
    assert.equal(await store.revoke(id), false, 'nor revocable');
  });

  it('revokes by id or by key, at once on the instance that revoked', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 60 });
    const a = await store.create({ principalId: 'a' });
    const b = await store.create({ principalId: 'b' });
    assert.ok(await store.verify(a.key));
    assert.ok(await store.verify(b.key));

    assert.equal(await store.revoke(a.id.toUpperCase()), true);
    assert.equal(await store.verify(a.key), undefined);
    assert.equal(await store.revoke(b.key), true);
    assert.equal(await store.verify(b.key), undefined);
    assert.equal(await store.revoke(a.id), false, 'already revoked');
    assert.equal(await store.revoke(b.key), false, 'already revoked');
  });

  it('revocation through another instance takes effect here within cacheSeconds', async () => {
    const here = new ApiKeyStore(table, { cacheSeconds: 1 });
    const there = new ApiKeyStore(table, { cacheSeconds: 1 });
    const { key, id } = await there.create({ principalId: 'p', scopes: ['s'] });
    assert.ok(await here.verify(key));
    assert.equal(await there.revoke(id), true);
    assert.ok(await here.verify(key), 'still trusted here until the cache period ends');
    await sleep(1_050);
    assert.equal(await here.verify(key), undefined);
  });

  it('lists live keys with ids, never full hashes, across scan pages', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 30 });
    // Three items near the 400 KB limit push the table past one 1 MB scan page.
    const filler = 'x'.repeat(390_000);
    for (let i = 0; i < 3; i++) await table.put({ pk: { S: `FILLER#${i}` }, sk: { S: 'X' }, blob: { S: filler } });
    const created = [await store.create({ principalId: 'lister-1', scopes: ['a'], name: 'one' }), await store.create({ principalId: 'lister-2', ttlDays: 30 })];
    sent.length = 0;
    const listed = await store.list();
    assert.ok(sent.filter((c) => c === 'ScanCommand').length >= 2, `paged (${sent.join(', ')})`);
    for (const { id, record } of created)
      assert.deepEqual(
        listed.find((r) => r.id === id),
        record,
      );
    for (const r of listed) assert.match(r.id, /^[0-9a-f]{12}$/);
    assert.doesNotMatch(JSON.stringify(listed), /[0-9a-f]{64}/);
    for (let i = 0; i < 3; i++) await table.delete(`FILLER#${i}`, 'X');
  });

  it('refuses an ambiguous id and revokes nothing', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 30 });
    const id = randomBytes(6).toString('hex');
    for (const principal of ['twin-1', 'twin-2']) {
      const hash = id + randomBytes(26).toString('hex');
      await table.put({
        pk: { S: `APIKEY#${hash}` },
        sk: { S: 'META' },
        principalId: { S: principal },
        scopes: { L: [] },
        createdAt: { N: String(nowSeconds()) },
      });
    }
    await assert.rejects(store.revoke(id), (err: unknown) => err instanceof AmbiguousApiKeyIdError && /matches 2 keys.*twin-1.*full key/.test(err.message));
    assert.equal((await store.list()).filter((r) => r.id === id).length, 2);
  });

  it('refuses bad input with an error naming the field, before any I/O', async () => {
    const store = new ApiKeyStore(table, { cacheSeconds: 30 });
    const cases: [Parameters<ApiKeyStore['create']>[0], string, RegExp][] = [
      [{ principalId: '' }, 'principalId', /non-empty/],
      [{ principalId: 'x'.repeat(201) }, 'principalId', /at most 200/],
      [{ principalId: ' padded' }, 'principalId', /whitespace/],
      [{ principalId: 'a\nb' }, 'principalId', /control characters/],
      [{ principalId: 'apikey:ci-bot' }, 'principalId', /without the "apikey:" prefix, which the kit adds: ci-bot/],
      [{ principalId: 'p', scopes: ['tools call'] }, 'scopes', /"tools call" is not a scope token/],
      [{ principalId: 'p', scopes: [''] }, 'scopes', /not a scope token/],
      [{ principalId: 'p', ttlDays: 0 }, 'ttlDays', /whole number of days/],
      [{ principalId: 'p', ttlDays: 1.5 }, 'ttlDays', /whole number of days/],
      [{ principalId: 'p', ttlDays: 36_501 }, 'ttlDays', /from 1 to 36500/],
      [{ principalId: 'p', name: '' }, 'name', /non-empty/],
    ];
    sent.length = 0;
    for (const [input, field, message] of cases) {
      await assert.rejects(
        store.create(input),
        (err: unknown) => err instanceof ApiKeyInputError && err.field === field && message.test(err.message),
        JSON.stringify(input),
      );
    }
    for (const target of ['nope', 'abc123', 'mcpk_short', '']) {
      await assert.rejects(store.revoke(target), (err: unknown) => err instanceof ApiKeyInputError && err.field === 'idOrKey', target);
    }
    assert.deepEqual(sent, []);
  });

  describe('npm run keys', () => {
    /** The CLI in a child process, configured only through its environment, like `npm run keys`. */
    function keys(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(MCP_|AWS_|UPSTASH_)/.test(name)));
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
        cwd: REPO,
        env: { ...inherited, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, MCP_TABLE_NAME: 'mcp-kit', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => child.kill(), 15_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    }

    it('creates a key (printed once), lists it and revokes it', async () => {
      const created = await keys(['create', '--principal', 'cli-bot', '--scopes', 'tools:call,notes:read', '--ttl-days', '7', '--name', 'nightly job']);
      assert.equal(created.code, 0, created.stderr);
      const key = created.stdout.trim();
      assert.match(key, KEY, 'stdout is the key alone');
      const id = apiKeyId(key);
      assert.match(created.stderr, new RegExp(`Created API key ${id} for principal apikey:cli-bot`));
      assert.match(created.stderr, /not shown again/);
      assert.deepEqual(await new ApiKeyStore(table, { cacheSeconds: 0 }).verify(key), { id: 'apikey:cli-bot', scopes: ['tools:call', 'notes:read'] });

      const listed = await keys(['list']);
      assert.equal(listed.code, 0, listed.stderr);
      const row = listed.stdout.split('\n').find((line) => line.startsWith(id));
      assert.ok(row, listed.stdout);
      assert.match(row, /apikey:cli-bot\s+tools:call,notes:read\s+nightly job\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      assert.match(listed.stdout, /^ID\s+PRINCIPAL\s+SCOPES\s+NAME\s+CREATED\s+EXPIRES$/m);
      assert.ok(!listed.stdout.includes(key));

      const revoked = await keys(['revoke', id]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`Revoked API key ${id}`));
      assert.equal(await new ApiKeyStore(table, { cacheSeconds: 0 }).verify(key), undefined);

      const again = await keys(['revoke', key]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`no live API key with id ${id}`));
      assert.ok(!again.stderr.includes(key), 'a key is never echoed back');
    });

    it('--table and --region name the table over MCP_TABLE_NAME and AWS_REGION, as the deploy output does', async () => {
      const created = await keys(['create', '--table', 'mcp-kit', '--region', 'us-east-1', '--principal', 'first'], {
        MCP_TABLE_NAME: 'no-such-table',
        AWS_REGION: 'eu-west-3',
      });
      assert.equal(created.code, 0, created.stderr);
      assert.equal((await new ApiKeyStore(table, { cacheSeconds: 0 }).verify(created.stdout.trim()))?.id, 'apikey:first');
      const elsewhere = await keys(['list', '--table', 'no-such-table']);
      assert.equal(elsewhere.code, 1);
      assert.match(elsewhere.stderr, /table "no-such-table" .*ResourceNotFoundException.*pass --table/);
    });

    it('exits non-zero with a message on bad usage or configuration', async () => {
      const cases: [string[], Record<string, string>, number, RegExp][] = [
        [[], {}, 2, /missing command[\s\S]*usage: npm run keys/],
        [['rotate'], {}, 2, /unknown command "rotate"/],
        [['create'], {}, 2, /create needs --principal/],
        [['create', '--principal', 'p', '--ttl-days', 'soon'], {}, 2, /--ttl-days: expected a whole number/],
        [['create', '--principal', 'apikey:p'], {}, 2, /--principal: give the owner without the "apikey:" prefix/],
        [['create', '--principal', 'p', '--scopes', 'a b'], {}, 2, /--scopes: "a b" is not a scope token/],
        [['list', '--principal', 'p'], {}, 2, /--principal belongs to create/],
        [['revoke'], {}, 2, /revoke needs exactly one/],
        [['revoke', 'nope'], {}, 2, /revoke: expected a key/],
        [['list', '--verbose'], {}, 2, /Unknown option '--verbose'/],
        [['list'], { AWS_ENDPOINT_URL_DYNAMODB: 'not a url' }, 1, /configuration error: AWS_ENDPOINT_URL_DYNAMODB: expected an http\(s\) URL/],
        [['list'], { MCP_TABLE_NAME: 'no-such-table' }, 1, /table "no-such-table" at http:\/\/127\.0\.0\.1:\d+: ResourceNotFoundException.*MCP_TABLE_NAME/],
      ];
      const results = await Promise.all(cases.map(([args, env]) => keys(args, env)));
      results.forEach((result, i) => {
        const [args, , code, message] = cases[i]!;
        assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message, args.join(' '));
      });
      const help = await keys(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^usage: npm run keys -- <command>/);
    });
  });
});
