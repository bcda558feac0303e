// graphql-codegen's client preset against a live `board serve`: checks that the schema a client rebuilds from
// the /graphql URL's introspection equals schema.graphql (both printed sorted by graphql-js), generates a typed
// SDK from the operations in sdk/*.ts into sdk/gql/ (not committed), type-checks sdk/scenario.ts with tsc (its
// @ts-expect-error lines fail the check if the generated types are too loose), then compiles and runs the
// scenario against the same server. Exits non-zero on any failure.
import { generate } from '@graphql-codegen/cli';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBoard } from './lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { cwd: here, stdio: 'inherit' });

// The schema as a client rebuilds it from introspection, printed sorted: what a generator reads from the URL.
async function servedSchema(url) {
  const query = getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query }),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return printSchema(lexicographicSortSchema(buildClientSchema(body.data)));
}

const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
try {
  const sdl = readFileSync(join(here, '../schema.graphql'), 'utf8');
  const file = printSchema(lexicographicSortSchema(buildSchema(sdl)));
  assert.ok((await servedSchema(board.url)) === file, 'the schema served to clients differs from schema.graphql');
  console.log('ok introspection: the schema a client rebuilds from the URL equals schema.graphql');

  rmSync(join(here, 'sdk/gql'), { recursive: true, force: true });
  rmSync(join(here, '.build'), { recursive: true, force: true });
  await generate(
    {
      cwd: here,
      schema: board.url,
      documents: ['sdk/*.ts'],
      ignoreNoDocuments: false,
      silent: true,
      generates: {
        'sdk/gql/': {
          preset: 'client',
          config: {
            scalars: { DateTime: 'string' },
            strictScalars: true,
            enumsAsTypes: true,
            useTypeImports: true,
            emitLegacyCommonJSImports: false,
          },
        },
      },
    },
    true,
  );
  console.log(`ok codegen: typed SDK generated into sdk/gql/ from ${board.url}`);

  run(['-p', 'tsconfig.json', '--noEmit']);
  console.log('ok tsc --noEmit: sdk/scenario.ts type-checks against the generated SDK');

  run(['-p', 'tsconfig.json', '--noEmit', 'false', '--outDir', '.build']);
  const { main } = await import(join(here, '.build/sdk/scenario.js'));
  await main(board.url);
} finally {
  await board.stop();
}
