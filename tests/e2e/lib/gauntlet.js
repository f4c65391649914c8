// Shared helpers of the end-to-end tests: a `test` whose every browser context is watched
// for CSP violations (a test fails on any), and the moves a learner makes (type into the
// editor, pick a name, submit, wait for the score). Elements are found by role and
// accessible name, as the web contract fixes them: the product owner's own test finds
// them the same way.
import { test as base, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';


export { expect };

export const REPO = process.env.GAUNTLET_REPO || path.resolve(import.meta.dirname, '../../..');
export const EXERCISES = path.join(REPO, 'exercises');
// Where the screenshots spec writes (E2E_SCREENSHOTS=DIR elsewhere, e.g. to keep the
// committed pictures while iterating).
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS || path.join(REPO, 'docs', 'screenshots');
export const RL_URL = process.env.GAUNTLET_RL_URL;
export const DATA_DIR = process.env.GAUNTLET_DATA_DIR_MAIN;

// Matches what Chromium prints for a CSP refusal, and our own listener's line below.
const CSP_CONSOLE = /Content Security Policy|Refused to (execute|apply|load|connect|evaluate|create|frame)|securitypolicyviolation/i;

/**
 * Watches a browser context: every page's console and its `securitypolicyviolation`
 * events (a listener added before any page script runs). Returns the record.
 */
export async function watchContext(context) {
  const record = { csp: [], pageErrors: [], consoleErrors: [] };
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(
        `securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} ` +
          `at ${e.sourceFile || document.location.href}:${e.lineNumber}`,
      );
    });
  });
  context.on('console', (msg) => {
    const text = msg.text();
    const where = msg.page()?.url() ?? '?';
    if (CSP_CONSOLE.test(text)) record.csp.push(`${where}: ${text}`);
    else if (msg.type() === 'error') record.consoleErrors.push(`${where}: ${text}`);
  });
  context.on('weberror', (err) => {
    record.pageErrors.push(`${err.page()?.url() ?? '?'}: ${err.error().message}`);
  });
  return record;
}

/** Fails the test on a CSP violation; prints page errors (not fatal) for the report. */
export function checkRecord(record, testInfo) {
  if (record.pageErrors.length) {
    console.warn(`[${testInfo.title}] uncaught errors in the page:\n  ${record.pageErrors.join('\n  ')}`);
  }
  if (record.consoleErrors.length) {
    testInfo.annotations.push({ type: 'console errors', description: record.consoleErrors.join('\n') });
  }
  expect(record.csp, 'CSP violations reported by Chromium').toEqual([]);
}

export const test = base.extend({
  // Every context a test gets (the default one) is watched, and checked at the end.
  context: async ({ context }, use, testInfo) => {
    const record = await watchContext(context);
    await use(context);
    checkRecord(record, testInfo);
  },
  // A second, separate browser (a second learner): its own cookies and storage.
  otherLearner: async ({ browser }, use, testInfo) => {
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    const record = await watchContext(context);
    await use(context);
    await context.close();
    checkRecord(record, testInfo);
  },
});

// ---------------------------------------------------------------- exercises on disk

export function readSolution(exercise, file) {
  return fs.readFileSync(path.join(EXERCISES, exercise, 'solution', file), 'utf8');
}

