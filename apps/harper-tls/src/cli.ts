#!/usr/bin/env node
import { homedir } from 'node:os';
import { main } from './main.js';

const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig));
});

main({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrIsTTY: process.stderr.isTTY === true,
  stopSignal,
  homedir: homedir(),
}).then(
  (code) => {
    process.exitCode = code;
    // Commands close what they open; a lingering handle must not keep a finished CLI alive.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    process.stderr.write(`harper-tls: ${err?.stack ?? err}\n`);
    process.exit(70);
  },
);
