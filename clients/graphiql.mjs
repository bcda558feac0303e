// The GraphiQL page in headless Chromium against a fresh `board serve`, with every request to a host other than
// the loopback refused (and any attempt a failure): the page must come entirely from the binary. It checks that
// GraphiQL renders with the Authorization template in its header editor, that the documentation explorer lists
// Query's fields, and that a query typed into the editor runs with the run button and shows its result.
// The first load goes over an emulated slow link (SLOW_LINK): it must arrive compressed, transfer under
// FIRST_LOAD_BUDGET bytes and render under RENDER_BUDGET_MS (GRAPHIQL_RENDER_BUDGET_MS overrides it); both
// figures are printed.
// CHROMIUM names the browser (default: Debian's /usr/bin/chromium). Exits non-zero on any failure.
import puppeteer from 'puppeteer-core';
import { startBoard } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 30_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
// 10 Mbit/s down, 5 up, 40 ms round trips: where 5 MB of script would cost seconds before anything shows.
const SLOW_LINK = { download: 10e6 / 8, upload: 5e6 / 8, latency: 40 };
// The page, its icon, style sheet and script, the five fonts it uses and Monaco's three workers, HTTP headers
// included: 1,554,127 bytes measured with brotli (of which 1,448,270 are the page, its references and the workers:
// tests/api/http/graphiql.rs holds those to 1.5 MB). The same load uncompressed is 6.65 MB.
const FIRST_LOAD_BUDGET = 1_600_000;
// Navigation start to the operation editor on screen over SLOW_LINK: 3.2–5.0 s measured on a 2-core machine busy
// with other builds (8.3–8.8 s when the same assets came uncompressed). The budget is three times the usual figure,
// for slower CI machines; the bytes above are what catches a regression to uncompressed assets.
const RENDER_BUDGET_MS = Number(process.env.GRAPHIQL_RENDER_BUDGET_MS ?? 12_000);

