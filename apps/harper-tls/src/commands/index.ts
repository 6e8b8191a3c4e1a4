import type { Command } from '../context.js';
import { start } from './start.js';
import { renewCerts } from './renew-certs.js';
import { certIssue, certList, certRevoke } from './cert.js';
import { crl } from './crl.js';
import { checkRevocation } from './check-revocation.js';
import { doctor } from './doctor.js';
import { clusterInit, clusterIssueNode } from './cluster.js';

/** Every command, two-word ones by their full name. Order is the order of --help. */
export const COMMANDS: Command[] = [start, renewCerts, certIssue, certRevoke, certList, crl, checkRevocation, doctor, clusterInit, clusterIssueNode];
