import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway PKI made with the openssl CLI, so tests do not trust our own generator. */
export interface TestPki {
  dir: string;
  file(name: string): string;
  read(name: string): string;
  /** Makes a CA named `name` (files name.pem, name.key). */
  ca(name: string, cn?: string): void;
  /** Makes a leaf signed by `issuer` (files name.pem, name.key). */
  leaf(name: string, issuer: string, opts: { cn: string; sans?: string; eku?: 'serverAuth' | 'clientAuth'; days?: number; startDate?: string }): void;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'harper-tls-pki-'));
  const file = (name: string) => join(dir, name);
  return {
    dir,
    file,
    read: (name) => readFileSync(file(name), 'utf8'),
    ca(name, cn = `${name} Test CA`) {
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    },
    leaf(name, issuer, opts) {
      const ext = [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${opts.eku ?? 'serverAuth'}`,
        ...(opts.sans ? [`subjectAltName=${opts.sans}`] : []),
      ].join('\n');
      writeFileSync(file(`${name}.ext`), ext);
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${opts.cn}`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(opts.days ?? 30), '-extfile', `${name}.ext`], dir);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
