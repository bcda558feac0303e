// Builds the GraphiQL page that board embeds: bundles src/main.jsx (GraphiQL, React production builds, graphql-ws)
// and Monaco's workers with esbuild, names every asset by its content's sha256, and writes into OUT:
//   index.html            the page (served at / and /graphiql, never cached)
//   <name>-<hash>.<ext>   the assets (served under /graphiql/assets/, cached for good)
//   <asset>.br, <asset>.gz  the same bytes compressed (brotli 11, gzip 9) for the assets worth it: served to
//                         browsers that accept them; a unit test checks they decompress to the asset exactly
//   SHA256SUMS            sha256sum's format, checked by a unit test against the embedded bytes
//   assets.rs             the Rust list of the files above (include_bytes!), generated
//   licenses/             the licence of every package whose code is in a bundle
// Run it through refresh.sh, which first installs the pinned packages with `npm ci`.
import { createHash } from 'node:crypto';
import { constants as zlib, brotliCompressSync, gzipSync } from 'node:zlib';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, '../../src/http/graphiql');
const ASSET_PATH = '/graphiql/assets/';
const modules = join(HERE, 'node_modules');

// graphiql/style.css already holds Monaco's styles (and its codicon font), so the style sheets that Monaco's
// modules import for themselves would only repeat them.
const skipMonacoStyles = {
  name: 'skip-monaco-styles',
  setup(build) {
    build.onResolve({ filter: /\.css$/ }, (args) =>
      args.importer.includes('/node_modules/monaco-editor/') ? { path: args.path, namespace: 'empty-css' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'empty-css' }, () => ({ contents: '', loader: 'css' }));
  },
};

const common = {
  plugins: [skipMonacoStyles],
  bundle: true,
  minify: true,
  write: false,
  metafile: true,
  outdir: OUT,
  logLevel: 'warning',
  target: ['es2022'],
  // Keeps the licence comments of the bundled code in the served files.
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
};

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const assets = new Map(); // file name -> bytes
const inputs = new Set(); // every bundled source file, for the licences

function addAsset(stem, ext, bytes) {
  const name = `${stem}-${sha256(bytes).slice(0, 16)}.${ext}`;
  assets.set(name, Buffer.from(bytes));
  return name;
}

// Text compresses to a fraction of its size; fonts (woff2 is brotli inside, woff zlib) and PNG already are
// compressed, and files under 1 KiB would save less than a packet. Those are served as they are.
const COMPRESSIBLE = new Set(['js', 'css', 'svg', 'ttf']);
const COMPRESS_FROM = 1024;
const compressible = (name) => COMPRESSIBLE.has(name.split('.').pop()) && assets.get(name).length >= COMPRESS_FROM;

