import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bitString, enumerated, explicit, generalizedTime, oid, octets, seq, tlv } from './der/write.js';
import { children, content, oidText, read, whole, type Element } from './der/read.js';
import { createSigner, type Signer } from './signer.js';
import type { KeyAndCert } from './certificate.js';
import { REVOCATION_REASONS, type RevocationReason } from './crl.js';
import { invalid } from './errors.js';

/** What the responder says of one serial. */
export type CertStatus = { status: 'good' } | { status: 'revoked'; revokedAt: Date; reason?: RevocationReason } | { status: 'unknown' };

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
const HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
const MALFORMED = new Uint8Array(seq(enumerated(1)));
const INTERNAL_ERROR = new Uint8Array(seq(enumerated(2)));

interface ParsedRequest {
  certIds: Array<{ der: Uint8Array; hash?: string; nameHash: Uint8Array; keyHash: Uint8Array; serialHex: string }>;
  /** The nonce extension as received, echoed verbatim. */
  nonceExtension?: Uint8Array;
}

/**
 * OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *   requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 * CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *   issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }      -- RFC 6960 section 4.1.1
 */
function parseRequest(der: Uint8Array): ParsedRequest {
  const top = read(der, 0);
  if (top.end !== der.length || top.tag !== 0x30) throw new Error('not a single SEQUENCE');
  const tbs = children(der, top)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error('no tbsRequest');
  let list: Element | undefined;
  let nonceExtension: Uint8Array | undefined;
  for (const field of children(der, tbs)) {
    if (field.tag === 0x30) list = field;
    if (field.tag === 0xa2) {
      for (const ext of children(der, children(der, field)[0]!)) {
        const parts = children(der, ext);
        if (oidText(der, parts[0]!) === ID_PKIX_OCSP_NONCE) nonceExtension = whole(der, ext);
      }
    }
  }
  if (!list) throw new Error('no requestList');
  const certIds = children(der, list).map((req) => {
    const certId = children(der, req)[0]!;
    const [alg, nameHash, keyHash, serial] = children(der, certId);
    if (!alg || !nameHash || !keyHash || !serial || serial.tag !== 0x02) throw new Error('bad CertID');
    const hashOid = oidText(der, children(der, alg)[0]!);
    const s = Buffer.from(content(der, serial)).toString('hex').replace(/^0+(?=.)/, '');
    return { der: whole(der, certId), hash: HASHES[hashOid], nameHash: content(der, nameHash), keyHash: content(der, keyHash), serialHex: s };
  });
  if (certIds.length === 0 || certIds.length > 100) throw new Error('requestList must hold 1 to 100 requests');
  return { certIds, nonceExtension };
}

function certStatus(s: CertStatus): Buffer {
  if (s.status === 'good') return Buffer.from([0x80, 0x00]);
  if (s.status === 'unknown') return Buffer.from([0x82, 0x00]);
  const reason = s.reason !== undefined ? [explicit(0, enumerated(REVOCATION_REASONS[s.reason]))] : [];
  return tlv(0xa1, generalizedTime(s.revokedAt), ...reason); // revoked [1] IMPLICIT RevokedInfo
}

/**
 * An OCSP responder (RFC 6960) for one issuer: takes a DER OCSPRequest, returns a DER
 * OCSPResponse, signed by the issuer or by a delegated `signer` (a certificate with
 * id-kp-OCSPSigning issued by it, included in the response). CertIDs for another issuer get
 * `unknown`; a malformed request gets `malformedRequest`; the nonce extension is echoed.
 * @param opts.validityMs how long an answer is valid (nextUpdate - thisUpdate). Default 1 hour.
 */
