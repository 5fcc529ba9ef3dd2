/**
 * Public surface of the crypto layer: primitives (node:crypto with the optional native
 * OpenSSL addon, else libsodium's Poly1305; noble portable path), the master key and restic's
 * seal/open.
 */
export {
  type CryptoImplementationName,
  type CryptoPrimitives,
  type ScryptParams,
  type Sha256Hasher,
  createSha256,
  cryptoImplementation,
  loadLibsodium,
  nodeJsPrimitives,
  nodePrimitives,
  portablePrimitives,
  primitives,
  randomBytes,
  reserveKeyDerivationMemory,
  scrypt,
  scryptJs,
  setCryptoImplementation,
  sha256,
  sha256Hex,
} from './primitives.js';
export {
  type MasterKey,
  decodeMasterKey,
  encodeMasterKey,
  generateMasterKey,
  isValidMasterKey,
  masterKeyFromBytes,
} from './master-key.js';
export { IV_SIZE, MAC_SIZE, SEAL_OVERHEAD, ciphertextLength, computeMac, open, plaintextLength, seal, sealInto, verifyMac } from './seal.js';
export { type NativeSealStatus, nativeSealStatus } from './native.js';
