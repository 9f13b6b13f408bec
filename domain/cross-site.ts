/** The part of a request the rule reads; a Fastify request and a gate's RouteRequest both have it. */
export interface RequestHeaders {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * Whether a browser sent this request from another site. A page anywhere on the web can POST a
 * form to a loopback server (no preflight for a simple request), so state-changing routes meant
 * for operators refuse what the browser itself marks as cross-site (`Sec-Fetch-Site`), or what
 * carries an `Origin` other than the server's own. Tools such as curl send neither and pass.
 */
export function isCrossSite(request: RequestHeaders): boolean {
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

function headerOf(request: RequestHeaders, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' || value === undefined ? value : value[0];
}
