// A usable layout at 360 px: no page scrolls sideways; the controls are still there.
import {
  test, expect, waitReady, submitInPage, setDisplayName, uniqueName, scrollsSideways,
  REVERSE_WORDS_WRONG, editor,
} from '../lib/gauntlet.js';

test.use({ viewport: { width: 360, height: 760 } });

test('layout: 360 px wide, no horizontal scroll on any page', async ({ page }) => {
  await page.goto('/');
  await waitReady(page);
  const name = uniqueName('narrow');
  await setDisplayName(page, name);
  const detail = await submitInPage(page, {
    exercise: 'reverse-words',
    files: { 'words.py': REVERSE_WORDS_WRONG },
    display_name: name,
  });
  const pages = [
    '/',
    '/exercises/reverse-words',
    '/exercises/mini-package',
    `/exercises/reverse-words?submission=${detail.id}`,
    `/submissions/${detail.id}`,
    '/leaderboard',
  ];
  const wide = [];
  for (const url of pages) {
    await page.goto(url);
    await waitReady(page);
    if (url.includes('submission')) await expect(page.getByText(/^Score: \d+$/)).toBeVisible();
    if (await scrollsSideways(page)) {
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      // Name the widest culprits for the report.
      const culprits = await page.evaluate(() =>
        Array.from(document.querySelectorAll('body *'))
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .slice(0, 5)
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''}`),
      );
      wide.push(`${url}: scrollWidth ${w} px > 360 (${culprits.join(', ')})`);
    }
  }
  expect(wide, 'pages that scroll sideways at 360 px').toEqual([]);
  // The exercise page keeps its controls reachable.
  await page.goto('/exercises/reverse-words');
  await waitReady(page);
  await expect(editor(page)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Submit', exact: true })).toBeVisible();
});