// The best brotli has (quality 11; a 16 MiB window, which RFC 7932 allows and every browser decodes, covers the
// 5 MB script whole) and gzip 9. Both are deterministic: the same asset gives the same bytes.
function brotli(name, bytes) {
  return brotliCompressSync(bytes, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
      [zlib.BROTLI_PARAM_LGWIN]: zlib.BROTLI_MAX_WINDOW_BITS,
      [zlib.BROTLI_PARAM_MODE]: name.endsWith('.ttf') ? zlib.BROTLI_MODE_FONT : zlib.BROTLI_MODE_TEXT,
      [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
}
const gzip = (bytes) => gzipSync(bytes, { level: 9 });

function collectInputs(result) {
  for (const input of Object.keys(result.metafile.inputs)) {
    inputs.add(resolve(HERE, input));
  }
}

// 1. Monaco's workers: classic scripts, one per language service GraphiQL uses.
const workerEntries = {
  editor: join(modules, 'monaco-editor/esm/vs/editor/editor.worker.js'),
  json: join(modules, 'monaco-editor/esm/vs/language/json/json.worker.js'),
  graphql: join(modules, 'monaco-graphql/esm/graphql.worker.js'),
};
const workerFiles = {};
for (const [label, entry] of Object.entries(workerEntries)) {
  const result = await esbuild.build({ ...common, entryPoints: { [`${label}.worker`]: entry }, format: 'iife' });
  collectInputs(result);
  const [js] = result.outputFiles;
  workerFiles[label] = addAsset(`${label}.worker`, 'js', js.contents);
}

// 2. The page's script and style sheet.
const main = await esbuild.build({
  ...common,
  entryPoints: { graphiql: join(HERE, 'src/main.jsx') },
  format: 'esm',
  jsx: 'automatic',
  define: { ...common.define, WORKER_FILES: JSON.stringify(workerFiles) },
});
collectInputs(main);
const DATA_URL_TYPES = {
  'font/woff2': 'woff2',
  'font/woff': 'woff',
  'font/ttf': 'ttf',
  'image/png': 'png',
  'image/svg+xml': 'svg',
};
let scriptName;
let styleName;
for (const file of main.outputFiles) {
  if (file.path.endsWith('.js')) {
    scriptName = addAsset('graphiql', 'js', file.contents);
  } else if (file.path.endsWith('.css')) {
    // The packages inline their fonts and a few images as data: URLs; the page's CSP allows fonts and images
    // from 'self' only, so each becomes an asset of its own (a browser then fetches only the fonts it uses).
    const css = file.text.replace(
      /url\((["']?)data:([a-z]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=]+)\1\)/g,
      (match, _quote, mime, base64) => {
        const ext = DATA_URL_TYPES[mime];
        if (!ext) {
          throw new Error(`the style sheet inlines ${mime}, which has no asset type here: ${match.slice(0, 80)}`);
        }
        return `url(${addAsset(ext === 'png' || ext === 'svg' ? 'image' : 'font', ext, Buffer.from(base64, 'base64'))})`;
      },
    );
    if (/url\((["']?)data:/.test(css)) {
      throw new Error('the style sheet still has a data: URL the CSP would refuse');
    }
    styleName = addAsset('graphiql', 'css', Buffer.from(css));
  } else {
    throw new Error(`unexpected output ${file.path}`);
  }
}
if (!scriptName || !styleName) {
  throw new Error('esbuild produced no script or no style sheet');
}

// The page's icon (without one, browsers ask for /favicon.ico and log its 404): GraphQL's hexagon in GraphiQL's pink.
const iconName = addAsset(
  'favicon',
  'svg',
  Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="none" stroke="#d60590" stroke-width="2.5" ' +
      'd="M16 3 27.3 9.5v13L16 29 4.7 22.5v-13z"/><circle cx="16" cy="16" r="4" fill="#d60590"/></svg>\n',
  ),
);

// 3. The page: no inline script or style, so the CSP can say 'self' for both.
const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>board — GraphiQL</title>
    <link rel="icon" type="image/svg+xml" href="${ASSET_PATH}${iconName}">
    <link rel="stylesheet" href="${ASSET_PATH}${styleName}">
    <script type="module" src="${ASSET_PATH}${scriptName}"></script>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
  </body>
</html>
`;

// 4. Write everything anew.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'licenses'), { recursive: true });
writeFileSync(join(OUT, 'index.html'), page);
const sums = [`${sha256(page)}  index.html`];
const names = [...assets.keys()].sort();
const encoded = new Map(); // file name -> { br, gz }
for (const name of names) {
  writeFileSync(join(OUT, name), assets.get(name));
  sums.push(`${sha256(assets.get(name))}  ${name}`);
  if (compressible(name)) {
    const variants = { br: brotli(name, assets.get(name)), gz: gzip(assets.get(name)) };
    writeFileSync(join(OUT, `${name}.br`), variants.br);
    writeFileSync(join(OUT, `${name}.gz`), variants.gz);
    encoded.set(name, variants);
  }
}
writeFileSync(join(OUT, 'SHA256SUMS'), `${sums.join('\n')}\n`);

const CONTENT_TYPES = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  woff2: 'font/woff2',
  woff: 'font/woff',
  ttf: 'font/ttf',
  png: 'image/png',
  svg: 'image/svg+xml',
};
const rustAssets = names
  .map((name) => {
    const type = CONTENT_TYPES[name.split('.').pop()];
    const variant = (ext) => (encoded.has(name) ? `Some(include_bytes!("${name}.${ext}"))` : 'None');
    return [
      '    Asset {',
      `        name: "${name}",`,
      `        content_type: "${type}",`,
      `        bytes: include_bytes!("${name}"),`,
      `        br: ${variant('br')},`,
      `        gzip: ${variant('gz')},`,
      '    },',
    ].join('\n');
  })
  .join('\n');
writeFileSync(
  join(OUT, 'assets.rs'),
  `//! Generated by tools/graphiql/refresh.sh: do not edit.

use super::Asset;

/// The page, served at \`/\` and \`/graphiql\`.
pub const PAGE: &str = include_str!("index.html");

/// The files the page loads, served under \`${ASSET_PATH}\`; each name carries its content's hash. \`br\` and
/// \`gzip\` are the same bytes compressed, for the assets worth compressing.
pub const ASSETS: &[Asset] = &[
${rustAssets}
];
`,
);

// 5. The licences of every package that has code in a bundle.
const packages = new Map(); // package dir -> package.json
for (const input of inputs) {
  const rel = relative(modules, input);
  if (rel.startsWith('..')) continue; // board's own sources
  const parts = rel.split('/');
  const dir = join(modules, ...parts.slice(0, parts[0].startsWith('@') ? 2 : 1));
  packages.set(dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
}
// Packages that ship no licence text of their own are published from a repository whose licence covers them.
const LICENCE_FROM = {
  '@graphiql/plugin-doc-explorer': 'graphiql',
  '@graphiql/plugin-history': 'graphiql',
  'react-compiler-runtime': 'react',
  'react-remove-scroll-bar': 'react-remove-scroll',
};
const licenceFile = (dir) =>
  readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f) || /^licen[cs]e-mit/i.test(f));
const listing = [];
for (const [dir, pkg] of [...packages].sort(([, a], [, b]) => a.name.localeCompare(b.name))) {
  const target = join(OUT, 'licenses', `${pkg.name.replace('/', '__')}.txt`);
  let source = licenceFile(dir);
  let note = '';
  if (source) {
    source = join(dir, source);
  } else if (LICENCE_FROM[pkg.name]) {
    const from = join(modules, LICENCE_FROM[pkg.name]);
    source = join(from, licenceFile(from));
    note = `${pkg.name} ships no licence file; it is published (${pkg.license}) from the repository of ${LICENCE_FROM[pkg.name]}, whose licence follows.\n\n`;
  } else {
    throw new Error(`${pkg.name} has no licence file: add it to LICENCE_FROM or check its terms`);
  }
  writeFileSync(target, note + readFileSync(source, 'utf8'));
  listing.push(`${pkg.name} ${pkg.version} ${pkg.license}`);
}
const notices = join(modules, 'monaco-editor/ThirdPartyNotices.txt');
if (existsSync(notices)) {
  copyFileSync(notices, join(OUT, 'licenses', 'monaco-editor.ThirdPartyNotices.txt'));
}
// The fonts that graphiql/style.css inlines come from no package of their own: their licences are kept here.
for (const file of readdirSync(join(HERE, 'licenses'))) {
  copyFileSync(join(HERE, 'licenses', file), join(OUT, 'licenses', file));
}
listing.push('font Fira Code OFL-1.1 (in the style sheet of @graphiql/react)');
listing.push('font Roboto Apache-2.0 (in the style sheet of @graphiql/react)');
writeFileSync(join(OUT, 'licenses', 'PACKAGES'), `${listing.join('\n')}\n`);

// 6. What it weighs: as is, and as sent to a browser that accepts brotli, or gzip only.
const pad = (n) => String(n).padStart(9);
const totals = { plain: 0, br: 0, gz: 0 };
console.log(`${pad('as is')}${pad('br')}${pad('gzip')}  asset`);
for (const name of names) {
  const plain = assets.get(name).length;
  const { br, gz } = encoded.get(name) ?? {};
  totals.plain += plain;
  totals.br += br?.length ?? plain;
  totals.gz += gz?.length ?? plain;
  console.log(`${pad(plain)}${pad(br?.length ?? '-')}${pad(gz?.length ?? '-')}  ${name}`);
}
console.log(
  `${pad(totals.plain)}${pad(totals.br)}${pad(totals.gz)}  total in ${names.length} assets, ${encoded.size} of them ` +
    `compressed (${packages.size} packages bundled)`,
);
