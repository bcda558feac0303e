// Apollo Client 4 against a fresh `board serve`: the normalised cache updated by a mutation, Relay-style
// pagination with fetchMore, BatchHttpLink with a good and a bad token, errorPolicy 'all' partial results, and
// the GraphQL-over-HTTP media type with what Apollo makes of a request error. Every step is asserted; exits
// non-zero on the first failure.
import assert from 'node:assert/strict';
import {
  ApolloClient,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { relayStylePagination } from '@apollo/client/utilities';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { startBoard } from './lib/server.mjs';
import { createCategory, createComment, createPost, signUp, signUpAdmin } from './lib/fixtures.mjs';

// Every GraphQL error any scenario sees, to check their locations at the end.
const seenErrors = [];

// A fetch that counts requests and keeps what was sent, so "no refetch" and "one batch" can be asserted.
function countingFetch() {
  const requests = [];
  const fn = async (url, init) => {
    const body = init.body === undefined ? null : JSON.parse(init.body);
    const request = { method: init.method ?? 'GET', url: String(url), headers: new Headers(init.headers), body };
    requests.push(request);
    const res = await fetch(url, init);
    request.status = res.status;
    const text = await res.clone().text();
    try {
      const parsed = JSON.parse(text);
      for (const one of Array.isArray(parsed) ? parsed : [parsed]) seenErrors.push(...(one.errors ?? []));
    } catch {
      // not JSON: Apollo reports it
    }
    return res;
  };
  return { fn, requests };
}

function client(url, { token = null, batch = false, print, accept, get = false } = {}) {
  const counter = countingFetch();
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (accept) headers.accept = accept;
  const link = batch
    ? new BatchHttpLink({ uri: url, headers, fetch: counter.fn, batchMax: 10, batchInterval: 20 })
    : new HttpLink({ uri: url, headers, fetch: counter.fn, useGETForQueries: get, ...(print ? { print } : {}) });
  const cache = new InMemoryCache({
    typePolicies: {
      Query: { fields: { posts: relayStylePagination(['categoryId', 'authorId', 'search', 'orderBy']) } },
      Category: { fields: { posts: relayStylePagination(['orderBy']) } },
      Post: { fields: { comments: relayStylePagination() } },
      User: { fields: { posts: relayStylePagination(), comments: relayStylePagination() } },
    },
  });
  return { apollo: new ApolloClient({ link, cache }), requests: counter.requests };
}

const PAGE_INFO = gql`
  fragment PageInfoParts on PageInfo {
    hasNextPage
    hasPreviousPage
    startCursor
    endCursor
  }
`;

async function cacheUpdatedByMutation(url, alice, postId) {
  const { apollo, requests } = client(url, { token: alice.token });
  const GET_POST = gql`
    query GetPost($id: ID!) {
      post(id: $id) {
        id
        title
        content
        version
        author {
          id
          name
        }
      }
    }
  `;
  const first = await apollo.query({ query: GET_POST, variables: { id: postId } });
  assert.equal(first.data.post.id, postId);
  assert.equal(first.data.post.version, 0);
  assert.equal(requests.length, 1);

  // A watcher on the query sees the mutation's result without a request of its own.
  const seen = [];
  const watcher = apollo
    .watchQuery({ query: GET_POST, variables: { id: postId }, fetchPolicy: 'cache-only' })
    .subscribe((r) => seen.push(r.data?.post?.title));

  const EDIT = gql`
    mutation EditPost($input: UpdatePostInput!) {
      updatePost(input: $input) {
        post {
          id
          title
          content
          version
        }
      }
    }
  `;
  const edited = await apollo.mutate({
    mutation: EDIT,
    variables: { input: { postId, title: 'Edited by Apollo', content: 'New content' } },
  });
  assert.equal(edited.data.updatePost.post.version, 1);
  assert.equal(requests.length, 2);

  const again = await apollo.query({ query: GET_POST, variables: { id: postId } }); // cache-first
  assert.equal(requests.length, 2, 'the cached query must be answered without a request');
  assert.equal(again.data.post.title, 'Edited by Apollo');
  assert.equal(again.data.post.content, 'New content');
  assert.equal(again.data.post.version, 1);
  assert.equal(again.data.post.author.name, alice.name, 'fields the mutation did not select stay');
  assert.equal(apollo.cache.identify({ __typename: 'Post', id: postId }), `Post:${postId}`);
  assert.equal(seen.at(-1), 'Edited by Apollo', `the watcher saw ${JSON.stringify(seen)}`);
  watcher.unsubscribe();
  console.log('ok normalised cache: the edit mutation updated the cached post, 2 requests in all');
}

// Walks a connection with fetchMore until hasNextPage (backwards: hasPreviousPage) is false; `connectionOf`
// finds it in a result.
async function walk(apollo, query, variables, connectionOf, between = async () => {}, backwards = false) {
  const observable = apollo.watchQuery({ query, variables });
  const sub = observable.subscribe(() => {});
  try {
    let result = await firstValueFrom(observable.pipe(filter((r) => !r.loading)));
    let pages = 1;
    for (;;) {
      const { pageInfo, edges } = connectionOf(result.data);
      if (!(backwards ? pageInfo.hasPreviousPage : pageInfo.hasNextPage)) break;
      await between(pages);
      await observable.fetchMore({
        variables: backwards ? { before: pageInfo.startCursor } : { after: pageInfo.endCursor },
      });
      // The watcher is told of the merged list after fetchMore resolves; a list that does not grow times out.
      result = await firstValueFrom(
        observable.pipe(
          filter((r) => !r.loading && connectionOf(r.data).edges.length > edges.length),
          timeout(5_000),
        ),
      );
      pages += 1;
      assert.ok(pages < 50, 'pagination does not end');
    }
    return { connection: connectionOf(result.data), pages };
  } finally {
    sub.unsubscribe();
  }
}

function assertWholeConnection(connection, expectedIds, what) {
  const ids = connection.edges.map((e) => e.node.id);
  assert.equal(new Set(ids).size, ids.length, `${what}: no duplicates`);
  assert.deepEqual([...ids].sort(), [...expectedIds].sort(), `${what}: every item reached`);
  const { pageInfo } = connection;
  assert.equal(pageInfo.hasNextPage, false);
  assert.equal(pageInfo.hasPreviousPage, false);
  assert.equal(pageInfo.startCursor, connection.edges[0].cursor);
  assert.equal(pageInfo.endCursor, connection.edges.at(-1).cursor);
}

async function relayPagination(url, alice, categoryId, postIds, commentPostId, commentIds) {
  const { apollo, requests } = client(url, { token: alice.token });
  const CATEGORY_POSTS = gql`
    query CategoryPosts($id: ID!, $after: String) {
      category(id: $id) {
        id
        name
        posts(first: 10, after: $after, orderBy: NEWEST) {
          totalCount
          edges {
            cursor
            node {
              id
              title
            }
          }
          pageInfo {
            ...PageInfoParts
          }
        }
      }
    }
    ${PAGE_INFO}
  `;
  // A post written after the first page was read lands before it (newest first): the cursors must not move.
  let late = null;
  const { connection, pages } = await walk(
    apollo,
    CATEGORY_POSTS,
    { id: categoryId },
    (d) => d.category.posts,
    async (page) => {
      if (page === 1) late = await createPost(url, alice.token, categoryId, 'Written while paging');
    },
  );
  assert.equal(pages, Math.ceil(postIds.length / 10));
  assert.equal(requests.length, pages);
  assertWholeConnection(connection, postIds, 'category posts');
  assert.ok(late);
  assert.deepEqual(
    connection.edges.map((e) => e.node.id),
    [...postIds].reverse(),
    'newest first, in one order across the pages',
  );
  console.log(`ok relayStylePagination: ${postIds.length} posts of a category in ${pages} pages, no duplicates`);

  const POST_COMMENTS = gql`
    query PostComments($id: ID!, $after: String) {
      post(id: $id) {
        id
        commentCount
        comments(first: 7, after: $after) {
          edges {
            cursor
            node {
              id
              content
            }
          }
          pageInfo {
            ...PageInfoParts
          }
        }
      }
    }
    ${PAGE_INFO}
  `;
  const comments = await walk(apollo, POST_COMMENTS, { id: commentPostId }, (d) => d.post.comments);
  assert.equal(comments.pages, Math.ceil(commentIds.length / 7));
  assertWholeConnection(comments.connection, commentIds, 'post comments');
  assert.deepEqual(
    comments.connection.edges.map((e) => e.node.id),
    commentIds,
    'oldest first',
  );
  const cached = apollo.readQuery({ query: POST_COMMENTS, variables: { id: commentPostId } });
  assert.equal(cached.post.comments.edges.length, commentIds.length, 'the merged list is what the cache holds');
  assert.equal(cached.post.commentCount, commentIds.length);
  console.log(`ok relayStylePagination: ${commentIds.length} comments of a post in ${comments.pages} pages`);

  // Backwards: the last 5, then fetchMore with before: startCursor prepends the earlier ones.
  const POST_COMMENTS_BACKWARDS = gql`
    query PostCommentsBackwards($id: ID!, $before: String) {
      post(id: $id) {
        id
        comments(last: 5, before: $before) {
          edges {
            cursor
            node {
              id
            }
          }
          pageInfo {
            ...PageInfoParts
          }
        }
      }
    }
    ${PAGE_INFO}
  `;
  const backwards = client(url, { token: alice.token });
  const back = await walk(
    backwards.apollo,
    POST_COMMENTS_BACKWARDS,
    { id: commentPostId },
    (d) => d.post.comments,
    async () => {},
    true,
  );
  assert.equal(back.pages, Math.ceil(commentIds.length / 5));
  assertWholeConnection(back.connection, commentIds, 'post comments, backwards');
  assert.deepEqual(
    back.connection.edges.map((e) => e.node.id),
    commentIds,
    'oldest first, the same order as forwards',
  );
  console.log(`ok relayStylePagination backwards: last/before reached all ${commentIds.length} comments`);
}

async function batches(url, alice, postId) {
  const Q1 = gql`
    query Viewer {
      viewer {
        id
        name
      }
    }
  `;
  const Q2 = gql`
    query Categories {
      categories {
        id
        name
      }
    }
  `;
  const Q3 = gql`
    query OnePost($id: ID!) {
      post(id: $id) {
        id
        title
      }
    }
  `;
  const good = client(url, { token: alice.token, batch: true });
  const [r1, r2, r3] = await Promise.all([
    good.apollo.query({ query: Q1 }),
    good.apollo.query({ query: Q2 }),
    good.apollo.query({ query: Q3, variables: { id: postId } }),
  ]);
  assert.equal(good.requests.length, 1, 'three queries, one HTTP request');
  assert.equal(good.requests[0].body.length, 3);
  assert.equal(r1.data.viewer.name, alice.name);
  assert.ok(r2.data.categories.length > 0);
  assert.equal(r3.data.post.id, postId);
  console.log('ok BatchHttpLink, good token: 3 operations in 1 request, 3 results');

  const bad = client(url, { token: 'not.a.token', batch: true });
  const outcomes = await Promise.allSettled([
    bad.apollo.query({ query: Q1 }),
    bad.apollo.query({ query: Q2 }),
    bad.apollo.query({ query: Q3, variables: { id: postId } }),
  ]);
  assert.equal(bad.requests.length, 1);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 'rejected');
    const err = outcome.reason;
    assert.ok(CombinedGraphQLErrors.is(err), `a GraphQL error per operation, not ${err?.name}: ${err?.message}`);
    assert.deepEqual(
      err.errors.map((e) => e.extensions?.code),
      ['UNAUTHENTICATED'],
    );
  }
  console.log('ok BatchHttpLink, bad token: 3 operations, each answered UNAUTHENTICATED');

  // One operation of a batch fails validation; the others still run.
  const mixed = client(url, { token: alice.token, batch: true });
  const NOPE = gql`
    query Nope {
      nope
    }
  `;
  const [m1, m2] = await Promise.allSettled([
    mixed.apollo.query({ query: Q2 }),
    mixed.apollo.query({ query: NOPE }),
  ]);
  assert.equal(mixed.requests.length, 1);
  assert.equal(m1.status, 'fulfilled');
  assert.ok(m1.value.data.categories.length > 0);
  assert.equal(m2.status, 'rejected');
  assert.ok(CombinedGraphQLErrors.is(m2.reason));
  assert.ok(m2.reason.errors[0].locations?.[0]?.line >= 1);
  console.log('ok BatchHttpLink: a validation error answers its own operation only');
}

