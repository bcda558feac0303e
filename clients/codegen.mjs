// graphql-codegen's client preset against a live `board serve`: introspects the schema from the /graphql URL,
// generates a typed SDK from the operations in sdk/*.ts into sdk/gql/ (not committed), type-checks
// sdk/scenario.ts with tsc (its @ts-expect-error lines fail the check if the generated types are too loose),
// then compiles and runs the scenario against the same server. Exits non-zero on any failure.
import { generate } from '@graphql-codegen/cli';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBoard } from './lib/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { cwd: here, stdio: 'inherit' });

const board = await startBoard({ BOARD_BCRYPT_COST: '4' });
try {
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
