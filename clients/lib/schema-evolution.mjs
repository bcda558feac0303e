// The schema-evolution rules (docs/schema-evolution.md): graphql-inspector's diff of the published baseline
// against a candidate schema, judged against the `## Unreleased` section of SCHEMA_CHANGELOG.md.
//
// - breaking: each changed coordinate needs a line under a `### Breaking…` heading of Unreleased that names it
//   in backticks and gives a reason; a removed field, input field, argument or enum value must also have been
//   `@deprecated` in the baseline (the deprecation window), changelog or not;
// - dangerous and other client-visible changes (additions, deprecations): the coordinate or one of its parents
//   named in backticks anywhere in Unreleased;
// - description and deprecation-reason texts: reported, no changelog line needed.
import { diff } from '@graphql-inspector/core';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';

// `Type.field(arg:)` (the schema-coordinate spelling) and `Type.field.arg` (graphql-inspector's paths) are one
// coordinate here, `Type.field.arg`; a directive is `@name` (and its argument `@name(arg:)`), as in
// graphql-inspector's paths. Anything else in backticks is not a coordinate: null.
export function coordinate(text) {
  const name = '[_A-Za-z][_0-9A-Za-z]*';
  const m = new RegExp(`^(@?${name}(?:\\.${name})*)(?:\\((${name}):\\))?$`).exec(text.trim());
  if (!m) return null;
  return m[2] ? `${m[1]}.${m[2]}` : m[1];
}

// A change's coordinate: its path without a directive-usage tail (`Post.kind.@deprecated` → `Post.kind`).
function changeCoordinate(change) {
  if (!change.path) return '(schema)';
  return change.path.split('.@')[0];
}

const isText = (type) => /DESCRIPTION|DEPRECATION_REASON_CHANGED/.test(type);
// Directive usages of @deprecated repeat what the FIELD_DEPRECATION_* / *_DEPRECATION_REASON_* changes say.
const isDeprecationUsage = (change) =>
  change.type.startsWith('DIRECTIVE_USAGE_') && /\.@deprecated(\.|$)/.test(change.path ?? '');

const REMOVALS = new Set(['FIELD_REMOVED', 'INPUT_FIELD_REMOVED', 'FIELD_ARGUMENT_REMOVED', 'ENUM_VALUE_REMOVED']);

// Whether the baseline marks the schema element at `coord` @deprecated.
export function deprecatedIn(schema, coord) {
  const [typeName, member, arg] = coord.split('.');
  const type = schema.getType(typeName);
  if (!type || !member) return false;
  if (isEnumType(type)) return type.getValue(member)?.deprecationReason != null;
  if (!(isObjectType(type) || isInterfaceType(type) || isInputObjectType(type))) return false;
  const field = type.getFields()[member];
  if (!field) return false;
  if (arg === undefined) return field.deprecationReason != null;
  return field.args?.find((a) => a.name === arg)?.deprecationReason != null;
}

// The `## Unreleased` section of the changelog: every coordinate named in backticks, and for those named in
// an item under a `### Breaking…` heading, the item's reason (its words outside backticks).
export function readUnreleased(changelog) {
  const mentions = new Set();
  const breaking = new Map();
  let inside = false;
  let found = false;
  let heading = '';
  const items = [];
  for (const line of changelog.split(/\r?\n/)) {
    const h2 = /^##\s+(.*?)\s*$/.exec(line);
    if (h2) {
      inside = /^unreleased$/i.test(h2[1]);
      found ||= inside;
      heading = '';
      continue;
    }
    if (!inside) continue;
    const h3 = /^#{3,}\s+(.*?)\s*$/.exec(line);
    if (h3) {
      heading = h3[1];
      continue;
    }
    if (!line.trim()) continue;
    // A list item's indented continuation lines belong to it.
    const continues = items.length > 0 && /^\s+\S/.test(line) && !/^\s*([-*+]|\d+\.)\s/.test(line);
    if (continues && items[items.length - 1].heading === heading) items[items.length - 1].text += ` ${line.trim()}`;
    else items.push({ heading, text: line.trim() });
  }
  for (const { heading: h, text } of items) {
    const coords = [...text.matchAll(/`([^`]+)`/g)].map((m) => coordinate(m[1])).filter(Boolean);
    for (const c of coords) mentions.add(c);
    if (/^breaking/i.test(h)) {
      const words = text.replace(/`[^`]*`/g, ' ').match(/[\p{L}\p{N}]+/gu) ?? [];
      for (const c of coords) if (!breaking.has(c) || breaking.get(c).length < words.length) breaking.set(c, words);
    }
  }
  return { found, mentions, breaking };
}

// `Post.title` is mentioned by `Post.title` or `Post`; `Query.posts.first` also by `Query.posts`.
function mentioned(mentions, coord) {
  const parts = coord.split('.');
  for (let i = parts.length; i > 0; i -= 1) if (mentions.has(parts.slice(0, i).join('.'))) return true;
  return false;
}

