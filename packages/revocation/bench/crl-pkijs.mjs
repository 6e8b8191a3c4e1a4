// pkijs baseline for bench/crl.mjs: argv = crl file, mode.
//   default: pkijs.CertificateRevocationList.fromBER (asn1js's default limits: 10,000 nodes, 16 MiB)
//   raised:  asn1js.fromBER with maxNodes 1e8 / maxContentLength 1 GiB, then new CertificateRevocationList({ schema })
// Prints one JSON line: time, entries, RSS added.
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const [file, mode = 'default'] = process.argv.slice(2);
const der = readFileSync(file);
const ab = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength);
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
let crl;
if (mode === 'raised') {
  const asn1 = asn1js.fromBER(ab, { maxNodes: 1e8, maxContentLength: 1 << 30 });
  if (asn1.offset === -1) throw new Error(`AsnError: ${asn1.result.error}`);
  crl = new pkijs.CertificateRevocationList({ schema: asn1.result });
} else {
  try {
    crl = pkijs.CertificateRevocationList.fromBER(ab);
  } catch (err) {
    // pkijs's message hides asn1js's reason; ask asn1js itself (same default limits).
    const why = asn1js.fromBER(ab).result.error;
    console.error(`${err.name}: ${err.message}${why ? ` (asn1js: ${why})` : ''}`);
    process.exit(1);
  }
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, entries: crl.revokedCertificates?.length ?? 0, rssAdded: process.memoryUsage().rss - rss0 }));
