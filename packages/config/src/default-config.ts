/**
 * The file written on first start. Every key is shown with its default; the ones that would
 * change behaviour if uncommented are commented out. `<ROOTPATH>` expands to the root directory.
 */
export const DEFAULT_CONFIG_YAML = `# harper-tls configuration (created on first start; harper-tls never rewrites it).
# Every key can also be set with an environment variable or --KEY VALUE on the command line:
# the key's path in upper case joined by "_", e.g. HTTP_SECUREPORT=9927 or --HTTP_SECUREPORT 9927.

http:
  port: 9926                 # plain HTTP; null disables
  securePort: null           # HTTPS, e.g. 9927; null disables
  mtls: false                # true, or:
  # mtls:
  #   required: false        # true: the handshake fails without a trusted client certificate
  #   user: CN               # CN: the certificate's CN is the username; another name: every client is that user; null: no user
  #   certificateVerification: false   # revocation checking: true, or:
  #   certificateVerification:
  #     failureMode: fail-closed        # when no method answers: fail-open | fail-closed
  #     crl:
  #       enabled: true
  #       timeout: 10000                # ms, min 1000
  #       cacheTtl: 86400000            # ms, min 1000
  #       gracePeriod: 86400000         # ms an expired CRL stays usable
  #       failureMode: fail-closed
  #     ocsp:
  #       enabled: true
  #       timeout: 5000
  #       cacheTtl: 3600000
  #       errorCacheTtl: 300000
  #       failureMode: fail-closed

tls:
  certificate: <ROOTPATH>/keys/certificate.pem       # server certificate (with its chain) or inline PEM
  privateKey: <ROOTPATH>/keys/privateKey.pem
  certificateAuthority: <ROOTPATH>/keys/ca.pem       # CA(s) trusted for client certificates
  # host: [example.com, "*.example.com"]             # SNI names; default: the certificate's DNS names
  # ciphers: null                                     # OpenSSL cipher list; default: Mozilla "intermediate" (TLS 1.2 ECDHE AES-GCM/ChaCha20, TLS 1.3)
  # sessionTimeout: 300                               # seconds a TLS session/ticket stays resumable (first entry only)
# Several certificates chosen by SNI: make tls a list of such entries.

operationsApi:
  network:
    port: 9925               # Operations API over plain HTTP; null disables
    securePort: null         # Operations API over HTTPS
    mtls: false              # same shape as http.mtls
  # tls:                     # own certificate, key and CA; default: the tls section above
  #   certificate: <ROOTPATH>/keys/ops-certificate.pem
  #   privateKey: <ROOTPATH>/keys/ops-privateKey.pem
  #   certificateAuthority: <ROOTPATH>/keys/ops-ca.pem

authentication:
  operationTokenTimeout: 1d
  refreshTokenTimeout: 30d

logging:
  level: info                # trace | debug | info | warn | error
`;
