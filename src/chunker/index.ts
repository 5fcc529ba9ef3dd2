/** Content-defined chunking identical to restic's, and the polynomials it runs on. */
export {
  AVERAGE_BITS,
  Chunker,
  chunkBuffer,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  type ChunkBoundary,
  type ChunkerOptions,
} from './chunker.js';
export { chunkStream, type ByteSource } from './stream.js';
export {
  CHUNKER_POLYNOMIAL_DEGREE,
  expandPolynomial,
  formatPolynomial,
  isIrreducible,
  parsePolynomial,
  polAdd,
  polDeg,
  polDiv,
  polDivMod,
  polGcd,
  polMod,
  polMul,
  polMulMod,
  randomPolynomial,
  TEST_POLYNOMIAL,
  type Polynomial,
} from './polynomial.js';
