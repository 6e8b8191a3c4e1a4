// pkijs baseline for bench/crl.mjs: CertificateRevocationList.fromBER with asn1js's default limits.
import { readFileSync } from 'node:fs';
import * as pkijs from 'pkijs';

const der = readFileSync(process.argv[2]);
const t0 = performance.now();
const crl = pkijs.CertificateRevocationList.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength));
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, entries: crl.revokedCertificates?.length ?? 0 }));
