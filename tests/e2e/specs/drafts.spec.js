// Drafts are kept in the browser and survive a reload; "Reset to starter" brings the
// starter back (one click, undoable) and clears the drafts.
import { test, expect, openExercise, setEditorText, editorText, editor, waitReady, api } from '../lib/gauntlet.js';

const KEY = 'gauntlet:draft:roman-numerals:roman.py';

test('drafts survive a reload; Reset to starter restores the starter and clears them', async ({ page }) => {
  await openExercise(page, 'Roman numerals, both ways');
  const exercise = await api(page, '/api/v1/exercises/roman-numerals');
  const starter = exercise.starter_files.find((f) => f.path === 'roman.py').content;
  const trim = (s) => s.replace(/\s+$/, '');
  expect(trim(await editorText(page))).toBe(trim(starter));

  const draft = `# my draft ${Date.now()}\ndef to_roman(n):\n    return "I" * n\n`;
  await setEditorText(page, draft);
  // Saved (debounced) under the contract's key.
  await expect.poll(() => page.evaluate((k) => localStorage.getItem(k), KEY)).toBe(draft);

  await page.reload();
  await waitReady(page);
  expect(trim(await editorText(page))).toBe(trim(draft));

  await page.getByRole('button', { name: 'Reset to starter' }).click();
  await expect.poll(() => editorText(page).then(trim)).toBe(trim(starter));
  await expect.poll(() => page.evaluate((k) => localStorage.getItem(k), KEY)).toBeNull();

  // Undoable with the editor's undo.
  await editor(page).focus();
  await page.keyboard.press('ControlOrMeta+z');
  await expect.poll(() => editorText(page).then(trim)).toBe(trim(draft));
  // Reset again, reload: the starter, not the draft.
  await page.getByRole('button', { name: 'Reset to starter' }).click();
  await expect.poll(() => editorText(page).then(trim)).toBe(trim(starter));
  await page.waitForTimeout(1500); // past any debounced save
  await page.reload();
  await waitReady(page);
  expect(trim(await editorText(page))).toBe(trim(starter));
});
