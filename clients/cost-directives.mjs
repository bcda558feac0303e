// The cost contract as a consumer reads it (docs/cost.md): graphql-js builds schema.graphql (which validates
// every directive usage against its definition), then this checks that @cost and @listSize are defined exactly
// as the IBM GraphQL Cost Directives spec defines them, that their usages keep the spec's validation rules
// (section 9), and that the definitions survive an introspection round trip, as a tool reading the URL gets
// them. Exits 1 on a failed check.
//
//   node cost-directives.mjs [--schema path]
import {
  buildClientSchema,
  buildSchema,
  getNamedType,
  getNullableType,
  introspectionFromSchema,
  isInterfaceType,
  isListType,
  isObjectType,
  printSchema,
} from 'graphql';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: { schema: { type: 'string', default: join(here, '../schema.graphql') } },
});

const failures = [];
const fail = (message) => failures.push(message);

let schema;
try {
  schema = buildSchema(readFileSync(opts.schema, 'utf8'));
} catch (e) {
  console.error(`cost-directives: ${opts.schema} does not build: ${e.message}`);
  process.exit(1);
}

// The definitions of the spec, sections 7 and 8.
const SPEC = {
  cost: {
    args: { weight: ['String!', undefined] },
    locations: ['ARGUMENT_DEFINITION', 'ENUM', 'FIELD_DEFINITION', 'INPUT_FIELD_DEFINITION', 'OBJECT', 'SCALAR'],
  },
  listSize: {
    args: {
      assumedSize: ['Int', undefined],
      slicingArguments: ['[String!]', undefined],
      sizedFields: ['[String!]', undefined],
      requireOneSlicingArgument: ['Boolean', true],
    },
    locations: ['FIELD_DEFINITION'],
  },
};

function checkDefinitions(subject, label) {
  for (const [name, spec] of Object.entries(SPEC)) {
    const directive = subject.getDirective(name);
    if (!directive) {
      fail(`${label}: @${name} is not defined`);
      continue;
    }
    if (directive.isRepeatable) fail(`${label}: @${name} is repeatable`);
    const locations = [...directive.locations].sort().join(' | ');
    if (locations !== [...spec.locations].sort().join(' | ')) {
      fail(`${label}: @${name} is on ${locations}, the spec says ${spec.locations.join(' | ')}`);
    }
    const args = Object.fromEntries(directive.args.map((a) => [a.name, [String(a.type), a.defaultValue]]));
    if (JSON.stringify(args) !== JSON.stringify(spec.args)) {
      fail(`${label}: @${name} has arguments ${JSON.stringify(args)}, the spec says ${JSON.stringify(spec.args)}`);
    }
  }
}

// An applied directive's arguments as plain values (the SDL's AST nodes keep them).
function applied(node, name) {
  const directive = node.astNode?.directives?.find((d) => d.name.value === name);
  if (!directive) return null;
  const value = (v) => {
    switch (v.kind) {
      case 'ListValue':
        return v.values.map(value);
      case 'IntValue':
        return Number(v.value);
      case 'BooleanValue':
        return v.value;
      default:
        return v.value;
    }
  };
  return Object.fromEntries(directive.arguments.map((a) => [a.name.value, value(a.value)]));
}

let costs = 0;
let sizes = 0;
for (const type of Object.values(schema.getTypeMap())) {
  if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
  for (const field of Object.values(type.getFields())) {
    const at = `${type.name}.${field.name}`;
    const cost = applied(field, 'cost');
    if (cost) {
      costs += 1;
      if (isInterfaceType(type)) fail(`${at}: @cost on an interface field (9.1.1)`);
      if (!Number.isFinite(Number.parseFloat(cost.weight))) fail(`${at}: weight ${cost.weight} is not a Float`);
    }
    const size = applied(field, 'listSize');
    if (!size) continue;
    sizes += 1;
    const slicing = size.slicingArguments ?? [];
    const sized = size.sizedFields ?? [];
    if (!isListType(getNullableType(field.type)) && sized.length === 0) {
      fail(`${at}: @listSize on a field that returns no list (9.2.1)`);
    }
    const returned = getNamedType(field.type);
    for (const name of sized) {
      const target = isObjectType(returned) || isInterfaceType(returned) ? returned.getFields()[name] : undefined;
      if (!target || !isListType(getNullableType(target.type))) {
        fail(`${at}: sized field ${name} is no list field of ${returned.name} (9.2.2)`);
      }
    }
    for (const name of slicing) {
      const arg = field.args.find((a) => a.name === name);
      if (!arg || getNullableType(arg.type).toString() !== 'Int') {
        fail(`${at}: slicing argument ${name} is no Int argument (9.2.3)`);
      } else if (size.assumedSize !== undefined && arg.defaultValue !== undefined) {
        fail(`${at}: assumedSize beside slicing argument ${name}, which has a default (9.2.4)`);
      }
    }
    const requireOne = size.requireOneSlicingArgument ?? true;
    if (size.assumedSize !== undefined && slicing.length > 0 && requireOne) {
      fail(`${at}: assumedSize beside slicing arguments needs requireOneSlicingArgument: false (9.2.4)`);
    }
  }
}
if (costs === 0 || sizes === 0) fail(`no field carries @cost (${costs}) or @listSize (${sizes})`);

checkDefinitions(schema, 'schema.graphql');
// What a client reading the URL gets: directive definitions come through introspection (their usages do not:
// introspection has no applied directives), printed and parsed again as generators do.
checkDefinitions(buildSchema(printSchema(buildClientSchema(introspectionFromSchema(schema)))), 'introspection');

if (failures.length) {
  console.log(`cost-directives: FAILED (${failures.length}):`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
console.log(`cost-directives: @cost and @listSize as the spec defines them; ${costs} @cost and ${sizes} @listSize usages keep its rules`);
