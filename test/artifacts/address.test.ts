// Artifact addressing without S3: the URI names no principal or session, the key is recomputed from
// the URI plus the reader, and names that cannot be one path segment are refused with a reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { artifactUri, checkName, newArtifactId, objectKey, resolveArtifactUri, type ArtifactOwner } from '../../shared/artifacts/address.ts';
import { ArtifactInputError } from '../../shared/artifacts/errors.ts';

const id = newArtifactId();
const session: ArtifactOwner = { principalId: 'alice@example.com', scope: { kind: 'session', id: 'sess-secret-1' } };
const handle: ArtifactOwner = { principalId: 'alice@example.com', scope: { kind: 'handle', id: 'h_abc' } };
const principal: ArtifactOwner = { principalId: 'alice@example.com', scope: { kind: 'principal' } };

describe('artifact addresses', () => {
  it('URIs carry the scope kind, id and name, never the principal or the session id', () => {
    const uri = artifactUri({ owner: session, id, name: 'Q3 report (final) 100%.csv' });
    assert.equal(uri, `artifact://s/${id}/Q3%20report%20(final)%20100%25.csv`);
    assert.doesNotMatch(uri, /alice|sess-secret/);
    assert.equal(artifactUri({ owner: principal, id, name: 'a.txt' }), `artifact://p/${id}/a.txt`);
    assert.equal(artifactUri({ owner: handle, id, name: 'a.txt' }), `artifact://h/h_abc/${id}/a.txt`);
  });

  it('keys hash the principal and the session or handle; the name is the last segment', () => {
    const key = objectKey('artifacts/', { owner: session, id, name: 'résumé.pdf' });
    assert.match(key, new RegExp(`^artifacts/[0-9a-f]{32}/s-[0-9a-f]{32}/${id}/résumé\\.pdf$`));
    assert.doesNotMatch(key, /alice|sess-secret/);
    assert.match(objectKey('artifacts/', { owner: handle, id, name: 'a' }), /\/h-[0-9a-f]{32}\//);
    assert.match(objectKey('artifacts/', { owner: principal, id, name: 'a' }), /^artifacts\/[0-9a-f]{32}\/p\//);
  });

  it('a reader resolves a URI to the key its writer used, and another reader to a different key', () => {
    for (const owner of [session, handle, principal]) {
      const written = { owner, id, name: 'x y.bin' };
      const uri = artifactUri(written);
      const same = resolveArtifactUri(uri, { principalId: owner.principalId, sessionId: 'sess-secret-1' });
      assert.equal(objectKey('artifacts/', same!), objectKey('artifacts/', written), uri);
      const other = resolveArtifactUri(uri, { principalId: 'mallory', sessionId: 'sess-secret-1' });
      assert.notEqual(objectKey('artifacts/', other!), objectKey('artifacts/', written), uri);
    }
    const otherSession = resolveArtifactUri(artifactUri({ owner: session, id, name: 'a' }), { principalId: session.principalId, sessionId: 'sess-2' });
    assert.notEqual(objectKey('', otherSession!), objectKey('', { owner: session, id, name: 'a' }));
  });

  it('a session URI resolves to nothing for a reader without a session, and malformed URIs to nothing', () => {
    const reader = { principalId: 'alice', sessionId: 'S' };
    assert.equal(resolveArtifactUri(`artifact://s/${id}/a`, { principalId: 'alice' }), undefined);
    for (const uri of [
      'https://example.com/a',
      `artifact://x/${id}/a`,
      'artifact://p/short/a',
      `artifact://p/${id}`,
      `artifact://p/${id}/a/b`,
      `artifact://p/${id}/%E0%A4%A`,
      `artifact://p/${id}/..`,
      `artifact://h//${id}/a`,
      `artifact://h/${id}/a`,
    ]) {
      assert.equal(resolveArtifactUri(uri, reader), undefined, uri);
    }
  });

  it('names must be 1-200 characters, one path segment, printable and well-formed', () => {
    const refused: [string, RegExp][] = [
      ['', /1-200 characters, got 0/],
      ['x'.repeat(201), /1-200 characters, got 201/],
      ['a/b', /must not contain "\/"/],
      ['a\nb', /control characters/],
      ['a\u0085b', /control characters/],
      ['\ud800x', /not well-formed Unicode/],
      ['..', /must not be "\.\."/],
    ];
    for (const [name, message] of refused) {
      assert.throws(
        () => checkName(name),
        (err: unknown) => err instanceof ArtifactInputError && message.test(err.message),
        JSON.stringify(name),
      );
    }
    for (const name of ['x'.repeat(200), '報告書 2026.xlsx', '😀.png', 'a..b', '%41 #?&.txt']) checkName(name);
  });
});