async function partialResults(url, alice, postId) {
  const { apollo } = client(url, { token: alice.token });
  const MIXED = gql`
    query Mixed {
      ok: categories {
        id
        name
      }
      bad: post(id: "not-an-id") {
        id
        title
      }
    }
  `;
  const r = await apollo.query({ query: MIXED, errorPolicy: 'all' });
  assert.ok(r.data.ok.length > 0, 'the working field is there');
  assert.equal(r.data.bad, null, 'the failing field is null, not missing');
  assert.ok(CombinedGraphQLErrors.is(r.error));
  assert.equal(r.error.errors.length, 1);
  const [e] = r.error.errors;
  assert.deepEqual(e.path, ['bad']);
  assert.equal(e.extensions.code, 'BAD_USER_INPUT');
  assert.ok(e.locations[0].line >= 1);

  // A failing non-null field nulls its nearest nullable parent: post.comments is CommentConnection!.
  const BUBBLE = gql`
    query Bubble($id: ID!) {
      categories {
        id
      }
      post(id: $id) {
        id
        comments(first: 0) {
          totalCount
        }
      }
    }
  `;
  const b = await apollo.query({ query: BUBBLE, variables: { id: postId }, errorPolicy: 'all' });
  assert.equal(b.data.post, null);
  assert.ok(b.data.categories.length > 0);
  assert.deepEqual(b.error.errors[0].path, ['post', 'comments']);
  assert.equal(b.error.errors[0].extensions.code, 'BAD_USER_INPUT');

  // The default errorPolicy ('none') rejects with the same error.
  await assert.rejects(apollo.query({ query: MIXED, fetchPolicy: 'network-only' }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err));
    assert.deepEqual(err.errors[0].path, ['bad']);
    return true;
  });
  console.log("ok errorPolicy 'all': data beside null for the failing field, one error with its path; null bubbles");
}

