import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a program that must be told its port
 * before it starts (openssl ocsp, a server whose config names it). Chosen at random BELOW the
 * kernel's ephemeral range: a port from `listen(0)` lies inside that range, where every outgoing
 * connection of every process (curl, fetch, another test run beside this one) also takes its
 * source port, so it can be taken again before the program binds it. Tests that can listen on
 * port 0 themselves should do that instead.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const top = Math.min(low, 65_536) - 1;
  const bottom = Math.max(1024, top - 12_000);
  for (let i = 0; i < 50 && top > bottom; i++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (await canBind(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a && b) return [a, b];
  } catch {
    // Not Linux: the IANA dynamic range.
  }
  return [49_152, 65_535];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
