import type { IncomingMessage } from 'node:http';

/** Placeholder: the trusted-proxy work (SPEC.md section 7) applies its forwarded-header policy to a request here before anything reads its headers. */
export function applyForwardingPolicy(_req: IncomingMessage): void {}
