/**
 * Polynomials over GF(2) of degree ≤ 63, packed into a `bigint` (bit i = coefficient of x^i),
 * as restic/chunker's `Pol` type. Used to pick and validate a repository's chunker polynomial
 * and to build the chunker's lookup tables. Nothing here is on the per-byte hot path, so
 * `bigint` keeps it simple and exact.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ResticError } from '../errors.js';

/** A GF(2) polynomial packed into the low 64 bits of a bigint. */
export type Polynomial = bigint;

const UINT64_MAX = (1n << 64n) - 1n;

function checkRange(p: Polynomial, what: string): void {
  if (p < 0n || p > UINT64_MAX) throw new RangeError(`${what} ${p} is not a polynomial of degree ≤ 63`);
}

/** Degree (bit length − 1); the zero polynomial has degree −1. */
export function polDeg(p: Polynomial): number {
  // toString(2) is fast enough here and exact for any size.
  return p === 0n ? -1 : p.toString(2).length - 1;
}

/** Addition (= subtraction) is XOR. */
export function polAdd(x: Polynomial, y: Polynomial): Polynomial {
  return x ^ y;
}

/** Carry-less product; throws when it would not fit in 64 bits, as restic/chunker panics. */
export function polMul(x: Polynomial, y: Polynomial): Polynomial {
  checkRange(x, 'factor');
  checkRange(y, 'factor');
  if (x === 0n || y === 0n) return 0n;
  if (polDeg(x) + polDeg(y) >= 64) throw new RangeError('multiplication would overflow uint64');
  return clmul(x, y);
}

/** Carry-less multiply without the 64-bit limit (internal: mulmod reduces right after). */
function clmul(x: Polynomial, y: Polynomial): Polynomial {
  let res = 0n;
  // Iterate over the sparser-looking operand's bits; both are ≤ 64 bits.
  let shift = 0n;
  while (y !== 0n) {
    if (y & 1n) res ^= x << shift;
    y >>= 1n;
    shift++;
  }
  return res;
}

/** Quotient and remainder of x / d. */
export function polDivMod(x: Polynomial, d: Polynomial): { q: Polynomial; r: Polynomial } {
  if (d === 0n) throw new RangeError('polynomial division by zero');
  const dd = polDeg(d);
  let q = 0n;
  let r = x;
  let dr = polDeg(r);
  while (dr >= dd) {
    const shift = BigInt(dr - dd);
    q |= 1n << shift;
    r ^= d << shift;
    dr = polDeg(r);
  }
  return { q, r };
}

export function polDiv(x: Polynomial, d: Polynomial): Polynomial {
  return polDivMod(x, d).q;
}

export function polMod(x: Polynomial, d: Polynomial): Polynomial {
  return polDivMod(x, d).r;
}

/** Greatest common divisor by Euclid; gcd(0, y) = y. */
export function polGcd(x: Polynomial, y: Polynomial): Polynomial {
  while (y !== 0n) {
    const r = polMod(x, y);
    x = y;
    y = r;
  }
  return x;
}

/** (x · f) mod g. */
export function polMulMod(x: Polynomial, f: Polynomial, g: Polynomial): Polynomial {
  if (x === 0n || f === 0n) return 0n;
  return polMod(clmul(polMod(x, g), polMod(f, g)), g);
}

/**
 * Ben-Or's irreducibility test: f is irreducible iff gcd(f, x^(2^i) − x mod f) = 1 for every
 * i = 1 … ⌊deg f / 2⌋. Like restic/chunker, polynomials of degree ≤ 1 pass trivially.
 */
export function isIrreducible(f: Polynomial): boolean {
  checkRange(f, 'polynomial');
  const half = Math.floor(polDeg(f) / 2);
  // x^(2^i) mod f, built by repeated squaring of x.
  let power = polMod(2n, f === 0n ? 1n : f);
  for (let i = 1; i <= half; i++) {
    power = polMulMod(power, power, f);
    if (polGcd(f, polMod(power ^ 2n, f)) !== 1n) return false;
  }
  return true;
}

/** The degree restic's `init` gives every chunker polynomial. */
export const CHUNKER_POLYNOMIAL_DEGREE = 53;

/** restic/chunker's test polynomial, known irreducible. */
export const TEST_POLYNOMIAL: Polynomial = 0x3da3358b4dc173n;

const MAX_RANDOM_TRIES = 1_000_000;

/**
 * A random irreducible polynomial of degree 53, derived as restic's `init` does: 8 random bytes
 * read as a little-endian uint64, keep bits 0–53, force bits 53 and 0, retry until irreducible.
 * `randomBytes` exists so tests can supply a deterministic source.
 */
export function randomPolynomial(randomBytes: (n: number) => Uint8Array = nodeRandomBytes): Polynomial {
  const keep = (1n << 54n) - 1n;
  for (let attempt = 0; attempt < MAX_RANDOM_TRIES; attempt++) {
    const bytes = randomBytes(8);
    if (bytes.length !== 8) throw new RangeError(`random source returned ${bytes.length} bytes, want 8`);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    v = (v & keep) | (1n << 53n) | 1n;
    if (isIrreducible(v)) return v;
  }
  throw new ResticError('FATAL', `unable to find a new irreducible chunker polynomial in ${MAX_RANDOM_TRIES} tries`);
}

/** Lowercase hex without `0x`, the form `config.chunker_polynomial` stores. */
export function formatPolynomial(p: Polynomial): string {
  checkRange(p, 'polynomial');
  return p.toString(16);
}

const HEX_UINT64 = /^[0-9a-fA-F]{1,16}$/;

/**
 * Parses `config.chunker_polynomial` (hex, no `0x`, ≤ 64 bits — what Go's ParseUint(s, 16, 64)
 * accepts) and checks it is irreducible, as restic does before using a repository.
 */
export function parsePolynomial(text: string, options: { file?: string } = {}): Polynomial {
  const where = options.file ?? 'config';
  if (!HEX_UINT64.test(text)) {
    throw new ResticError('CORRUPT', `${where}: chunker_polynomial ${JSON.stringify(text)} is not a hexadecimal 64-bit value`, options);
  }
  const p = BigInt('0x' + text);
  if (p === 0n || !isIrreducible(p)) {
    throw new ResticError('CORRUPT', `${where}: invalid chunker polynomial ${text}: not irreducible`, options);
  }
  return p;
}

/** Human-readable form, e.g. `x^53+x^52+…+x+1` (restic/chunker's `Expand`). */
export function expandPolynomial(p: Polynomial): string {
  if (p === 0n) return '0';
  const terms: string[] = [];
  for (let i = polDeg(p); i >= 0; i--) {
    if (((p >> BigInt(i)) & 1n) === 0n) continue;
    terms.push(i === 0 ? '1' : i === 1 ? 'x' : `x^${i}`);
  }
  return terms.join('+');
}
