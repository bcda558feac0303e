// The schema-evolution rules on made-up schemas and changelogs: each case states the verdict it expects (and the
// failure it expects to read), so a rule that stops failing fails here. Then the command itself, on files in a
// temporary directory: its exit codes, and --publish. Run by `node schema-check.mjs --self-test`.
import { buildSchema } from 'graphql';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate, publishChangelog, readUnreleased } from '../lib/schema-evolution.mjs';

const BASE = `
"The root."
type Query {
  "One post."
  post(id: ID!): Post
  "Posts."
  posts(first: Int): [Post!]!
}
"A post."
type Post {
  id: ID!
  "Its title."
  title: String!
  old: String @deprecated(reason: "Use \`title\`.")
  kind: Kind
}
enum Kind { A B C @deprecated(reason: "Not used.") }
input PostInput { title: String body: String }
type Mutation { createPost(input: PostInput!): Post }
`;

// Unreleased holds `unreleased`; an older dated section acknowledges things that must not count any more.
const changelog = (unreleased) =>
  `# Schema changelog\n\n## Unreleased\n\n${unreleased}\n\n## 2026-01-01\n\n### Breaking\n\n` +
  '- `Post.title`, `Query.posts.category`, `Post.score`: listed in an older release, which does not count.\n';

const edit = (from, to) => {
  if (!BASE.includes(from)) throw new Error(`self-test: the base schema has no ${from}`);
  return BASE.replace(from, to);
};
const removeTitle = edit('  "Its title."\n  title: String!\n', '');
const requiredArg = edit('posts(first: Int)', 'posts(first: Int, category: ID!)');
const addScore = edit('  kind: Kind\n}', '  kind: Kind\n  score: Int\n}');
const removeOld = edit('  old: String @deprecated(reason: "Use `title`.")\n', '');

const addEnumD = edit('enum Kind { A B', 'enum Kind { A B D');
const addDirective = edit(
  'type Mutation',
  '"The weight of a field."\ndirective @cost(weight: String!) on FIELD_DEFINITION\ntype Mutation',
).replace('  "Its title."\n  title: String!\n', '  "Its title."\n  title: String! @cost(weight: "2")\n');
const deprecateKind = edit('  kind: Kind\n', '  kind: Kind @deprecated(reason: "Soon gone.")\n');
const NONE = 'Nothing yet.';
const WINDOW = 'removed, but the baseline does not mark it @deprecated';

// [name, candidate schema, changelog, expected verdict, a failure it must contain, a change level it must report]
const passes = (name, sdl, unreleased, level) => [name, sdl, changelog(unreleased), true, null, level];
const fails = (name, sdl, unreleased, pattern) => [name, sdl, changelog(unreleased), false, pattern];
const cases = [
  ['no change, no Unreleased section', BASE, '# Schema changelog\n', true],
  fails('a removed field, no changelog line', removeTitle, NONE, new RegExp(`Post\\.title: ${WINDOW}`)),
  fails(
    'a removed field acknowledged as breaking still needs the deprecation window',
    removeTitle,
    '### Breaking\n\n- `Post.title` removed: nobody reads it any more.',
    new RegExp(`Post\\.title: ${WINDOW}.*deprecation window`),
  ),
  fails('a new required argument, no changelog line', requiredArg, NONE, /Query\.posts\.category: breaking/),
  passes(
    'a new required argument acknowledged under Breaking with a reason',
    requiredArg,
    '### Breaking\n\n- `Query.posts(category:)` is required: posts are listed per category\n  from now on.',
  ),
  passes(
    'a new required argument acknowledged with a reason in Korean',
    requiredArg,
    '### Breaking\n\n- `Query.posts.category` 필수: 게시판마다 따로 나열합니다.',
  ),
  fails(
    'a breaking line without a reason',
    requiredArg,
    '### Breaking\n\n- `Query.posts.category`',
    /Breaking line .* gives no reason/,
  ),
  fails(
    'a breaking change named under Added only',
    requiredArg,
    '### Added\n\n- `Query.posts.category` filters posts by category.',
    /Query\.posts\.category: breaking/,
  ),
  fails(
    'a nullable input field made non-null',
    edit('input PostInput { title: String ', 'input PostInput { title: String! '),
    NONE,
    /PostInput\.title: breaking/,
  ),
  fails('a field type changed', edit('  kind: Kind\n', '  kind: String\n'), NONE, /Post\.kind: breaking/),
  fails(
    'an enum value removed that was not deprecated',
    edit('enum Kind { A B C', 'enum Kind { A C'),
    '### Breaking\n\n- `Kind.B` is gone for good reasons.',
    new RegExp(`Kind\\.B: ${WINDOW}`),
  ),
  passes('an added field named in Unreleased', addScore, '### Added\n\n- `Post.score`: the sum of votes.'),
  passes('an added field whose type is named', addScore, '### Added\n\n- `Post` gains its score.'),
  fails('an added field with no changelog line', addScore, NONE, /Post\.score: a change clients see/),
  fails('an added field named only in an older release', addScore, '', /Post\.score: a change clients see/),
  passes(
    'a deprecated field removed, acknowledged',
    removeOld,
    '### Breaking\n\n- `Post.old`: deprecated since 2026-01-01, use `Post.title`.',
  ),
  fails('a deprecated field removed, no changelog line', removeOld, NONE, /Post\.old: breaking/),
  passes(
    'a deprecated enum value removed, acknowledged',
    edit(' C @deprecated(reason: "Not used.")', ''),
    '### Breaking\n\n- `Kind.C`: deprecated and never sent.',
  ),
  passes('an enum value added (dangerous), named', addEnumD, '### Added\n\n- `Kind.D` for drafts.', 'DANGEROUS'),
  fails('an enum value added (dangerous), not named', addEnumD, NONE, /Kind\.D: dangerous/),
  fails('a field deprecated, not named', deprecateKind, NONE, /Post\.kind: a change clients see/),
  passes('a field deprecated, named', deprecateKind, '### Deprecated\n\n- `Post.kind`: soon gone.'),
  fails('a directive added, not named', addDirective, '- `Post.title` costs 2.', /@cost: a change clients see/),
  fails('a directive used on a field, not named', addDirective, '- `@cost` declared.', /Post\.title: dangerous/),
  passes('a directive added and used, both named', addDirective, '- `@cost` declared, `Post.title` costs 2.'),
  passes('a description changed only', edit('"Its title."', '"The title."'), NONE),
];

