import { describe, expect, it } from 'vitest';
import { connectPeers, type PrimaryChannel } from '../../src/workers/peers.js';
import type { PrimaryMessage, WorkerMessage } from '../../src/workers/protocol.js';

/** A fake primary on the other end of `connectPeers`: what the worker sent, and a way to send to it. */
function fakePrimary(): { channel: PrimaryChannel; sent: WorkerMessage[]; deliver(m: PrimaryMessage): void; next(match: (m: WorkerMessage) => boolean): Promise<WorkerMessage> } {
  const sent: WorkerMessage[] = [];
  const waiters: Array<{ match: (m: WorkerMessage) => boolean; resolve: (m: WorkerMessage) => void }> = [];
  let listener: (m: unknown) => void = () => {};
  return {
    sent,
    channel: {
      send(m) {
        sent.push(m);
        for (const w of waiters.splice(0)) (w.match(m) ? w.resolve(m) : waiters.push(w));
      },
      onMessage: (fn) => (listener = fn),
      onDisconnect: () => {},
    },
    deliver: (m) => listener(m),
    next(match) {
      const seen = sent.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the worker did not send the expected message within 5 s')), 5_000);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
  };
}

/** Lets every pending callback and IPC-like event run (no timing: one turn of the event loop). */
const turn = () => new Promise<void>((r) => setImmediate(r));

async function connected() {
  const primary = fakePrimary();
  const connecting = connectPeers(primary.channel);
  await primary.next((m) => m.ht === 'init?');
  primary.deliver({ ht: 'init', index: 1, count: 2, ticketKeys: new Uint8Array(48) });
  const peers = (await connecting)!;
  return { primary, peers };
}

const appliedId = (id: number) => (m: WorkerMessage) => m.ht === 'applied' && m.id === id;

describe('connectPeers: changes from the other workers', () => {
  it('a change sent before its topic has a handler waits for the handler, then is applied and acknowledged', async () => {
    const { primary, peers } = await connected();
    primary.deliver({ ht: 'apply', id: 7, topic: 'certificates', payload: 'first' });
    primary.deliver({ ht: 'apply', id: 8, topic: 'certificates', payload: 'second' });
    await turn();
    expect(primary.sent.filter((m) => m.ht === 'applied')).toEqual([]);
    const seen: unknown[] = [];
    peers.on('certificates', (p) => void seen.push(p));
    expect(await primary.next(appliedId(7))).toEqual({ ht: 'applied', id: 7 });
    expect(await primary.next(appliedId(8))).toEqual({ ht: 'applied', id: 8 });
    expect(seen).toEqual(['first', 'second']);
    // With the handler there, a change applies at once.
    primary.deliver({ ht: 'apply', id: 9, topic: 'certificates', payload: 'third' });
    await primary.next(appliedId(9));
    expect(seen).toEqual(['first', 'second', 'third']);
  });

  it('a handler that fails is reported in the acknowledgement of a change that waited for it', async () => {
    const { primary, peers } = await connected();
    primary.deliver({ ht: 'apply', id: 3, topic: 'configured-files', payload: undefined });
    peers.on('configured-files', () => {
      throw new Error('bad file');
    });
    expect(await primary.next(appliedId(3))).toEqual({ ht: 'applied', id: 3, error: 'configured-files: bad file' });
  });

  it('once the worker serves, a change for a topic nobody handles is acknowledged (waiting and new ones)', async () => {
    const { primary, peers } = await connected();
    primary.deliver({ ht: 'apply', id: 4, topic: 'nobody', payload: undefined });
    await turn();
    expect(primary.sent.some(appliedId(4))).toBe(false);
    peers.ready({ ht: 'ready', listening: [] });
    await primary.next(appliedId(4));
    primary.deliver({ ht: 'apply', id: 5, topic: 'nobody', payload: undefined });
    await primary.next(appliedId(5));
  });
});
