// Test data made the way a client makes it: through the API's own mutations (plus `board set-role` for the
// first admin, which no HTTP path grants).
import assert from 'node:assert/strict';

// One plain POST; fails on a transport error or any GraphQL error.
export async function gqlFetch(url, query, variables = {}, token = null) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  assert.equal(body.errors, undefined, `${query}\n${JSON.stringify(body.errors)}`);
  assert.equal(res.status, 200);
  return body.data;
}

export async function signUp(url, name) {
  const { signUp } = await gqlFetch(
    url,
    `mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken user { id name } } }`,
    { input: { name, email: `${name}@example.com`, password: `${name}-password` } },
  );
  return { token: signUp.accessToken, id: signUp.user.id, name };
}

// Signs `name` up, makes it an admin from the command line and logs in again (the role is a token claim).
export async function signUpAdmin(board, name) {
  await signUp(board.url, name);
  await board.cli('set-role', name, 'admin');
  const { login } = await gqlFetch(
    board.url,
    `mutation ($input: LoginInput!) { login(input: $input) { accessToken user { id role } } }`,
    { input: { login: name, password: `${name}-password` } },
  );
  assert.equal(login.user.role, 'ADMIN');
  return { token: login.accessToken, id: login.user.id, name };
}

export async function createCategory(url, token, name, parentId = null) {
  const { createCategory } = await gqlFetch(
    url,
    `mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { category { id name } } }`,
    { input: { name, parentId } },
    token,
  );
  return createCategory.category.id;
}

export async function createPost(url, token, categoryId, title, content = `${title}, the content`) {
  const { createPost } = await gqlFetch(
    url,
    `mutation ($input: CreatePostInput!) { createPost(input: $input) { post { id } } }`,
    { input: { categoryId, title, content } },
    token,
  );
  return createPost.post.id;
}

export async function createComment(url, token, postId, content) {
  const { createComment } = await gqlFetch(
    url,
    `mutation ($input: CreateCommentInput!) { createComment(input: $input) { comment { id } } }`,
    { input: { postId, content } },
    token,
  );
  return createComment.comment.id;
}
