/*
 * dashboard.test.mjs - the dashboard as a person sees it, in headless Chromium (Debian's, driven
 * by playwright-core; no browser is ever downloaded).
 *
 * Starts a real PostgreSQL, fastrun-server with --web web/ and a worker, runs a small profiling
 * job (tiny.json) through the REST API, then opens the dashboard and checks what a person would
 * check: this machine's category in the list, the operator table with the right winner for a
 * known operator (the first measured result of /v1/cache for its key), the bar chart with one
 * bar per candidate, the model filter, the job shown as done with its operators, the worker, an
 * API error shown on the page, and, after a large upload, pagination over hundreds of
 * categories and thousands of operators. Every expectation comes from the API's own answers.
 *
 * Screenshots (desktop 1366x768, and full pages) and the server's log go to $FASTRUN_ARTIFACTS
 * (the build's tests/artifacts/). Run by CTest (tests/browser/CMakeLists.txt passes the binaries
 * and folders) or by hand:
 *   FASTRUN_SERVER=build/server/fastrun-server FASTRUN_BIN=build/worker/fastrun \
 *   FASTRUN_WORKER=build/worker/fastrun-worker node --test tests/browser/
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { scaleUpload } from './fixtures.mjs';
import { api, makeToken, sleep, start, startPostgres, startServer, stopAll, tail, tempDir } from './stack.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const env = (name, fallback) => process.env[name] || fallback;
const SERVER = env('FASTRUN_SERVER', join(repo, 'build', 'server', 'fastrun-server'));
const WORKER = env('FASTRUN_WORKER', join(repo, 'build', 'worker', 'fastrun-worker'));
const WEB = env('FASTRUN_WEB_DIR', join(repo, 'web'));
const MODELS = env('FASTRUN_MODELS_DIR', resolve(repo, '..', 'shared', 'models'));
const ARTIFACTS = env('FASTRUN_ARTIFACTS', join(repo, 'build', 'tests', 'artifacts'));
const CHROMIUM = env('FASTRUN_CHROMIUM', '/usr/bin/chromium');
const TINY = join(MODELS, 'tiny.json');

const DESKTOP = { width: 1366, height: 768 };
const s = {}; /* the stack: pg, server, tokens, worker, browser, page, job */

/* "conv2d.im2col_gemm" -> "im2col_gemm", as the table shows it. */
const shortAlgo = (name) => name.slice(name.indexOf('.') + 1);
const measured = (r) => !r.failure && Number.isFinite(r.median_ms);

async function shot(name, fullPage = false) {
  await s.page.screenshot({ path: join(ARTIFACTS, name), fullPage });
}

/* The tests after the first read the job it ran. */
function needJob() {
  assert.ok(s.job && s.category, 'no finished job to look at: see the first test');
}

/* Opens a route of the dashboard and waits until its data has replaced the placeholders. */
async function open(hash, ready) {
  await s.page.goto(`${s.server.url}/${hash}`);
  await s.page.waitForSelector(ready, { timeout: 15000 });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const logs = tempDir('fastrun-browser-logs-');
  s.logs = logs;
  s.pg = await startPostgres();
  s.server = await startServer(SERVER, s.pg.conninfo, ['--web', WEB], logs);
  s.admin = await makeToken(SERVER, s.pg.conninfo, 'admin', 'browser-test-admin');
  s.submitter = await makeToken(SERVER, s.pg.conninfo, 'submitter', 'browser-test-ci');
  s.reader = await makeToken(SERVER, s.pg.conninfo, 'reader', 'browser-test-reader');
  const workerToken = await makeToken(SERVER, s.pg.conninfo, 'worker', 'browser-test-worker');
  s.workerLog = join(logs, 'worker.log');
  s.worker = start('fastrun-worker', WORKER, ['--server', s.server.url, '--pool', 'default', '--name', 'browser-test-worker'],
    { logFile: s.workerLog, env: { FASTRUN_TOKEN: workerToken } });

  const profile = tempDir('fastrun-browser-profile-');
  s.context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: DESKTOP,
  });
  s.page = s.context.pages()[0] || await s.context.newPage();
  s.pageErrors = [];
  s.page.on('pageerror', (e) => s.pageErrors.push(e.message));
  /* Cumulative layout shift of the current document, read by the layout test. */
  await s.page.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
});

after(async () => {
  try { if (s.context) await s.context.close(); } catch { /* the browser may be gone already */ }
  for (const [src, dst] of [[s.server && s.server.logFile, 'server.log'], [s.workerLog, 'worker.log']])
    try { if (src) copyFileSync(src, join(ARTIFACTS, dst)); } catch { /* no log */ }
  await stopAll();
});