async function mediaTypes(url, alice, postId) {
  const CATEGORIES = gql`
    query Categories {
      categories {
        id
      }
    }
  `;
  // A document Apollo would not send by itself: replace the printed query with one that does not parse.
  const broken = client(url, { token: alice.token, print: () => '{ categories { id ' });
  await assert.rejects(broken.apollo.query({ query: CATEGORIES }), (err) => {
    // graphql-response+json at 400: Apollo 4 reads the body as a GraphQL response, so it is the server's
    // GraphQL error, not a bare ServerError with only a status code.
    assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.data, undefined, 'a request error has no data');
    assert.equal(err.errors[0].extensions.code, 'BAD_USER_INPUT');
    assert.ok(err.errors[0].locations[0].line >= 1);
    return true;
  });
  assert.equal(broken.requests[0].status, 400);
  const accept = broken.requests[0].headers.get('accept');
  assert.match(accept, /^application\/graphql-response\+json,/, `Apollo 4 prefers the GraphQL media type: ${accept}`);

  // The server's side of it, as seen on the wire.
  const raw = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({ query: '{ categories { id ' }),
  });
  assert.equal(raw.status, 400);
  assert.match(raw.headers.get('content-type'), /^application\/graphql-response\+json/);
  assert.equal('data' in (await raw.json()), false);

  // A bad token on a single operation: 401 under the GraphQL media type, still a GraphQL error in Apollo.
  const badToken = client(url, { token: 'not.a.token' });
  await assert.rejects(badToken.apollo.query({ query: CATEGORIES }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.errors[0].extensions.code, 'UNAUTHENTICATED');
    return true;
  });
  assert.equal(badToken.requests[0].status, 401);

  // A client that accepts only application/json gets 200 and the same GraphQL error.
  const legacy = client(url, { token: alice.token, print: () => '{ categories { id ', accept: 'application/json' });
  await assert.rejects(legacy.apollo.query({ query: CATEGORIES }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.errors[0].extensions.code, 'BAD_USER_INPUT');
    return true;
  });
  assert.equal(legacy.requests[0].status, 200);

  // Queries over GET (useGETForQueries) with variables; mutations stay POST.
  const viaGet = client(url, { token: alice.token, get: true });
  const ONE_POST = gql`
    query OnePostByGet($id: ID!) {
      post(id: $id) {
        id
        title
      }
    }
  `;
  const got = await viaGet.apollo.query({ query: ONE_POST, variables: { id: postId } });
  assert.equal(got.data.post.id, postId);
  assert.equal(viaGet.requests[0].method, 'GET');
  assert.match(viaGet.requests[0].url, /[?&]variables=/);
  const renamed = await viaGet.apollo.mutate({
    mutation: gql`
      mutation RenameByPost($input: UpdatePostInput!) {
        updatePost(input: $input) {
          post {
            id
            title
          }
        }
      }
    `,
    variables: { input: { postId, title: 'Renamed', content: 'Renamed content' } },
  });
  assert.equal(renamed.data.updatePost.post.title, 'Renamed');
  assert.equal(viaGet.requests[1].method, 'POST');
  const cached = viaGet.apollo.readQuery({ query: ONE_POST, variables: { id: postId } });
  assert.equal(cached.post.title, 'Renamed');

  // A body over the limit: 413, still a GraphQL error under the GraphQL media type …
  const hugePrint = () => `{ categories { id } } # ${'x'.repeat(1_100_000)}`;
  const huge = client(url, { token: alice.token, print: hugePrint });
  await assert.rejects(huge.apollo.query({ query: CATEGORIES }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    return true;
  });
  assert.equal(huge.requests[0].status, 413);
  // … and, for a client accepting only application/json, a ServerError with the status (Apollo does not read
  // a non-2xx application/json body as a GraphQL result), the code still in the body.
  const hugeLegacy = client(url, { token: alice.token, print: hugePrint, accept: 'application/json' });
  await assert.rejects(hugeLegacy.apollo.query({ query: CATEGORIES }), (err) => {
    assert.ok(ServerError.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.statusCode, 413);
    assert.equal(JSON.parse(err.bodyText).errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    return true;
  });
  console.log('ok media types: Accept prefers application/graphql-response+json; request errors: GraphQL errors; GET');
}

