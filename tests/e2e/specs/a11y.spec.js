// Accessibility: axe-core on every page, in the light and the dark theme (each page is
// loaded in each: prefers-color-scheme is emulated before the load); any violation of
// impact serious or critical fails. Everything axe finds is printed. The pages are
// split over three tests so that two workers share them.
import AxeBuilder from '@axe-core/playwright';
import {
  test, expect, waitReady, submitInPage, setDisplayName, uniqueName, REVERSE_WORDS_WRONG,
  makeZip, filesUnder, EXERCISES,
} from '../lib/gauntlet.js';

const FAIL_ON = new Set(['serious', 'critical']);
const SCHEMES = ['light', 'dark'];

function describe(v) {
  const nodes = v.nodes.slice(0, 4).map((n) => `      ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim() ?? ''}`);
  return `  [${v.impact}] ${v.id}: ${v.help} (${v.nodes.length} element${v.nodes.length === 1 ? '' : 's'})\n${nodes.join('\n')}`;
}

/** Runs axe on the page as it is; prints all it finds; returns the serious/critical. */
async function scan(page, label) {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations;
  console.log(found.length ? `axe ${label}:\n${found.map(describe).join('\n')}` : `axe ${label}: no violation`);
  return found.filter((v) => FAIL_ON.has(v.impact)).map((v) => `${label}: ${describe(v)}`);
}

/**
 * Loads `url` in each theme, runs `prepare` (a state reached by clicks), scans.
 * Returns the serious/critical violations.
 */
async function scanPage(page, label, url, prepare = async () => {}) {
  const serious = [];
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme });
    await page.goto(url);
    await waitReady(page);
    await prepare(page);
    serious.push(...(await scan(page, `${label} ${url} [${colorScheme}]`)));
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return serious;
}

test('a11y: exercise list and leaderboard, light and dark', async ({ page }) => {
  const serious = [
    ...(await scanPage(page, 'list', '/')),
    ...(await scanPage(page, 'leaderboard', '/leaderboard')),
  ];
  expect(serious, 'serious or critical axe violations').toEqual([]);
});

test('a11y: exercise pages (files, archive, name form open), light and dark', async ({ page }) => {
  const zip = makeZip(filesUnder(`${EXERCISES}/mini-package/solution`));
  const serious = [
    ...(await scanPage(page, 'exercise (files)', '/exercises/reverse-words')),
    ...(await scanPage(page, 'exercise (archive), ZIP picked', '/exercises/mini-package', async (p) => {
      await p.getByLabel('ZIP archive').setInputFiles({ name: 'attempt.zip', mimeType: 'application/zip', buffer: zip });
    })),
    ...(await scanPage(page, 'name form open', '/exercises/reverse-words', async (p) => {
      await p.getByRole('button', { name: 'Change name' }).click();
      await expect(p.getByRole('textbox', { name: 'Display name' })).toBeVisible();
    })),
  ];
  expect(serious, 'serious or critical axe violations').toEqual([]);
});

test('a11y: a result (with failures), its submission page, a filled leaderboard, light and dark', async ({ page }) => {
  await page.goto('/');
  await waitReady(page);
  const name = uniqueName('a11y');
  await setDisplayName(page, name);
  const wrong = await submitInPage(page, {
    exercise: 'reverse-words', files: { 'words.py': REVERSE_WORDS_WRONG }, display_name: name,
  });
  const scored = async (p) => expect(p.getByText(/^Score: \d+$/)).toBeVisible();
  const serious = [
    ...(await scanPage(page, 'result', `/exercises/reverse-words?submission=${wrong.id}`, scored)),
    ...(await scanPage(page, 'submission', `/submissions/${wrong.id}`, scored)),
    ...(await scanPage(page, 'leaderboard with reverse-words', '/leaderboard', async (p) => {
      await p.getByLabel('Exercise').selectOption('reverse-words');
      await expect(p.getByRole('main').getByRole('row').filter({ hasText: name })).toHaveCount(1);
    })),
  ];
  expect(serious, 'serious or critical axe violations').toEqual([]);
});