/** Every file under a folder, as [relative path, Buffer], sorted. */
export function filesUnder(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === '__pycache__') continue;
      out.push(...filesUnder(full, rel));
    } else if (entry.isFile()) {
      out.push([rel, fs.readFileSync(full)]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- ZIPs, by Python

// The tests make and read ZIPs with Python's zipfile: a standard implementation, and
// not the app's own (web/src/zip.ts), so neither can hide the other's mistakes.
const PY_ZIP = `
import base64, io, json, sys, zipfile
if sys.argv[1] == "make":
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in json.load(sys.stdin):
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), base64.b64decode(data))
    sys.stdout.buffer.write(buf.getvalue())
else:
    with zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())) as z:
        bad = z.testzip()
        assert bad is None, f"corrupt entry {bad}"
        json.dump({i.filename: z.read(i).decode() for i in z.infolist()}, sys.stdout)
`;

/** A ZIP archive (entries stored, not compressed) of [path, Buffer] pairs. */
export function makeZip(entries) {
  const input = JSON.stringify(entries.map(([name, data]) => [name, Buffer.from(data).toString('base64')]));
  return execFileSync('python3', ['-c', PY_ZIP, 'make'], { input, maxBuffer: 64 << 20 });
}

/** The entries of a ZIP archive as {path: text}, after checking every CRC. */
export function readZip(buffer) {
  return JSON.parse(execFileSync('python3', ['-c', PY_ZIP, 'read'], { input: buffer }).toString());
}

// ---------------------------------------------------------------- the learner's moves

/** A name no other test uses (names belong to the first session that submits with them). */
export function uniqueName(prefix = 'e2e') {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 32);
}

/** Opens an exercise the way a learner does: from the list, by its title. */
export async function openExercise(page, title) {
  await page.goto('/');
  await page.getByRole('link', { name: title, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible();
  await waitReady(page);
}

/** The page's readiness marker (data-ready="1" on <html>). */
export async function waitReady(page) {
  await expect(page.locator('html')).toHaveAttribute('data-ready', '1');
}

/** The editor: the one textbox on the exercise page (the owner's test finds it so). */
export function editor(page) {
  return page.getByRole('textbox');
}

/**
 * The editor's whole text. CodeMirror renders only the lines in and near the viewport,
 * so the DOM's .cm-line elements are not the document: read it from the view the way
 * EditorView.findFromDOM does (the content element's tile -> its root -> the view), and
 * fall back to the rendered lines if that internal path ever changes.
 */
export async function editorText(page) {
  return editor(page).evaluate((el) => {
    const tile = el.cmTile;
    const view = tile?.root?.view;
    if (view?.state?.doc) return view.state.doc.toString();
    return Array.from(el.querySelectorAll('.cm-line'), (line) => line.textContent).join('\n');
  });
}

/** Replaces the editor's content as a learner does: focus it, select all, type. */
export async function setEditorText(page, text) {
  const box = editor(page);
  await box.click();
  await expect(box).toBeFocused();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  // insertText is what a paste or an IME commit does: one input, no key bindings (so
  // no auto-indent or bracket closing rewrites what we typed).
  await page.keyboard.insertText(text);
  await expect.poll(() => editorText(page).then(norm)).toBe(norm(text));
}

const norm = (s) => s.replace(/\s+$/, '');

/** Sets the display name through the header's "Change name" form. */
export async function setDisplayName(page, name) {
  await page.getByRole('button', { name: 'Change name' }).click();
  const box = page.getByRole('textbox', { name: 'Display name' });
  await expect(box).toBeVisible();
  await box.fill(name);
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText(`Name: ${name}`, { exact: true })).toBeVisible();
  await expect(box).toBeHidden();
}

/** The grading state (role=status with Queued / Running / Finished). */
export function gradingStatus(page) {
  return page.getByRole('status').filter({ hasText: /^(Queued|Running|Finished)$/ });
}

/** The score, exactly "Score: N". */
export function scoreText(page) {
  return page.getByText(/^Score: \d+$/);
}

/**
 * Clicks Submit, waits for the 202, then for the result. Returns {id, score, response}.
 */
export async function submitAndWait(page, { timeout = 60_000 } = {}) {
  const posted = page.waitForResponse(
    (r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST',
  );
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const response = await posted;
  expect(response.status(), `POST /api/v1/submissions: ${await response.text()}`).toBe(202);
  const { id } = await response.json();
  await expect(page).toHaveURL(new RegExp(`[?&]submission=${id}`));
  const result = await waitResult(page, id, { timeout });
  return { ...result, response };
}

/**
 * Waits until the result of submission `id` is on the page; returns {id, score}. The
 * score the page shows must be the one the API has for that submission (so an earlier
 * result still on the page cannot pass for it).
 */
export async function waitResult(page, id, { timeout = 60_000 } = {}) {
  let detail;
  await expect
    .poll(async () => (detail = await api(page, `/api/v1/submissions/${id}`)).state, {
      timeout, intervals: [250, 500, 1000],
    })
    .toBe('finished');
  await expect(gradingStatus(page)).toHaveText('Finished');
  await expect(scoreText(page)).toHaveText(`Score: ${detail.result.score}`);
  return { id, score: detail.result.score, detail };
}

/** GET JSON from the API with the page's cookies. */
export async function api(page, url) {
  const r = await page.request.get(url);
  expect(r.ok(), `GET ${url}: ${r.status()}`).toBeTruthy();
  return r.json();
}

/**
 * Submits from inside the page with fetch, the token from GET /api/v1/session in
 * X-CSRF-Token (as the app does), and waits until it is finished. Returns the detail.
 */
export async function submitInPage(page, body, { timeout = 60_000 } = {}) {
  const res = await page.evaluate(async (b) => {
    const session = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/submissions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
      body: JSON.stringify(b),
    });
    return { status: r.status, body: await r.json() };
  }, body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const id = res.body.id;
  let detail;
  await expect
    .poll(async () => (detail = await api(page, `/api/v1/submissions/${id}`)).state, { timeout })
    .toBe('finished');
  return detail;
}

/** The wrong answer to reverse-words used where a result with failures is wanted. */
export const REVERSE_WORDS_WRONG =
  'def reverse_words(sentence):\n    return " ".join(reversed(sentence.split(" ")))\n';

/** True when the page scrolls sideways (wider than its viewport). */
export function scrollsSideways(page) {
  return page.evaluate(() => {
    const d = document.documentElement;
    return Math.max(d.scrollWidth, document.body.scrollWidth) > d.clientWidth;
  });
}
