/**
 * Removes the credentials of URLs in a text: `http://user:password@host/` -> `http://host/`.
 * Used on every URL and message that reaches a verdict or a log line.
 */
export function redactUrl(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi, '$1');
}
