// The other runtimes, solved from the exercises' reference solutions: a node exercise,
// a Solidity exercise (the hardhat runtime, several seconds), an archive upload.
import fs from 'node:fs';
import path from 'node:path';
import {
  test, expect, openExercise, setEditorText, submitAndWait, readSolution, setDisplayName,
  uniqueName, editor, makeZip, readZip, filesUnder, EXERCISES, api, waitResult,
} from '../lib/gauntlet.js';

test('node: run-length encoding, solved', async ({ page }) => {
  await openExercise(page, 'Run-length encoding, all or nothing');
  await expect(page.getByRole('tab', { name: 'rle.js' })).toBeVisible();
  await expect(editor(page)).toHaveAccessibleName('Code editor: rle.js');
  await setDisplayName(page, uniqueName('node'));
  await setEditorText(page, readSolution('run-length', 'rle.js'));
  const { score } = await submitAndWait(page);
  expect(score).toBe(100);
  await expect(page.getByText(/^Passed$/).first()).toBeVisible();
  // The live log carries node's spec reporter lines.
  await expect(page.getByRole('region', { name: 'Live log' })).toContainText(/\S/);
});

test('solidity: an ERC-20 with allowances, solved (hardhat)', async ({ page }) => {
  test.setTimeout(240_000);
  const id = 'erc20-allowances';
  // The toolchain may still be preparing on a new machine: wait until it is listed as
  // available (run.sh prepares it before serve starts, so this is normally at once).
  await expect
    .poll(
      async () => {
        const list = await api(page, '/api/v1/exercises');
        const ex = list.exercises.find((e) => e.id === id);
        return ex.available ? 'available' : `unavailable: ${ex.unavailable_reason}`;
      },
      { timeout: 120_000, intervals: [2000] },
    )
    .toBe('available');
  await openExercise(page, 'ERC-20 token: allowances and transferFrom');
  const file = 'contracts/AllowanceToken.sol';
  await expect(page.getByRole('tab', { name: file })).toBeVisible();
  await expect(editor(page)).toHaveAccessibleName(`Code editor: ${file}`);
  await setDisplayName(page, uniqueName('sol'));
  await setEditorText(page, readSolution(id, file));
  const { score } = await submitAndWait(page, { timeout: 180_000 });
  expect(score).toBe(100);
  await expect(page.getByText(/^Passed$/).first()).toBeVisible();
});

test('archive: a ZIP built from the solution folder is uploaded and scores 100', async ({ page }) => {
  const title = 'Ship a small Python package';
  await openExercise(page, title);
  // An archive exercise has a file input and no editor.
  const input = page.getByLabel('ZIP archive');
  await expect(input).toHaveAttribute('type', 'file');
  await expect(page.getByRole('textbox')).toHaveCount(0);
  await setDisplayName(page, uniqueName('zip'));

  const zip = makeZip(filesUnder(path.join(EXERCISES, 'mini-package', 'solution')));
  await input.setInputFiles({ name: 'attempt.zip', mimeType: 'application/zip', buffer: zip });
  const posted = page.waitForRequest((r) => r.url().endsWith('/api/v1/submissions') && r.method() === 'POST');
  const { score, id } = await submitAndWait(page);
  const request = await posted;
  expect(request.headers()['content-type']).toMatch(/^multipart\/form-data/);
  expect(score).toBe(100);
  const detail = await api(page, `/api/v1/submissions/${id}`);
  expect(detail.exercise).toBe('mini-package');
  expect(detail.result.outcome).toBe('passed');
});

test('archive: the starter files download as a ZIP the grader would take', async ({ page }) => {
  await openExercise(page, 'Ship a small Python package');
  const ex = await api(page, '/api/v1/exercises/mini-package');
  const downloaded = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download the starter files (ZIP)' }).click();
  const download = await downloaded;
  expect(download.suggestedFilename()).toBe('mini-package-starter.zip');
  const entries = readZip(fs.readFileSync(await download.path()));
  const want = Object.fromEntries(ex.starter_files.map((f) => [f.path, f.content]));
  expect(entries).toEqual(want);
  expect(Object.keys(entries).length).toBeGreaterThan(0);
});

test('archive: a ZIP with the files in the wrong place gets a message naming them', async ({ page }) => {
  await openExercise(page, 'Ship a small Python package');
  await setDisplayName(page, uniqueName('zipbad'));
  // The package's files at the archive's root instead of under textstats/.
  const files = filesUnder(path.join(EXERCISES, 'mini-package', 'solution', 'textstats'));
  await page.getByLabel('ZIP archive').setInputFiles({
    name: 'flat.zip', mimeType: 'application/zip', buffer: makeZip(files),
  });
  const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/submissions') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  const response = await posted;
  if (response.status() === 400) {
    // Refused at the door: the message, verbatim, in an alert, naming the files.
    const body = await response.json();
    expect(body.error.message).toContain('textstats/');
    await expect(page.getByRole('alert')).toContainText(body.error.message);
  } else {
    // Or accepted and graded: the learner-facing message is in the result.
    expect(response.status()).toBe(202);
    const { id } = await response.json();
    const { score } = await waitResult(page, id);
    expect(score).toBe(0);
    await expect(page.getByRole('main')).toContainText('textstats/');
  }
});
