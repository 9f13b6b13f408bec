/**
 * What a browser gets for a page that is off (the BullMQ dashboard before credentials are set):
 * a page that says how to turn it on and leads back to the status page, where a raw JSON 404 was
 * a dead end for the operator who followed the status page's link. Scripts still get the JSON.
 */
export function disabledPage(message: string): string {
  const escaped = message.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>quantum-gates: page disabled</title>',
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
    '<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">',
    '<h1>Not enabled</h1>',
    `<p data-testid="disabled-message">${escaped}</p>`,
    '<p>Set them in the env file the gates read (<code>/etc/quantum/quantum-gates.env</code> on a server, ' +
      'or the shell that runs <code>npm start</code>) and restart the gates (docs/operations.md §2).</p>',
    '<p><a href="/">Gates status</a></p>',
    '</body></html>',
    '',
  ].join('\n');
}

/** Whether the request is a browser's navigation (it asks for HTML), not a script's. */
export function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').includes('text/html');
}