const MIN_REASON_WORDS = 3;

// Judges `candidate` against `baseline` (GraphQLSchema objects) and the changelog text. Returns
// { ok, failures: [string], changes: [{ level, coordinate, type, message, reason }], textChanges: number }.
export async function evaluate(baseline, candidate, changelog) {
  const all = await diff(baseline, candidate);
  const log = readUnreleased(changelog);
  const failures = [];
  const changes = [];
  let textChanges = 0;
  for (const change of all) {
    if (isDeprecationUsage(change)) continue;
    if (isText(change.type)) {
      textChanges += 1;
      continue;
    }
    const coord = changeCoordinate(change);
    const level = change.criticality.level;
    const { type, message } = change;
    changes.push({ level, coordinate: coord, type, message, reason: change.criticality.reason });
    if (level === 'BREAKING') {
      if (REMOVALS.has(change.type) && !deprecatedIn(baseline, coord)) {
        failures.push(
          `${coord}: removed, but the baseline does not mark it @deprecated. Deprecate it first ` +
            `(@deprecated(reason: "…")), publish that, and remove it in a later release: the deprecation window`,
        );
        continue;
      }
      const reason = log.breaking.get(coord);
      if (!reason) {
        failures.push(
          `${coord}: breaking (${change.message}); acknowledge it in SCHEMA_CHANGELOG.md under ## Unreleased → ` +
            `### Breaking with a line naming \`${coord}\` and the reason`,
        );
      } else if (reason.length < MIN_REASON_WORDS) {
        failures.push(
          `${coord}: its Breaking line in SCHEMA_CHANGELOG.md gives no reason (${MIN_REASON_WORDS}+ words)`,
        );
      }
      continue;
    }
    if (!mentioned(log.mentions, coord)) {
      const what = level === 'DANGEROUS' ? 'dangerous' : 'a change clients see';
      failures.push(
        `${coord}: ${what} (${change.message}); name \`${coord}\` (or its type or field) in SCHEMA_CHANGELOG.md ` +
          'under ## Unreleased',
      );
    }
  }
  return { ok: failures.length === 0, failures, changes, textChanges, unreleasedFound: log.found };
}

// The report printed for a verdict, one line per change and per failure.
export function report(label, verdict) {
  const lines = [`schema-check: ${label}`];
  const order = { BREAKING: 0, DANGEROUS: 1, NON_BREAKING: 2 };
  const changes = [...verdict.changes].sort(
    (a, b) => order[a.level] - order[b.level] || a.coordinate.localeCompare(b.coordinate),
  );
  for (const c of changes) {
    const tag = { BREAKING: 'BREAKING ', DANGEROUS: 'DANGEROUS', NON_BREAKING: 'SAFE     ' }[c.level];
    lines.push(`  ${tag} ${c.coordinate}: ${c.message}`);
    if (c.level === 'DANGEROUS' && c.reason && c.reason !== c.message) lines.push(`            ${c.reason}`);
  }
  if (verdict.textChanges)
    lines.push(`  ${verdict.textChanges} description/deprecation-reason text change(s): no changelog line needed`);
  if (changes.length === 0 && !verdict.textChanges) lines.push('  no change against the baseline');
  else if (changes.some((c) => c.level !== 'BREAKING'))
    lines.push('  reminder: every change above needs a line in SCHEMA_CHANGELOG.md under ## Unreleased');
  if (verdict.ok) lines.push('  ok');
  else {
    lines.push(`  FAILED (${verdict.failures.length}):`);
    for (const f of verdict.failures) lines.push(`  - ${f}`);
  }
  return lines.join('\n');
}

// `## Unreleased` → `## DATE`, with a fresh Unreleased above it. A missing Unreleased, or one that only says
// "Nothing yet." (a publication of description changes only), leaves the changelog as it is.
export function publishChangelog(changelog, date) {
  const lines = changelog.split('\n');
  const at = lines.findIndex((l) => /^##\s+unreleased\s*$/i.test(l));
  if (at < 0) return changelog;
  let end = lines.findIndex((l, i) => i > at && /^##\s/.test(l));
  if (end < 0) end = lines.length;
  const body = lines.slice(at + 1, end).join('\n').trim();
  if (body === '' || /^nothing yet\.?$/i.test(body)) return changelog;
  const fresh = ['## Unreleased', '', 'Nothing yet.', '', `## ${date}`];
  return [...lines.slice(0, at), ...fresh, ...lines.slice(at + 1)].join('\n');
}

export function baselineText(schemaSdl, date) {
  return (
    `# The published GraphQL contract of board, as of ${date} (SCHEMA_CHANGELOG.md). Written by\n` +
    '# `npm run schema-check -- --publish`; `npm run schema-check` compares schema.graphql against it\n' +
    '# (docs/schema-evolution.md). Not edited by hand.\n' +
    schemaSdl
  );
}
