// The dual-broker client as a user of the package reaches it: `import … from 'mqiot/access'`, both
// from inside the repository (self-reference through package.json `exports`) and from another
// project with mqiot in its node_modules; and `npx mqiot` still runs with `exports` set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../support/temp.ts';

const run = promisify(execFile);
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));

test("self-reference: import { DualBrokerClient } from 'mqiot/access'", async () => {
  const byName = await import('mqiot/access');
  const byPath = await import('../../src/access/index.ts');
  assert.equal(typeof byName.DualBrokerClient, 'function');
  assert.equal(byName.DualBrokerClient, byPath.DualBrokerClient);
});

test('another project with mqiot in node_modules imports mqiot/access; deep paths stay private', async (t) => {
  const dir = tempDir(t, 'mqiot-consumer-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repo, join(dir, 'node_modules', 'mqiot'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  writeFileSync(
    join(dir, 'main.ts'),
    [
      "import { DualBrokerClient } from 'mqiot/access';",
      "const deep = await import('mqiot/src/access/index.ts').then(() => 'open', (e) => e.code);",
      'console.log(typeof DualBrokerClient, deep);',
      '',
    ].join('\n'),
  );
  // tsx from this repository: the consumer runs the TypeScript sources as `npx mqiot` does.
  const tsx = import.meta.resolve('tsx');
  const { stdout } = await run(process.execPath, ['--import', tsx, 'main.ts'], { cwd: dir });
  assert.equal(stdout.trim(), 'function ERR_PACKAGE_PATH_NOT_EXPORTED');
});

test('npx mqiot still runs (bin kept next to exports)', { timeout: 60_000 }, async () => {
  // Without ignore-scripts, the first npx in a fresh checkout runs the package's `prepare` (the build):
  // dist/ is then rewritten while other tests' `mqiot` processes load it (a chunk went missing in one).
  const { stdout } = await run('npx', ['--no-install', 'mqiot', '--help'], {
    cwd: repo,
    env: { ...process.env, npm_config_ignore_scripts: 'true' },
  });
  assert.match(stdout, /^usage: mqiot <command>/);
});
