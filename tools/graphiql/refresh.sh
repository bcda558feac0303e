#!/usr/bin/env bash
# Rebuilds the GraphiQL page that board embeds (src/http/graphiql/) from the npm packages pinned in
# package-lock.json: installs them with `npm ci`, bundles them with esbuild (build.mjs), and rewrites the assets,
# their brotli and gzip copies, their SHA256SUMS, the Rust list of embedded files and the licences of everything
# bundled. Brotli at its best quality takes a minute or so.
# Needs Node 18+ and npm; `cargo build` needs neither (the output is committed).
# To move to newer versions: edit package.json (exact versions), `npm install`, run this, commit everything.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs
# The checksums must hold for the files just written (the unit tests check them against the embedded bytes too).
(cd ../../src/http/graphiql && sha256sum --check --quiet SHA256SUMS)
echo "GraphiQL assets refreshed in src/http/graphiql/; run the tests and commit them."
