// Per-revision output, message by message: what each 2025-era revision's schema lacks is dropped
// or turned into text, and a message that needs nothing is passed on as the very same object.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shapeOutgoing } from '../../shared/protocol/shape.ts';

const link = {
  type: 'resource_link',
  uri: 'artifact://s/AAAAAAAAAAAAAAAAAAAAAA/report.json',
  name: 'report.json',
  title: 'Report',
  description: 'Full result of report',
  mimeType: 'application/json',
  size: 2048,
  icons: [{ src: 'https://example.com/i.png' }],
  annotations: { audience: ['user'], lastModified: '2026-01-01T00:00:00Z' },
  _meta: { x: 1 },
};
const audio = { type: 'audio', data: 'A'.repeat(4096), mimeType: 'audio/wav' };
const callResult = (content: unknown[], extra: object = {}) => ({ jsonrpc: '2.0', id: 7, result: { content, ...extra } });

const tool = {
  name: 'report',
  title: 'Report',
  description: 'Reports',
  inputSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { q: { type: 'string', title: 'Query' } } },
  outputSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: {} },
  annotations: { title: 'Report', readOnlyHint: true },
  execution: { taskSupport: 'optional' },
  icons: [{ src: 'https://example.com/i.png' }],
  _meta: { y: 2 },
};
const toolsList = { jsonrpc: '2.0', id: 1, result: { tools: [tool] } };

