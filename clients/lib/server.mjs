// Starts `board serve` (the embedded default: SQLite + in-process cache) on a free loopback port with a
// database of its own, and stops it again. BOARD_BIN names the binary (default: the debug build).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

export async function startBoard(env = {}) {
  const bin = process.env.BOARD_BIN ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../target/debug/board');
  const dir = mkdtempSync(join(tmpdir(), 'board-clients-'));
  const port = await freePort();
  const childEnv = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, 'board.db')}`,
    BOARD_BIND: `127.0.0.1:${port}`,
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...env,
  };
  const child = spawn(bin, ['serve'], {
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // A script that dies without stop() (an uncaught error, process.exit in a tool) must not leave the server.
  const reap = () => child.kill('SIGTERM');
  process.once('exit', reap);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i += 1) {
    if (child.exitCode !== null) throw new Error(`board exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    url: `${base}/graphql`,
    // Runs another `board` subcommand on the same database, e.g. cli('set-role', 'ann', 'admin').
    cli(...args) {
      return new Promise((ok, fail) => {
        execFile(bin, args, { env: childEnv }, (err, stdout, stderr) =>
          err ? fail(new Error(`board ${args.join(' ')}: ${err.message}\n${stderr}`)) : ok(stdout),
        );
      });
    },
    async stop() {
      process.off('exit', reap);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
