// Playwright drives Debian's Chromium (/usr/bin/chromium): Playwright cannot download its
// own browsers here, and `playwright install` is never run. run.sh starts the servers
// and sets GAUNTLET_URL (and GAUNTLET_RL_URL, GAUNTLET_DATA_DIR_MAIN, GAUNTLET_REPO).
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './lib/chromium.js';

if (!process.env.GAUNTLET_URL) {
  throw new Error('GAUNTLET_URL is not set: run the tests with tests/e2e/run.sh, which starts gauntlet serve');
}

export default defineConfig({
  testDir: './specs',
  fullyParallel: true,
  workers: Number(process.env.E2E_WORKERS || 2),
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list', { printSteps: false }]],
  outputDir: './test-results',
  use: {
    baseURL: process.env.GAUNTLET_URL,
    headless: true,
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    },
  },
});
