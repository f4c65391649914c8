// Keyboard first: Tab reaches the editor; Escape then Tab leaves it (CodeMirror's
// documented way out), and focus is visible on the controls.
import { test, expect, waitReady, editor } from '../lib/gauntlet.js';

const inEditor = (page) => page.evaluate(() => !!document.activeElement?.closest('.cm-editor'));

test('keyboard: Tab reaches the editor, Escape then Tab leaves it', async ({ page }) => {
  // A fresh load: keyboard focus starts at the top of the document.
  await page.goto('/exercises/reverse-words');
  await waitReady(page);
  let reached = false;
  for (let i = 0; i < 60 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await inEditor(page);
  }
  expect(reached, 'Tab never reached the editor').toBe(true);
  await expect(editor(page)).toBeFocused();

  // Typing goes into the editor, and Tab alone does not trap focus forever: Escape, Tab.
  await page.keyboard.press('End');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  expect(await inEditor(page), 'focus is still in the editor after Escape, Tab').toBe(false);
  const where = await page.evaluate(() => {
    const el = document.activeElement;
    return el && el !== document.body ? `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)}` : null;
  });
  expect(where, 'focus went nowhere').not.toBeNull();

  // The control that has focus shows it (an outline or a box shadow from :focus-visible).
  const ring = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, shadow: s.boxShadow !== 'none' };
  });
  expect(ring.outline || ring.shadow, `no visible focus on ${where}`).toBe(true);

  // Shift+Tab from there goes back into the editor, and out again the same way.
  await page.keyboard.press('Shift+Tab');
  expect(await inEditor(page)).toBe(true);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Shift+Tab');
  expect(await inEditor(page)).toBe(false);
});
