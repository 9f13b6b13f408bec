import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * GET `url` with node:http(s) rather than fetch: Node 20's fetch loads undici on its first call,
 * ~0.1 s of CPU, half of what `quantum-gates status` otherwise costs. Rejects with the socket's
 * error (its `code`: ECONNREFUSED...) or, after `timeoutMs`, one whose code is ETIMEDOUT.
 */
export function httpGet(url: string, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolvePromise, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { headers, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => resolvePromise({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.once('error', reject);
    });
    request.once('timeout', () => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    request.once('error', reject);
    request.end();
  });
}
