// Accessibility: axe-core on every page, in the light and the dark theme; any violation
// of impact serious or critical fails. Everything axe finds is printed.
import AxeBuilder from '@axe-core/playwright';
import {
  test, expect, waitReady, submitInPage, setDisplayName, uniqueName, REVERSE_WORDS_WRONG,
  makeZip, filesUnder, EXERCISES,
} from '../lib/gauntlet.js';

const FAIL_ON = new Set(['serious', 'critical']);

function describe(v) {
  const nodes = v.nodes.slice(0, 4).map((n) => `      ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim() ?? ''}`);
  return `  [${v.impact}] ${v.id}: ${v.help} (${v.nodes.length} element${v.nodes.length === 1 ? '' : 's'})\n${nodes.join('\n')}`;
}

async function scan(page, label) {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations;
  if (found.length) console.log(`axe ${label}:\n${found.map(describe).join('\n')}`);
  else console.log(`axe ${label}: no violation`);
  return found.filter((v) => FAIL_ON.has(v.impact)).map((v) => `${label}: ${describe(v)}`);
}

for (const scheme of ['light', 'dark']) {
  test(`a11y (${scheme}): no serious or critical axe violation on any page`, async ({ page }) => {
    test.setTimeout(120_000);
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/');
    await waitReady(page);
    const name = uniqueName(`a11y${scheme[0]}`);
    await setDisplayName(page, name);
    // A result with failures (first failure open), so the result view is scanned whole.
    const wrong = await submitInPage(page, {
      exercise: 'reverse-words', files: { 'words.py': REVERSE_WORDS_WRONG }, display_name: name,
    });
    const pages = {
      list: '/',
      'exercise (files)': '/exercises/reverse-words',
      'exercise (archive)': '/exercises/mini-package',
      result: `/exercises/reverse-words?submission=${wrong.id}`,
      submission: `/submissions/${wrong.id}`,
      leaderboard: '/leaderboard',
    };
    const serious = [];
    for (const [label, url] of Object.entries(pages)) {
      await page.goto(url);
      await waitReady(page);
      if (url.includes(wrong.id)) await expect(page.getByText(/^Score: \d+$/)).toBeVisible();
      serious.push(...(await scan(page, `${label} ${url} [${scheme}]`)));
    }
    // States that only appear on a click: the name form, an error alert, a chosen
    // leaderboard, an archive picked.
    await page.goto('/leaderboard');
    await waitReady(page);
    await page.getByLabel('Exercise').selectOption('reverse-words');
    await expect(page.getByRole('main').getByRole('row').filter({ hasText: name })).toHaveCount(1);
    serious.push(...(await scan(page, `leaderboard with reverse-words [${scheme}]`)));
    await page.goto('/exercises/mini-package');
    await waitReady(page);
    await page.getByLabel('ZIP archive').setInputFiles({
      name: 'attempt.zip', mimeType: 'application/zip',
      buffer: makeZip(filesUnder(`${EXERCISES}/mini-package/solution`)),
    });
    await page.getByRole('button', { name: 'Change name' }).click();
    await expect(page.getByRole('textbox', { name: 'Display name' })).toBeVisible();
    serious.push(...(await scan(page, `name form open [${scheme}]`)));
    expect(serious, 'serious or critical axe violations').toEqual([]);
  });
}
