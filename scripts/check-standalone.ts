// The repository must stand alone: a fresh clone has nothing beside it, so no tracked file may read
// from, or point a reader at, a path outside the repository, and no conformance tag may be left as a
// placeholder. Run by `npm run check`; prints file:line for each problem and exits 1 if there is one.
//
// The patterns are assembled from pieces so that this file does not flag itself.
import { posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, trackedFiles } from './tracked-files.ts';

export interface SourceFile {
  path: string; // relative to the repository root, '/' separated (as `git ls-files` prints it)
  text: string;
}

export interface Problem {
  path: string;
  line: number;
  message: string;
}

const DOT_DOT = '..';
const REQUIREMENTS = ['S', 'PEC'].join('');
const FORBIDDEN: { pattern: RegExp; message: string }[] = [
  { pattern: new RegExp(`\\.\\./${'shared'}\\b`), message: 'reads or cites a folder beside the repository' },
  {
    pattern: new RegExp(`\\b(${[REQUIREMENTS, 'STYLE', 'INTERFACES'].join('|')})\\.md\\b`),
    message: 'cites a document that is not in the repository',
  },
  {
    pattern: new RegExp(`\\b${REQUIREMENTS}\\b`),
    message: 'cites a requirement document that is not in the repository',
  },
  { pattern: new RegExp(`(^|[^\\w.~-])/${'work'}/`), message: 'names an absolute machine path' },
  {
    pattern: new RegExp(`\\[MQTT-[\\d.]+-\\${'?'}\\]`),
    message: 'placeholder MQTT conformance tag: fill in the statement number or remove it',
  },
];

// A quoted relative path (an import, a URL, a file name) made of at least one `../`.
const RELATIVE_LITERAL = /(['"`])((?:\.\.\/)+[^'"`\s]*)\1/g;

/** Every problem in the given files; pure, so it can be tested without git. */
export function findProblems(files: readonly SourceFile[]): Problem[] {
  const problems: Problem[] = [];
  for (const file of files) {
    if (file.text.includes('\0')) continue; // binary
    const dir = posix.dirname(file.path);
    file.text.split('\n').forEach((text, i) => {
      const at = (message: string) => problems.push({ path: file.path, line: i + 1, message });
      for (const f of FORBIDDEN) if (f.pattern.test(text)) at(f.message);
      for (const m of text.matchAll(RELATIVE_LITERAL)) {
        const target = posix.normalize(posix.join(dir, m[2]!));
        if (target === DOT_DOT || target.startsWith(`${DOT_DOT}/`))
          at(`relative path ${m[2]} leaves the repository`);
      }
    });
  }
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = repoRoot();
  const problems = findProblems(trackedFiles(root));
  for (const p of problems) console.error(`${p.path}:${p.line}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`${problems.length} citation(s) of or read(s) from outside the repository`);
    process.exit(1);
  }
}
