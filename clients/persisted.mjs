// Persisted operations with Apollo Client 4's PersistedQueryLink against a fresh `board serve`:
// automatic persisted queries over POST and over GET (useGETForHashedQueries), then trusted documents
// (a manifest in the shape graphql-codegen's client preset writes) with a listed documentId and an
// unlisted raw query. Exits non-zero on the first failed expectation.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { startBoard } from './lib/server.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/// A fetch that remembers every request it sent and the answer it got.
function recordingFetch() {
  const sent = [];
  const fetchFn = async (url, init = {}) => {
    const response = await fetch(url, init);
    const copy = response.clone();
    const entry = {
      method: (init.method ?? 'GET').toUpperCase(),
      url: new URL(url),
      body: init.body ? JSON.parse(init.body) : undefined,
      status: response.status,
      cacheControl: response.headers.get('cache-control'),
      answer: await copy.json().catch(() => undefined),
    };
    sent.push(entry);
    return response;
  };
  return { sent, fetchFn };
}

function client(url, { get = false } = {}) {
  const { sent, fetchFn } = recordingFetch();
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: get }).concat(
    new HttpLink({ uri: url, fetch: fetchFn }),
  );
  return { sent, apollo: new ApolloClient({ link, cache: new InMemoryCache() }) };
}

/// What a request carried: its hash, and whether it carried the text.
function carried(entry) {
  if (entry.method === 'GET') {
    const extensions = JSON.parse(entry.url.searchParams.get('extensions') ?? '{}');
    return { hash: extensions.persistedQuery?.sha256Hash, text: entry.url.searchParams.has('query') };
  }
  return { hash: entry.body?.extensions?.persistedQuery?.sha256Hash, text: typeof entry.body?.query === 'string' };
}

/// The link sent the hash alone, got PersistedQueryNotFound, and retried with the text; answers that text
/// (the document as the cache sends it, with `__typename` added).
function assertRegistered(sent, method) {
  assert.equal(sent.length, 2, `a hash-only request, then the text: ${JSON.stringify(sent)}`);
  const [first, second] = sent;
  assert.equal(first.method, method);
  assert.equal(first.answer.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
  assert.equal(first.answer.errors[0].message, 'PersistedQueryNotFound');
  assert.equal(second.method, 'POST', 'the retry with the text is a POST');
  const text = second.body.query;
  assert.deepEqual(carried(first), { hash: sha256(text), text: false });
  assert.deepEqual(carried(second), { hash: sha256(text), text: true });
  assert.equal(second.answer.errors, undefined, JSON.stringify(second.answer));
  return text;
}

const CATEGORIES = gql`
  query PersistedCategories {
    categories {
      id
      name
    }
  }
`;
const TREE = gql`
  query PersistedTree {
    categories {
      id
      children {
        id
      }
    }
  }
`;

let postsText;
const board = await startBoard();
try {
  // Over POST: the first request is hash-only, answered PersistedQueryNotFound; the link retries with the text.
  const post = client(board.url);
  const viaPost = await post.apollo.query({ query: CATEGORIES });
  assert.ok(viaPost.data.categories.length > 0);
  postsText = assertRegistered(post.sent, 'POST');

  // Over GET: the same, then a second client's hash-only GET runs at once and may be cached.
  const first = client(board.url, { get: true });
  const viaGet = await first.apollo.query({ query: TREE });
  assert.ok(viaGet.data.categories.length > 0);
  const treeText = assertRegistered(first.sent, 'GET');
  const second = client(board.url, { get: true });
  const again = await second.apollo.query({ query: TREE });
  assert.deepEqual(again.data, viaGet.data);
  assert.equal(second.sent.length, 1, 'the hash alone is enough now');
  assert.equal(second.sent[0].method, 'GET');
  assert.deepEqual(carried(second.sent[0]), { hash: sha256(treeText), text: false });
  assert.equal(second.sent[0].status, 200);
  assert.match(second.sent[0].cacheControl ?? '', /^public, max-age=\d+$/);
  console.log('persisted queries: POST and GET registered, hash-only GET served by a second client');
} finally {
  await board.stop();
}

// Trusted documents: only the manifest's documents run (the manifest lists the text Apollo sent above).
const dir = mkdtempSync(join(tmpdir(), 'board-trusted-'));
const manifestPath = join(dir, 'persisted-documents.json');
writeFileSync(manifestPath, JSON.stringify({ [sha256(postsText)]: postsText }, null, 2));
const trusted = await startBoard({ BOARD_TRUSTED_DOCUMENTS: manifestPath });
try {
  const post = (body) =>
    fetch(trusted.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json());
  const listed = await post({ documentId: `sha256:${sha256(postsText)}` });
  assert.equal(listed.errors, undefined, JSON.stringify(listed));
  assert.ok(listed.data.categories.length > 0);
  const unlisted = await post({ query: '{ categories { id } }' });
  assert.equal(unlisted.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_ALLOWED', JSON.stringify(unlisted));
  assert.equal(unlisted.data ?? null, null);
  // Apollo's link: a listed document's hash runs at once.
  const apollo = client(trusted.url, { get: true });
  const viaLink = await apollo.apollo.query({ query: CATEGORIES });
  assert.deepEqual(viaLink.data.categories, listed.data.categories);
  assert.equal(apollo.sent.length, 1);
  console.log('trusted documents: listed documentId runs, unlisted query refused');
} finally {
  await trusted.stop();
  rmSync(dir, { recursive: true, force: true });
}
