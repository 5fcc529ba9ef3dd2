/**
 * Reads zstd frame and block headers (RFC 8878) without decompressing, to learn before any
 * allocation how much output a frame declares (Frame_Content_Size) and how much it can at most
 * produce (each block yields at most min(window, 128 KiB) bytes). The decompressor uses this to
 * refuse decompression bombs and to check a declared size against the size the index expects.
 */
import { ResticError } from '../errors.js';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const MAX_BLOCK_SIZE = 128 * 1024;

export interface FramesInfo {
  /** Number of zstd (non-skippable) frames. */
  frames: number;
  /** Sum of the frames' Frame_Content_Size when every frame declares one. */
  contentSize: number | undefined;
  /** An upper bound on the decompressed size, from the block headers. */
  outputBound: number;
  /** Whether any frame carries a content checksum. */
  hasChecksum: boolean;
}

function corrupt(what: string, message: string): ResticError {
  return new ResticError('CORRUPT', `${what}: invalid zstd data: ${message}`, { file: what });
}

function readUintLE(data: Uint8Array, pos: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + data[pos + i]!;
  return v;
}

/** Walks every frame in `data`. Throws CORRUPT (naming `what`) on a malformed or truncated frame. */
export function inspectFrames(data: Uint8Array, what = 'zstd data'): FramesInfo {
  let pos = 0;
  let frames = 0;
  let contentSize: number | undefined = 0;
  let outputBound = 0;
  let hasChecksum = false;
  while (pos < data.length) {
    if (data.length - pos < 4) throw corrupt(what, `truncated frame magic at offset ${pos}`);
    const magic = readUintLE(data, pos, 4);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - pos < 8) throw corrupt(what, `truncated skippable frame at offset ${pos}`);
      const size = readUintLE(data, pos + 4, 4);
      pos += 8 + size;
      if (pos > data.length) throw corrupt(what, 'truncated skippable frame');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt(what, `bad frame magic 0x${magic.toString(16).padStart(8, '0')} at offset ${pos}`);
    pos += 4;
    if (pos >= data.length) throw corrupt(what, 'truncated frame header');
    const fhd = data[pos++]!;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    if (fhd & 0x08) throw corrupt(what, 'reserved bit set in frame header');
    const checksum = (fhd & 0x04) !== 0;
    const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
    const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    const headerRest = (singleSegment ? 0 : 1) + dictIdSize + fcsSize;
    if (data.length - pos < headerRest) throw corrupt(what, 'truncated frame header');
    let windowSize = 0;
    if (!singleSegment) {
      const wd = data[pos++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    pos += dictIdSize;
    let frameContentSize: number | undefined;
    if (fcsSize > 0) {
      if (fcsSize === 8) {
        const hi = readUintLE(data, pos + 4, 4);
        if (hi >= 2 ** 21) throw corrupt(what, 'declared content size is too large');
        frameContentSize = hi * 2 ** 32 + readUintLE(data, pos, 4);
      } else {
        frameContentSize = readUintLE(data, pos, fcsSize) + (fcsSize === 2 ? 256 : 0);
      }
      pos += fcsSize;
    }
    if (singleSegment) windowSize = frameContentSize!;
    const blockMax = Math.min(windowSize, MAX_BLOCK_SIZE);
    let frameBound = 0;
    for (;;) {
      if (data.length - pos < 3) throw corrupt(what, 'truncated block header');
      const bh = readUintLE(data, pos, 3);
      pos += 3;
      const last = (bh & 1) !== 0;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw corrupt(what, 'reserved block type');
      if (size > MAX_BLOCK_SIZE) throw corrupt(what, `block of ${size} bytes exceeds the 128 KiB maximum`);
      if (type === 0) {
        frameBound += size;
        pos += size;
      } else if (type === 1) {
        frameBound += size;
        pos += 1;
      } else {
        frameBound += blockMax;
        pos += size;
      }
      if (pos > data.length) throw corrupt(what, 'truncated block');
      if (last) break;
    }
    if (checksum) {
      hasChecksum = true;
      pos += 4;
      if (pos > data.length) throw corrupt(what, 'truncated content checksum');
    }
    if (frameContentSize !== undefined) {
      if (frameContentSize > frameBound) throw corrupt(what, `frame declares ${frameContentSize} bytes but its blocks hold at most ${frameBound}`);
      frameBound = frameContentSize;
    }
    frames++;
    outputBound += frameBound;
    contentSize = contentSize === undefined || frameContentSize === undefined ? undefined : contentSize + frameContentSize;
  }
  return { frames, contentSize: frames === 0 ? 0 : contentSize, outputBound, hasChecksum };
}
