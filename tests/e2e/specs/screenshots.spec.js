// Screenshots of the main pages for the docs (docs/screenshots/*.png), written on every
// run: the list, an exercise with a result, the leaderboard, a 360 px view, dark theme.
import path from 'node:path';
import fs from 'node:fs';
import {
  test, expect, waitReady, openExercise, setEditorText, submitAndWait, setDisplayName,
  SCREENSHOTS, REVERSE_WORDS_WRONG,
} from '../lib/gauntlet.js';

const shot = (name) => path.join(SCREENSHOTS, name);

test('screenshots of the main pages', async ({ page, browser }, testInfo) => {
  test.setTimeout(120_000);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const name = `ada-${Date.now().toString(36).slice(-5)}`;

  await page.goto('/');
  await waitReady(page);
  await setDisplayName(page, name);
  await openExercise(page, 'Reverse the words of a sentence');
  await setEditorText(page, REVERSE_WORDS_WRONG);
  const { id } = await submitAndWait(page);
  await page.goto('/');
  await waitReady(page);
  await page.screenshot({ path: shot('list.png'), fullPage: true });

  await page.goto(`/exercises/reverse-words?submission=${id}`);
  await waitReady(page);
  await expect(page.getByText(/^Score: \d+$/)).toBeVisible();
  await page.screenshot({ path: shot('exercise-result.png'), fullPage: true });

  await page.goto('/leaderboard');
  await waitReady(page);
  await page.getByLabel('Exercise').selectOption('reverse-words');
  await expect(page.getByRole('main').getByRole('row').filter({ hasText: name })).toHaveCount(1);
  await page.screenshot({ path: shot('leaderboard.png'), fullPage: true });

  // 360 px and dark: the same session (cookies, storage) in new pages.
  const state = await page.context().storageState();
  const narrow = await browser.newContext({
    baseURL: testInfo.project.use.baseURL, storageState: state, viewport: { width: 360, height: 760 },
  });
  const small = await narrow.newPage();
  await small.goto(`/exercises/reverse-words?submission=${id}`);
  await waitReady(small);
  await expect(small.getByText(/^Score: \d+$/)).toBeVisible();
  await small.screenshot({ path: shot('mobile-360.png'), fullPage: true });
  await narrow.close();

  const darkCtx = await browser.newContext({
    baseURL: testInfo.project.use.baseURL, storageState: state, colorScheme: 'dark', viewport: { width: 1280, height: 900 },
  });
  const dark = await darkCtx.newPage();
  await dark.goto(`/exercises/reverse-words?submission=${id}`);
  await waitReady(dark);
  await expect(dark.getByText(/^Score: \d+$/)).toBeVisible();
  await dark.screenshot({ path: shot('dark-exercise.png'), fullPage: true });
  await dark.goto('/');
  await waitReady(dark);
  await dark.screenshot({ path: shot('dark-list.png'), fullPage: true });
  await darkCtx.close();
});
