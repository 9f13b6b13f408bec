import type { FastifyRequest } from 'fastify';

/**
 * Whether a browser sent this request from another site. A page anywhere on the web can POST a
 * form to a loopback server (no preflight for a simple request), so state-changing routes meant
 * for operators refuse what the browser itself marks as cross-site (`Sec-Fetch-Site`), or what
 * carries an `Origin` other than the server's own. Tools such as curl send neither and pass.
 */
export function isCrossSite(request: FastifyRequest): boolean {
  const fetchSite = headerOf(request, 'sec-fetch-site');
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return true;
  const origin = headerOf(request, 'origin');
  if (origin === undefined) return false;
  if (origin === 'null') return true; // sandboxed frames, file:// pages, privacy redirects
  try {
    // Both through URL, so a default port (":80") compares equal to none.
    return new URL(origin).host !== new URL(`${new URL(origin).protocol}//${headerOf(request, 'host') ?? ''}`).host;
  } catch {
    return true;
  }
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
