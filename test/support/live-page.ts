import type { Page } from 'playwright-core';

/**
 * A screenshot of one element of the status page, which draws its sections anew at every poll
 * (2 s): one replaced while it was being taken is taken again.
 */
export async function screenshotOfLive(page: Page, selector: string, options: { path: string; scale?: 'css' | 'device' }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.locator(selector).screenshot(options);
      return;
    } catch (error) {
      if (attempt === 3 || !String(error).includes('not attached to the DOM')) throw error;
    }
  }
}