const offOrigin = []; // requests to anywhere but the loopback, all refused
const consoleErrors = []; // console errors, uncaught exceptions and failed requests
const graphqlRequests = []; // what the page sent to /graphql
const workers = new Set(); // Monaco's workers the page started
const codings = new Map(); // asset name -> its Content-Encoding (or 'identity')

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok: ${message}`);
}

/** The text of the Monaco editor inside `selector`, line by line. */
async function editorText(page, selector) {
  return page.$eval(selector, (el) =>
    [...el.querySelectorAll('.view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((line) => line.textContent.replace(/\u00a0/g, ' '))
      .join('\n'),
  );
}

async function clickByText(page, selector, text) {
  const handles = await page.$$(selector);
  for (const handle of handles) {
    if ((await handle.evaluate((el) => el.textContent.trim())) === text) {
      await handle.click();
      return;
    }
  }
  throw new Error(`no ${selector} reads "${text}"`);
}

const board = await startBoard();
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    // CI runs as root, where Chromium's sandbox cannot start.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-default-apps',
    '--disable-sync',
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewport({ width: 1400, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['http:', 'ws:'].includes(url.protocol) || !LOOPBACK.has(url.hostname)) {
      offOrigin.push(request.url());
      request.abort('blockedbyclient');
      return;
    }
    if (url.pathname.includes('.worker-')) workers.add(url.pathname.split('/').pop().split('-')[0]);
    if (url.pathname === '/graphql') {
      graphqlRequests.push({ headers: request.headers(), body: request.postData() ?? '' });
    }
    request.continue();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) consoleErrors.push(`HTTP ${response.status()}: ${response.url()}`);
    const { pathname } = new URL(response.url());
    if (pathname.startsWith('/graphiql/assets/')) {
      codings.set(pathname.split('/').pop(), response.headers()['content-encoding'] ?? 'identity');
    }
  });
  page.on('requestfailed', (request) => {
    if (!offOrigin.includes(request.url())) {
      consoleErrors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    }
  });

  // 0. The guard itself: a request to another host from a blank page is seen and refused.
  await page.evaluate(() => fetch('http://example.com/canary').catch(() => {}));
  check(offOrigin.length === 1 && offOrigin[0].startsWith('http://example.com/'), 'a request to another host is refused');
  offOrigin.length = 0;
  consoleErrors.length = 0;

  // 1. The page renders over a slow link, compressed: GraphiQL's operation editor (Monaco) and the header editor
  //    with its template.
  await page.emulateNetworkConditions(SLOW_LINK);
  await page.goto(`${board.base}/`, { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-query-editor .monaco-editor .view-lines');
  const rendered = await page.evaluate(() => performance.now()); // ms since the navigation started
  check(true, 'GraphiQL renders its operation editor');
  console.log(`first render over ${SLOW_LINK.download * 8e-6} Mbit/s: ${Math.round(rendered)} ms (budget ${RENDER_BUDGET_MS} ms)`);
  check(rendered < RENDER_BUDGET_MS, `the first render takes under ${RENDER_BUDGET_MS} ms`);
  // What the first load transferred, once Monaco's three workers are in (Resource Timing: body and headers as
  // received, and the body decoded).
  await page.waitForFunction(
    () => new Set(performance.getEntriesByType('resource').filter((e) => e.name.includes('.worker-')).map((e) => e.name)).size === 3,
  );
  await page.emulateNetworkConditions(null);
  const load = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      .filter((e) => e.entryType === 'navigation' || new URL(e.name).pathname.startsWith('/graphiql/assets/'))
      .map((e) => ({ name: e.name, transferred: e.transferSize, decoded: e.decodedBodySize })),
  );
  // A worker started twice is fetched once (the second time from the cache, 0 bytes transferred).
  const files = new Map();
  for (const e of load) files.set(e.name, { ...e, transferred: Math.max(e.transferred, files.get(e.name)?.transferred ?? 0) });
  const transferred = [...files.values()].reduce((sum, e) => sum + e.transferred, 0);
  const decoded = [...files.values()].reduce((sum, e) => sum + e.decoded, 0);
  console.log(`first load: ${files.size} files, ${transferred} bytes transferred for ${decoded} decoded`);
  for (const [name, coding] of codings) {
    if (/\.(js|css)$/.test(name)) check(['br', 'gzip'].includes(coding), `${name} arrives compressed (${coding})`);
  }
  check(transferred < FIRST_LOAD_BUDGET, `the first load transfers under ${FIRST_LOAD_BUDGET} bytes`);
  check(decoded > 3 * transferred, `compression shrinks it ${(decoded / transferred).toFixed(1)} times`);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('.graphiql-editor-tool .view-line')].some((l) =>
      l.textContent.includes('Authorization'),
    ),
  );
  const headers = await editorText(page, '.graphiql-editor-tool');
  check(headers.includes('"Authorization": "Bearer <accessToken>"'), 'the header editor shows the Authorization template');

  // 2. The documentation explorer lists Query's fields (GraphiQL fetched the schema by introspection).
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name');
  await clickByText(page, '.graphiql-doc-explorer a.graphiql-doc-explorer-type-name', 'Query');
  await page.waitForSelector('.graphiql-doc-explorer-field-name');
  const fields = await page.$$eval('.graphiql-doc-explorer-field-name', (els) => els.map((el) => el.textContent.trim()));
  for (const field of ['posts', 'categories', 'viewer']) {
    check(fields.includes(field), `the documentation explorer lists Query.${field}`);
  }
  console.log(`Query's fields in the explorer: ${fields.join(', ')}`);

  // 3. A query typed into the editor runs with the run button and its result shows in the result pane.
  const query = '{ __typename categories { id name } }';
  // Into the first line's text (the line's middle may sit under the editor's toolbar).
  const line = await (await page.$('.graphiql-query-editor .monaco-editor .view-line')).boundingBox();
  await page.mouse.click(line.x + 10, line.y + line.height / 2);
  await page.waitForSelector('.graphiql-query-editor .monaco-editor.focused');
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.keyboard.sendCharacter(query);
  const typed = await editorText(page, '.graphiql-query-editor');
  check(typed.trim() === query, `the operation editor holds the typed query (${JSON.stringify(typed.trim())})`);
  check(workers.has('graphql.worker'), `Monaco's GraphQL language service runs in its worker (${[...workers].join(', ')})`);
  const sentBefore = graphqlRequests.length;
  await page.click('button.graphiql-execute-button');
  await page.waitForFunction(
    () => (document.querySelector('.result-window .view-lines')?.textContent ?? '').includes('__typename'),
  );
  const result = JSON.parse(await editorText(page, '.result-window'));
  check(result.data?.__typename === 'Query', 'the result pane shows { "__typename": "Query" }');
  const names = (result.data?.categories ?? []).map((c) => c.name);
  check(names.length > 0, `the result pane lists the seeded categories (${names.join(', ')})`);
  check(!result.errors, 'the result has no errors');
  const sent = graphqlRequests.slice(sentBefore).find((r) => r.body.includes('categories'));
  check(sent !== undefined, 'the run button sent the query to /graphql');
  check(!('authorization' in sent.headers), 'the commented Authorization template is not sent');

  // 4. A subscription typed into the editor runs over graphql-ws on /graphql: a post written meanwhile (through
  //    the API, by another client) shows up in the result pane.
  const subscription = 'subscription { postAdded { title author { name } } }';
  await page.mouse.click(line.x + 10, line.y + line.height / 2);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.keyboard.sendCharacter(subscription);
  check((await editorText(page, '.graphiql-query-editor')).trim() === subscription, 'the editor holds the subscription');
  await page.click('button.graphiql-execute-button');
  // The socket is open once the server counts the subscription (its gauge in /metrics).
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const metrics = await (await fetch(`${board.base}/metrics`)).text();
    if (/board_subscriptions_active\{field="postAdded"[^}]*\} 1/.test(metrics)) break;
    if (Date.now() > deadline) throw new Error('the subscription never became active on the server');
    await new Promise((r) => setTimeout(r, 100));
  }
  check(true, 'GraphiQL opened a graphql-ws subscription on /graphql');
  const gql = async (query, variables, token) => {
    const response = await fetch(board.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const { signUp } = await gql(
    'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }',
    { i: { name: 'graphiqlwriter', email: 'graphiqlwriter@example.com', password: 'password-1' } },
  );
  const { categories } = await gql('{ categories { id } }');
  // No spaces: Monaco renders them as no-break spaces in the pane.
  const title = `live-in-GraphiQL-${Date.now()}`;
  await gql(
    'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }',
    { i: { categoryId: categories[0].id, title, content: 'written by another client' } },
    signUp.accessToken,
  );
  await page.waitForFunction(
    (expected) => (document.querySelector('.result-window .view-lines')?.textContent ?? '').includes(expected),
    {},
    title,
  );
  const event = JSON.parse(await editorText(page, '.result-window'));
  check(event.data?.postAdded?.title === title, `the result pane shows the new post (${title})`);
  check(event.data?.postAdded?.author?.name === 'graphiqlwriter', 'with its author');
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error.message}`);
} finally {
  // GRAPHIQL_SCREENSHOT=<file.png> keeps a picture of how the page ended.
  const page = (await browser.pages()).at(-1);
  if (page && process.env.GRAPHIQL_SCREENSHOT) {
    await page.screenshot({ path: process.env.GRAPHIQL_SCREENSHOT });
    console.log(`screenshot: ${process.env.GRAPHIQL_SCREENSHOT}`);
  }
  await browser.close();
  await board.stop();
}

console.log(`requests to other hosts: ${offOrigin.length}`);
for (const url of offOrigin) console.log(`  refused: ${url}`);
console.log(`console errors: ${consoleErrors.length}`);
for (const line of consoleErrors) console.log(`  ${line}`);
if (offOrigin.length > 0 || consoleErrors.length > 0) failed = true;
console.log(failed ? 'graphiql: FAILED' : 'graphiql: passed');
process.exit(failed ? 1 : 0);
