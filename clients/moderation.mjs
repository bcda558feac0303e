// A moderation flow through Apollo Client 4 against a fresh `board serve`, the way a moderator's SPA and a
// reader's would run it: an admin appoints a moderator, a member posts, another reports the post, the
// moderator (subscribed to `reportAdded` over graphql-ws) sees the report in the queue and resolves it with
// REMOVE. The reader's cached list still holds the post until it is evicted and refetched (a removal is
// invisible to everyone but the author and the moderators); the moderator's own list is refreshed with
// `refetchQueries`; the author still sees the post by id with `moderation`; the public log hides who acted;
// a category ban makes the banned member's createPost fail with FORBIDDEN. Every step is asserted; exits
// non-zero on the first failure.
import assert from 'node:assert/strict';
import { CombinedGraphQLErrors, gql } from '@apollo/client';
import { countingClient, listening, socketOf } from './lib/people.mjs';
import { startBoard } from './lib/server.mjs';
import { createCategory, signUp, signUpAdmin } from './lib/fixtures.mjs';

// One Apollo Client per person (as one browser tab each), counting its HTTP requests.
const client = countingClient;

// The first `reportAdded` event a socket with `token` hears, or the error its subscribe is refused with.
function firstReport(base, token, categoryId) {
  const ws = socketOf(base, token);
  const first = new Promise((ok, fail) => {
    const stop = ws.subscribe(
      {
        query: `subscription ReportQueue($c: ID) {
          reportAdded(categoryId: $c) { id reason note status subject { id } reporter { name } }
        }`,
        variables: { c: categoryId },
      },
      {
        next: (result) => {
          stop();
          ok(result);
        },
        error: (err) => fail(err),
        complete: () => fail(new Error('reportAdded completed without an event')),
      },
    );
  });
  // The server reads a socket's next message only once the subscription before it listens: the answer to
  // a query sent after it says the report feed is being heard.
  const heard = listening(ws);
  const timeout = new Promise((_, fail) => setTimeout(() => fail(new Error('no reportAdded within 10 s')), 10_000));
  return {
    listening: heard,
    event: Promise.race([first, timeout]).finally(() => ws.dispose()),
  };
}

const POSTS = gql`
  query CategoryPosts($categoryId: ID!) {
    posts(categoryId: $categoryId, first: 20) {
      totalCount
      nodes {
        id
        title
      }
    }
  }
`;

const SET_MODERATOR = gql`
  mutation Appoint($input: SetCategoryModeratorInput!) {
    setCategoryModerator(input: $input) {
      category {
        id
        moderators {
          id
          name
        }
      }
    }
  }
`;

const CREATE_POST = gql`
  mutation Write($input: CreatePostInput!) {
    createPost(input: $input) {
      post {
        id
        title
        locked
        pinned
      }
    }
  }
`;

const REPORT = gql`
  mutation Report($input: ReportContentInput!) {
    reportContent(input: $input) {
      report {
        id
        status
        reason
        note
      }
    }
  }
`;

const QUEUE = gql`
  query Queue($categoryId: ID) {
    reports(categoryId: $categoryId, first: 20) {
      totalCount
      nodes {
        id
        reason
        note
        status
        reporter {
          name
        }
        subject {
          id
          ... on Post {
            title
          }
        }
      }
    }
  }
`;

const RESOLVE = gql`
  mutation Resolve($input: ResolveReportInput!) {
    resolveReport(input: $input) {
      report {
        id
        status
        resolution
        resolvedAt
      }
    }
  }
`;

const OWN_POST = gql`
  query OwnPost($id: ID!) {
    post(id: $id) {
      id
      isActive
      moderation {
        removed
        reason
        removedAt
      }
    }
  }
`;

const MOD_LOG = gql`
  query Log($categoryId: ID) {
    modLog(categoryId: $categoryId, first: 50) {
      totalCount
      nodes {
        id
        kind
        reason
        target {
          id
        }
        moderator {
          name
        }
      }
    }
  }
`;

const BAN = gql`
  mutation Ban($input: BanFromCategoryInput!) {
    banFromCategory(input: $input) {
      ban {
        user {
          name
        }
        category {
          id
        }
        reason
        until
      }
    }
  }
`;

