// The dashboard page in Debian's chromium (headless, a fresh user-data dir, background networking
// off), driven by playwright-core, against real `taskpipe serve` processes: the four stages
// render, numbers move after a POST, a failing batch shows its code, a hidden tab stops its
// stream, the page recovers after the node restarts, the token form works, and a remote stage
// draws a box per stage host (live, then lost). Saves $OUT/dashboard.png and
// $OUT/dashboard-remote.png. Prints one line per case and "N passed, N failed"; exits 1 on a failure.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { chromium } = require(path.join(process.env.TOOLS, 'node_modules', 'playwright-core'));
const BINARY = process.env.TASKPIPE;
const OUT = process.env.OUT;
const TOKEN = 'dashboard-test-token-7f3a';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// -- taskpipe serve ------------------------------------------------------------------------------

class Node {
  constructor(args) {
    this.args = args;
    this.stderr = '';
  }

  start(port = 0) {
    return new Promise((resolve, reject) => {
      const proc = spawn(BINARY, ['serve', `--listen=127.0.0.1:${port}`, '--store=memory',
        '--seed-tasks=5000', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      proc.stderr.on('data', (d) => { this.stderr += d; });
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no "listening on" in 20 s: ${this.stderr}`)), 20000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          this.url = `http://127.0.0.1:${this.port}`;
          resolve(this);
        }
      });
      proc.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${this.stderr}`)));
    });
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timeout = sleep(15000).then(() => 'timeout');
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error('serve did not exit within 15 s of SIGTERM');
    }
  }

  async post(tasks, token) {
    const res = await fetch(`${this.url}/v1/batches?wait=false`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ tasks }),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    return (await res.json()).batch_id;
  }
}

// `taskpipe node`: a stage host for the remote case.
class StageHost {
  constructor(args) {
    this.args = args;
    this.stderr = '';
  }

  start() {
    return new Promise((resolve, reject) => {
      const proc = spawn(BINARY, ['node', '--listen=127.0.0.1:0', '--store=memory', '--seed-tasks=5000',
        ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      proc.stderr.on('data', (d) => { this.stderr += d; });
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no "node listening on" in 20 s: ${this.stderr}`)), 20000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/node listening on (127\.0\.0\.1:\d+)/);
        if (m) {
          clearTimeout(timer);
          this.peer = m[1];
          resolve(this);
        }
      });
      proc.on('exit', (code) => reject(new Error(`node exited with ${code}: ${this.stderr}`)));
    });
  }

  kill() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

const updates = (first, n) => Array.from({ length: n }, (_, i) => ({ id: first + i, type: 'Story', summary: `Dashboard ${first + i}` }));

// -- the browser ---------------------------------------------------------------------------------

async function openBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'taskpipe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run',
      '--disable-default-apps', '--disable-sync', '--disable-domain-reliability',
      '--disable-features=Translate,MediaRouter,OptimizationHints', '--no-pings',
      '--metrics-recording-only'],
  });
  return { context, profile };
}

function watchPage(page, problems) {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 401/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
}

const stageDone = (page, name) => page.$eval(`#graph g.stage[data-stage="${name}"]`, (g) => Number(g.dataset.done));
const seq = (page) => page.evaluate(() => Number(document.body.dataset.seq || 0));
const connection = (page) => page.$eval('#connection', (el) => el.dataset.state);

async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