const verdictName = (ok) => (ok ? 'a pass' : 'a failure');

function expectVerdict(name, verdict, ok, pattern, level) {
  const problems = [];
  if (verdict.ok !== ok) problems.push(`expected ${verdictName(ok)}, got ${verdictName(verdict.ok)}`);
  if (pattern && !verdict.failures.some((f) => pattern.test(f))) problems.push(`no failure matches ${pattern}`);
  if (level && !verdict.changes.some((c) => c.level === level)) problems.push(`no ${level} change reported`);
  if (problems.length) {
    console.log(`FAIL ${name}: ${problems.join('; ')}\n  failures: ${JSON.stringify(verdict.failures, null, 2)}`);
    return false;
  }
  console.log(`ok ${name}${verdict.ok ? '' : ` (${verdict.failures.length} failure(s))`}`);
  return true;
}

// The command on files in `dir`: exit status and output.
function runCli(dir, args) {
  const script = join(dirname(fileURLToPath(import.meta.url)), '../schema-check.mjs');
  const files = ['--schema', 'schema.graphql', '--baseline', 'baseline.graphql', '--changelog', 'CHANGELOG.md'];
  const argv = [script, ...files.map((f, i) => (i % 2 ? join(dir, f) : f)), ...args];
  try {
    return { status: 0, out: execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    return { status: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

function cliCases() {
  const dir = mkdtempSync(join(tmpdir(), 'schema-check-'));
  const write = (name, text) => writeFileSync(join(dir, name), text);
  const read = (name) => readFileSync(join(dir, name), 'utf8');
  let ok = true;
  // `check`: a pattern the output must match, or a condition that must hold.
  const expect = (name, r, status, check) => {
    const cond = r.status === status && (check instanceof RegExp ? check.test(r.out) : check);
    console.log(cond ? `ok ${name}` : `FAIL ${name}: exit ${r.status}\n${r.out}`);
    ok &&= cond;
  };
  try {
    write('baseline.graphql', `# a header comment\n${BASE}`);
    write('schema.graphql', requiredArg);
    write('CHANGELOG.md', changelog(NONE));
    let r = runCli(dir, []);
    expect('command: a breaking change exits 1 and names it', r, 1, /Query\.posts\.category: breaking/);
    r = runCli(dir, ['--publish', '2026-02-02']);
    expect('command: --publish refuses a failing check', r, 1, read('baseline.graphql').startsWith('# a header'));

    write('schema.graphql', addScore);
    write('CHANGELOG.md', changelog('### Added\n\n- `Post.score`: the sum of votes.'));
    r = runCli(dir, []);
    expect('command: a named addition exits 0 and prints it', r, 0, /SAFE {6}Post\.score/);
    r = runCli(dir, ['--publish', '2026-02-02']);
    const dated = /## Unreleased\n\nNothing yet\.\n\n## 2026-02-02\n\n### Added/.test(read('CHANGELOG.md'));
    const published = read('baseline.graphql').includes('score: Int');
    expect('command: --publish writes the baseline and dates Unreleased', r, 0, dated && published);
    r = runCli(dir, []);
    expect('command: after --publish nothing is unreleased', r, 0, /no change against the baseline/);

    write('schema.graphql', 'type Query { broken(: Int }');
    r = runCli(dir, []);
    expect('command: a schema that does not parse exits 2 and says so', r, 2, /is not a valid schema/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}

export async function selfTest() {
  let ok = true;
  const base = buildSchema(BASE);
  for (const [name, sdl, log, expectOk, pattern, level] of cases) {
    ok = expectVerdict(name, await evaluate(base, buildSchema(sdl), log), expectOk, pattern, level) && ok;
  }

  const parsed = readUnreleased(changelog('### Breaking\n\n- `Query.posts(category:)` and `not a coordinate` here.'));
  const parseOk =
    parsed.found &&
    parsed.breaking.has('Query.posts.category') &&
    parsed.mentions.size === 1 &&
    !parsed.breaking.has('Post.title');
  console.log(`${parseOk ? 'ok' : 'FAIL'} changelog: only Unreleased counts; \`T.f(a:)\` is \`T.f.a\``);
  ok = parseOk && ok;

  const untouched = changelog(NONE);
  const pubOk = publishChangelog(untouched, '2026-02-02') === untouched;
  console.log(pubOk ? 'ok publish: an empty Unreleased is left as it is' : 'FAIL publish: changed an empty Unreleased');
  ok = pubOk && ok;

  ok = cliCases() && ok;
  console.log(ok ? 'schema-check self-test: all passed' : 'schema-check self-test: FAILED');
  return ok;
}
