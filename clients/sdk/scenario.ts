// A small consumer of the SDK that graphql-codegen's client preset generates from the live schema (sdk/gql/):
// typed operations with fragments, enums and ids, run through Apollo Client. The @ts-expect-error lines are
// misuses the generated types must refuse: if they ever type-check, tsc fails on the unused directive.
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { graphql, useFragment } from './gql/index.js';
import type { CategoryPostsQueryVariables, NodeByIdQueryVariables, PostOrder } from './gql/graphql.js';

function ok(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
function equal<T>(actual: T, expected: T, message: string): void {
  ok(actual === expected, `${message}: ${JSON.stringify(actual)} !== ${JSON.stringify(expected)}`);
}

const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      expiresAt
      user {
        id
        name
        role
      }
    }
  }
`);

const Categories = graphql(`
  query Categories {
    categories {
      id
      name
      tier
    }
  }
`);

const AuthorName = graphql(`
  fragment AuthorName on User {
    id
    name
  }
`);

const PostSummary = graphql(`
  fragment PostSummary on Post {
    id
    title
    voteCount
    createdAt
    author {
      ...AuthorName
    }
  }
`);

const CategoryPosts = graphql(`
  query CategoryPosts($categoryId: ID!, $order: PostOrder!, $first: Int!) {
    posts(categoryId: $categoryId, orderBy: $order, first: $first) {
      totalCount
      nodes {
        ...PostSummary
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const CreatePost = graphql(`
  mutation CreatePost($input: CreatePostInput!) {
    createPost(input: $input) {
      post {
        id
        title
        version
        category {
          id
        }
      }
    }
  }
`);

const VotePost = graphql(`
  mutation VotePost($postId: ID!) {
    votePost(input: { postId: $postId }) {
      post {
        id
        voteCount
        viewerHasVoted
      }
    }
  }
`);

const NodeById = graphql(`
  query NodeById($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on Post {
        title
      }
      ... on User {
        name
      }
    }
  }
`);

function client(url: string, token?: string) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return new ApolloClient({
    link: new HttpLink({ uri: url, headers }),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' } },
  });
}

export async function main(url: string): Promise<void> {
  const anonymous = client(url);
  const signedUp = await anonymous.mutate({
    mutation: SignUp,
    variables: { input: { name: 'codegen_user', email: 'codegen@example.com', password: 'codegen-password' } },
  });
  ok(signedUp.data, 'signUp answered');
  const { accessToken, expiresAt, user } = signedUp.data.signUp;
  equal(user.role, 'USER', 'a new account is a member');
  // @ts-expect-error Role is ADMIN | USER: no other value can be compared with it
  ok(user.role !== 'MODERATOR', 'no such role');
  ok(/Z$/.test(expiresAt), `DateTime is UTC with Z: ${expiresAt}`);

  const member = client(url, accessToken);
  const categories = await member.query({ query: Categories });
  ok(categories.data, 'categories answered');
  const category = categories.data.categories[0];
  ok(category, 'a root category exists');
  equal(category.tier, 1, 'root categories are tier 1');

  const ids: string[] = [];
  for (const title of ['First', 'Second', 'Third']) {
    const created = await member.mutate({
      mutation: CreatePost,
      variables: { input: { categoryId: category.id, title, content: `${title} post, typed end to end` } },
    });
    ok(created.data, 'createPost answered');
    const { post } = created.data.createPost;
    equal(post.version, 0, 'a new post is version 0');
    equal(post.category.id, category.id, 'the post is in its category');
    ids.push(post.id);
  }
  const [, second, third] = ids;
  ok(second && third, 'three posts');

  const voted = await member.mutate({ mutation: VotePost, variables: { postId: second } });
  ok(voted.data, 'votePost answered');
  equal(voted.data.votePost.post.voteCount, 1, 'one vote');
  equal(voted.data.votePost.post.viewerHasVoted, true, 'the viewer has voted');

  const byOrder = async (order: PostOrder) => {
    const page = await member.query({ query: CategoryPosts, variables: { categoryId: category.id, order, first: 10 } });
    ok(page.data, `posts ${order} answered`);
    return page.data.posts;
  };
  const mostVoted = await byOrder('MOST_VOTED');
  equal(mostVoted.totalCount, 3, 'three posts in the category');
  const top = mostVoted.nodes[0];
  ok(top, 'a first post');
  // @ts-expect-error the fragment is masked: title is reachable only through useFragment(PostSummary, …)
  ok(top.title === undefined || true, 'masked');
  const summary = useFragment(PostSummary, top);
  equal(summary.id, second, 'the voted post comes first by votes');
  equal(summary.voteCount, 1, 'with its vote');
  equal(useFragment(AuthorName, summary.author).name, 'codegen_user', 'its author, through the nested fragment');
  // @ts-expect-error content is not selected by PostSummary
  ok(summary.content === undefined, 'not selected, not there');

  const newest = await byOrder('NEWEST');
  equal(useFragment(PostSummary, newest.nodes[0])?.id, third, 'the newest post comes first');
  equal(newest.pageInfo.hasNextPage, false, 'one page');

  await member
    .query({
      query: CategoryPosts,
      // @ts-expect-error PostOrder is an enum, and 'NEWEST_FIRST' is none of its values
      variables: { categoryId: category.id, order: 'NEWEST_FIRST', first: 10 },
    })
    .then(
      () => ok(false, 'an unknown enum value is refused by the server too'),
      () => undefined,
    );

  // @ts-expect-error an ID variable is a string in the generated types, not a number
  const numericId: NodeByIdQueryVariables = { id: 42 };
  // @ts-expect-error order is PostOrder!, so it cannot be left out
  const noOrder: CategoryPostsQueryVariables = { categoryId: category.id, first: 10 };
  void [numericId, noOrder];

  const node = await member.query({ query: NodeById, variables: { id: third } });
  ok(node.data?.node, 'node answered');
  ok(node.data.node.__typename === 'Post', `node is a Post: ${node.data.node.__typename}`);
  equal(node.data.node.title, 'Third', 'narrowed to Post by __typename');
  const me = await member.query({ query: NodeById, variables: { id: user.id } });
  ok(me.data?.node?.__typename === 'User', 'node is a User');
  equal(me.data.node.name, 'codegen_user', 'narrowed to User by __typename');

  console.log('ok codegen scenario: sign-up, categories, posts by enum order, vote, fragments, node(id:) all typed');
}
