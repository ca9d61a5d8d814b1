// The files git tracks under a path, read as text: what the repository's own checks scan.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

export interface TrackedFile {
  path: string;
  text: string;
}

/** The repository root of the current directory. */
export function repoRoot(): string {
  return execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
}

/** Tracked files under `pathspec` (all of them without one) whose name passes `keep`. */
export function trackedFiles(
  root: string,
  pathspec: string[] = [],
  keep = (_name: string) => true,
): TrackedFile[] {
  const names = execFileSync('git', ['ls-files', '-z', ...pathspec], { cwd: root, encoding: 'utf8' }).split(
    '\0',
  );
  return names
    .filter((name) => name !== '' && keep(name))
    .flatMap((path) => {
      try {
        return [{ path, text: readFileSync(posix.join(root, path), 'utf8') }];
      } catch {
        return []; // deleted in the work tree but not yet from the index
      }
    });
}
