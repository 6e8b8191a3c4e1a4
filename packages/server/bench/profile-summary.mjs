// Summarises a .cpuprofile (node --cpu-prof): top functions by self time and by total time.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [, , file, nArg] = process.argv;
const N = Number(nArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|packages)\//, '$1/').replace('file://', '')}:${n.callFrame.lineNumber + 1}`;
const selfBy = new Map();
const totalBy = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(byId.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    totalBy.set(k, (totalBy.get(k) ?? 0) + t);
  }
}
const pct = (t) => ((100 * t) / total).toFixed(1).padStart(5) + '%';
const idle = [...selfBy].filter(([k]) => /^\((idle|program|garbage collector)\)/.test(k));
console.log(`total ${(total / 1000).toFixed(0)} ms sampled; ${idle.map(([k, t]) => `${k.split(' ')[0]} ${pct(t)}`).join(', ')}`);
console.log('\nself time:');
for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(pct(t), k);
console.log('\ntotal time (inclusive):');
for (const [k, t] of [...totalBy].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(pct(t), k);