export function createOcspResponder(opts: { issuer: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>; signer?: Pick<KeyAndCert, 'certificatePem' | 'privateKeyPem'>; lookup(serialHex: string): Promise<CertStatus> | CertStatus; now?: () => Date; validityMs?: number }) {
  const issuer: Signer = createSigner(opts.issuer);
  const responder: Signer = opts.signer ? createSigner(opts.signer) : issuer;
  if (opts.signer) {
    const s = new NodeX509(opts.signer.certificatePem);
    if (!s.checkIssued(issuer.cert) || !s.verify(issuer.cert.publicKey)) invalid('the delegated OCSP signer is not issued by the CA it answers for');
    if (!(s.keyUsage ?? []).includes('1.3.6.1.5.5.7.3.9')) invalid('the delegated OCSP signer lacks the OCSPSigning extended key usage');
  }
  const now = opts.now ?? (() => new Date());
  const validityMs = opts.validityMs ?? 3_600_000;
  const responderCerts = opts.signer ? [explicit(0, seq(Buffer.from(responder.cert.raw)))] : [];
  const hashesOf = (alg: string) => ({ name: createHash(alg).update(issuer.subjectDer).digest(), key: createHash(alg).update(issuer.publicKeyBits).digest() });

  return async function respond(requestDer: Uint8Array): Promise<Uint8Array> {
    let req: ParsedRequest;
    try {
      req = parseRequest(requestDer);
    } catch {
      return MALFORMED;
    }
    try {
      const at = now();
      const singles: Buffer[] = [];
      for (const id of req.certIds) {
        const expected = id.hash ? hashesOf(id.hash) : undefined;
        const ours = expected && Buffer.from(id.nameHash).equals(expected.name) && Buffer.from(id.keyHash).equals(expected.key);
        const status: CertStatus = ours ? await opts.lookup(id.serialHex) : { status: 'unknown' };
        // SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate GeneralizedTime, nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, ... }
        singles.push(seq(Buffer.from(id.der), certStatus(status), generalizedTime(at), explicit(0, generalizedTime(new Date(at.getTime() + validityMs)))));
      }
      const responseExtensions = req.nonceExtension ? [explicit(1, seq(Buffer.from(req.nonceExtension)))] : [];
      // ResponseData ::= SEQUENCE { version [0] DEFAULT v1, responderID byKey [2] EXPLICIT KeyHash, producedAt, responses, responseExtensions [1] EXPLICIT }
      const keyHash = createHash('sha1').update(responder.publicKeyBits).digest();
      const tbs = seq(explicit(2, octets(keyHash)), generalizedTime(at), seq(...singles), ...responseExtensions);
      const basic = seq(tbs, responder.algorithm, bitString(responder.sign(tbs)), ...responderCerts);
      // OCSPResponse ::= SEQUENCE { responseStatus successful(0), responseBytes [0] EXPLICIT SEQUENCE { responseType, response OCTET STRING } }
      return new Uint8Array(seq(enumerated(0), explicit(0, seq(oid(ID_PKIX_OCSP_BASIC), octets(basic)))));
    } catch {
      return INTERNAL_ERROR;
    }
  };
}

export type OcspResponder = ReturnType<typeof createOcspResponder>;

/** Requests larger than this are refused (a request for 100 certificates is ~5 KiB). */
export const MAX_OCSP_REQUEST_BYTES = 64 * 1024;

/**
 * A node:http handler for a responder: `POST` with `application/ocsp-request`, or
 * `GET /<url-encoded base64 request>` (RFC 6960 appendix A.1). Answers
 * `application/ocsp-response`; a request that is not one (garbage, or a GET path that is not
 * valid percent-encoding) gets `malformedRequest` (RFC 6960 section 2.3), as from the responder.
 */
export function createOcspHttpHandler(responder: OcspResponder) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let der: Uint8Array;
    if (req.method === 'GET') {
      const path = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': MALFORMED.byteLength });
        res.end(MALFORMED);
        return;
      }
      der = new Uint8Array(Buffer.from(decoded, 'base64'));
    } else if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_OCSP_REQUEST_BYTES) {
          res.writeHead(413).end();
          req.destroy();
          return;
        }
        chunks.push(c as Buffer);
      }
      der = new Uint8Array(Buffer.concat(chunks));
    } else {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    const body = await responder(der);
    res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.byteLength });
    res.end(body);
  };
}
