/**
 * A log problem (disk full, folder removed) is reported on stderr once per kind, not once per
 * line: the log cannot carry news about itself, and the server keeps serving (SPEC.md section 11).
 */
export function reportOnce(write: (text: string) => void = (t) => process.stderr.write(t)): { report(kind: string, text: string): void; clear(kind: string): void } {
  const reported = new Set<string>();
  return {
    report(kind, text) {
      if (reported.has(kind)) return;
      reported.add(kind);
      try {
        write(`harper-tls: ${text}\n`);
      } catch {
        // stderr gone too: nothing left to tell.
      }
    },
    clear(kind) {
      reported.delete(kind);
    },
  };
}