// -- the cases -----------------------------------------------------------------------------------

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.push(false);
    console.log(`not ok - ${name}: ${err.stack || err}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function main() {
  const { context, profile } = await openBrowser();
  const node = await new Node(['--latency=20', '--log-level=warn']).start();
  const problems = [];
  const page = context.pages()[0] || (await context.newPage());
  watchPage(page, problems);
  try {
    await check('the page renders the four stages from the first snapshot', async () => {
      const res = await page.goto(`${node.url}/`);
      assert(res.status() === 200, `GET / answered ${res.status()}`);
      assert(/script-src 'sha256-/.test(res.headers()['content-security-policy'] || ''), 'no strict CSP');
      await page.waitForSelector('#graph g.stage[data-stage]', { timeout: 10000 });
      const names = await page.$$eval('#graph g.stage', (gs) => gs.map((g) => g.dataset.stage));
      assert(JSON.stringify(names) === '["validate","audit","update","notify"]', `stages: ${names}`);
      await page.waitForFunction(() => document.querySelector('#connection').dataset.state === 'live', null, { timeout: 5000 });
      assert(problems.length === 0, `problems: ${problems.join('; ')}`);
    });

    let batch = '';
    await check('the numbers move after a POST', async () => {
      const before = await stageDone(page, 'notify');
      batch = await node.post(updates(1, 3000));
      await page.waitForFunction(
        ([b, n]) => Number(document.querySelector('#graph g.stage[data-stage="notify"]').dataset.done) >= n
          && document.querySelector(`#batches tr[data-batch="${b}"][data-state="done"]`) !== null,
        [batch, before + 3000], { timeout: 15000 });
      const rates = await page.$eval('#chart', (svg) => svg.querySelectorAll('polyline').length);
      assert(rates === 3, `chart lines: ${rates}`);
    });

    await check('a failing batch appears with its code', async () => {
      const failing = await node.post([{ id: 999999, type: 'Epic' }, { id: 5, type: 'epic' }, { id: 6, summary: 'fine' }]);
      await page.waitForSelector(`#last-failures tr[data-code="not_found"][data-batch="${failing}"]`, { timeout: 10000 });
      await page.waitForSelector(`#last-failures tr[data-code="invalid_type"][data-batch="${failing}"]`, { timeout: 10000 });
      await page.waitForSelector(`#batches tr[data-batch="${failing}"][data-failed="2"]`, { timeout: 10000 });
      await page.waitForSelector('#codes tr[data-code="not_found"]', { timeout: 10000 });
      // The id opens the batch's status in the page (with the header a link could not carry).
      await page.click(`#batches tr[data-batch="${failing}"] a`);
      await page.waitForFunction((b) => document.querySelector('#batch-detail').textContent.includes(`"batch_id": "${b}"`), failing, { timeout: 5000 });
      // A batch that runs while the screenshot is taken: the stages hold tasks.
      await node.post(updates(1000, 4000));
      await sleep(1200);
      await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    });

    await check('a hidden tab stops its stream and resumes when shown', async () => {
      await setHidden(page, true);
      await page.waitForFunction(() => document.querySelector('#connection').dataset.state === 'paused', null, { timeout: 3000 });
      const paused = await seq(page);
      await sleep(2500);
      assert((await seq(page)) === paused, 'snapshots kept arriving while hidden');
      await setHidden(page, false);
      await page.waitForFunction((s) => Number(document.body.dataset.seq) > s, paused, { timeout: 5000 });
    });

    await check('the page recovers after the node restarts', async () => {
      const port = node.port;
      await node.stop();
      await page.waitForFunction(() => document.querySelector('#connection').dataset.state === 'reconnecting', null, { timeout: 8000 });
      await node.start(port);
      // The new node's snapshots start again at 1, and its batch list is empty (memory store).
      await page.waitForFunction(() => document.querySelector('#connection').dataset.state === 'live'
        && document.querySelectorAll('#batches tr[data-batch]').length === 0, null, { timeout: 15000 });
      batch = await node.post(updates(1, 10));
      await page.waitForSelector(`#batches tr[data-batch="${batch}"]`, { timeout: 10000 });
    });
    assert(problems.length === 0, `problems: ${problems.join('; ')}`);
  } finally {
    await node.stop().catch(() => {});
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskpipe-token-'));
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const guarded = await new Node([`--api-token-file=${tokenFile}`, '--log-level=info']).start();
  try {
    await check('with --api-token-file the login form keeps the token for the tab', async () => {
      const tab = await context.newPage();
      const tabProblems = [];
      watchPage(tab, tabProblems);
      const res = await tab.goto(`${guarded.url}/`);
      assert(res.status() === 401, `GET / without the token answered ${res.status()}`);
      await tab.waitForSelector('#login:not([hidden])', { timeout: 5000 });
      await tab.fill('#token', 'wrong-token');
      await tab.click('#login button');
      await tab.waitForFunction(() => document.querySelector('#login-error').textContent.includes('refused'), null, { timeout: 5000 });
      await tab.fill('#token', TOKEN);
      await tab.click('#login button');
      await tab.waitForSelector('#graph g.stage[data-stage="notify"]', { timeout: 10000 });
      assert(await tab.isHidden('#login'), 'the form is still shown');
      const id = await guarded.post(updates(1, 5), TOKEN);
      await tab.waitForSelector(`#batches tr[data-batch="${id}"]`, { timeout: 10000 });
      await tab.reload();  // the tab keeps its token (sessionStorage): no form again
      await tab.waitForSelector('#graph g.stage[data-stage="notify"]', { timeout: 10000 });
      assert(await tab.isHidden('#login'), 'the form came back after a reload');
      assert(!tab.url().includes(TOKEN), `the token is in the URL: ${tab.url()}`);
      assert(!guarded.stderr.includes(TOKEN), 'the token is in the node\'s log');
      assert(guarded.stderr.includes('/v1/events'), 'no access-log line for /v1/events');
      assert(tabProblems.length === 0, `problems: ${tabProblems.join('; ')}`);
      await tab.close();
    });
  } finally {
    await guarded.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const host = await new StageHost(['--stages=update,notify', '--log-level=warn']).start();
  const front = await new Node([`--remote=update@${host.peer}`, `--remote=notify@${host.peer}`, '--log-level=warn']).start();
  try {
    await check('a remote stage draws one box per stage host, live, then lost', async () => {
      const tab = await context.newPage();
      const tabProblems = [];
      watchPage(tab, tabProblems);
      await tab.goto(`${front.url}/`);
      const box = (stage, state) => `#graph g.stage.node[data-stage="${stage}"][data-peer="${host.peer}"]${state ? `[data-state="${state}"]` : ''}`;
      await tab.waitForSelector(box('update', 'live'), { timeout: 10000 });
      await tab.waitForSelector(box('notify', 'live'), { timeout: 10000 });
      await tab.waitForSelector(`[data-field="hosts"] .host[data-host="${host.peer}"][data-state="connected"]`, { timeout: 5000 });
      const local = await tab.$$eval('#graph g.stage.local', (gs) => gs.map((g) => g.dataset.stage));
      assert(JSON.stringify(local) === '["validate","audit"]', `local boxes: ${local}`);
      await front.post(updates(1, 2000));
      await tab.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.done) >= 2000,
        box('notify'), { timeout: 15000 });
      await tab.screenshot({ path: path.join(OUT, 'dashboard-remote.png'), fullPage: true });
      host.kill();
      await tab.waitForSelector(box('update', 'lost'), { timeout: 8000 });
      await tab.waitForSelector(`[data-field="hosts"] .host[data-host="${host.peer}"][data-state="lost"]`, { timeout: 5000 });
      const text = await tab.$eval(box('update', 'lost'), (g) => g.textContent);
      assert(/lost/.test(text) && /last data .* old/.test(text), `the lost box says: ${text}`);
      assert(await connection(tab) === 'live', 'the page lost its stream with the host');
      assert(tabProblems.length === 0, `problems: ${tabProblems.join('; ')}`);
      await tab.close();
    });
  } finally {
    host.kill();
    await front.stop().catch(() => {});
  }
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main()
  .catch((err) => {
    results.push(false);
    console.log(`not ok - the test itself: ${err.stack || err}`);
  })
  .finally(() => {
    const passed = results.filter(Boolean).length;
    console.log(`${passed} passed, ${results.length - passed} failed`);
    if (fs.existsSync(path.join(OUT, 'dashboard.png'))) console.log(`screenshot: ${path.join(OUT, 'dashboard.png')}`);
    process.exit(results.length > 0 && passed === results.length ? 0 : 1);
  });
