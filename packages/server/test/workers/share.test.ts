import { describe, expect, it } from 'vitest';
import { sharedIntermediates, TOPICS } from '../../src/workers/share.js';
import type { TopicHandler, WorkerPeers } from '../../src/workers/peers.js';

/** Workers in one process: a broadcast structured-clones its payload (as IPC does) and resolves once every other worker applied it. */
function fakeWorkers(n: number): { peers: WorkerPeers[]; sent: Array<{ topic: string; payload: unknown }> } {
  const handlers = Array.from({ length: n }, () => new Map<string, TopicHandler[]>());
  const sent: Array<{ topic: string; payload: unknown }> = [];
  const peers = handlers.map(
    (own, index) =>
      ({
        index,
        count: n,
        on(topic: string, h: TopicHandler) {
          own.set(topic, [...(own.get(topic) ?? []), h]);
        },
        async broadcast(topic: string, payload?: unknown) {
          sent.push({ topic, payload });
          for (const other of handlers) if (other !== own) for (const h of other.get(topic) ?? []) await h(structuredClone(payload));
        },
      }) as unknown as WorkerPeers,
  );
  return { peers, sent };
}

describe('sharedIntermediates', () => {
  it('hands the DER an authenticator publishes to every authenticator of every other worker, and of its own, as base64 over IPC', async () => {
    const { peers, sent } = fakeWorkers(2);
    const [w0, w1] = peers.map((p) => sharedIntermediates(p));
    const got = { w0a: [] as number[][], w0b: [] as number[][], w1: [] as number[][] };
    w0!.subscribe({ addIntermediates: (ders) => void got.w0a.push(...ders.map((d) => [...d])) });
    w0!.subscribe({ addIntermediates: (ders) => void got.w0b.push(...ders.map((d) => [...d])) });
    w1!.subscribe({ addIntermediates: (ders) => void got.w1.push(...ders.map((d) => [...d])) });
    await w0!.publish([new Uint8Array([0x30, 0x82, 1, 2]), new Uint8Array([0x30, 3])]);
    expect(got.w1).toEqual([[0x30, 0x82, 1, 2], [0x30, 3]]);
    expect(got.w0b).toEqual(got.w1);
    expect(sent).toEqual([{ topic: TOPICS.intermediates, payload: [Buffer.from([0x30, 0x82, 1, 2]).toString('base64'), Buffer.from([0x30, 3]).toString('base64')] }]);
  });

  it('ignores a payload that is not a list of strings', async () => {
    const { peers } = fakeWorkers(2);
    const [, w1] = peers.map((p) => sharedIntermediates(p));
    const got: Uint8Array[][] = [];
    w1!.subscribe({ addIntermediates: (ders) => void got.push([...ders]) });
    await peers[0]!.broadcast(TOPICS.intermediates, { not: 'a list' });
    await peers[0]!.broadcast(TOPICS.intermediates, [42, 'AQI=']);
    expect(got).toEqual([[new Uint8Array([1, 2])]]);
  });

  it('publish waits for a worker that never answers no longer than its bound', async () => {
    const { peers } = fakeWorkers(2);
    let broadcasts = 0;
    const stuck: WorkerPeers = { ...peers[0]!, broadcast: () => (broadcasts++, new Promise<void>(() => {})) };
    await sharedIntermediates(stuck, 20).publish([new Uint8Array([0x30, 0])]);
    expect(broadcasts).toBe(1);
  });
});
