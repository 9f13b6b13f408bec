import type { Page } from 'playwright-core';

/**
 * A screenshot of one element of the status page, which draws its sections anew at every poll
 * (2 s). An element screenshot holds the node it found, and a node replaced meanwhile has no box
 * ("Node is either not visible or not an HTMLElement", or "not attached to the DOM"), which a
 * loaded CI machine met at every try. So the element's box is measured on the page as it stands,
 * in one evaluation, and the page is taken within that box: whatever node is drawn there.
 */
export async function screenshotOfLive(page: Page, selector: string, options: { path: string; scale?: 'css' | 'device' }): Promise<void> {
  // A string, run in the page: the tests are compiled without the DOM's types.
  const clip = (await page.evaluate(`(() => {
    const element = document.querySelector(${JSON.stringify(selector)});
    if (element === null) return null;
    const box = element.getBoundingClientRect();
    return { x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height };
  })()`)) as { x: number; y: number; width: number; height: number } | null;
  if (clip === null || clip.width === 0 || clip.height === 0) throw new Error(`no ${selector} on the page to take`);
  await page.screenshot({ ...options, clip, fullPage: true });
}
