// What the scenarios give each person: an Apollo Client of their own (as one browser tab each) that counts its
// HTTP requests by operation name, and graphql-ws sockets signed in with their token.
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export function countingClient(url, token = null) {
  const requests = [];
  const counting = async (input, init) => {
    requests.push(JSON.parse(init.body ?? 'null')?.operationName ?? null);
    return fetch(input, init);
  };
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const apollo = new ApolloClient({
    link: new HttpLink({ uri: url, headers, fetch: counting }),
    cache: new InMemoryCache(),
  });
  return { apollo, requests };
}

// A graphql-ws client of `token` (null: anonymous) on board's `/graphql`, connected at once, never retrying.
export function socketOf(base, token) {
  return createClient({
    url: `${base.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
  });
}

// Resolves once the server listens for the subscriptions `ws` started before: it reads a socket's next
// message only once the subscription before it listens, so the answer to a query sent after says so.
export function listening(ws) {
  const heard = new Promise((ok, fail) => {
    ws.subscribe({ query: '{ __typename }' }, { next: () => {}, error: fail, complete: ok });
  });
  heard.catch(() => {}); // a refused subscription's caller waits for its error only
  return heard;
}
