// A reload in the middle of grading resumes the event stream: the page comes back on
// /exercises/<id>?submission=<sid>, opens the stream again, shows the state and the log
// (the lines from before the reload and after), and the result when it comes.
import net from 'node:net';
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

// A network drop in the middle of grading: the page goes through a small TCP relay (in
// this test) that is cut after the first log lines. EventSource reconnects by itself with
// Last-Event-ID; the page must show the rest of the log once (no line twice) and the result.
test('network drop while grading: the stream reconnects with Last-Event-ID', async ({ page }) => {
  const upstream = new URL(process.env.GAUNTLET_URL);
  const sockets = new Set();
  const relay = net.createServer((client) => {
    const server = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${relay.address().port}`;
  try {
    const streams = [];
    page.on('request', async (r) => {
      if (r.url().includes('/events')) {
        const i = streams.push({ url: r.url().replace(base, '') }) - 1;
        streams[i].lastEventId = (await r.allHeaders())['last-event-id'] ?? null;
      }
    });
    await page.goto(`${base}/exercises/reverse-words`);
    await waitReady(page);
    await setDisplayName(page, uniqueName('drop'));
    await setEditorText(page, SLOW);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    const log = page.getByRole('region', { name: 'Live log' }).locator('pre');
    await expect(log).toContainText('reverses two words', { timeout: 30_000 });
    // The drop: every connection through the relay is cut.
    for (const s of sockets) s.destroy();
    await expect(gradingStatus(page)).toHaveText('Finished', { timeout: 60_000 });
    await expect(scoreText(page)).toHaveText('Score: 100');
    const text = await log.textContent();
    for (const line of ['[1/11]', '[11/11]']) {
      expect(text.split(line).length - 1, `copies of the log line ${line}`).toBe(1);
    }
    console.log(`network drop: event stream requests' Last-Event-ID: ${JSON.stringify(streams)}`);
    // The stream was opened again, and (unless the page fell back to polling, which the
    // contract allows only when the stream errors out for good) with Last-Event-ID.
    expect(streams.length).toBeGreaterThan(1);
    expect(streams.slice(1).some((s) => s.lastEventId !== null || /[?&](after|last_event_id)=/.test(s.url))).toBe(true);
  } finally {
    for (const s of sockets) s.destroy();
    relay.close();
  }
});
