/**
 * Streaming chunking: turns a byte stream (one file) into restic's chunks, each yielded as one
 * contiguous Uint8Array.
 *
 * Copies are avoided where possible: a chunk that lies inside one input buffer is yielded as a
 * view (`subarray`) of that buffer; a chunk spanning several input buffers is kept as a list of
 * views until its end is found and then copied once into a buffer of exactly its size. Memory
 * held is bounded by the maximum chunk size plus the input buffers it overlaps.
 *
 * Contract for sources: the generator keeps references to the buffers it receives (until the
 * chunk containing them has been yielded, and in yielded views), so a source must not reuse or
 * modify a buffer after yielding it. Node's fs/net streams allocate a fresh buffer per read.
 */
import { Chunker, type ChunkerOptions } from './chunker.js';
import type { Polynomial } from './polynomial.js';

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream;

function asIterable(source: ByteSource): AsyncIterable<unknown> | Iterable<unknown> {
  if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') return source as AsyncIterable<unknown>;
  if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') return source as Iterable<unknown>;
  throw new TypeError('chunkStream: source is neither an async iterable nor an iterable of Uint8Array');
}

function concat(pieces: Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Chunks one file's bytes exactly as restic would. An empty stream yields nothing.
 * A source item that is not a Uint8Array (e.g. a string from a stream with an encoding set)
 * is a TypeError.
 */
export async function* chunkStream(
  source: ByteSource,
  polynomial: Polynomial,
  options: ChunkerOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunker = new Chunker(polynomial, options);
  let pieces: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const item of asIterable(source)) {
    if (!(item instanceof Uint8Array)) {
      throw new TypeError(`chunkStream: source yielded ${typeof item}, want Uint8Array (is an encoding set on the stream?)`);
    }
    const buf = item;
    let start = 0;
    while (start < buf.length) {
      const cut = chunker.nextBoundary(buf, start, buf.length);
      if (cut < 0) {
        pieces.push(start === 0 ? buf : buf.subarray(start));
        pendingBytes += buf.length - start;
        break;
      }
      if (pieces.length === 0) {
        yield buf.subarray(start, cut);
      } else {
        pieces.push(buf.subarray(start, cut));
        const chunk = concat(pieces, pendingBytes + (cut - start));
        pieces = [];
        pendingBytes = 0;
        yield chunk;
      }
      start = cut;
    }
  }
  if (pendingBytes > 0) yield concat(pieces, pendingBytes);
}
