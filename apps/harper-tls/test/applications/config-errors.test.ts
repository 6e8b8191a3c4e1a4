import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runToEnd, tempRoot } from '../helpers/run.js';

/** A module that cannot serve is found at start: exit 1 with the entry's key, file and line (SPEC.md section 6). */
describe('applications: start refuses a module it cannot use', () => {
  const { root, cleanup } = tempRoot();
  afterAll(cleanup);

  // Each module its own file: Node caches an imported URL for the life of the process.
  async function startWith(moduleText: string | undefined, entry: string, file = 'm.mjs') {
    if (moduleText !== undefined) writeFileSync(join(root, file), moduleText);
    const port = await freePort();
    writeFileSync(join(root, 'harperdb-config.yaml'), `http:\n  port: ${port}\n  securePort: null\noperationsApi:\n  network:\n    port: null\n    securePort: null\nlogging:\n  stdStreams: false\napplications:\n${entry}`);
    return runToEnd(['start', '--root', root]);
  }

  it('no default or fetch export', async () => {
    const r = await startWith('export const x = 1;\n', '  - path: /m\n    module: m.mjs\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/harperdb-config\.yaml:12:\d+ applications\[0\]\.module = "m\.mjs": the module .*m\.mjs exports neither a default request listener/);
  });

  it('a module that throws while loading', async () => {
    const r = await startWith('throw new Error("top-level failure");\n', '  - path: /m\n    module: t.mjs\n', 't.mjs');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/applications\[0\]\.module.*failed to load: top-level failure/);
  });

  it('a package that is not installed', async () => {
    const r = await startWith(undefined, '  - path: /m\n    module: "@acme/not-installed"\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/applications\[0\]\.module.*"@acme\/not-installed" is not installed/);
  });

  it('a missing file, two entries on one path: caught by the configuration check', async () => {
    const r = await startWith(undefined, '  - path: /m\n    module: nope.mjs\n  - path: /u\n    upstream: http://127.0.0.1:1\n  - path: /u/\n    upstream: http://127.0.0.1:2\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/applications\[0\]\.module = "nope\.mjs": the module file .* does not exist/);
    expect(r.stderr).toMatch(/applications\[2\]\.path = "\/u\/": the same path as applications\[1\]\.path/);
  });
});
