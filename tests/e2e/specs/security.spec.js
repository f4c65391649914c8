// Tight security as the page sees it: the CSP (no 'unsafe-inline', no inline code in
// the HTML; every test also fails on any CSP violation in the console, lib/gauntlet.js),
// and CSRF: a POST from the page without the token is refused with 403, and so is a
// POST from another origin (a form and a fetch from a page at http://attacker.invalid).
import {
  test, expect, waitReady, api, watchContext, checkRecord, REVERSE_WORDS_WRONG,
} from '../lib/gauntlet.js';

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

// Another origin's page posts at the API with the learner's cookies: a form (multipart,
// as archive submissions are) and a fetch without CORS (text/plain needs no preflight),
// from three origins: another site (attacker.invalid), the same host under another name
// (localhost), and the same site on another port (127.0.0.1:<port>, where the session
// cookie's SameSite=Lax does not hold it back). The server must answer 403 to each.
//
// This test runs in its own Chromium with Local Network Access checks off: here every
// server is on loopback, and Chromium would block a public page's request to loopback
// before it left the browser; a real deployment is public, and then only the server
// stands in the way. The response of a no-cors fetch is hidden from the page (and, with
// Cross-Origin-Resource-Policy, from Playwright), so its status is read from the
// DevTools protocol's network events.
test('CSRF: POSTs from another origin are refused', async ({ playwright }, testInfo) => {
  const { launchOptions } = testInfo.project.use;
  const browser = await playwright.chromium.launch({
    ...launchOptions,
    args: [...launchOptions.args, '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests'],
  });
  const context = await browser.newContext({ baseURL: BASE });
  const record = await watchContext(context);
  const page = await context.newPage();
  try {
    // The learner has a session here.
    await page.goto('/');
    await waitReady(page);
    const target = `${BASE}/api/v1/submissions`;
    const statuses = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const posts = new Set();
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.url === target && e.request.method === 'POST') posts.add(e.requestId);
    });
    cdp.on('Network.responseReceivedExtraInfo', (e) => {
      if (posts.has(e.requestId)) statuses.push(e.statusCode);
    });
    const json = JSON.stringify({ exercise: 'reverse-words', files: { 'words.py': 'x = 1\n' }, display_name: 'evil' });
    const pages = {
      form: `<!doctype html><form method="post" enctype="multipart/form-data" action="${target}">
        <input name="exercise" value="mini-package"><input name="display_name" value="evil">
        <textarea name="archive">PK</textarea></form>
        <script>document.forms[0].submit()</script>`,
      fetch: `<!doctype html><p>hi</p><script>
        fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(json)} }).catch(() => {});
        </script>`,
    };
    const port = new URL(BASE).port;
    const otherPort = new URL(process.env.GAUNTLET_RL_URL || 'http://127.0.0.1:9').port;
    const origins = ['http://attacker.invalid', `http://localhost:${port}`, `http://127.0.0.1:${otherPort}`];
    const seen = [];
    for (const origin of origins) {
      for (const [kind, body] of Object.entries(pages)) {
        const url = `${origin}/csrf-${kind}`;
        await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body }));
        const before = statuses.length;
        await page.goto(url);
        await expect.poll(() => statuses.length, { message: `the POST of ${url} reached no server` }).toBeGreaterThan(before);
        seen.push(`${kind} from ${origin}: ${statuses[statuses.length - 1]}`);
      }
    }
    console.log(`cross-origin POSTs: ${seen.join('; ')}`);
    expect(seen.filter((line) => !line.endsWith(': 403')), 'cross-origin POSTs not refused with 403').toEqual([]);

    // Nothing was submitted in the learner's name.
    await page.goto('/');
    await waitReady(page);
    for (const ex of ['reverse-words', 'mini-package']) {
      const { submissions } = await api(page, `/api/v1/session/submissions?exercise=${ex}`);
      expect(submissions, ex).toEqual([]);
    }
  } finally {
    await browser.close();
  }
  checkRecord(record, testInfo);
});
