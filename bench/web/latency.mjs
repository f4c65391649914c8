#!/usr/bin/env node
// bench/web/latency.mjs: the web app's two latencies, in Debian's Chromium (headless),
// against a running `gauntlet serve` (bench/web/latency.sh starts one):
//
//  (a) time to interactive of the exercise page: navigate N times; each time, from the
//      navigation's start (performance.timeOrigin) to the page's
//      performance.mark("gauntlet:interactive"). Target: p95 <= 1000 ms.
//  (b) result-visible latency: submit M times; each time, the job's finish time in the
//      store (submissions.finished_at, ms since epoch, read from <data-dir>/gauntlet.db)
//      against data-result-rendered-at on the result element (performance.timeOrigin +
//      performance.now(), ms since epoch; same machine clock). Target: p50 <= 100 ms.
//
// Usage: node bench/web/latency.mjs --url http://127.0.0.1:PORT --data-dir DIR
//        [--n 20] [--m 20] [--cold 5] [--exercise reverse-words] [--json FILE]
// (--cold: first visits, each in a new browser context, reported beside (a) for information)
// Exits 1 when a target is missed (or the run fails), 0 otherwise.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const HERE = import.meta.dirname;
const E2E = path.resolve(HERE, '../../tests/e2e');
const require = createRequire(path.join(E2E, 'package.json'));
const { chromium } = require('@playwright/test');
const { CHROMIUM, CHROMIUM_ARGS } = await import(path.join(E2E, 'lib/chromium.js'));

function args() {
  const out = { n: 20, m: 20, cold: 5, exercise: 'reverse-words' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    out[key] = argv[i + 1];
  }
  out.n = Number(out.n);
  out.m = Number(out.m);
  out.cold = Number(out.cold);
  if (!out.url || !out.dataDir) {
    console.error('usage: latency.mjs --url URL --data-dir DIR [--n 20] [--m 20] [--cold 5] [--exercise ID] [--json FILE]');
    process.exit(2);
  }
  return out;
}

function quantile(sorted, q) {
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const i = Math.max(0, Math.ceil(q * sorted.length) - 1);
  return sorted[i];
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0], p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s[s.length - 1] };
}

const fmt = (v) => (Number.isFinite(v) ? v.toFixed(1) : String(v));

/** finished_at of each submission, from the SQLite store (python3's sqlite3, read-only). */
function finishedAt(dataDir, ids) {
  const db = path.join(dataDir, 'gauntlet.db');
  const script = `
import json, sqlite3, sys
ids = json.load(sys.stdin)
con = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = {}
for i in ids:
    r = con.execute("SELECT finished_at FROM submissions WHERE id = ?", (i,)).fetchone()
    rows[i] = r[0] if r else None
print(json.dumps(rows))
`;
  const out = execFileSync('python3', ['-c', script, db], { input: JSON.stringify(ids) });
  return JSON.parse(out.toString());
}

async function timeToInteractive(page, url, n) {
  const values = [];
  for (let i = 0; i < n; i++) {
    await page.goto(url, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(
      () => performance.getEntriesByName('gauntlet:interactive', 'mark')[0]?.startTime,
      null,
      { timeout: 30_000, polling: 10 },
    );
    values.push(await handle.jsonValue());
  }
  return values;
}

/** The same, each time in a new browser context: an empty cache, a first visit. */
async function timeToInteractiveCold(browser, url, n) {
  const values = [];
  for (let i = 0; i < n; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    values.push(...(await timeToInteractive(page, url, 1)));
    await context.close();
  }
  return values;
}

async function resultLatency(page, url, exercise, m, dataDir) {
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1');
  // A name of its own (names belong to the first session that submits with them).
  const name = `bench-${Date.now().toString(36)}`;
  await page.getByRole('button', { name: 'Change name' }).click();
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByText(`Name: ${name}`, { exact: true }).waitFor();
  // The reference solution, typed into the editor.
  const ex = JSON.parse(
    await (await page.request.get(new URL(`/api/v1/exercises/${exercise}`, url).href)).text(),
  );
  const file = ex.starter_files[0].path;
  const solution = fs.readFileSync(path.resolve(HERE, '../../exercises', exercise, 'solution', file), 'utf8');
  const box = page.getByRole('textbox');
  await box.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(solution);

  const runs = [];
  const submit = page.getByRole('button', { name: 'Submit', exact: true });
  for (let j = 0; j < m; j++) {
    await submit.waitFor();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('button')].find((x) => x.textContent.trim() === 'Submit');
      return b && !b.disabled;
    });
    const previous = await page.evaluate(
      () => document.querySelector('[data-result-rendered-at]')?.getAttribute('data-result-rendered-at') ?? null,
    );
    const posted = page.waitForResponse(
      (r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST',
    );
    const clicked = Date.now();
    await submit.click();
    const response = await posted;
    if (response.status() !== 202) throw new Error(`submit ${j + 1}: ${response.status()} ${await response.text()}`);
    const { id } = await response.json();
    const handle = await page.waitForFunction(
      (prev) => {
        const el = document.querySelector('[data-result-rendered-at]');
        const v = el?.getAttribute('data-result-rendered-at');
        return v && v !== prev ? v : null;
      },
      previous,
      { timeout: 60_000, polling: 'raf' },
    );
    runs.push({ id, rendered: Number(await handle.jsonValue()), clicked });
  }
  const finished = finishedAt(dataDir, runs.map((r) => r.id));
  return runs.map((r) => ({ ...r, finished: finished[r.id], latency: r.rendered - finished[r.id] }));
}

const opts = args();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const exerciseUrl = new URL(`/exercises/${opts.exercise}`, opts.url).href;

  const cold = await timeToInteractiveCold(browser, exerciseUrl, opts.cold);
  const tti = await timeToInteractive(page, exerciseUrl, opts.n);
  const runs = await resultLatency(page, exerciseUrl, opts.exercise, opts.m, opts.dataDir);
  const missing = runs.filter((r) => r.finished == null);
  if (missing.length) throw new Error(`no finished_at in the store for ${missing.map((r) => r.id).join(', ')}`);

  const a = stats(tti);
  const b = stats(runs.map((r) => r.latency));
  const e2e = stats(runs.map((r) => r.rendered - r.clicked));
  const c = stats(cold);
  const okA = a.p95 <= 1000;
  const okB = b.p50 <= 100;
  failed = !okA || !okB;

  const rows = [
    ['exercise page: navigation -> gauntlet:interactive', a, 'p95 <= 1000 ms', okA],
    ['(info) the same, first visit (new context, empty cache)', c, '', null],
    ['result: finished_at in store -> rendered in page', b, 'p50 <= 100 ms', okB],
    ['(info) Submit click -> result rendered', e2e, '', null],
  ];
  console.log(`\nbench/web/latency: ${opts.url}, exercise ${opts.exercise}, Chromium ${browser.version()}`);
  console.log('| measure | n | min | p50 | p95 | max | target | |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [label, s, target, ok] of rows) {
    console.log(`| ${label} | ${s.n} | ${fmt(s.min)} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.max)} | ${target} | ${ok === null ? '' : ok ? 'met' : 'MISSED'} |`);
  }
  console.log(`\nexercise page, warm (ms): ${tti.map(fmt).join(' ')}`);
  console.log(`exercise page, first visits (ms): ${cold.map(fmt).join(' ')}`);
  console.log(`result latencies (ms): ${runs.map((r) => fmt(r.latency)).join(' ')}`);
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify({ tti, cold, runs, a, b, c, e2e, chromium: browser.version() }, null, 2));
  }
} catch (e) {
  console.error(`bench/web/latency: ${e.stack || e}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
