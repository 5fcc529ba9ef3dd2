/**
 * Lookup tables for the Rabin fingerprint (restic/format §11.4), built once per polynomial
 * and cached. Values are stored as 32-bit halves so the hot loop needs no BigInt.
 *
 * Polynomials of degree k < 53 are handled by scaling: with s = 53 − k, every fingerprint D is
 * kept as D·x^s modulo P·x^s (degree 53). Then the top 8 bits of D are always digest bits
 * 45..52 and one loop serves every degree; the only differences are that an input byte enters
 * at bit s and the split mask sits s bits higher. For restic's degree-53 polynomials s = 0.
 */
import { ResticError } from '../errors.js';
import { formatPolynomial, polDeg, polMod, type Polynomial } from './polynomial.js';

export const WINDOW_SIZE = 64;

export interface ChunkerTables {
  readonly polynomial: Polynomial;
  /** 53 − deg(P): how far fingerprints are scaled up. */
  readonly shift: number;
  /**
   * One packed table: for byte b, [4b] = out hi, [4b+1] = out lo, [4b+2] = mod hi, [4b+3] = mod lo.
   * out[b] = b·x^(8·64) mod P, the outgoing byte's contribution after this step's shift by 8:
   * restic computes ((D ⊕ b·x^504)·x^8 + c) mod P; we compute (D·x^8 + c) mod P ⊕ b·x^512 mod P,
   * the same reduced value, but the table index no longer waits for the outgoing byte's XOR.
   * mod[b] = (b·x^53 mod P') | b·x^53: reduces the 8 bits shifted above bit 52 and (hi half
   * includes b << 21) cancels them.
   */
  readonly packed: Int32Array;
}

const cache = new Map<Polynomial, ChunkerTables>();

function hiLo(v: bigint): [number, number] {
  return [Number(v >> 32n) | 0, Number(v & 0xffffffffn) | 0];
}

/** Tables for `pol` (cached). Throws for a polynomial restic's chunker cannot use. */
export function chunkerTables(pol: Polynomial): ChunkerTables {
  const cached = cache.get(pol);
  if (cached) return cached;
  const k = polDeg(pol);
  // Below degree 29 an input byte scaled by x^(53−k) would no longer fit the low half.
  if (k > 53 || k < 29) {
    throw new ResticError(
      'UNSUPPORTED',
      `chunker polynomial ${formatPolynomial(pol)} has degree ${k}; the chunker supports degree 29..53 (restic creates 53)`,
    );
  }
  const shift = 53 - k;
  const scaled = pol << BigInt(shift);
  // Both entries are linear in b over GF(2) (entry(a ^ b) = entry(a) ^ entry(b)), so only the
  // eight single-bit bytes need polynomial arithmetic; every other entry is an XOR of those.
  // (Computing all 256 directly took ~40 ms of BigInt work at every start.)
  const outBits: bigint[] = [];
  const modBits: bigint[] = [];
  for (let bit = 0; bit < 8; bit++) {
    // restic's out[b] = b·x^(8·63) mod P; we store it already multiplied by x^8 (see above).
    outBits.push(polMod(outgoing(1 << bit, pol) << 8n, pol) << BigInt(shift));
    const top = 1n << BigInt(53 + bit);
    modBits.push(polMod(top, scaled) | top);
  }
  const packed = new Int32Array(256 * 4);
  for (let b = 0; b < 256; b++) {
    let out = 0n;
    let mod = 0n;
    for (let bit = 0; bit < 8; bit++) {
      if ((b >> bit) & 1) {
        out ^= outBits[bit];
        mod ^= modBits[bit];
      }
    }
    const [outHi, outLo] = hiLo(out);
    const [modHi, modLo] = hiLo(mod);
    packed[4 * b] = outHi;
    packed[4 * b + 1] = outLo;
    packed[4 * b + 2] = modHi;
    packed[4 * b + 3] = modLo;
  }
  const tables: ChunkerTables = { polynomial: pol, shift, packed };
  cache.set(pol, tables);
  return tables;
}

/**
 * restic/chunker's out[b]: the fingerprint of the window `b, 0 × 63`, built by appending byte b
 * and then 63 zero bytes (h = h·x^8 + c mod P).
 */
export function outgoing(b: number, pol: Polynomial): bigint {
  let h = polMod(BigInt(b), pol);
  for (let i = 0; i < WINDOW_SIZE - 1; i++) h = polMod(h << 8n, pol);
  return h;
}

/** mod[b] as restic/chunker stores it ((b·x^k mod P) | b·x^k), unscaled. */
export function modTableEntry(t: ChunkerTables, b: number): bigint {
  return ((BigInt(t.packed[4 * b + 2] >>> 0) << 32n) | BigInt(t.packed[4 * b + 3] >>> 0)) >> BigInt(t.shift);
}
