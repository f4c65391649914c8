// The leaderboard updates: on the exercise page when the learner's result arrives (no
// reload), and on /leaderboard for another learner.
import {
  test, expect, openExercise, setEditorText, submitAndWait, readSolution, setDisplayName,
  uniqueName, waitReady,
} from '../lib/gauntlet.js';

const TITLE = 'The most frequent words of a text';
const ID = 'word-frequency';

function board(scope) {
  return scope.getByRole('table');
}

test('leaderboard: a new result appears on the exercise page and on /leaderboard', async ({ page, otherLearner }) => {
  const name = uniqueName('lb');
  await openExercise(page, TITLE);
  const region = page.getByRole('region', { name: 'Leaderboard' });
  await expect(region).toBeVisible();
  await expect(region.getByRole('row').filter({ hasText: name })).toHaveCount(0);

  await setDisplayName(page, name);
  await setEditorText(page, readSolution(ID, 'wordfreq.js'));
  const { score } = await submitAndWait(page);
  expect(score).toBe(100);
  // Refreshed when the result arrived, without a reload: a table Rank, Name, Score.
  for (const col of ['Rank', 'Name', 'Score']) {
    await expect(board(region).getByRole('columnheader', { name: col })).toBeVisible();
  }
  const row = board(region).getByRole('row').filter({ hasText: name });
  await expect(row).toHaveCount(1);
  await expect(row.getByRole('cell').last()).toHaveText('100');

  // Another learner sees it on /leaderboard.
  const other = await otherLearner.newPage();
  await other.goto('/');
  await other.getByRole('navigation').getByRole('link', { name: 'Leaderboard' }).click();
  await expect(other).toHaveURL(/\/leaderboard/);
  await expect(other.getByRole('heading', { level: 1, name: 'Leaderboard' })).toBeVisible();
  await waitReady(other);
  const select = other.getByLabel('Exercise');
  await select.selectOption(ID);
  const otherRow = board(other.getByRole('main')).getByRole('row').filter({ hasText: name });
  await expect(otherRow).toHaveCount(1);
  await expect(otherRow).toContainText('100');
});
