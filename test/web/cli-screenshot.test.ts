// Black box: `chromium --headless --screenshot` pointed at a running `mqiot up --demo`, as a user
// would run it. With `--virtual-time-budget` Chromium lets the page's timers run only while no
// network fetch is pending; a live stream that counted as a never-ending fetch kept it waiting
// forever. The page must settle: Chromium exits within a bound, writes a PNG, and the DOM it saw
// after the budget shows the demo's devices with the live stream connected.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { artifact, CHROMIUM, NO_CHROMIUM } from './browser.ts';
import { startUp, type RunningUp } from '../support/cli.ts';
import { printedAdminPassword } from '../support/auth.ts';
import { PROCESS_START_MS } from '../support/wait.ts';

const DEMO_DEVICES = 12;
/** Chromium's own start takes 10–20 s on a loaded 2-core machine; a page that never settles never exits. */
const CLI_BOUND_MS = 150_000;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// as root Chromium runs only without its sandbox; the basic password store lets the command line
// read the session cookie Playwright stored in the same profile
const COMMON_FLAGS = [
  '--headless',
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
  '--password-store=basic',
  '--use-mock-keychain',
  '--disable-gpu',
  '--window-size=1280,900',
];

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs the Chromium command line; kills it (and says so) if it is still running after the bound. */
function runChromium(args: string[]): Promise<CliRun & { timedOut: boolean }> {
  const started = Date.now();
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // its renderer and GPU processes too: the whole group this child leads
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  }, CLI_BOUND_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - started, stdout, stderr, timedOut });
    });
  });
}

describe('chromium --headless --screenshot on the running demo', { skip: NO_CHROMIUM }, () => {
  let up: RunningUp | undefined;
  let dir: string;
  let profile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-web-cli-'));
    profile = join(dir, 'chromium-profile');
    up = await startUp(join(dir, 'data'), ['--demo']);
    const password = printedAdminPassword(up.stderr());
    assert.ok(password, `the first start prints the admin password: ${up.stderr()}`);
    // sign in once in a persistent profile: the session cookie is what the command line then uses
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    try {
      const page = await context.newPage();
      await page.goto(`${up.httpUrl}/`);
      await page.locator('form.login input[name=username]').fill('admin');
      await page.locator('form.login input[name=password]').fill(password);
      await page.locator('form.login button[type=submit]').click();
      await page.waitForFunction(
        (n) => document.querySelectorAll('table.devices .badge[data-online="true"]').length === n,
        DEMO_DEVICES,
        { timeout: PROCESS_START_MS },
      );
    } finally {
      await context.close();
    }
  });

  after(async () => {
    await up?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with --virtual-time-budget: exits within the bound, writes a PNG, and the page it saw is live with the demo devices', async () => {
    const png = artifact('cli-screenshot-overview.png');
    rmSync(png, { force: true });
    const shot = await runChromium([
      ...COMMON_FLAGS,
      `--user-data-dir=${profile}`,
      `--screenshot=${png}`,
      '--virtual-time-budget=5000',
      `${up!.httpUrl}/`,
    ]);
    assert.equal(shot.timedOut, false, `still running after ${CLI_BOUND_MS} ms: ${shot.stderr.slice(-2000)}`);
    assert.equal(shot.code, 0, `exit code; stderr: ${shot.stderr.slice(-2000)}`);
    assert.ok(existsSync(png), `no screenshot written: ${shot.stderr.slice(-2000)}`);
    assert.ok(
      statSync(png).size > 10_000,
      `a screenshot of a page, not an empty image (${statSync(png).size} B)`,
    );
    assert.deepEqual(readFileSync(png).subarray(0, 8), PNG_SIGNATURE);

    // the same settled state, as a DOM: the budget ran to its end with the stream open
    const dom = await runChromium([
      ...COMMON_FLAGS,
      `--user-data-dir=${profile}`,
      '--dump-dom',
      '--virtual-time-budget=5000',
      `${up!.httpUrl}/`,
    ]);
    assert.equal(dom.timedOut, false, `--dump-dom still running after ${CLI_BOUND_MS} ms`);
    assert.equal(dom.code, 0, `exit code; stderr: ${dom.stderr.slice(-2000)}`);
    assert.match(dom.stdout, /id="live"[^>]*data-state="live"/, 'the live stream was connected');
    const devices = dom.stdout.match(/<tr data-device="/g) ?? [];
    assert.equal(devices.length, DEMO_DEVICES, 'the overview lists the demo devices');
  });
});
