// The GraphiQL page that board serves at `/`: GraphiQL over HTTP for queries and mutations, graphql-ws for
// subscriptions, everything from the same origin. Built by build.mjs into the assets the binary embeds.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { getOperationAST, parse } from 'graphql';
import { createClient } from 'graphql-ws';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './page.css';

// Monaco runs its language services in workers; build.mjs bundles each into an asset of its own and defines
// WORKER_FILES as their (content-hashed) file names, which sit beside this script.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = WORKER_FILES[label] ?? WORKER_FILES.editor;
    return new Worker(new URL(file, import.meta.url), { name: label });
  },
};

// The header editor takes JSON with comments: the template below sends nothing until it is uncommented.
const DEFAULT_HEADERS = `{
  // Signed in? Uncomment the line below and put
  // the accessToken of signUp / signIn / refreshToken
  // in place of <accessToken>:
  // "Authorization": "Bearer <accessToken>"
}`;

const DEFAULT_QUERY = `# board's GraphQL API.
#   Run: Ctrl-Enter or the pink button
#   Complete: Ctrl-Space
#   Documentation: the book icon on the left
# Sign up or sign in with a mutation, put the
# accessToken in the Headers pane below, then
# ask for yourself: { viewer { id name role } }

{
  categories {
    id
    name
    children {
      id
      name
    }
  }
}
`;

// The headers of the last operation run, so that a subscription authenticates with the same token:
// graphql-ws sends it in the connection_init payload, as { "authorization": "Bearer …" }.
let lastHeaders = {};

function authorizationOf(headers) {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string') {
      return value;
    }
  }
  return undefined;
}

const endpoint = new URL('/graphql', window.location.href);
const wsEndpoint = new URL(endpoint);
wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

// Lazy: the socket opens with the first subscription and closes after the last, so a server without
// subscriptions costs the page nothing until someone runs one. (A socket already open keeps the token it
// opened with; it closes, and the next subscription sends the new one, once the running ones end.)
const wsClient = createClient({
  url: wsEndpoint.href,
  lazy: true,
  retryAttempts: 2,
  connectionParams: () => {
    const authorization = authorizationOf(lastHeaders);
    return authorization ? { authorization } : {};
  },
});

const fetchOverHttp = createGraphiQLFetcher({
  url: endpoint.href,
  // board answers single JSON results, never incremental (multipart) ones.
  enableIncrementalDelivery: false,
});

// Which operation runs decides the transport: subscriptions over graphql-ws, the rest over HTTP. Decided from the
// text about to be sent: the toolkit's own check reads GraphiQL's parsed document, which lags behind typing.
function isSubscription(params) {
  try {
    return getOperationAST(parse(params.query), params.operationName || undefined)?.operation === 'subscription';
  } catch {
    return false; // not a document: let the server say why
  }
}

async function* subscribe(params) {
  try {
    yield* wsClient.iterate(params);
  } catch (error) {
    if (error instanceof CloseEvent) {
      throw new Error(`The subscription's socket closed: ${error.code} ${error.reason}`.trim());
    }
    if (error instanceof Event) {
      throw new Error(`No WebSocket connection to ${wsEndpoint.href}`);
    }
    throw error;
  }
}

function fetcher(params, options) {
  lastHeaders = options?.headers ?? {};
  return isSubscription(params) ? subscribe(params) : fetchOverHttp(params, options);
}

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={DEFAULT_QUERY}
    defaultHeaders={DEFAULT_HEADERS}
    defaultEditorToolsVisibility="headers"
    shouldPersistHeaders={false}
  />,
);
