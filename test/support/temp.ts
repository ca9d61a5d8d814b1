// Temporary directories that are removed when the test (or suite) that made them ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Anything with an `after` hook: a test's `t`, or node:test's module-level `after`. */
export interface AfterHook {
  after(fn: () => void | Promise<void>): void;
}

/** A fresh directory under the OS temp dir, removed by `t.after`. */
export function tempDir(t: AfterHook, prefix = 'mqiot-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh directory with its own cleanup, for fixtures whose life is not one test's. */
export function makeTempDir(prefix = 'mqiot-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
