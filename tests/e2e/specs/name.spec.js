// Display names: a generated "learner-xxxxxx" at first, changeable through the name form
// (validated in the page), and a 409 when another browser already submitted with it.
import {
  test, expect, openExercise, setEditorText, submitAndWait, readSolution, setDisplayName,
  uniqueName, api, waitResult,
} from '../lib/gauntlet.js';

const TITLE = 'Reverse the words of a sentence';

test('display name: generated, changed, kept across a reload', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByText(/^Name: learner-[0-9a-z]{6}$/)).toBeVisible();
  // An invalid name is refused in the page and the form stays open.
  await page.getByRole('button', { name: 'Change name' }).click();
  const box = page.getByRole('textbox', { name: 'Display name' });
  await box.fill('-bad name-');
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(box).toBeVisible();
  await expect(page.getByText('Name: -bad name-', { exact: true })).toHaveCount(0);

  // A valid one is taken, shown in the header, and the form closes.
  const name = uniqueName('nm');
  await box.fill(name);
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText(`Name: ${name}`, { exact: true })).toBeVisible();
  await expect(box).toBeHidden();
  await page.reload();
  await expect(page.getByText(`Name: ${name}`, { exact: true })).toBeVisible();
});

test('display name: taken by another browser gives 409, said so, and the name form opens', async ({ page, otherLearner }) => {
  const name = uniqueName('taken');
  // The first learner submits with the name: it is theirs now.
  await openExercise(page, TITLE);
  await setDisplayName(page, name);
  await setEditorText(page, readSolution('reverse-words', 'words.py'));
  await submitAndWait(page);
  expect((await api(page, '/api/v1/session')).display_names).toContain(name);

  // A second learner (another browser context: its own session) picks the same name.
  const other = await otherLearner.newPage();
  await openExercise(other, TITLE);
  await setDisplayName(other, name);
  await setEditorText(other, readSolution('reverse-words', 'words.py'));
  const posted = other.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await other.getByRole('button', { name: 'Submit', exact: true }).click();
  const response = await posted;
  expect(response.status()).toBe(409);
  expect((await response.json()).error.code).toBe('display_name_taken');
  await expect(other.getByRole('alert')).toContainText(/taken|in use|another/i);
  await expect(other.getByRole('textbox', { name: 'Display name' })).toBeVisible();

  // With a name of their own, the second learner's submission goes through.
  const own = uniqueName('own');
  const box = other.getByRole('textbox', { name: 'Display name' });
  await box.fill(own);
  await other.getByRole('button', { name: 'Save name' }).click();
  await expect(other.getByText(`Name: ${own}`, { exact: true })).toBeVisible();
  const { score } = await submitAndWait(other);
  expect(score).toBe(100);
});

test('display name: a generated name someone else holds is replaced, and the submission goes through', async ({ page, otherLearner }) => {
  // The first learner keeps the name they were given and submits under it.
  await openExercise(page, TITLE);
  const given = (await page.getByText(/^Name: learner-/).textContent()).replace('Name: ', '');
  await setEditorText(page, readSolution('reverse-words', 'words.py'));
  await submitAndWait(page);

  // A second browser that happens to hold the same generated name (as if it had drawn
  // it) never chose it: it is not asked, it gets another name and its grade.
  const other = await otherLearner.newPage();
  await other.goto('/');
  await other.evaluate((n) => localStorage.setItem('gauntlet:display-name', n), given);
  await openExercise(other, TITLE);
  await expect(other.getByText(`Name: ${given}`, { exact: true })).toBeVisible();
  await setEditorText(other, readSolution('reverse-words', 'words.py'));
  const statuses = [];
  other.on('response', (r) => {
    if (r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST') statuses.push(r.status());
  });
  const accepted = other.waitForResponse(
    (r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST' && r.status() === 202,
  );
  await other.getByRole('button', { name: 'Submit', exact: true }).click();
  const { id } = await (await accepted).json();
  const { score } = await waitResult(other, id);
  expect(score).toBe(100);
  expect(statuses).toEqual([409, 202]);
  await expect(other.getByText(/^Name: learner-[0-9a-z]{6}$/)).toBeVisible();
  await expect(other.getByText(`Name: ${given}`, { exact: true })).toHaveCount(0);
  await expect(other.getByRole('textbox', { name: 'Display name' })).toBeHidden();
});