test('a small job runs to done, its operators shown live on the jobs page', async () => {
  /* The jobs page is open before the job exists, as a person watching would have it; a
   * MutationObserver notes the first moment it shows the job running with its operators. */
  await open('#/jobs', '.job-card');
  await s.page.evaluate(() => {
    window.__running = null;
    new MutationObserver(() => {
      const card = document.querySelector('article.job-card[data-state="running"]');
      if (!card || window.__running || !card.querySelector('.op-tile')) return;
      window.__running = { job: card.dataset.job, tiles: card.querySelectorAll('.op-tile').length, text: card.innerText };
    }).observe(document.body, { subtree: true, childList: true });
  });
  /* tiny.json profiles in about a second on a quiet machine, faster than the page's 2 s refresh,
   * so three 56x56 3x3 convolutions (distinct keys) are added to keep the job running for several
   * refreshes; the checks that follow use tiny's own operators. */
  const tiny = JSON.parse(readFileSync(TINY, 'utf8'));
  for (const k of [64, 72, 80])
    tiny.operators.push({ name: `slow.k${k}`, op: 'conv2d', n: 1, c: 64, h: 56, w: 56, k, r: 3, s: 3,
                          stride: [1, 1], pad: [1, 1], dilation: [1, 1], groups: 1 });
  const model = JSON.stringify(tiny);
  const sub = await api(s.server.url, 'POST', '/v1/jobs?target=default&mode=fast', { token: s.submitter, body: model });
  assert.ok(sub.status === 201 || sub.status === 200, `POST /v1/jobs: ${sub.status} ${JSON.stringify(sub.body)}`);
  const id = sub.body.id;
  let job, shotTaken = false;
  for (const deadline = Date.now() + 240000; Date.now() < deadline;) {
    job = (await api(s.server.url, 'GET', `/v1/jobs/${id}`, { token: s.reader })).body;
    if (!shotTaken && await s.page.evaluate(() => window.__running !== null)) {
      await shot('00-job-running.png');
      shotTaken = true;
    }
    if (['done', 'failed', 'cancelled'].includes(job.state) || s.worker.exited) break;
    await sleep(200);
  }
  const worker = s.worker.exited ? `fastrun-worker exited (${s.worker.code})` : 'fastrun-worker still running';
  assert.equal(job.state, 'done', `job ${id} ended ${job.state}: ${job.error || ''}; ${(job.errors || []).join('; ')}; ` +
    `${job.note || ''}\n${worker}; its log:\n${tail(s.workerLog)}`);
  assert.equal(job.operators.length, JSON.parse(model).operators.length);
  s.job = job;
  s.category = job.category;
  assert.match(s.category, /^[0-9a-f]{16}$/);
  const running = await s.page.evaluate(() => window.__running);
  assert.ok(running, `the jobs page never showed job ${id} running (it took ${job.finished_at} - ${job.started_at})`);
  assert.equal(running.job, String(id));
  assert.equal(running.tiles, job.operators.length, 'one tile per operator while running');
});

test('the categories list shows this machine\'s category', async () => {
  needJob();
  const list = (await api(s.server.url, 'GET', '/v1/categories')).body.categories;
  const cat = list.find((c) => c.id === s.category);
  assert.ok(cat, `category ${s.category} is in /v1/categories`);
  await open('#/categories', `tr.data-row[data-key="${s.category}"]`);
  const row = s.page.locator(`tr.data-row[data-key="${s.category}"]`);
  const text = await row.innerText();
  assert.ok(text.includes(cat.fingerprint.cpu), `row names the CPU: ${text}`);
  assert.ok(text.includes(`kernels ${cat.fingerprint.kernel_set}`), `row names the kernel set: ${text}`);
  assert.ok(text.includes(String(cat.keys)), `row shows ${cat.keys} operators tuned: ${text}`);
  assert.equal(await s.page.locator('tr.data-row').count(), list.length);
  await shot('01-categories.png');
});

