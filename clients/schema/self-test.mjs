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

const cases = [
  ['no change, no Unreleased section', BASE, '# Schema changelog\n', true],
  ['a removed field, no changelog line', removeTitle, changelog('Nothing yet.'), false, /Post\.title: removed, but the baseline does not mark it @deprecated/],
  [
    'a removed field acknowledged as breaking still needs the deprecation window',
    removeTitle,
    changelog('### Breaking\n\n- `Post.title` removed: nobody reads it any more.'),
    false,
    /Post\.title: removed, but the baseline does not mark it @deprecated.*deprecation window/,
  ],
  ['a new required argument, no changelog line', requiredArg, changelog('Nothing yet.'), false, /Query\.posts\.category: breaking/],
  [
    'a new required argument acknowledged under Breaking with a reason',
    requiredArg,
    changelog('### Breaking\n\n- `Query.posts(category:)` is required: posts are listed per category\n  from now on.'),
    true,
  ],
  [
    'a new required argument acknowledged with a reason in Korean',
    requiredArg,
    changelog('### Breaking\n\n- `Query.posts.category` 필수: 게시판마다 따로 나열합니다.'),
    true,
  ],
  ['a breaking line without a reason', requiredArg, changelog('### Breaking\n\n- `Query.posts.category`'), false, /gives no reason/],
  [
    'a breaking change named under Added only',
    requiredArg,
    changelog('### Added\n\n- `Query.posts.category` filters posts by category.'),
    false,
    /Query\.posts\.category: breaking/,
  ],
  ['a nullable input field made non-null', edit('input PostInput { title: String ', 'input PostInput { title: String! '), changelog('Nothing yet.'), false, /PostInput\.title: breaking/],
  ['a field type changed', edit('  kind: Kind\n', '  kind: String\n'), changelog('Nothing yet.'), false, /Post\.kind: breaking/],
  ['an enum value removed that was not deprecated', edit('enum Kind { A B C', 'enum Kind { A C'), changelog('### Breaking\n\n- `Kind.B` is gone for good reasons.'), false, /Kind\.B: removed, but the baseline does not mark it @deprecated/],
  ['an added field named in Unreleased', addScore, changelog('### Added\n\n- `Post.score`: the sum of votes.'), true],
  ['an added field whose type is named', addScore, changelog('### Added\n\n- `Post` gains its score.'), true],
  ['an added field with no changelog line', addScore, changelog('Nothing yet.'), false, /Post\.score: a change clients see/],
  ['an added field named only in an older release', addScore, changelog(''), false, /Post\.score: a change clients see/],
  ['a deprecated field removed, acknowledged', removeOld, changelog('### Breaking\n\n- `Post.old`: deprecated since 2026-01-01, use `Post.title`.'), true],
  ['a deprecated field removed, no changelog line', removeOld, changelog('Nothing yet.'), false, /Post\.old: breaking/],
  ['a deprecated enum value removed, acknowledged', edit(' C @deprecated(reason: "Not used.")', ''), changelog('### Breaking\n\n- `Kind.C`: deprecated and never sent.'), true],
  ['an enum value added (dangerous), named', edit('enum Kind { A B', 'enum Kind { A B D'), changelog('### Added\n\n- `Kind.D` for drafts.'), true, null, 'DANGEROUS'],
  ['an enum value added (dangerous), not named', edit('enum Kind { A B', 'enum Kind { A B D'), changelog('Nothing yet.'), false, /Kind\.D: dangerous/],
  ['a field deprecated, not named', edit('  kind: Kind\n', '  kind: Kind @deprecated(reason: "Soon gone.")\n'), changelog('Nothing yet.'), false, /Post\.kind: a change clients see/],
  ['a field deprecated, named', edit('  kind: Kind\n', '  kind: Kind @deprecated(reason: "Soon gone.")\n'), changelog('### Deprecated\n\n- `Post.kind`: soon gone.'), true],
  ['a description changed only', edit('"Its title."', '"The title."'), changelog('Nothing yet.'), true],
];

function expectVerdict(name, verdict, ok, pattern, level) {
  const problems = [];
  if (verdict.ok !== ok) problems.push(`expected ${ok ? 'a pass' : 'a failure'}, got ${verdict.ok ? 'a pass' : 'a failure'}`);
  if (pattern && !verdict.failures.some((f) => pattern.test(f))) problems.push(`no failure matches ${pattern}`);
  if (level && !verdict.changes.some((c) => c.level === level)) problems.push(`no ${level} change reported`);
  if (problems.length) {
    console.log(`FAIL ${name}: ${problems.join('; ')}\n  failures: ${JSON.stringify(verdict.failures, null, 2)}`);
    return false;
  }
  console.log(`ok ${name}${verdict.ok ? '' : ` (${verdict.failures.length} failure(s))`}`);
  return true;
}