const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
try {
  const admin = await signUpAdmin(board, 'apollo_admin');
  const categoryId = await createCategory(board.url, admin.token, 'Apollo scenarios');
  const alice = await signUp(board.url, 'alice');
  const postIds = [];
  for (let i = 1; i <= 23; i += 1) {
    postIds.push(await createPost(board.url, alice.token, categoryId, `Post ${String(i).padStart(2, '0')}`));
  }
  const commentPostId = postIds[0];
  const commentIds = [];
  for (let i = 1; i <= 16; i += 1) {
    commentIds.push(await createComment(board.url, alice.token, commentPostId, `Comment ${i}`));
  }

  await cacheUpdatedByMutation(board.url, alice, postIds[1]);
  await relayPagination(board.url, alice, categoryId, postIds, commentPostId, commentIds);
  await batches(board.url, alice, postIds[2]);
  await partialResults(board.url, alice, postIds[3]);
  await mediaTypes(board.url, alice, postIds[4]);

  assert.ok(seenErrors.length > 0);
  for (const e of seenErrors) {
    for (const loc of e.locations ?? []) assert.ok(loc.line >= 1 && loc.column >= 1, JSON.stringify(e));
  }
  console.log(`ok ${seenErrors.length} errors seen, none with a location at line 0`);
} finally {
  await board.stop();
}
