import { MessageChannel } from 'node:worker_threads';

/** Buffers smaller than this are never discarded (a small Buffer may share a pool with others). */
const MIN_BYTES = 0x1000000;

/**
 * Frees big ArrayBuffers now rather than at some later garbage collection, which an idle server
 * may not run for a long time: each is transferred into a message on a port that is then closed,
 * and the memory goes with the message. Only for memory nothing reads any more (a detached buffer
 * reads as empty): the downloaded copy of a CRL once its mapped copy is in use and no lookup
 * holds it, and the value written to the store once the store has it. Buffers under 16 MiB, the
 * store's map (`isSharedMap`) and buffers that cannot be transferred are left alone.
 */
export function discard(buffers: Array<ArrayBufferLike | undefined>): void {
  const own = [...new Set(buffers)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength >= MIN_BYTES && (b as ArrayBuffer & { isSharedMap?: boolean }).isSharedMap !== true);
  if (!own.length) return;
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(null, own);
  } catch {
    // Not transferable (an external buffer): left to the garbage collector.
  }
  port1.close();
  port2.close();
}