test('the operator table shows the right winner, and a click shows every candidate as a bar', async () => {
  needJob();
  const doc = (await api(s.server.url, 'GET', `/v1/cache?category=${s.category}`)).body;
  const entries = doc.categories[0].entries;
  const op = s.job.operators.find((o) => o.name === 'stem') || s.job.operators[0];
  const entry = entries.find((e) => e.key === op.key);
  assert.ok(entry, `the cache holds ${op.key}`);
  const winner = entry.results.find(measured);
  assert.ok(winner, 'a measured result');

  await s.page.evaluate(() => { window.__cls = 0; });
  await s.page.goto(`${s.server.url}/#/category/${s.category}`);
  const row = s.page.locator(`tr.data-row[data-key="${op.key}"]`);
  await row.waitFor({ timeout: 15000 });
  assert.equal(await s.page.locator('tr.data-row').count(), entries.length, 'one row per tuned operator');
  const winnerCell = (await row.locator('td').nth(2).innerText()).split('\n');
  assert.equal(winnerCell[0], shortAlgo(winner.algorithm), 'winner column');
  const words = await row.locator('td').nth(0).innerText();
  assert.match(words, /3×3 conv, 3→16 channels/, 'shape in words');
  assert.match(words, /32×32 → 32×32/);
  const heur = await row.locator('td').nth(4).innerText();
  const known = entry.heuristic || (entry.results.find((r) => r.heuristic) || {}).algorithm;
  assert.equal(heur.split('\n')[0], known ? shortAlgo(known) : '–', 'heuristic column shows the pick the data carries');
  const cls = await s.page.evaluate(() => window.__cls);
  assert.ok(cls < 0.05, `layout shift while loading the category page: ${cls}`);
  await shot('02-category.png');

  await row.click();
  const chart = s.page.locator('tr.detail-row svg.chart');
  await chart.waitFor();
  assert.equal(await chart.locator('g.bar').count(), entry.results.length, 'one bar row per candidate');
  assert.equal(await chart.locator('rect.bar-fill').count(), entry.results.filter(measured).length, 'one bar per measured candidate');
  assert.equal(await chart.locator('g.bar').first().getAttribute('data-algorithm'), winner.algorithm, 'winner first');
  assert.equal(await chart.locator('rect.bar-fill.winner').count(), 1);
  const widths = await chart.locator('rect.bar-fill').evaluateAll((els) => els.map((e) => Number(e.getAttribute('width'))));
  const medians = entry.results.filter(measured).map((r) => r.median_ms);
  for (let i = 1; i < widths.length; i++)
    if (medians[i] > medians[i - 1] * 1.01) assert.ok(widths[i] >= widths[i - 1], `bar ${i} is not shorter than a faster one`);
  await shot('03-category-chart.png');
  await shot('04-category-full.png', true);
});

test('a model file filters the table to its operators and totals its network time', async () => {
  needJob();
  await s.page.locator('#model-file').setInputFiles(TINY);
  const panel = s.page.locator('.model-panel');
  await panel.locator('.stats').waitFor();
  const n = JSON.parse(readFileSync(TINY, 'utf8')).operators.length;
  const cov = (await api(s.server.url, 'POST', `/v1/coverage?category=${s.category}`, { body: readFileSync(TINY, 'utf8') })).body;
  const text = await panel.innerText();
  assert.ok(text.includes(`${n} operators, ${cov.summary.covered} covered`), `model summary: ${text}`);
  assert.equal(await s.page.locator('tr.data-row').count(), n);
  const names = await s.page.locator('tr.data-row .op-name').allInnerTexts();
  assert.deepEqual(names.map((t) => t.replace(/ · $/, '').trim()), cov.operators.map((o) => o.name), 'rows in model order');
  await shot('05-category-model.png');
});

test('the jobs page shows the job as done, a stuck job with the reason, and the job page every operator', async () => {
  needJob();
  /* a job for a pool with no worker stays queued, and the server says why */
  const queued = (await api(s.server.url, 'POST', '/v1/jobs?target=gpu-pool&mode=fast', { token: s.submitter, body: readFileSync(TINY, 'utf8') })).body;
  const note = (await api(s.server.url, 'GET', `/v1/jobs/${queued.id}`)).body.note;
  assert.ok(note, 'the server explains why the job is queued');
  await open('#/jobs', `a[href="#/job/${s.job.id}"]`);
  const row = s.page.locator(`tr.data-row[data-key="${s.job.id}"]`);
  assert.equal(await row.locator('.badge').first().innerText(), 'done');
  const card = s.page.locator(`article.job-card[data-job="${queued.id}"]`);
  await card.waitFor();
  assert.equal(await card.locator('.badge').first().innerText(), 'queued');
  assert.ok((await card.innerText()).includes(note), `the card shows "${note}"`);
  await shot('06-jobs.png');

  /* cancelled: it moves to the finished table with its outcome (the page refreshes by itself) */
  const del = await api(s.server.url, 'DELETE', `/v1/jobs/${queued.id}`, { token: s.submitter });
  assert.ok(del.status < 300, `DELETE /v1/jobs/${queued.id}: ${del.status}`);
  await s.page.locator(`tr.data-row[data-key="${queued.id}"] .state-cancelled`).waitFor({ timeout: 10000 });
  assert.equal(await card.count(), 0);

  await open(`#/job/${s.job.id}`, '.title-state .state-done');
  const states = await s.page.locator('tr.data-row td:nth-child(3) .badge').allInnerTexts();
  assert.equal(states.length, s.job.operators.length);
  for (const st of states) assert.ok(st === 'done' || st === 'cached', `operator state ${st}`);
  const progress = await s.page.locator('.job-progress').innerText();
  assert.ok(progress.includes(`${s.job.operators.length} of ${s.job.operators.length} operators`), progress);
  await shot('07-job.png', true);
});

