// GraphQL-over-HTTP conformance, by graphql-http's own audit, against a fresh `board serve`.
// Exits non-zero on any MUST or SHOULD failure; prints every other result and the counts.
import { auditServer } from 'graphql-http';
import { startBoard } from './lib/server.mjs';

const board = await startBoard();
let failed = 0;
try {
  const results = await auditServer({ url: board.url, fetchFn: fetch });
  const counts = {};
  for (const r of results) {
    const level = r.name.split(' ')[0];
    const key = `${level} ${r.status === 'ok' ? 'pass' : 'fail'}`;
    counts[key] = (counts[key] ?? 0) + 1;
    if (r.status !== 'ok') {
      console.log(`${r.status.toUpperCase()} ${r.name}: ${r.reason}`);
      if (level === 'MUST' || level === 'SHOULD') failed += 1;
    }
  }
  console.log('graphql-http audit:', JSON.stringify(counts));
} finally {
  await board.stop();
}
process.exit(failed === 0 ? 0 : 1);
