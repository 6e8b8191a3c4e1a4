import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

/** The package folder: a child process runs there, and its script's imports resolve from there. */
export const PACKAGE = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A child process's script (TypeScript importing `./src/...`), bundled from the package source
 * so a test needs no build; lmdb and pg stay external (native module, and the one the test uses).
 * Run it with `node --input-type=module -e <script>` and `cwd: PACKAGE`.
 */
export async function childScript(contents: string, sourcefile: string): Promise<string> {
  const out = await build({
    stdin: { contents, resolveDir: PACKAGE, loader: 'ts', sourcefile },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@harper-tls/source'],
    external: ['lmdb', 'pg'],
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}