describe('per-revision output', () => {
  it('turns a resource_link into text naming its URI for sessions before 2025-06-18', () => {
    for (const revision of ['2024-11-05', '2025-03-26']) {
      const out = shapeOutgoing(callResult([{ type: 'text', text: 'done' }, link]), revision);
      assert.deepEqual(out.result.content, [
        { type: 'text', text: 'done' },
        {
          type: 'text',
          text: 'Resource "Report" (application/json, 2048 bytes): Full result of report. Read it with resources/read: artifact://s/AAAAAAAAAAAAAAAAAAAAAA/report.json',
          annotations: { audience: ['user'] },
        },
      ]);
    }
  });

  it('keeps a resource_link from 2025-06-18, without the members only 2025-11-25 has', () => {
    const { icons: _icons, ...in0618 } = link;
    assert.deepEqual(shapeOutgoing(callResult([link]), '2025-06-18').result.content, [in0618]);
    assert.deepEqual(shapeOutgoing(callResult([link]), '2025-11-25').result.content, [link]);
  });

  it('turns audio into text saying what it was for 2024-11-05 only', () => {
    const [text] = shapeOutgoing(callResult([audio]), '2024-11-05').result.content as { type: string; text: string }[];
    assert.equal(text!.type, 'text');
    assert.match(text!.text, /audio\/wav audio of 3\.0 KiB not included: protocol revision 2024-11-05/);
    assert.deepEqual(shapeOutgoing(callResult([audio]), '2025-03-26').result.content, [audio]);
  });

  it('drops structuredContent before 2025-06-18, giving it as text when the tool gave no content', () => {
    const structured = { count: 2 };
    assert.deepEqual(shapeOutgoing(callResult([{ type: 'text', text: '2 notes' }], { structuredContent: structured }), '2025-03-26').result, {
      content: [{ type: 'text', text: '2 notes' }],
    });
    assert.deepEqual(shapeOutgoing(callResult([], { structuredContent: structured }), '2024-11-05').result, {
      content: [{ type: 'text', text: '{"count":2}' }],
    });
    const kept = shapeOutgoing(callResult([], { structuredContent: structured }), '2025-06-18').result as { structuredContent?: object };
    assert.deepEqual(kept.structuredContent, structured);
  });

  it('drops structuredContent that is not an object even where the member exists (only 2026-07-28 allows it)', () => {
    const out = shapeOutgoing(callResult([{ type: 'text', text: '[1,2]' }], { structuredContent: [1, 2] }), '2025-11-25');
    assert.deepEqual(out.result, { content: [{ type: 'text', text: '[1,2]' }] });
  });

  it('shapes tools for each revision', () => {
    const expected: Record<string, object> = {
      '2024-11-05': { name: 'report', description: 'Reports', inputSchema: { type: 'object', properties: { q: { type: 'string', title: 'Query' } } } },
      '2025-03-26': {
        name: 'report',
        description: 'Reports',
        inputSchema: { type: 'object', properties: { q: { type: 'string', title: 'Query' } } },
        annotations: { title: 'Report', readOnlyHint: true },
      },
      '2025-06-18': {
        name: 'report',
        title: 'Report',
        description: 'Reports',
        inputSchema: { type: 'object', properties: { q: { type: 'string', title: 'Query' } } },
        outputSchema: { type: 'object', properties: {} },
        annotations: { title: 'Report', readOnlyHint: true },
        _meta: { y: 2 },
      },
      '2025-11-25': tool,
    };
    for (const [revision, shaped] of Object.entries(expected)) {
      assert.deepEqual(shapeOutgoing(toolsList, revision).result.tools, [shaped], revision);
    }
  });

  it('drops an outputSchema that is not type "object" (only 2026-07-28 allows it)', () => {
    const list = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 't', inputSchema: { type: 'object' }, outputSchema: { type: 'array' } }] } };
    assert.deepEqual(shapeOutgoing(list, '2025-11-25').result.tools, [{ name: 't', inputSchema: { type: 'object' } }]);
  });

  it('shapes resources, templates, prompts and read results', () => {
    const resource = { uri: 'notes://a', name: 'a', title: 'A', icons: [], _meta: {}, annotations: { priority: 1, lastModified: 'x' } };
    const template = { uriTemplate: 'notes://{a}', name: 'a', title: 'A', icons: [] };
    const prompt = { name: 'p', title: 'P', icons: [], arguments: [{ name: 'x', title: 'X', required: true }] };
    const read = { contents: [{ uri: 'notes://a', text: 'a', _meta: {} }] };
    const at = (result: object, revision: string) => shapeOutgoing({ jsonrpc: '2.0', id: 1, result }, revision).result;
    assert.deepEqual(at({ resources: [resource] }, '2025-03-26'), { resources: [{ uri: 'notes://a', name: 'a', annotations: { priority: 1 } }] });
    assert.deepEqual(at({ resourceTemplates: [template] }, '2025-06-18'), { resourceTemplates: [{ uriTemplate: 'notes://{a}', name: 'a', title: 'A' }] });
    assert.deepEqual(at({ prompts: [prompt] }, '2024-11-05'), { prompts: [{ name: 'p', arguments: [{ name: 'x', required: true }] }] });
    assert.deepEqual(at(read, '2025-03-26'), { contents: [{ uri: 'notes://a', text: 'a' }] });
  });

  it('shapes prompt messages: a linked resource becomes text before 2025-06-18', () => {
    const result = { messages: [{ role: 'user', content: link }] };
    const out = shapeOutgoing({ jsonrpc: '2.0', id: 1, result }, '2025-03-26').result;
    assert.equal(out.messages[0]!.content.type, 'text');
  });

  it('shapes an initialize result for the revision it names, with no session yet', () => {
    const init = {
      jsonrpc: '2.0',
      id: 0,
      result: {
        protocolVersion: '2024-11-05',
        capabilities: { tools: {}, completions: {}, tasks: {}, extensions: { 'io.modelcontextprotocol/tasks': {} } },
        serverInfo: { name: 'n', version: '1', title: 'N', icons: [], description: 'd', websiteUrl: 'https://example.com' },
      },
    };
    assert.deepEqual(shapeOutgoing(init, undefined).result, {
      protocolVersion: '2024-11-05',
      capabilities: { tools: {} },
      serverInfo: { name: 'n', version: '1' },
    });
    const in0326 = shapeOutgoing({ ...init, result: { ...init.result, protocolVersion: '2025-03-26' } }, undefined).result;
    assert.deepEqual(in0326.capabilities, { tools: {}, completions: {} });
    // 2025-11-25 has the tasks utility but no extensions: those begin with 2026-07-28.
    const in1125 = shapeOutgoing({ ...init, result: { ...init.result, protocolVersion: '2025-11-25' } }, undefined).result;
    assert.deepEqual(in1125.capabilities, { tools: {}, completions: {}, tasks: {} });
  });

  it('shapes notifications and server-to-client requests', () => {
    const progress = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1, total: 2, message: 'half' } };
    assert.deepEqual(shapeOutgoing(progress, '2024-11-05').params, { progressToken: 1, progress: 1, total: 2 });
    assert.equal(shapeOutgoing(progress, '2025-03-26'), progress);
    const elicit = {
      jsonrpc: '2.0',
      id: 'k1.x.1',
      method: 'elicitation/create',
      params: { mode: 'form', message: 'Sure?', requestedSchema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: {} } },
    };
    assert.deepEqual(shapeOutgoing(elicit, '2025-06-18').params, { message: 'Sure?', requestedSchema: { type: 'object', properties: {} } });
    assert.equal(shapeOutgoing(elicit, '2025-11-25'), elicit);
  });

  it('returns the same object, never a copy, when nothing is later than the revision', () => {
    const plain = callResult([{ type: 'text', text: 'hi', annotations: { audience: ['user'] } }]);
    for (const revision of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) assert.equal(shapeOutgoing(plain, revision), plain, revision);
    assert.equal(shapeOutgoing(toolsList, '2025-11-25'), toolsList);
    const log = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: { _meta: 1, title: 't' } } };
    assert.equal(shapeOutgoing(log, '2024-11-05'), log);
    const error = { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } };
    assert.equal(shapeOutgoing(error, '2024-11-05'), error);
  });

  it('leaves other revisions alone: 2026-07-28 is served by the SDK, unknown ones are not shaped', () => {
    const out = callResult([link], { structuredContent: [1] });
    assert.equal(shapeOutgoing(out, '2026-07-28'), out);
    assert.equal(shapeOutgoing(out, undefined), out);
  });
});
