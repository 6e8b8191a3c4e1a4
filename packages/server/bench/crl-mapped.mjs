// A big CRL read from the server's lmdb store, before and after the stored index (SPEC.md section
// 8, memory): load time of a worker taking the CRL from the store, and lookup cost, in one run.
//   before: `get` (a private copy of the value) + parseCrlAsync (index rebuilt in the heap), the
//           legacy value (fetch time + DER), as every worker did;
//   mapped, rebuilt: `getMapped` (a view of lmdb's map) of a legacy value + the index rebuilt;
//   after:  `getMapped` + parseStoredCrl of the value with its index (adopted, nothing copied).
// Lookups: the same serials (present and absent) in the heap index (parseCrl of a heap DER) and
// in the adopted index over the map, interleaved.
// Usage (after pnpm build; the CRL of bench/threads-memory.mjs, or CRL=path.der):
//   node packages/server/bench/crl-mapped.mjs
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCrl, parseCrlAsync, encodeStoredCrl, parseStoredCrl } from '@harper-tls/revocation';
import { lmdbBytesStore, openLmdbDatabases } from '@harper-tls/store';
import { out, load, machine } from './lib.mjs';

const CRL = process.env.CRL ?? join(out, 'pki-threads-mem-big', 'crl.der');
if (!existsSync(CRL)) throw new Error(`${CRL} is missing: run ENTRIES=1000000 node packages/server/bench/threads-memory.mjs first (it makes it), or set CRL`);
const RUNS = Number(process.env.RUNS ?? 5);
const LOOKUPS = Number(process.env.LOOKUPS ?? 200_000);
const started = new Date();
const loadBefore = load();
const der = new Uint8Array(readFileSync(CRL));
const heapCrl = parseCrl(der);
const n = heapCrl.size;
// The serials of threads-memory.mjs's CRL: 0x1000000 + i, i < n (openssl writes them as given).
const serial = (i) => {
  let s = (0x1000000 + i).toString(16);
  if (s.length % 2) s = '0' + s;
  return new Uint8Array(Buffer.from(s, 'hex'));
};
const ENTRIES = Number(process.env.ENTRIES ?? 1_000_000);
const present = Array.from({ length: LOOKUPS }, (_, k) => serial((k * 7919) % Math.min(n, ENTRIES)));
const absent = Array.from({ length: LOOKUPS }, (_, k) => serial(Math.max(n, ENTRIES) + 10 + k));
const issuer = heapCrl.issuerDer;
if (!heapCrl.lookup(present[0], issuer) || heapCrl.lookup(absent[0], issuer)) throw new Error('not the CRL of threads-memory.mjs (serials 0x1000000 + i)');

const dir = mkdtempSync(join(tmpdir(), 'crl-mapped-'));
const db = openLmdbDatabases(dir, (m) => new Error(m));
const store = lmdbBytesStore(db.revocation, (w, c) => c);
const legacy = new Uint8Array(8 + der.length);
new DataView(legacy.buffer).setFloat64(0, Date.now(), false);
legacy.set(der, 8);
await store.put('legacy', legacy);
await store.put('indexed', encodeStoredCrl(Date.now(), heapCrl));
const indexedBytes = (await store.getMapped('indexed')).bytes.length;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loads = { before: [], rebuilt: [], after: [] };
let mappedCrl;
let held;
for (let r = 0; r < RUNS; r++) {
  let t = performance.now();
  const v = await store.get('legacy');
  const c1 = await parseCrlAsync(v.subarray(8));
  loads.before.push(performance.now() - t);
  if (c1.size !== n) throw new Error('before: wrong size');

  t = performance.now();
  const m2 = await store.getMapped('legacy');
  const s2 = await parseStoredCrl(m2.bytes);
  loads.rebuilt.push(performance.now() - t);
  if (!m2.mapped || s2.index !== 'none' || s2.crl.size !== n) throw new Error('mapped, rebuilt: not what was expected');
  m2.release();

  t = performance.now();
  const m3 = await store.getMapped('indexed');
  const s3 = await parseStoredCrl(m3.bytes);
  loads.after.push(performance.now() - t);
  if (!m3.mapped || s3.index !== 'adopted' || s3.crl.size !== n) throw new Error(`after: ${s3.index} ${s3.why ?? ''}`);
  held?.release();
  held = m3;
  mappedCrl = s3.crl;
}

function lookupNs(crl, serials, expectFound) {
  let found = 0;
  const t = process.hrtime.bigint();
  for (const s of serials) if (crl.lookup(s, issuer)) found++;
  const ns = Number(process.hrtime.bigint() - t) / serials.length;
  if (found !== (expectFound ? serials.length : 0)) throw new Error(`lookup found ${found} of ${serials.length}`);
  return ns;
}
const lookups = { heapHit: [], mappedHit: [], heapMiss: [], mappedMiss: [] };
for (let r = 0; r < RUNS; r++) {
  lookups.heapHit.push(lookupNs(heapCrl, present, true));
  lookups.mappedHit.push(lookupNs(mappedCrl, present, true));
  lookups.heapMiss.push(lookupNs(heapCrl, absent, false));
  lookups.mappedMiss.push(lookupNs(mappedCrl, absent, false));
}
held.release();
await db.close();
rmSync(dir, { recursive: true, force: true });

const f = (x) => x.toFixed(0);
const md = [
  `Command: \`node packages/server/bench/crl-mapped.mjs\` (CRL ${CRL.replace(/.*bench-out/, 'bench-out')})`,
  `Started ${started.toISOString()}; ${machine()}; load average before ${loadBefore}, after ${load()}. ${n.toLocaleString('en')} entries, DER ${(der.length / 1048576).toFixed(1)} MiB, stored value with index ${(indexedBytes / 1048576).toFixed(1)} MiB; medians of ${RUNS} runs, ${LOOKUPS.toLocaleString('en')} lookups a run.`,
  '',
  '| a worker takes the CRL from the store | ms (median) | runs ms |',
  '|---|---|---|',
  `| before: get (copy) + index rebuilt | ${f(median(loads.before))} | ${loads.before.map(f).join(', ')} |`,
  `| getMapped + index rebuilt (legacy value) | ${f(median(loads.rebuilt))} | ${loads.rebuilt.map(f).join(', ')} |`,
  `| **after: getMapped + stored index adopted** | **${f(median(loads.after))}** | ${loads.after.map(f).join(', ')} |`,
  '',
  '| lookup | heap index ns | mapped index ns | mapped / heap |',
  '|---|---|---|---|',
  `| revoked serial (hit) | ${f(median(lookups.heapHit))} | ${f(median(lookups.mappedHit))} | ${(median(lookups.mappedHit) / median(lookups.heapHit)).toFixed(2)} |`,
  `| absent serial (miss) | ${f(median(lookups.heapMiss))} | ${f(median(lookups.mappedMiss))} | ${(median(lookups.mappedMiss) / median(lookups.heapMiss)).toFixed(2)} |`,
  '',
];
writeFileSync(join(out, 'crl-mapped.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
