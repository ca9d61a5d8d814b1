#!/bin/sh
// 2>/dev/null; case "$1" in broker) exec node "$0" "$@" ;; *) exec node --max-semi-space-size=64 "$0" "$@" ;; esac
// The line above is run by sh (`//`, a folder, fails silently) and is a comment to Node: it starts Node
// with a V8 flag for every command but `mqiot broker` (also where `env` has no `-S`, as in BusyBox).
// The flag: V8's young generation of 16 MB semi-spaces is smaller than what one ingest batch keeps
// alive until its commit, so every batch's readings were copied by scavenges and promoted; with 64 MB
// the ingest spends about a fifth less CPU (bench/ingest). It only raises a ceiling, but a broker
// reaches it in any burst (a connection storm, a flood of messages) and then holds the larger young
// generation until V8 finds it idle: the standalone broker, with no ingest, ran with 185 MB of RSS
// after bench/broker's quick scenarios instead of 109 MB, at the same throughput (docs/broker.md,
// "Memory per connection"). `node bin/mqiot.js up` (without the first lines) should pass it too.
// Runs the built JavaScript in dist/ (made by `npm ci` through the `prepare` script, or `npm run build`)
// when it is newer than every file under src/; otherwise the TypeScript sources directly through tsx,
// so `npx mqiot` works from a fresh clone and an edited source is never shadowed by an old build.
// Plain JavaScript starts with ~30 MB less memory than the tsx compiler hooks.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

/** The newest modification time under a folder (files and the folders themselves: a removed file counts). */
function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtIsCurrent() {
  if (process.env.MQIOT_FROM_SOURCE === '1') return false;
  try {
    return statSync(new URL('dist/built', root)).mtimeMs >= newestMtime(new URL('src/', root));
  } catch {
    return false; // no build
  }
}

if (builtIsCurrent()) {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