// The command on files: exit status and output.
function runCli(dir, args) {
  const script = join(dirname(fileURLToPath(import.meta.url)), '../schema-check.mjs');
  const files = ['--schema', join(dir, 'schema.graphql'), '--baseline', join(dir, 'baseline.graphql'), '--changelog', join(dir, 'CHANGELOG.md')];
  try {
    return { status: 0, out: execFileSync(process.execPath, [script, ...files, ...args], { encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    return { status: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

function cliCases() {
  const dir = mkdtempSync(join(tmpdir(), 'schema-check-'));
  const write = (name, text) => writeFileSync(join(dir, name), text);
  const results = [];
  const expect = (name, cond, detail) => {
    console.log(cond ? `ok ${name}` : `FAIL ${name}: ${detail}`);
    results.push(cond);
  };
  try {
    write('baseline.graphql', `# a header comment\n${BASE}`);
    write('schema.graphql', requiredArg);
    write('CHANGELOG.md', changelog('Nothing yet.'));
    let r = runCli(dir, []);
    expect('command: a breaking change exits 1 and names it', r.status === 1 && /Query\.posts\.category: breaking/.test(r.out), `status ${r.status}\n${r.out}`);
    r = runCli(dir, ['--publish', '2026-02-02']);
    expect('command: --publish refuses a failing check', r.status === 1 && readFileSync(join(dir, 'baseline.graphql'), 'utf8').startsWith('# a header'), `status ${r.status}`);

    write('schema.graphql', addScore);
    write('CHANGELOG.md', changelog('### Added\n\n- `Post.score`: the sum of votes.'));
    r = runCli(dir, []);
    expect('command: a named addition exits 0 and prints it', r.status === 0 && /SAFE {6}Post\.score/.test(r.out), `status ${r.status}\n${r.out}`);
    r = runCli(dir, ['--publish', '2026-02-02']);
    const log = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8');
    const published = readFileSync(join(dir, 'baseline.graphql'), 'utf8');
    expect(
      'command: --publish writes the baseline and dates Unreleased',
      r.status === 0 && published.includes('score: Int') && /## Unreleased\n\nNothing yet\.\n\n## 2026-02-02\n\n### Added/.test(log),
      `status ${r.status}\n${r.out}\n${log}`,
    );
    r = runCli(dir, []);
    expect('command: after --publish the check passes with nothing unreleased', r.status === 0 && /no change against the baseline/.test(r.out), `status ${r.status}\n${r.out}`);

    write('schema.graphql', 'type Query { broken(: Int }');
    r = runCli(dir, []);
    expect('command: a schema that does not parse exits 2 and says so', r.status === 2 && /is not a valid schema/.test(r.out), `status ${r.status}\n${r.out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results.every(Boolean);
}

export async function selfTest() {
  let ok = true;
  const base = buildSchema(BASE);
  for (const [name, sdl, log, expectOk, pattern, level] of cases) {
    ok = expectVerdict(name, await evaluate(base, buildSchema(sdl), log), expectOk, pattern, level) && ok;
  }

  const parsed = readUnreleased(changelog('### Breaking\n\n- `Query.posts(category:)` and `not a coordinate` here.'));
  const parseOk = parsed.found && parsed.breaking.has('Query.posts.category') && parsed.mentions.size === 1 && !parsed.breaking.has('Post.title');
  console.log(parseOk ? 'ok changelog: only Unreleased counts; `T.f(a:)` is `T.f.a`' : `FAIL changelog parse: ${JSON.stringify([...parsed.mentions])}`);
  ok = parseOk && ok;

  const untouched = changelog('Nothing yet.');
  const pubOk = publishChangelog(untouched, '2026-02-02') === untouched;
  console.log(pubOk ? 'ok publish: an empty Unreleased is left as it is' : 'FAIL publish changed an empty Unreleased');
  ok = pubOk && ok;

  ok = cliCases() && ok;
  console.log(ok ? 'schema-check self-test: all passed' : 'schema-check self-test: FAILED');
  return ok;
}
