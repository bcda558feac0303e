// A conversation through Apollo Client 4 and graphql-ws against a fresh `board serve`, the way two members'
// SPAs would hold it: 철수kim and 앨리스_bob sign up; 철수kim posts, 앨리스_bob comments, 철수kim answers that
// comment and 앨리스_bob answers the answer — a thread three deep, read back through the normalised cache
// (`depth`, the `parent` chain, the top comment's `replies`). 앨리스_bob names 철수kim (`@철수kim`) and
// `contentHtml` links the mention. 철수kim's socket (graphql-ws, signed in through `connection_init`) hears
// `notificationAdded` — an anonymous socket is refused with UNAUTHENTICATED — and gets the MENTION of a
// second comment naming them. The inbox (`viewer { unreadNotificationCount notifications }`), refetched until
// the fan-out that runs after each write has written it, holds the REPLY and MENTION notifications;
// `markNotificationsRead(all: true)` answers 0 and its refetch marks the cached `Notification` objects read
// by id, which a watcher of one of them sees with no request of its own. Every step is asserted; exits
// non-zero on the first failure, prints one line on success.
import assert from 'node:assert/strict';
import { CombinedGraphQLErrors, gql } from '@apollo/client';
import { countingClient, listening, socketOf } from './lib/people.mjs';
import { startBoard } from './lib/server.mjs';
import { createCategory, signUpAdmin } from './lib/fixtures.mjs';

// How long anything the server does after answering (a fan-out, a push) may take here, at most.
const BOUND_MS = 10_000;

// One Apollo Client per person (as one browser tab each), counting its HTTP requests by operation name.
const client = countingClient;

// `promise`, or a rejection naming `what` after `ms`; the timer never outlives the race.
function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: nothing within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const NOTIFICATION_ADDED = `subscription Inbox {
  notificationAdded { id kind actor { name } subject { id } }
}`;

// A socket of `token` (null: anonymous) subscribed to `notificationAdded`. `listening` resolves once the
// server listens for it (the server reads a socket's next message only once the subscription before it
// listens: the answer to a query sent after it says so); `event(pred)` is the first pushed notification
// `pred` accepts (every push is kept in `seen`); `refused()` is the error the subscribe ends with.
function inboxSocket(base, token) {
  const ws = socketOf(base, token);
  const seen = [];
  const waiting = [];
  let settle;
  const ended = new Promise((ok, fail) => {
    settle = { ok, fail };
  });
  ended.catch(() => {}); // read through `refused` or `event`
  ws.subscribe(
    { query: NOTIFICATION_ADDED },
    {
      next: (result) => {
        seen.push(result);
        for (const w of [...waiting]) {
          if (w.pred(result)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.ok(result);
          }
        }
      },
      error: (err) => settle.fail(err),
      complete: () => settle.ok(),
    },
  );
  const heard = listening(ws);
  return {
    seen,
    listening: heard,
    refused: () =>
      within(BOUND_MS, ended.then(() => assert.fail('notificationAdded completed, not refused')), 'the refusal'),
    event(pred, what) {
      const found = seen.find(pred);
      if (found) return Promise.resolve(found);
      const hit = new Promise((ok) => waiting.push({ pred, ok }));
      const stop = ended.then(() => assert.fail(`${what}: the subscription ended first`));
      return within(BOUND_MS, Promise.race([hit, stop]), what);
    },
    dispose: () => ws.dispose(),
  };
}

const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      user {
        id
        name
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
      }
    }
  }
`;

const CREATE_COMMENT = gql`
  mutation Comment($input: CreateCommentInput!) {
    createComment(input: $input) {
      comment {
        id
        depth
        parent {
          id
        }
        contentHtml
        author {
          id
          name
        }
      }
    }
  }
