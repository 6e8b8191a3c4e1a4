// publint (strict) and @arethetypeswrong/cli (ESM-only profile) on the tarball of every
// workspace package, plus the metadata this project requires of each: license, repository,
// engines, files, sideEffects, a published exports map that names only shipped files, and a
// README whose first paragraph says what the package is for. Exit 1 on any problem.
// Usage: pnpm lint:packages   (builds first)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, ROOT } from './pack-all.mjs';

const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
const dest = mkdtempSync(join(tmpdir(), 'harper-tls-lint-'));
const problems = [];

function run(label, cmd, args) {
  try {
    return { ok: true, out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    problems.push(`${label}:\n${(err.stdout ?? '') + (err.stderr ?? '')}`.trim());
    return { ok: false };
  }
}

function targets(exportsMap) {
  const out = [];
  const walk = (v) => (typeof v === 'string' ? out.push(v) : v && typeof v === 'object' ? Object.values(v).forEach(walk) : undefined);
  walk(exportsMap);
  return out;
}

try {
  for (const pkg of packAll(dest)) {
    const { name, manifest, tarball } = pkg;
    const where = `${name} (${pkg.dir.slice(ROOT.length + 1)}/package.json)`;
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    const packed = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    for (const t of targets(packed.exports)) if (!listing.includes(t.replace(/^\.\//, ''))) problems.push(`${where}: published exports name ${t}, which is not in the tarball`);
    if (JSON.stringify(packed.exports).includes('@harper-tls/source')) problems.push(`${where}: the published exports map keeps the @harper-tls/source condition (set publishConfig.exports)`);
    if (packed.license !== 'Apache-2.0') problems.push(`${where}: license must be "Apache-2.0", is ${JSON.stringify(packed.license)}`);
    if (packed.repository?.directory !== pkg.dir.slice(ROOT.length + 1)) problems.push(`${where}: repository.directory must be ${pkg.dir.slice(ROOT.length + 1)}`);
    if (!packed.engines?.node) problems.push(`${where}: engines.node is missing`);
    if (typeof packed.sideEffects !== 'boolean' && !Array.isArray(packed.sideEffects)) problems.push(`${where}: sideEffects is missing`);
    if (!Array.isArray(packed.files)) problems.push(`${where}: files is missing`);
    for (const [dep, range] of Object.entries(packed.dependencies ?? {})) if (/^\d/.test(range)) problems.push(`${where}: dependency ${dep} is pinned (${range}); use a caret range`);
    const readme = listing.includes('README.md') ? execFileSync('tar', ['xzOf', tarball, 'package/README.md'], { encoding: 'utf8' }) : '';
    const firstParagraph = readme.split('\n').slice(1).join('\n').trim().split(/\n\s*\n/)[0] ?? '';
    if (!readme.startsWith(`# ${name}\n`)) problems.push(`${where}: README.md must start with "# ${name}"`);
    if (firstParagraph.length < 40 || /^[#`|-]/.test(firstParagraph)) problems.push(`${where}: README.md's first paragraph must say what the package is for`);
    run(`publint ${name}`, bin('publint'), ['--strict', tarball]);
    run(`attw ${name}`, bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii']);
    console.log(`checked ${name}`);
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}
if (problems.length) {
  console.error(`\n${problems.length} problem(s):\n\n${problems.join('\n\n')}`);
  process.exit(1);
}
console.log('every package: publint, attw and metadata clean');
