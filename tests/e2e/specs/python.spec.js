// A python exercise solved wrong, then right: the score changes, the per-test results
// show the first failure open, the history lists both, the list shows the best score.
import {
  test, expect, openExercise, setEditorText, submitAndWait, readSolution, setDisplayName,
  uniqueName, editor, editorText, gradingStatus, api,
} from '../lib/gauntlet.js';

const TITLE = 'Reverse the words of a sentence';

/** The row of the exercise list that holds the exercise's link. */
function listRow(page, title) {
  const link = page.getByRole('link', { name: title, exact: true });
  return page.getByRole('listitem').or(page.getByRole('row')).filter({ has: link });
}

test('python: wrong, then right; the score changes from below 100 to 100', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Exercises' })).toBeVisible();
  await expect(listRow(page, TITLE)).toContainText('Not attempted');
  await expect(listRow(page, TITLE)).toContainText(/python/i);

  await openExercise(page, TITLE);
  await expect(page).toHaveURL(/\/exercises\/reverse-words$/);
  // The statement region; when the package has a statement.md, its text is there.
  const statement = page.getByRole('region', { name: 'Statement' });
  await expect(statement).toBeVisible();
  const detail = await api(page, '/api/v1/exercises/reverse-words');
  if (detail.statement) {
    // The start of its first paragraph (the page may drop a leading title that repeats
    // the h1).
    const text = detail.statement.html.match(/<p>\s*([^<>&]{8,}?)\s*</)?.[1] ?? '';
    expect(text, 'a paragraph of plain text in the statement').not.toBe('');
    await expect(statement).toContainText(text.slice(0, 30));
  } else {
    console.warn('reverse-words has no statement (GET /api/v1/exercises/reverse-words: statement null)');
  }
  await expect(page.getByRole('tablist', { name: 'Files' })).toBeVisible();
  await expect(page.getByRole('tab', { name: 'words.py' })).toBeVisible();
  // The contract: the editor is the only textbox, named after its file.
  await expect(editor(page)).toHaveCount(1);
  await expect(editor(page)).toHaveAccessibleName('Code editor: words.py');
  await setDisplayName(page, uniqueName('py'));

  // Wrong: words in the right order, but runs of whitespace survive.
  await setEditorText(page, 'def reverse_words(sentence):\n    return " ".join(reversed(sentence.split(" ")))\n');
  const wrong = await submitAndWait(page);
  expect(wrong.score).toBeLessThan(100);
  await expect(page.getByText(/^Failed$/).first()).toBeVisible();
  const tests = page.getByRole('list', { name: 'Tests' });
  await expect(tests).toBeVisible();
  // The tests in their order (first: "reverses two words", as tests/run.py declares them).
  await expect(tests.getByRole('listitem').first()).toContainText('reverses two words');
  const failures = tests.locator('details');
  expect(await failures.count()).toBeGreaterThan(0);
  await expect(failures.first()).toHaveAttribute('open', '');
  await expect(failures.first()).toContainText(/expected/i);
  for (const later of (await failures.all()).slice(1)) {
    await expect(later).not.toHaveAttribute('open', '');
  }
  // The first failing test is the first whose API status is not "pass".
  const firstDetail = await api(page, `/api/v1/submissions/${wrong.id}`);
  const firstFailing = firstDetail.result.tests.find((t) => t.status !== 'pass');
  await expect(failures.first()).toContainText(firstFailing.name);

  // Right: the reference solution.
  await setEditorText(page, readSolution('reverse-words', 'words.py'));
  const right = await submitAndWait(page);
  expect(right.score).toBe(100);
  await expect(page.getByText('Score: 100', { exact: true })).toBeVisible();
  await expect(page.getByText(`Score: ${wrong.score}`, { exact: true })).toHaveCount(0);
  await expect(page.getByText(/^Passed$/).first()).toBeVisible();
  await expect(gradingStatus(page)).toHaveText('Finished');
  // The contract's markers, which bench/web/latency.mjs reads.
  const markers = await page.evaluate(() => ({
    interactive: performance.getEntriesByName('gauntlet:interactive', 'mark').length,
    result: performance.getEntriesByName('gauntlet:result', 'mark').length,
    renderedAt: Number(document.querySelector('[data-result-rendered-at]')?.getAttribute('data-result-rendered-at')),
    now: Date.now(),
  }));
  expect(markers.interactive).toBeGreaterThan(0);
  expect(markers.result).toBeGreaterThan(0);
  expect(markers.now - markers.renderedAt).toBeGreaterThanOrEqual(-50);
  expect(markers.now - markers.renderedAt).toBeLessThan(60_000);

  // The history: both, newest first, each a link to its result.
  const history = page.getByRole('region', { name: 'Your submissions' });
  const links = history.getByRole('link');
  await expect(links).toHaveCount(2);
  await expect(links.nth(0)).toHaveAttribute('href', `/submissions/${right.id}`);
  await expect(links.nth(1)).toHaveAttribute('href', `/submissions/${wrong.id}`);

  // The older one's page: its own h1, a link back, the old score.
  await links.nth(1).click();
  await expect(page).toHaveURL(new RegExp(`/submissions/${wrong.id}$`));
  await expect(page.getByRole('heading', { level: 1, name: /^Submission / })).toBeVisible();
  await expect(page.getByText(`Score: ${wrong.score}`, { exact: true })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: TITLE })).toBeVisible();

  // The list shows the best score so far.
  await page.getByRole('navigation').getByRole('link', { name: 'Exercises' }).click();
  await expect(listRow(page, TITLE)).toContainText('Best score: 100');
  const session = await api(page, '/api/v1/session');
  expect(session.best_scores['reverse-words']).toBe(100);
});

test('python: a file over its size limit is refused with a message naming the file', async ({ page }) => {
  await openExercise(page, TITLE);
  await setDisplayName(page, uniqueName('big'));
  const starter = await api(page, '/api/v1/exercises/reverse-words');
  const max = starter.starter_files.find((f) => f.path === 'words.py').max_bytes;
  await setEditorText(page, `# ${'x'.repeat(max + 10)}\n`);
  // The page may check the size itself (no request), or pass the server's 400 on; either
  // way an alert names the file. The server's own answer is checked too.
  let response = null;
  const onResponse = (r) => {
    if (r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST') response = r;
  };
  page.on('response', onResponse);
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'words.py' });
  await expect(alert).toBeVisible();
  await expect(page.getByText(/^(Queued|Running)$/)).toHaveCount(0);
  page.off('response', onResponse);
  const server = await page.evaluate(async (content) => {
    const session = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/submissions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
      body: JSON.stringify({ exercise: 'reverse-words', files: { 'words.py': content }, display_name: 'big-file' }),
    });
    return { status: r.status, body: await r.json() };
  }, await editorText(page));
  expect(server.status).toBe(400);
  expect(server.body.error.code).toBe('invalid_submission');
  expect(server.body.error.message).toContain('words.py');
  if (response) {
    // The page sent it: the server's message, verbatim.
    expect(response.status()).toBe(400);
    await expect(alert).toContainText((await response.json()).error.message);
  }
  console.log(`size limit: page says "${(await alert.textContent()).trim()}"; server says "${server.body.error.message}"`);
});