const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
try {
  const admin = await signUpAdmin(board, 'mod_admin');
  const categoryId = await createCategory(board.url, admin.token, '신고 moderation');
  const moderator = await signUp(board.url, 'mod_kim');
  const author = await signUp(board.url, 'author_lee');
  const reporter = await signUp(board.url, 'reporter_park');

  const adminApp = client(board.url, admin.token);
  const appointed = await adminApp.apollo.mutate({
    mutation: SET_MODERATOR,
    variables: { input: { categoryId, userId: moderator.id, moderator: true } },
  });
  assert.deepEqual(
    appointed.data.setCategoryModerator.category.moderators.map((m) => m.name),
    [moderator.name],
  );
  console.log('ok an admin (made with `board set-role`) appointed a moderator of the category');

  const authorApp = client(board.url, author.token);
  const written = await authorApp.apollo.mutate({
    mutation: CREATE_POST,
    variables: { input: { categoryId, title: '싸게 팝니다 cheap', content: '광고 링크 http://spam.example' } },
  });
  const postId = written.data.createPost.post.id;
  assert.equal(written.data.createPost.post.locked, false);

  // A reader's SPA lists the category; the list is now in its normalised cache.
  const reader = client(board.url);
  const before = await reader.apollo.query({ query: POSTS, variables: { categoryId } });
  assert.deepEqual(before.data.posts.nodes.map((p) => p.id), [postId]);
  // The moderator's SPA shows the same list, watched, to be refreshed after resolving.
  const moderatorApp = client(board.url, moderator.token);
  const watched = moderatorApp.apollo.watchQuery({ query: POSTS, variables: { categoryId } });
  const seenByModerator = [];
  const watcher = watched.subscribe((r) => {
    if (!r.loading) seenByModerator.push(r.data.posts.nodes.map((p) => p.id));
  });
  await watched.refetch();
  assert.deepEqual(seenByModerator.at(-1), [postId]);

  // The moderator's queue listens for new reports; a member who moderates nothing is refused.
  const queueSocket = firstReport(board.base, moderator.token, categoryId);
  await queueSocket.listening;
  await assert.rejects(firstReport(board.base, reporter.token, categoryId).event, (errors) => {
    assert.ok(Array.isArray(errors), `an error message, not ${errors}`);
    assert.equal(errors[0].extensions.code, 'FORBIDDEN');
    return true;
  });
  console.log('ok reportAdded over graphql-ws: a member who moderates nothing is refused with FORBIDDEN');

  const reporterApp = client(board.url, reporter.token);
  const reported = await reporterApp.apollo.mutate({
    mutation: REPORT,
    variables: { input: { subjectId: postId, reason: 'SPAM', note: '광고 링크 spam' } },
  });
  const reportId = reported.data.reportContent.report.id;
  assert.equal(reported.data.reportContent.report.status, 'OPEN');
  // A second report of the same post by the same member is a CONFLICT while the first is open.
  await assert.rejects(
    reporterApp.apollo.mutate({ mutation: REPORT, variables: { input: { subjectId: postId, reason: 'OTHER' } } }),
    (err) => {
      assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
      assert.equal(err.errors[0].extensions.code, 'CONFLICT');
      return true;
    },
  );
  console.log('ok reportContent: the report is OPEN; a second one of the same post is a CONFLICT');

  const pushed = await queueSocket.event;
  assert.equal(pushed.errors, undefined, JSON.stringify(pushed.errors));
  assert.deepEqual(pushed.data.reportAdded, {
    id: reportId,
    reason: 'SPAM',
    note: '광고 링크 spam',
    status: 'OPEN',
    subject: { id: postId },
    reporter: { name: reporter.name },
  });
  console.log("ok reportAdded: the report reached the moderator's socket, reporter shown to the moderator");

  const queue = await moderatorApp.apollo.query({ query: QUEUE, variables: { categoryId } });
  assert.equal(queue.data.reports.totalCount, 1);
  const [open] = queue.data.reports.nodes;
  assert.equal(open.id, reportId);
  assert.equal(open.reason, 'SPAM');
  assert.equal(open.reporter.name, reporter.name, 'moderators see who reported');
  assert.deepEqual(open.subject, { __typename: 'Post', id: postId, title: '싸게 팝니다 cheap' });
  await assert.rejects(reporterApp.apollo.query({ query: QUEUE, variables: { categoryId } }), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err));
    assert.equal(err.errors[0].extensions.code, 'FORBIDDEN');
    return true;
  });
  console.log('ok reports: the moderator sees the report in the queue; the reporter may not read it');

  // Resolving refreshes the moderator's watched list in the same round, as an SPA does after a removal.
  const requestsBefore = moderatorApp.requests.length;
  const resolved = await moderatorApp.apollo.mutate({
    mutation: RESOLVE,
    variables: { input: { reportId, action: 'REMOVE', reason: '광고 spam' } },
    refetchQueries: [POSTS],
    awaitRefetchQueries: true,
  });
  assert.equal(resolved.data.resolveReport.report.status, 'RESOLVED');
  assert.equal(resolved.data.resolveReport.report.resolution, 'REMOVE');
  assert.ok(resolved.data.resolveReport.report.resolvedAt);
  assert.deepEqual(moderatorApp.requests.slice(requestsBefore), ['Resolve', 'CategoryPosts']);
  assert.deepEqual(seenByModerator.at(-1), [], 'refetchQueries: the removed post left the watched list');
  watcher.unsubscribe();
  const emptyQueue = await moderatorApp.apollo.query({
    query: QUEUE,
    variables: { categoryId },
    fetchPolicy: 'network-only',
  });
  assert.equal(emptyQueue.data.reports.totalCount, 0, 'the queue is empty');
  console.log("ok resolveReport REMOVE: RESOLVED; refetchQueries refreshed the moderator's list without the post");

  // The reader's cache still answers with the stale list (cache-first, no request) …
  const readerRequests = reader.requests.length;
  const stale = await reader.apollo.query({ query: POSTS, variables: { categoryId } });
  assert.equal(reader.requests.length, readerRequests, 'answered from the cache');
  assert.deepEqual(stale.data.posts.nodes.map((p) => p.id), [postId]);
  // … until the SPA evicts the removed post and the lists that held it, then reads again.
  assert.ok(reader.apollo.cache.evict({ id: reader.apollo.cache.identify({ __typename: 'Post', id: postId }) }));
  assert.ok(reader.apollo.cache.evict({ id: 'ROOT_QUERY', fieldName: 'posts' }));
  reader.apollo.cache.gc();
  const fresh = await reader.apollo.query({ query: POSTS, variables: { categoryId } });
  assert.equal(reader.requests.length, readerRequests + 1, 'the evicted list was fetched again');
  assert.deepEqual(fresh.data.posts.nodes, [], 'the removed post is gone for anonymous readers');
  assert.equal(fresh.data.posts.totalCount, 0);
  const byId = await reader.apollo.query({ query: OWN_POST, variables: { id: postId } });
  assert.equal(byId.data.post, null, 'and by id');
  console.log('ok anonymous: the cached list was stale until cache.evict + gc; refetched, the post is gone');

  const own = await authorApp.apollo.query({ query: OWN_POST, variables: { id: postId } });
  assert.equal(own.data.post.id, postId);
  assert.equal(own.data.post.isActive, false);
  assert.equal(own.data.post.moderation.removed, true);
  assert.equal(own.data.post.moderation.reason, '광고 spam');
  assert.ok(own.data.post.moderation.removedAt);
  console.log('ok the author still sees the post, with moderation { removed reason }');

  const publicLog = await reader.apollo.query({ query: MOD_LOG, variables: { categoryId } });
  const kinds = publicLog.data.modLog.nodes.map((n) => n.kind);
  for (const kind of ['REMOVE', 'RESOLVE_REPORT', 'SET_MODERATOR']) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  assert.ok(publicLog.data.modLog.nodes.every((n) => n.moderator === null), 'who acted is hidden from anonymous');
  const removal = publicLog.data.modLog.nodes.find((n) => n.kind === 'REMOVE');
  assert.equal(removal.reason, '광고 spam');
  assert.equal(removal.target, null, 'the removed post is not shown to anonymous through the log either');
  const moderatorsLog = await moderatorApp.apollo.query({ query: MOD_LOG, variables: { categoryId } });
  const theirRemoval = moderatorsLog.data.modLog.nodes.find((n) => n.kind === 'REMOVE');
  assert.equal(theirRemoval.moderator.name, moderator.name, 'moderators see who acted');
  assert.equal(theirRemoval.target.id, postId);
  console.log(`ok modLog: ${kinds.join(', ')}; moderator null for anonymous, named for moderators`);

  const banned = await moderatorApp.apollo.mutate({
    mutation: BAN,
    variables: { input: { categoryId, userId: author.id, reason: '도배 spam', until: '2099-01-01T00:00:00Z' } },
  });
  assert.equal(banned.data.banFromCategory.ban.user.name, author.name);
  assert.equal(banned.data.banFromCategory.ban.reason, '도배 spam');
  await assert.rejects(
    authorApp.apollo.mutate({
      mutation: CREATE_POST,
      variables: { input: { categoryId, title: '다시 again', content: '또 광고' } },
    }),
    (err) => {
      assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
      assert.equal(err.errors[0].extensions.code, 'FORBIDDEN');
      assert.deepEqual(err.errors[0].path, ['createPost']);
      return true;
    },
  );
  // The ban is the category's only: the same member still writes elsewhere.
  const elsewhere = await createCategory(board.url, admin.token, '자유 free');
  const other = await authorApp.apollo.mutate({
    mutation: CREATE_POST,
    variables: { input: { categoryId: elsewhere, title: '다른 곳 elsewhere', content: '본문' } },
  });
  assert.ok(other.data.createPost.post.id);
  console.log("ok banFromCategory: the banned member's createPost is FORBIDDEN there (extensions.code), allowed elsewhere");
} finally {
  await board.stop();
}
