// Tight security as the page sees it: the CSP (no 'unsafe-inline', no inline code in
// the HTML; every test also fails on any CSP violation in the console, lib/gauntlet.js),
// and CSRF: a POST from the page without the token is refused with 403, and so is a
// POST from another origin (a form and a fetch from a page at http://attacker.invalid).
import { test, expect, waitReady, api, REVERSE_WORDS_WRONG } from '../lib/gauntlet.js';

const BASE = process.env.GAUNTLET_URL;

test('CSP: every page and asset carries it, without unsafe-inline; the HTML has no inline code', async ({ page, request }) => {
  for (const url of ['/', '/exercises/reverse-words', '/leaderboard', '/submissions/00000000-0000-0000-0000-000000000000']) {
    const response = await page.goto(url);
    const csp = response.headers()['content-security-policy'];
    expect(csp, `CSP of ${url}`).toBeTruthy();
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
  }
  const html = await (await request.get('/')).text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(html).not.toMatch(/<style[\s>]/i);
  expect(html).not.toMatch(/\sstyle\s*=/i);
  expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  for (const asset of ['/assets/app.js', '/assets/app.css']) {
    const r = await request.get(asset);
    expect(r.status(), asset).toBe(200);
    expect(r.headers()['content-security-policy'], `CSP of ${asset}`).toBeTruthy();
  }
});

test('CSRF: a POST from the page without the token is refused with 403', async ({ page }) => {
  await page.goto('/exercises/reverse-words');
  await waitReady(page);
  const body = { exercise: 'reverse-words', files: { 'words.py': REVERSE_WORDS_WRONG }, display_name: 'csrf-probe' };
  const without = await page.evaluate(async (b) => {
    const r = await fetch('/api/v1/submissions', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b),
    });
    return { status: r.status, body: await r.text() };
  }, body);
  expect(without.status, without.body).toBe(403);
  expect(JSON.parse(without.body).error.code).toBe('csrf');
  const wrong = await page.evaluate(async (b) => {
    const r = await fetch('/api/v1/submissions', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': 'not-the-token' }, body: JSON.stringify(b),
    });
    return r.status;
  }, body);
  expect(wrong).toBe(403);
  const { submissions } = await api(page, '/api/v1/session/submissions?exercise=reverse-words');
  expect(submissions).toEqual([]);
});

test('CSRF: POSTs from another origin are refused', async ({ page }) => {
  // The learner has a session here.
  await page.goto('/');
  await waitReady(page);
  const target = `${BASE}/api/v1/submissions`;
  const json = JSON.stringify({ exercise: 'reverse-words', files: { 'words.py': 'x = 1\n' }, display_name: 'evil' });

  // 1. A page elsewhere posts a form (multipart, as archive submissions are) at the API.
  await page.route('http://attacker.invalid/form', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><form method="post" enctype="multipart/form-data" action="${target}">
      <input name="exercise" value="mini-package"><input name="display_name" value="evil">
      <textarea name="archive">PK</textarea></form>
      <script>document.forms[0].submit()</script>`,
  }));
  const formResponse = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
  await page.goto('http://attacker.invalid/form');
  const fr = await formResponse;
  expect(fr.status(), `cross-origin form POST: ${await fr.text()}`).toBe(403);

  // 2. A fetch without CORS (text/plain needs no preflight), with the learner's cookies.
  await page.route('http://attacker.invalid/fetch', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><p>hi</p><script>
      fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(json)} });
      </script>`,
  }));
  const fetchResponse = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
  await page.goto('http://attacker.invalid/fetch');
  const xr = await fetchResponse;
  expect(xr.status(), 'cross-origin fetch POST').toBe(403);

  // Nothing was submitted in the learner's name.
  await page.goto('/');
  await waitReady(page);
  for (const ex of ['reverse-words', 'mini-package']) {
    const { submissions } = await api(page, `/api/v1/session/submissions?exercise=${ex}`);
    expect(submissions, ex).toEqual([]);
  }
});
