// Schema evolution check (docs/schema-evolution.md): compares schema.graphql — and with --live also the schema a
// started `board serve` answers to introspection — against the published baseline (clients/schema/baseline.graphql)
// with graphql-inspector's diff, and judges the changes against `## Unreleased` in SCHEMA_CHANGELOG.md.
//
//   node schema-check.mjs                 schema.graphql against the baseline; exits 1 on a failed rule
//   node schema-check.mjs --live          the same, then the live schema of a fresh `board serve` (BOARD_BIN)
//   node schema-check.mjs --self-test     the rules on made-up schemas and changelogs (clients/schema/self-test.mjs)
//   node schema-check.mjs --publish [DATE]  after a passing check: schema.graphql becomes the baseline and
//                                         `## Unreleased` becomes `## DATE` (default: today, UTC)
// --schema, --baseline and --changelog name other files (tests use them).
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema } from 'graphql';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { baselineText, evaluate, publishChangelog, report } from './lib/schema-evolution.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    live: { type: 'boolean', default: false },
    'self-test': { type: 'boolean', default: false },
    publish: { type: 'boolean', default: false },
    schema: { type: 'string', default: join(root, 'schema.graphql') },
    baseline: { type: 'string', default: join(here, 'schema/baseline.graphql') },
    changelog: { type: 'string', default: join(root, 'SCHEMA_CHANGELOG.md') },
  },
});
const shown = (path) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('../..') ? rel : path;
};

function fail(message) {
  console.error(`schema-check: ${message}`);
  process.exit(2);
}

function load(path, what) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`cannot read the ${what} ${shown(path)}: ${e.message}`);
  }
  return text;
}

function parse(path, what) {
  try {
    return buildSchema(load(path, what));
  } catch (e) {
    return fail(`the ${what} ${shown(path)} is not a valid schema: ${e.message}`);
  }
}

async function liveSchema() {
  const { startBoard } = await import('./lib/server.mjs');
  const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
  try {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    const res = await fetch(board.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query }),
    });
    const body = await res.json();
    if (body.errors) fail(`introspection of ${board.url} failed: ${JSON.stringify(body.errors)}`);
    // Printed and parsed again, as a generator reading the URL sees it: graphql-inspector compares directive
    // usages such as @specifiedBy on the SDL nodes, which a schema built from introspection does not have.
    return buildSchema(printSchema(buildClientSchema(body.data)));
  } finally {
    await board.stop();
  }
}

if (opts['self-test']) {
  const { selfTest } = await import('./schema/self-test.mjs');
  process.exit((await selfTest()) ? 0 : 1);
}

const baseline = parse(opts.baseline, 'baseline');
const changelog = load(opts.changelog, 'changelog');
const subjects = [[`${shown(opts.schema)} against ${shown(opts.baseline)}`, parse(opts.schema, 'schema')]];
if (opts.live) {
  subjects.push([`the live schema of \`board serve\` against ${shown(opts.baseline)}`, await liveSchema()]);
}

let ok = true;
for (const [label, schema] of subjects) {
  const verdict = await evaluate(baseline, schema, changelog);
  console.log(report(label, verdict));
  ok &&= verdict.ok;
}
if (!ok) process.exit(1);

if (opts.publish) {
  const date = positionals[0] ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) fail(`--publish takes a date as YYYY-MM-DD, not ${date}`);
  writeFileSync(opts.baseline, baselineText(load(opts.schema, 'schema'), date));
  writeFileSync(opts.changelog, publishChangelog(changelog, date));
  console.log(`schema-check: published ${shown(opts.schema)} as ${shown(opts.baseline)} (${date})`);
}
