import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './cli.ts';

/**
 * Debian's Chromium driven by playwright-core, for the web UI's tests and
 * benchmark. Every page records its console errors, uncaught exceptions and
 * failed requests, so that a test can assert there were none.
 */
export const CHROMIUM = process.env.DVX_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  page: Page;
  /** console errors, page errors and CSP violations since the last take() */
  problems: string[];
  take(): string[];
}

export async function watchedPage(browser: Browser, opts: { width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return {
    page,
    problems,
    take() {
      return problems.splice(0, problems.length);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `web-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
