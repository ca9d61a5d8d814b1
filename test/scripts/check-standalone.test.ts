// The standalone check finds each kind of outside reference, reports file and line, and passes clean
// files (including paths that only look similar). Bad samples are assembled from pieces so that this
// file itself passes the check it tests.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { findProblems } from '../../scripts/check-standalone.ts';
import { tempDir } from '../support/temp.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-standalone.ts', import.meta.url));
const UP = '..';
const REQUIREMENTS = ['S', 'PEC'].join('');
const bad: [string, string][] = [
  [
    'a sibling folder',
    `readFileSync(new URL('${UP}/${UP}/${UP}/shared/vectors/frames.json', import.meta.url))`,
  ],
  ['a document beside the repo', `// as ${REQUIREMENTS}.md requires`],
  ['a style guide', ` * validated once (${'STYLE'}.md §8).`],
  ['an interfaces file', `// see ${'INTERFACES'}.md`],
  ['a requirement tag', `test('[${REQUIREMENTS} heartbeat] online', () => {});`],
  ['a machine path', `// see /${'work'}/notes.txt`],
  ['a placeholder tag', `// [MQTT-3.1.2-${'?'}] 0 is a protocol error`],
  ['a relative path that leaves the root', `const f = '${UP}/${UP}/${UP}/elsewhere/data.json';`],
];

for (const [what, line] of bad) {
  test(`standalone check: flags ${what}, with file and line`, () => {
    const problems = findProblems([{ path: 'test/x/y.test.ts', text: `// ok\n${line}\n` }]);
    assert.equal(problems.length >= 1, true, `no problem found in: ${line}`);
    assert.deepEqual(
      problems.map((p) => [p.path, p.line]),
      problems.map(() => ['test/x/y.test.ts', 2]),
    );
  });
}

test('standalone check: clean files and look-alikes pass', () => {
  const good = [
    `import { x } from '${UP}/${UP}/src/broker/index.ts';`, // stays inside the repository
    `const pkg = new URL('${UP}/${UP}/${UP}/package.json', import.meta.url);`, // src/cli/commands → root
    "await client.subscribeAsync('mqiot/gw/shared/down');", // 'shared' without a parent step
    'const SPECIALS = new Set([]); // a word that merely starts with the letters',
    '// [MQTT-3.1.4-3] a filled-in conformance tag',
    '// docs/protocol.md "Heartbeat and online status"',
    // 'work' inside another path (assembled here, so this file itself cites no such path)
    `const dir = '/tmp/${'work'}/x';`,
  ];
  const problems = findProblems([{ path: 'src/cli/commands/z.ts', text: good.join('\n') }]);
  assert.deepEqual(problems, []);
});

test('standalone check: the script exits 1 with file:line on a bad tree, 0 once it is fixed', (t) => {
  const repo = tempDir(t, 'mqiot-standalone-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'ignore' });
  git('init', '-q');
  writeFileSync(join(repo, 'bad.ts'), `// fine\n// see ${REQUIREMENTS}.md\n`);
  git('add', 'bad.ts');
  const run = () =>
    spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), SCRIPT], {
      cwd: repo,
      encoding: 'utf8',
    });

  const failed = run();
  assert.equal(failed.status, 1, failed.stderr);
  assert.match(failed.stderr, /^bad\.ts:2: /m);

  writeFileSync(join(repo, 'bad.ts'), '// fine\n// see docs/protocol.md\n');
  const passed = run();
  assert.equal(passed.status, 0, passed.stderr);
  assert.equal(passed.stderr, '');
});

test('standalone check: this repository passes', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
