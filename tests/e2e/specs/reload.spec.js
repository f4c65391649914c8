// A reload in the middle of grading resumes the event stream: the page comes back on
// /exercises/<id>?submission=<sid>, opens the stream again, shows the state and the log
// (the lines from before the reload and after), and the result when it comes.
import {
  test, expect, openExercise, setEditorText, setDisplayName, uniqueName, gradingStatus,
  waitReady, scoreText, api,
} from '../lib/gauntlet.js';

// Right, but slow: each of the 11 tests waits 0.6 s, and the runner prints one progress
// line per test, so grading runs for several seconds with the log growing.
const SLOW = `import time


def reverse_words(sentence):
    time.sleep(0.6)
    return " ".join(reversed(sentence.split()))
`;

test('reload while grading resumes the stream and shows the result', async ({ page }) => {
  await openExercise(page, 'Reverse the words of a sentence');
  await setDisplayName(page, uniqueName('reload'));
  await setEditorText(page, SLOW);

  const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const { id } = await (await posted).json();
  await expect(page).toHaveURL(new RegExp(`/exercises/reverse-words\\?submission=${id}$`));

  const log = page.getByRole('region', { name: 'Live log' }).locator('pre');
  await expect(gradingStatus(page)).toHaveText('Running', { timeout: 30_000 });
  await expect(log).toContainText('reverses two words', { timeout: 30_000 });
  const before = await log.textContent();
  const detail = await api(page, `/api/v1/submissions/${id}`);
  expect(detail.state, 'grading must still be under way when the page reloads').not.toBe('finished');

  const stream = page.waitForRequest((r) => r.url().includes(`/api/v1/submissions/${id}/events`));
  await page.reload();
  await waitReady(page);
  await stream;
  await expect(page).toHaveURL(new RegExp(`\\?submission=${id}$`));
  // Still grading after the reload: the state is shown live, not only the end.
  await expect(gradingStatus(page)).toHaveText(/Queued|Running|Finished/);
  const stateAfterReload = await gradingStatus(page).textContent();

  await expect(gradingStatus(page)).toHaveText('Finished', { timeout: 60_000 });
  await expect(scoreText(page)).toHaveText('Score: 100');
  // The log holds what came before the reload and what came after it.
  await expect(log).toContainText('reverses two words');
  await expect(log).toContainText('handles words that are not ASCII');
  const after = await log.textContent();
  expect(after.length).toBeGreaterThan(before.length);
  console.log(`reload: state right after the reload was "${stateAfterReload}"; log ${before.length} -> ${after.length} chars`);
});
