// The product owner's own test is hidden; it finds things by role and visible text: an
// exercise link by its title, the editor as a textbox, a "Submit" button, the score as
// text. This drives the app the plain ways such a test may: Playwright's default
// (substring, case-insensitive, strict) matching, and the editor filled with `fill`, or
// typed key by key. Each way must leave exactly the code typed in the editor.
import {
  test, expect, readSolution, editorText, setDisplayName, uniqueName,
} from '../lib/gauntlet.js';

const trim = (s) => s.replace(/\s+$/, '');

const PYTHON = ['Reverse the words of a sentence', 'reverse-words', 'words.py'];
const NODE = ['Run-length encoding, all or nothing', 'run-length', 'rle.js'];

for (const [how, [title, id, file]] of [['fill', NODE], ['pressSequentially', PYTHON]]) {
  test(`owner-style: open by title, ${how} the editor (${id}), Submit, read the score`, async ({ page }) => {
    test.setTimeout(120_000);
    const code = readSolution(id, file);
    await page.goto('/');
    await setDisplayName(page, uniqueName('owner'));
    await page.getByRole('link', { name: title }).click();
    const box = page.getByRole('textbox');
    await expect(box).toBeVisible();
    if (how === 'fill') {
      await box.fill(code);
    } else {
      await box.click();
      await page.keyboard.press('ControlOrMeta+a');
      await page.keyboard.press('Delete');
      await box.pressSequentially(code);
    }
    expect(trim(await editorText(page)), `the editor after ${how}`).toBe(trim(code));
    await page.getByRole('button', { name: 'Submit' }).click();
    await expect(page.getByText('Score: 100')).toBeVisible({ timeout: 60_000 });
  });
}

// Key by key, JavaScript: braces, brackets, quotes and indentation typed by hand must not
// be doubled by the editor's auto-closing and auto-indenting.
test('owner-style: JavaScript typed key by key stays exactly as typed', async ({ page }) => {
  const code = [
    "'use strict';",
    '',
    'function pairs(items) {',
    '  const out = [];',
    '  for (const [i, x] of items.entries()) {',
    "    if (x) out.push({ i, x: `${x}` });",
    '  }',
    '  return out;',
    '}',
    '',
    'module.exports = { pairs };',
    '',
  ].join('\n');
  await page.goto('/');
  await page.getByRole('link', { name: 'Run-length encoding, all or nothing' }).click();
  const box = page.getByRole('textbox');
  await box.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.type(code);
  expect(trim(await editorText(page))).toBe(trim(code));
});
