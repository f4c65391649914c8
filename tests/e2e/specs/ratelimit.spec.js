// The rate limit, against the second server ("limited": rate limits on, one submission
// per session per minute): the second submit gets 429, the page shows the countdown
// and keeps Submit disabled until it reaches 0. And "busy", against the third server
// ("busy": its queue is always full): 503 with Retry-After, "Busy, retry in N s".
import {
  test, expect, setEditorText, readSolution, setDisplayName, uniqueName, waitReady, RL_URL,
} from '../lib/gauntlet.js';

test('rate limit: the countdown is shown and Submit stays disabled', async ({ page }) => {
  test.skip(!RL_URL, 'GAUNTLET_RL_URL is not set (run.sh starts that server)');
  await page.goto(`${RL_URL}/exercises/reverse-words`);
  await waitReady(page);
  await setDisplayName(page, uniqueName('rl'));
  await setEditorText(page, readSolution('reverse-words', 'words.py'));
  const submit = page.getByRole('button', { name: 'Submit', exact: true });

  const first = page.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await submit.click();
  expect((await first).status()).toBe(202);
  await expect(submit).toBeEnabled({ timeout: 30_000 });

  const second = page.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await submit.click();
  const refused = await second;
  expect(refused.status()).toBe(429);
  const retryAfter = Number(refused.headers()['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect((await refused.json()).error.code).toBe('rate_limited');

  const alert = page.getByRole('alert').filter({ hasText: /Too many submissions/ });
  await expect(alert).toHaveText(/Too many submissions: you can submit again in \d+ s/);
  await expect(submit).toBeDisabled();
  const seconds = async () => Number((await alert.textContent()).match(/in (\d+) s/)[1]);
  const before = await seconds();
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThanOrEqual(retryAfter);
  // It counts down, and Submit stays disabled meanwhile.
  await expect.poll(seconds, { timeout: 5_000 }).toBeLessThan(before);
  await expect(submit).toBeDisabled();
  console.log(`rate limit: Retry-After ${retryAfter} s, countdown ${before} s then lower, Submit disabled`);
});

test('busy: a full queue gives 503 and "Busy, retry in N s"', async ({ page }) => {
  const busyUrl = process.env.GAUNTLET_BUSY_URL;
  test.skip(!busyUrl, 'GAUNTLET_BUSY_URL is not set (run.sh starts that server)');
  await page.goto(`${busyUrl}/exercises/reverse-words`);
  await waitReady(page);
  await setDisplayName(page, uniqueName('busy'));
  await setEditorText(page, readSolution('reverse-words', 'words.py'));
  const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const response = await posted;
  expect(response.status()).toBe(503);
  expect((await response.json()).error.code).toBe('busy');
  const retryAfter = Number(response.headers()['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  const alert = page.getByRole('alert').filter({ hasText: /Busy/ });
  await expect(alert).toHaveText(/Busy, retry in \d+ s/);
  const n = Number((await alert.textContent()).match(/in (\d+) s/)[1]);
  expect(n).toBeLessThanOrEqual(retryAfter);
  console.log(`busy: Retry-After ${retryAfter} s; the page says "${(await alert.textContent()).trim()}"`);
});
