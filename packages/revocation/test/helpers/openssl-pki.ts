import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A directory of openssl-made keys and certificates (EC P-256, quick to make). */
export class OpensslPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'rev-pki-'));

  run(...args: string[]): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  pem(name: string): string {
    return readFileSync(this.path(`${name}.crt`), 'utf8');
  }

  der(name: string): Uint8Array {
    return new Uint8Array(readFileSync(this.path(name)));
  }

  write(name: string, text: string): string {
    writeFileSync(this.path(name), text);
    return this.path(name);
  }

  /** A self-signed CA `name` with subject `/CN=<cn>`. */
  ca(name: string, cn = `${name} CA`): void {
    this.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash');
    this.database(name);
  }

  /** The `openssl ca` database and config of CA `name` (its key and certificate already exist). */
  database(name: string): void {
    this.write(`${name}.idx`, '');
    this.write(`${name}.num`, '01\n');
    this.write(`${name}.cnf`, `[ca]\ndefault_ca=c\n[c]\ndatabase=${name}.idx\ncrlnumber=${name}.num\ndefault_md=sha256\ndefault_crl_days=7\ncertificate=${name}.crt\nprivate_key=${name}.key\ncrl_extensions=crl_ext\n[crl_ext]\nauthorityKeyIdentifier=keyid:always\n`);
  }

  /**
   * A certificate `name` issued by `issuer`, serial `serial` (hex), with optional CRL distribution
   * point, OCSP URL, CA flag or OCSP-signing EKU. Recorded as valid in the issuer's index.
   */
  issue(name: string, issuer: string, serial: string, opts: { cdp?: string; ocsp?: string; ca?: boolean; ocspSigning?: boolean; cn?: string } = {}): void {
    const ext = [
      opts.ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=CA:FALSE',
      opts.ca ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=critical,digitalSignature',
      ...(opts.ca ? ['subjectKeyIdentifier=hash'] : []),
      'authorityKeyIdentifier=keyid',
      ...(opts.ocspSigning ? ['extendedKeyUsage=OCSPSigning'] : opts.ca ? [] : ['extendedKeyUsage=clientAuth']),
      ...(opts.cdp ? [`crlDistributionPoints=URI:${opts.cdp}`] : []),
      ...(opts.ocsp ? [`authorityInfoAccess=OCSP;URI:${opts.ocsp}`] : []),
    ];
    this.write(`${name}.ext`, ext.join('\n') + '\n');
    this.run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${opts.cn ?? name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    this.run('x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', `0x${serial}`, '-days', '20', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  }

  /** Marks `name` (issued by `issuer`) revoked in the issuer's index. */
  revoke(name: string, issuer: string, reason = 'keyCompromise'): void {
    this.run('ca', '-config', `${issuer}.cnf`, '-revoke', `${name}.crt`, '-crl_reason', reason);
  }

  /** Adds `name` to the issuer's index as valid (for `openssl ocsp -index`). */
  record(name: string, issuer: string): void {
    this.run('ca', '-config', `${issuer}.cnf`, '-valid', `${name}.crt`);
  }

  /** The issuer's current CRL, DER. */
  crl(issuer: string, out = `${issuer}.crl`): Uint8Array {
    this.run('ca', '-config', `${issuer}.cnf`, '-gencrl', '-out', `${out}.pem`);
    this.run('crl', '-in', `${out}.pem`, '-outform', 'DER', '-out', out);
    return this.der(out);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
