// Screenshots of the main pages for the docs (docs/screenshots/*.png), written on every
// run: the list, an exercise with a result, the leaderboard, a 360 px view, the dark
// theme. Two learners with plain names on an exercise no other test submits to, so the
// pictures show a tidy leaderboard (run.sh gives every run a fresh data dir).
import path from 'node:path';
import fs from 'node:fs';
import {
  test, expect, waitReady, openExercise, setEditorText, submitAndWait, setDisplayName,
  readSolution, SCREENSHOTS,
} from '../lib/gauntlet.js';

const shot = (name) => path.join(SCREENSHOTS, name);
const TITLE = 'Roman numerals, both ways';
const ID = 'roman-numerals';

test('screenshots of the main pages', async ({ page, otherLearner, browser }, testInfo) => {
  test.setTimeout(120_000);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });

  // Grace solves it.
  const grace = await otherLearner.newPage();
  await grace.goto('/');
  await waitReady(grace);
  await setDisplayName(grace, 'grace');
  await openExercise(grace, TITLE);
  await setEditorText(grace, readSolution(ID, 'roman.py'));
  expect((await submitAndWait(grace)).score).toBe(100);

  // Ada submits the starter as it is: a result with failures.
  await page.goto('/');
  await waitReady(page);
  await setDisplayName(page, 'ada');
  await openExercise(page, TITLE);
  const { id, score } = await submitAndWait(page);
  expect(score).toBeLessThan(100);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: shot('exercise-result.png'), fullPage: true });

  await page.goto('/');
  await waitReady(page);
  await page.screenshot({ path: shot('list.png'), fullPage: true });

  await page.goto('/leaderboard');
  await waitReady(page);
  await page.getByLabel('Exercise').selectOption(ID);
  await expect(page.getByRole('main').getByRole('row').filter({ hasText: 'grace' })).toHaveCount(1);
  await page.screenshot({ path: shot('leaderboard.png'), fullPage: true });

  // 360 px and dark: Ada's session (cookies, storage) in new windows.
  const state = await page.context().storageState();
  const narrow = await browser.newContext({
    baseURL: testInfo.project.use.baseURL, storageState: state, viewport: { width: 360, height: 760 },
  });
  const small = await narrow.newPage();
  await small.goto(`/exercises/${ID}?submission=${id}`);
  await waitReady(small);
  await expect(small.getByText(/^Score: \d+$/)).toBeVisible();
  await small.screenshot({ path: shot('mobile-360.png') });
  await small.getByText(/^Score: \d+$/).scrollIntoViewIfNeeded();
  await small.screenshot({ path: shot('mobile-360-result.png') });
  await narrow.close();

  const darkContext = await browser.newContext({
    baseURL: testInfo.project.use.baseURL, storageState: state, colorScheme: 'dark', viewport: { width: 1280, height: 900 },
  });
  const dark = await darkContext.newPage();
  await dark.goto(`/exercises/${ID}?submission=${id}`);
  await waitReady(dark);
  await expect(dark.getByText(/^Score: \d+$/)).toBeVisible();
  await dark.screenshot({ path: shot('dark-exercise.png'), fullPage: true });
  await dark.goto('/');
  await waitReady(dark);
  await dark.screenshot({ path: shot('dark-list.png'), fullPage: true });
  await darkContext.close();
});
