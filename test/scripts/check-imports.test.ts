// The import rule check: a component importing another component or the wiring room is flagged with
// file and line, a circle is flagged whatever its length (type-only imports count), the allowed
// directions pass, and the repository itself passes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { findProblems, roomOf, type SourceFile } from '../../scripts/check-imports.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-imports.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function file(path: string, ...imports: string[]): SourceFile {
  return { path, text: `// ${path}\n${imports.map((i) => `import { x } from '${i}';`).join('\n')}\n` };
}

test('import check: the room of a file is its first folder under src/, or its name at the top', () => {
  assert.equal(roomOf('src/platform/store/types.ts'), 'platform');
  assert.equal(roomOf('src/log.ts'), 'log');
  assert.equal(roomOf('test/x.test.ts'), undefined);
});

const breaches: [string, SourceFile, string][] = [
  [
    'a component importing another',
    file('src/platform/a.ts', '../broker/index.ts'),
    'platform may not import broker',
  ],
  ['a component importing the wiring room', file('src/web/a.ts', '../app/x.ts'), 'web may not import app'],
  [
    'a component importing the command line',
    file('src/sim/a.ts', '../cli/main.ts'),
    'sim may not import cli',
  ],
  [
    'the shared vocabulary importing a component',
    file('src/protocol/a.ts', '../gateway/x.ts'),
    'protocol may not import gateway',
  ],
  [
    'the wiring room importing the command line',
    file('src/app/a.ts', '../cli/args.ts'),
    'app may not import cli',
  ],
  [
    'the command line importing a component',
    file('src/cli/commands/a.ts', '../../platform/store/index.ts'),
    'cli may not import platform',
  ],
  [
    'a file in a room the rule does not know',
    file('src/extra/a.ts', '../log.ts'),
    "room 'extra' is not in the import rule",
  ],
];

for (const [what, source, message] of breaches) {
  test(`import check: flags ${what}, with file and line`, () => {
    const problems = findProblems([source]);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]!.path, source.path);
    assert.equal(problems[0]!.line, message.startsWith('room') ? 1 : 2);
    assert.match(problems[0]!.message, new RegExp(message.replace(/[()]/g, '\\$&')));
  });
}

test('import check: allows components → shared vocabulary, wiring → components, cli → wiring and shared', () => {
  const problems = findProblems([
    file('src/platform/a.ts', '../protocol/topic.ts', '../contracts/index.ts', '../log.ts', './b.ts'),
    file('src/platform/b.ts'),
    file('src/app/a.ts', '../platform/a.ts', '../broker/index.ts', '../web/plugin.ts'),
    file(
      'src/cli/a.ts',
      '../app/a.ts',
      '../protocol/topic.ts',
      '../contracts/index.ts',
      '../log.ts',
      './b.ts',
    ),
    file('src/cli/b.ts'),
    file('src/contracts/index.ts', '../protocol/topic.ts'),
  ]);
  assert.deepEqual(problems, []);
});

test('import check: flags a circle of three files, type-only and multi-line imports included', () => {
  const problems = findProblems([
    file('src/broker/a.ts', './b.ts'),
    { path: 'src/broker/b.ts', text: `import type {\n  C,\n} from './c.ts';\n` },
    { path: 'src/broker/c.ts', text: `export { a } from './a.ts';\n` },
    file('src/broker/d.ts', './a.ts'), // imports into the circle, is not part of it
  ]);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(
    problems[0]!.message,
    'import circle: src/broker/a.ts → src/broker/b.ts → src/broker/c.ts → src/broker/a.ts',
  );
  assert.equal(problems[0]!.line, 2);
});

test('import check: an import written in a comment is not an import', () => {
  const problems = findProblems([
    {
      path: 'src/platform/a.ts',
      text: `// import { x } from '../broker/index.ts';\n * import '../broker/x.ts';\n`,
    },
  ]);
  assert.deepEqual(problems, []);
});

test('import check: the repository itself passes (the script exits 0)', () => {
  const ok = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
});
