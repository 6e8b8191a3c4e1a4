import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { TlsEntry } from '@harper-tls/config';

/**
 * Watches the directories of configured certificate files (not the files: an atomic replace
 * or a Kubernetes-style `..data` symlink swap gives the path a new inode, which a file watch
 * would miss) and calls `onChange` once a burst of events has settled for `debounceMs`.
 */
export function watchTlsFiles(entries: TlsEntry[], onChange: () => void, opts: { debounceMs?: number } = {}): { close(): void } {
  const dirs = new Set<string>();
  for (const e of entries) {
    for (const src of [e.certificate, e.privateKey, e.certificateAuthority]) {
      if (src?.kind === 'file') dirs.add(dirname(src.value));
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, opts.debounceMs ?? 250);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const dir of dirs) {
    try {
      const w = watch(dir, { persistent: false }, fire);
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // A directory that cannot be watched (gone, no permission) only loses hot reload.
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