test('the workers page shows the worker, its pool and category', async () => {
  const ws = (await api(s.server.url, 'GET', '/v1/workers')).body.workers;
  assert.ok(ws.length >= 1, 'a worker is registered');
  await open('#/workers', 'tr.data-row');
  const text = await s.page.locator('tr.data-row').first().innerText();
  assert.ok(text.includes(ws[0].name) && text.includes(ws[0].pool) && text.includes(ws[0].category), text);
  await shot('08-workers.png');
});

test('an API error is shown on the page, not swallowed', async () => {
  const missing = '0000000000000000';
  const direct = await api(s.server.url, 'GET', `/v1/cache?category=${missing}`);
  assert.equal(direct.status, 404);
  await open(`#/category/${missing}`, '.error-box');
  const text = await s.page.locator('.error-box').first().innerText();
  assert.ok(text.includes('404'), text);
  assert.ok(text.includes(direct.body.error.detail), `the server's detail "${direct.body.error.detail}" in: ${text}`);
  await shot('09-error.png');
});

test('hundreds of categories and thousands of operators stay usable', async () => {
  const fx = scaleUpload({ machines: 150, bigOps: 3000 });
  const up = await api(s.server.url, 'POST', '/v1/results', { token: s.submitter, body: fx.body });
  assert.equal(up.status, 201, JSON.stringify(up.body).slice(0, 300));
  const total = (await api(s.server.url, 'GET', '/v1/categories')).body.categories.length;

  let t0 = Date.now();
  await open('#/categories', 'tr.data-row');
  assert.ok(Date.now() - t0 < 5000, `categories page took ${Date.now() - t0} ms`);
  assert.equal(await s.page.locator('tr.data-row').count(), 50, 'one page of rows in the DOM');
  assert.match(await s.page.locator('.pager-info').innerText(), new RegExp(`of ${total.toLocaleString('en-US')}`));
  /* the newer and the older kernel set of one machine, side by side */
  await s.page.fill('input.filter-text', fx.pairCpu);
  const pair = await s.page.locator('tr.data-row').allInnerTexts();
  assert.equal(pair.length, 2);
  assert.match(pair[0], /kernels 2[\s\S]*newest kernel set/);
  assert.match(pair[1], /kernels 1[\s\S]*older · kernels 2 exists/);
  await s.page.fill('input.filter-text', '');
  await shot('10-many-categories.png');

  t0 = Date.now();
  await open(`#/category/${fx.bigId}`, 'tr.data-row');
  const took = Date.now() - t0;
  assert.ok(took < 8000, `3000-operator category took ${took} ms`);
  assert.equal(await s.page.locator('tr.data-row').count(), 50);
  assert.match(await s.page.locator('.pager-info').innerText(), /of 3,000/);
  await s.page.getByRole('button', { name: 'Next ›' }).click();
  assert.match(await s.page.locator('.pager-info').innerText(), /^51–100 of 3,000/);
  await s.page.selectOption('select[aria-label="winning algorithm"]', 'conv2d.winograd_f43');
  const winners = await s.page.locator('tr.data-row td:nth-child(3) .cell-main').allInnerTexts();
  assert.ok(winners.length > 0 && winners.every((w) => w === 'winograd_f43'), 'algorithm filter');
  assert.match(await s.page.locator('.pager-info').innerText(), /^1–/, 'a new filter starts at the first page');
  await s.page.evaluate(() => window.scrollTo(0, 0));
  await shot('11-many-operators.png');
});

test('no script error on any page', () => {
  assert.deepEqual(s.pageErrors, []);
});