`;

const THREAD = gql`
  query Thread($postId: ID!) {
    post(id: $postId) {
      id
      commentCount
      comments(first: 10, topLevelOnly: true) {
        totalCount
        nodes {
          id
          depth
          parent {
            id
          }
          author {
            id
            name
          }
          replies(first: 5) {
            totalCount
            nodes {
              id
              depth
              parent {
                id
              }
              replies(first: 5) {
                totalCount
                nodes {
                  id
                  depth
                  parent {
                    id
                  }
                  replies(first: 1) {
                    totalCount
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`;

// The top comment's replies as the cache holds them (the `replies(first: 5)` the thread query stored).
const REPLIES = gql`
  fragment TopReplies on Comment {
    replies(first: 5) {
      totalCount
      nodes {
        id
        depth
        parent {
          id
        }
        replies(first: 5) {
          totalCount
          nodes {
            id
            depth
            parent {
              id
            }
          }
        }
      }
    }
  }
`;

const ANCESTORS = gql`
  query Ancestors($id: ID!) {
    node(id: $id) {
      id
      ... on Comment {
        depth
        parent {
          id
          depth
          parent {
            id
            depth
            parent {
              id
            }
          }
        }
      }
    }
  }
`;

const INBOX = gql`
  query Inbox {
    viewer {
      id
      unreadNotificationCount
      notifications(first: 20) {
        totalCount
        nodes {
          id
          kind
          read
          subject {
            __typename
            id
          }
        }
      }
    }
  }
`;

const ONE_NOTIFICATION = gql`
  query OneNotification($id: ID!) {
    node(id: $id) {
      id
      ... on Notification {
        kind
        read
      }
    }
  }
`;

const MARK_READ = gql`
  mutation MarkRead($input: MarkNotificationsReadInput!) {
    markNotificationsRead(input: $input) {
      unreadCount
    }
  }
`;

async function signUpThroughApollo(url, name, email) {
  const { apollo } = client(url);
  const { data } = await apollo.mutate({
    mutation: SIGN_UP,
    variables: { input: { name, email, password: `${email}-password` } },
  });
  assert.equal(data.signUp.user.name, name, 'signUp answers the name as given (NFC)');
  return { token: data.signUp.accessToken, id: data.signUp.user.id, name };
}

async function comment(app, postId, content, parentId = undefined) {
  const { data } = await app.apollo.mutate({
    mutation: CREATE_COMMENT,
    variables: { input: { postId, content, parentId } },
  });
  return data.createComment.comment;
}

// `<a href="/users/<name, percent-encoded>" class="mention">@name</a>` (docs/markdown.md), attributes in any order.
function linksMention(html, name) {
  const anchors = [...html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/g)];
  return anchors.some(
    ([, attrs, text]) =>
      text === `@${name}` &&
      attrs.includes(`href="/users/${encodeURIComponent(name)}"`) &&
      /class="mention"/.test(attrs),
  );
}

const key = (n) => `${n.kind} ${n.subject?.__typename} ${n.subject?.id}`;

const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
const sockets = [];
try {
  const admin = await signUpAdmin(board, 'conv_admin');
  const categoryId = await createCategory(board.url, admin.token, '대화 conversations');
  const chulsoo = await signUpThroughApollo(board.url, '철수kim', 'chulsoo.kim@example.com');
  const alice = await signUpThroughApollo(board.url, '앨리스_bob', 'alice.bob@example.com');
  const a = client(board.url, chulsoo.token);
  const b = client(board.url, alice.token);

  // The thread: a comment on the post, an answer to it, an answer to the answer.
  const posted = await a.apollo.mutate({
    mutation: CREATE_POST,
    variables: { input: { categoryId, title: '주말 모임 weekend meetup', content: '토요일 어때요? Saturday?' } },
  });
  const postId = posted.data.createPost.post.id;
  const top = await comment(b, postId, '좋아요, 몇 시? what time?');
  const answer = await comment(a, postId, '오후 2시 2 pm', top.id);
  const again = await comment(b, postId, '알겠어요 see you', answer.id);
  assert.deepEqual([top.depth, answer.depth, again.depth], [0, 1, 2], 'depth 0, 1, 2 down the thread');
  assert.deepEqual(
    [top.parent, answer.parent, again.parent],
    [null, { __typename: 'Comment', id: top.id }, { __typename: 'Comment', id: answer.id }],
    'parent: none, the top comment, the answer',
  );
  assert.deepEqual([top.author.name, answer.author.name, again.author.name], [alice.name, chulsoo.name, alice.name]);

  const thread = await a.apollo.query({ query: THREAD, variables: { postId } });
  const post = thread.data.post;
  assert.equal(post.commentCount, 3, 'commentCount counts replies');
  assert.equal(post.comments.totalCount, 1, 'one top-level comment');
  const [topNode] = post.comments.nodes;
  assert.equal(topNode.id, top.id);
  assert.equal(topNode.depth, 0);
  assert.equal(topNode.parent, null);
  assert.equal(topNode.replies.totalCount, 1);
  const [answerNode] = topNode.replies.nodes;
  assert.deepEqual([answerNode.id, answerNode.depth, answerNode.parent.id], [answer.id, 1, top.id]);
  assert.equal(answerNode.replies.totalCount, 1);
  const [againNode] = answerNode.replies.nodes;
  assert.deepEqual([againNode.id, againNode.depth, againNode.parent.id], [again.id, 2, answer.id]);
  assert.equal(againNode.replies.totalCount, 0);

  // The normalised cache: the top comment is one `Comment:<id>` object whose `replies` hold references to
  // the reply objects; read back without a request.
  const topRef = a.apollo.cache.identify({ __typename: 'Comment', id: top.id });
  assert.equal(topRef, `Comment:${top.id}`);
  const requestsBefore = a.requests.length;
  const cachedReplies = a.apollo.cache.readFragment({ id: topRef, fragment: REPLIES });
  assert.ok(cachedReplies, `the top comment ${topRef} is in the cache with its replies`);
  assert.equal(cachedReplies.replies.totalCount, 1);
  const flat = (r) => [r.id, r.depth, r.parent.id];
  assert.deepEqual(
    cachedReplies.replies.nodes.map((r) => [...flat(r), r.replies.nodes.map(flat)]),
    [[answer.id, 1, top.id, [[again.id, 2, answer.id]]]],
    "the top comment's replies, and theirs, from the cache",
  );
  const extracted = a.apollo.cache.extract();
  assert.deepEqual(
    extracted[topRef]['replies({"first":5})'].nodes,
    [{ __ref: `Comment:${answer.id}` }],
    'replies are references to normalised comments',
  );
  assert.equal(a.requests.length, requestsBefore, 'read from the cache');
  // The deepest reply's ancestors, by id: the chain ends at the top comment, whose parent is null.
  const chain = await a.apollo.query({ query: ANCESTORS, variables: { id: again.id } });
  const deepest = chain.data.node;
  const { parent: up } = deepest;
  assert.deepEqual(
    [deepest.depth, up.id, up.depth, up.parent.id, up.parent.depth, up.parent.parent],
    [2, answer.id, 1, top.id, 0, null],
    'the parent chain of the deepest reply',
  );
  // A reply names a comment of the same post; one of another post is the input's fault.
  const photos = await b.apollo.mutate({
    mutation: CREATE_POST,
    variables: { input: { categoryId, title: '사진 photos', content: '모임 사진 from last time' } },
  });
  const photosId = photos.data.createPost.post.id;
  await assert.rejects(comment(b, photosId, '여기? here?', top.id), (err) => {
    assert.ok(CombinedGraphQLErrors.is(err), `${err?.name}: ${err?.message}`);
    assert.equal(err.errors[0].extensions.code, 'BAD_USER_INPUT');
    assert.equal(err.errors[0].extensions.field, 'parentId');
    return true;
  });

  // A mention: `@철수kim` is linked in contentHtml (followed by a space: a particle would join the name).
  const mention = await comment(b, postId, `@${chulsoo.name} 확인해 주세요, please check`);
  assert.ok(linksMention(mention.contentHtml, chulsoo.name), `the mention is linked: ${mention.contentHtml}`);
  assert.equal(mention.depth, 0);

  // Live: an anonymous socket is refused; 철수kim's socket hears the MENTION of a comment on another post.
  const anonymous = inboxSocket(board.base, null);
  sockets.push(anonymous);
  await assert.rejects(anonymous.refused(), (errors) => {
    assert.ok(Array.isArray(errors), `an error message of graphql-ws, not ${errors}`);
    assert.equal(errors[0].extensions?.code, 'UNAUTHENTICATED', JSON.stringify(errors));
    return true;
  });
  anonymous.dispose();
  const socket = inboxSocket(board.base, chulsoo.token);
  sockets.push(socket);
  await within(BOUND_MS, socket.listening, 'the socket of 철수kim listening');
  const live = await comment(b, photosId, `@${chulsoo.name} 사진 봤어요? seen these?`);
  assert.ok(linksMention(live.contentHtml, chulsoo.name), live.contentHtml);
  // Pushes of the writes before may still arrive (each fan-out runs after its write answered): wait for
  // this comment's.
  const pushed = await socket.event(
    (r) => r.data?.notificationAdded?.subject?.id === live.id,
    "notificationAdded for 앨리스_bob's second mention",
  );
  assert.equal(pushed.errors, undefined, JSON.stringify(pushed.errors));
  assert.equal(pushed.data.notificationAdded.kind, 'MENTION');
  assert.deepEqual(pushed.data.notificationAdded.actor, { name: alice.name });
  for (const other of socket.seen) assert.equal(other.errors, undefined, JSON.stringify(other.errors));
  socket.dispose();

  // The inbox, refetched (as a UI refreshing its badge) until the fan-outs have written it:
  // REPLY for the comment on the post and for the answer to the answer; MENTION for both mentions (the
  // first one also comments on 철수kim's post: one notification per write, the most specific kind).
  const expected = [
    `REPLY Comment ${top.id}`,
    `REPLY Comment ${again.id}`,
    `MENTION Comment ${mention.id}`,
    `MENTION Comment ${live.id}`,
  ].sort();
  // The inbox is a watched query, as the page showing it keeps it.
  const inboxQuery = a.apollo.watchQuery({ query: INBOX });
  const inboxWatcher = inboxQuery.subscribe(() => {});
  let inbox;
  await within(
    BOUND_MS,
    (async () => {
      for (;;) {
        inbox = (await inboxQuery.refetch()).data.viewer;
        const { totalCount } = inbox.notifications;
        if (totalCount >= expected.length && inbox.unreadNotificationCount >= expected.length) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    `the inbox of 철수kim holding ${expected.length} notifications`,
  );
  assert.equal(inbox.id, chulsoo.id);
  assert.deepEqual(inbox.notifications.nodes.map(key).sort(), expected, 'REPLY ×2, MENTION ×2, nothing else');
  assert.equal(inbox.notifications.totalCount, expected.length);
  assert.equal(inbox.unreadNotificationCount, expected.length);
  assert.ok(inbox.notifications.nodes.every((n) => n.read === false), 'all unread');
  const ids = inbox.notifications.nodes.map((n) => n.id);
  assert.ok(ids.includes(pushed.data.notificationAdded.id), 'the pushed notification is the one in the inbox');

  // A watcher of one notification (another query, fetched by its own request) shares the cached
  // `Notification:<id>` with the inbox.
  const oneId = inbox.notifications.nodes.find((n) => n.kind === 'REPLY').id;
  const watched = a.apollo.watchQuery({ query: ONE_NOTIFICATION, variables: { id: oneId } });
  const seenRead = [];
  let watcher;
  await within(
    BOUND_MS,
    new Promise((ok) => {
      watcher = watched.subscribe((r) => {
        if (!r.data?.node) return;
        seenRead.push(r.data.node.read);
        ok();
      });
    }),
    'the watched notification',
  );
  assert.deepEqual(seenRead, [false]);
  assert.equal(a.requests.at(-1), 'OneNotification');

  // Mark all read; the refetched inbox updates every `Notification:<id>` of the cache.
  const before = a.requests.length;
  const marked = await a.apollo.mutate({
    mutation: MARK_READ,
    variables: { input: { all: true } },
    refetchQueries: [INBOX],
    awaitRefetchQueries: true,
  });
  assert.equal(marked.data.markNotificationsRead.unreadCount, 0);
  assert.deepEqual(a.requests.slice(before), ['MarkRead', 'Inbox'], 'the mutation and the inbox refetch, nothing else');
  const after = a.apollo.readQuery({ query: INBOX }).viewer;
  assert.equal(after.unreadNotificationCount, 0);
  assert.equal(after.notifications.totalCount, expected.length);
  assert.deepEqual(after.notifications.nodes.map((n) => n.id).sort(), [...ids].sort());
  assert.ok(after.notifications.nodes.every((n) => n.read === true), 'all read after the refetch');
  for (const id of ids) {
    const cached = a.apollo.cache.readFragment({
      id: a.apollo.cache.identify({ __typename: 'Notification', id }),
      fragment: gql`
        fragment ReadFlag on Notification {
          read
        }
      `,
    });
    assert.equal(cached?.read, true, `Notification:${id} read in the cache`);
  }
  assert.deepEqual(seenRead, [false, true], 'the watcher saw read: true with no request of its own');
  watcher.unsubscribe();
  inboxWatcher.unsubscribe();
  const repeated = await a.apollo.mutate({ mutation: MARK_READ, variables: { input: { all: true } } });
  assert.equal(repeated.data.markNotificationsRead.unreadCount, 0, 'idempotent');

  console.log(
    `conversations: ok — thread depth 0/1/2 by ${chulsoo.name} and ${alice.name} through the cache, @mention ` +
      `linked, MENTION pushed over graphql-ws (anonymous refused: UNAUTHENTICATED), inbox ${expected.length} ` +
      '(2 REPLY, 2 MENTION) marked read, Notification objects updated by id',
  );
} catch (err) {
  process.exitCode = 1;
  console.error(`conversations: FAILED: ${err?.message ?? err}`);
  if (err?.stack) console.error(err.stack);
} finally {
  for (const s of sockets) s.dispose();
  await board.stop();
}
