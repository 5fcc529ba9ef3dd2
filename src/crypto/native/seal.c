/*
 * restic's authenticated encryption in one native call, using the OpenSSL that Node links in
 * (and exports), so no library is added:
 *
 *   sealed = IV(16) || AES-256-CTR(encrypt key, IV, plaintext) || Poly1305-AES tag(16)
 *   tag    = Poly1305(key = clamp(macR) || AES-128(macK, IV), message = ciphertext)
 *
 * Why native: per call, node:crypto's createCipheriv plus libsodium's WebAssembly Poly1305 cost
 * tens of microseconds of set-up for a few microseconds of work on a small blob, and the WASM
 * Poly1305 is the largest per-byte cost. Here the cipher and MAC contexts are created once per
 * JavaScript environment (main thread or worker) and only re-keyed per call.
 *
 * Thread safety: every context lives in N-API instance data, one set per environment, freed
 * with it; the fetched algorithm objects are OpenSSL's own reference-counted, shareable objects.
 * There are no other globals. Calls never re-enter JavaScript, so one set per thread suffices.
 *
 * The caller (src/crypto/native.ts) checks lengths that have a ResticError meaning (too short to
 * hold IV and MAC); arguments of the wrong type or size throw a TypeError/RangeError here.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include "scrypt-romix.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IV_SIZE 16
#define MAC_SIZE 16
#define SEAL_OVERHEAD (IV_SIZE + MAC_SIZE)
/* Encrypt (or MAC) this much, then MAC (or decrypt) the same bytes while they are in cache. */
#define CHUNK (16 * 1024)

/* Random bytes drawn from OpenSSL's DRBG this many at a time: IVs are public, and one draw per
 * 64 IVs instead of one per IV saves a lock round trip per call. */
#define IV_POOL (64 * IV_SIZE)

typedef struct {
  EVP_CIPHER *aes256ctr;
  EVP_CIPHER *aes128ecb;
  EVP_MAC *poly1305;
  EVP_CIPHER_CTX *ctr;
  EVP_CIPHER_CTX *ecb;
  EVP_MAC_CTX *mac;
  /* The keys ctr and ecb hold (a repository uses one master key, so the AES key schedules are
   * built once, not per call). Valid when `keyed_ctr` / `keyed_ecb` is set. */
  int keyed_ctr, keyed_ecb;
  uint8_t ctr_key[32];
  uint8_t ecb_key[16];
  uint8_t iv_pool[IV_POOL];
  size_t iv_pool_used;
} SealState;


static void free_state(SealState *s) {
  if (s == NULL) return;
  OPENSSL_cleanse(s->ctr_key, sizeof s->ctr_key);
  OPENSSL_cleanse(s->ecb_key, sizeof s->ecb_key);
  EVP_CIPHER_CTX_free(s->ctr);
  EVP_CIPHER_CTX_free(s->ecb);
  EVP_MAC_CTX_free(s->mac);
  EVP_CIPHER_free(s->aes256ctr);
  EVP_CIPHER_free(s->aes128ecb);
  EVP_MAC_free(s->poly1305);
  free(s);
}

static void finalize_state(napi_env env, void *data, void *hint) {
  free_state((SealState *)data);
}

/* Throws an Error carrying OpenSSL's reason; returns NULL for the caller to return. */
static napi_value throw_openssl(napi_env env, const char *what) {
  char reason[256] = "unknown OpenSSL error";
  unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  char message[400];
  snprintf(message, sizeof message, "restic-ts seal addon: %s failed: %s", what, reason);
  napi_throw_error(env, NULL, message);
  return NULL;
}

static SealState *get_state(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (SealState *)data;
}

static int is_zero(const uint8_t *bytes, size_t length) {
  uint8_t acc = 0;
  for (size_t i = 0; i < length; i++) acc |= bytes[i];
  return acc == 0;
}

/* AES-256-CTR over `length` bytes (in may equal out). The context continues the counter across calls. */
static int ctr_update(SealState *s, uint8_t *out, const uint8_t *in, size_t length) {
  while (length > 0) {
    int n = length > (1u << 30) ? (1 << 30) : (int)length;
    int written = 0;
    if (EVP_EncryptUpdate(s->ctr, out, &written, in, n) != 1 || written != n) return 0;
    in += n;
    out += n;
    length -= (size_t)n;
  }
  return 1;
}

/* Sets key (only when it differs from the one in place) and IV; the counter restarts at the IV. */
static int ctr_start(SealState *s, const uint8_t *key, const uint8_t *iv) {
  if (!s->keyed_ctr || CRYPTO_memcmp(s->ctr_key, key, 32) != 0) {
    s->keyed_ctr = 0;
    if (EVP_EncryptInit_ex2(s->ctr, NULL, key, NULL, NULL) != 1) return 0;
    memcpy(s->ctr_key, key, 32);
    s->keyed_ctr = 1;
  }
  return EVP_EncryptInit_ex2(s->ctr, NULL, NULL, iv, NULL) == 1;
}

/* AES-128 of one block (ECB keeps no state between blocks, so a keyed context is reused as is). */
static int aes128_block(SealState *s, const uint8_t *key, const uint8_t *in, uint8_t *out) {
  if (!s->keyed_ecb || CRYPTO_memcmp(s->ecb_key, key, 16) != 0) {
    s->keyed_ecb = 0;
    if (EVP_EncryptInit_ex2(s->ecb, NULL, key, NULL, NULL) != 1) return 0;
    memcpy(s->ecb_key, key, 16);
    s->keyed_ecb = 1;
  }
  int written = 0;
  return EVP_EncryptUpdate(s->ecb, out, &written, in, 16) == 1 && written == 16;
}

/* Starts Poly1305 with the one-time key clamp(macR) || AES-128(macK, iv). */
static int mac_start(SealState *s, const uint8_t *mac_k, const uint8_t *mac_r, const uint8_t *iv) {
  uint8_t key[32];
  memcpy(key, mac_r, 16);
  key[3] &= 0x0f;
  key[7] &= 0x0f;
  key[11] &= 0x0f;
  key[15] &= 0x0f;
  key[4] &= 0xfc;
  key[8] &= 0xfc;
  key[12] &= 0xfc;
  int ok = aes128_block(s, mac_k, iv, key + 16) && EVP_MAC_init(s->mac, key, sizeof key, NULL) == 1;
  OPENSSL_cleanse(key, sizeof key);
  return ok;
}

static int mac_update(SealState *s, const uint8_t *data, size_t length) {
  return length == 0 || EVP_MAC_update(s->mac, data, length) == 1;
}

static int mac_final(SealState *s, uint8_t *tag) {
  size_t written = 0;
  return EVP_MAC_final(s->mac, tag, &written, MAC_SIZE) == 1 && written == MAC_SIZE;
}

/* A random IV that is not all zero (restic rejects that one); each pooled byte is used once. */
static int random_iv(SealState *s, uint8_t *iv) {
  do {
    if (s->iv_pool_used + IV_SIZE > IV_POOL) {
      if (RAND_bytes(s->iv_pool, IV_POOL) != 1) return 0;
      s->iv_pool_used = 0;
    }
    memcpy(iv, s->iv_pool + s->iv_pool_used, IV_SIZE);
    s->iv_pool_used += IV_SIZE;
  } while (is_zero(iv, IV_SIZE));
  return 1;
}

/* Writes IV || ciphertext || tag at `out`; `out + IV_SIZE` may equal `plaintext` (in place). */
static napi_value seal_to(napi_env env, SealState *s, const Bytes *enc, const Bytes *mac_k, const Bytes *mac_r,
                          const uint8_t *iv, const uint8_t *plaintext, size_t length, uint8_t *out) {
  if (out != iv) memcpy(out, iv, IV_SIZE);
  uint8_t *ciphertext = out + IV_SIZE;
  if (!ctr_start(s, enc->data, out)) return throw_openssl(env, "AES-256-CTR init");
  if (!mac_start(s, mac_k->data, mac_r->data, out)) return throw_openssl(env, "Poly1305 init");
  for (size_t pos = 0; pos < length; pos += CHUNK) {
    size_t n = length - pos < CHUNK ? length - pos : CHUNK;
    if (!ctr_update(s, ciphertext + pos, plaintext + pos, n)) return throw_openssl(env, "AES-256-CTR");
    if (!mac_update(s, ciphertext + pos, n)) return throw_openssl(env, "Poly1305");
  }
  if (!mac_final(s, ciphertext + length)) return throw_openssl(env, "Poly1305 final");
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static int get_key(napi_env env, napi_value *argv, Bytes *enc, Bytes *mac_k, Bytes *mac_r) {
  return get_bytes_sized(env, argv[0], "encrypt key", 32, enc) && get_bytes_sized(env, argv[1], "macK", 16, mac_k) &&
         get_bytes_sized(env, argv[2], "macR", 16, mac_r);
}

/* A new array holding plaintext sealed under `iv`; NULL with an exception pending on failure. */
static napi_value sealed_bytes(napi_env env, SealState *s, const Bytes *enc, const Bytes *mac_k, const Bytes *mac_r,
                               const uint8_t *iv, const Bytes *plain) {
  uint8_t *out = NULL;
  napi_value result = new_bytes(env, plain->length + SEAL_OVERHEAD, &out);
  if (result == NULL) return NULL;
  if (seal_to(env, s, enc, mac_k, mac_r, iv, plain->data, plain->length, out) == NULL) return NULL;
  return result;
}

/* seal(encrypt, macK, macR, plaintext) -> Uint8Array: IV || ciphertext || tag with a random IV. */
static napi_value js_seal(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Bytes enc, mac_k, mac_r, plain;
  if (!get_args(env, info, 4, argv) || !get_key(env, argv, &enc, &mac_k, &mac_r) ||
      !get_bytes_sized(env, argv[3], "plaintext", -1, &plain))
    return NULL;
  SealState *s = get_state(env);
  uint8_t iv[IV_SIZE];
  if (!random_iv(s, iv)) return throw_openssl(env, "RAND_bytes");
  return sealed_bytes(env, s, &enc, &mac_k, &mac_r, iv, &plain);
}

/* sealWithIv(encrypt, macK, macR, iv, plaintext) -> Uint8Array, for tests (fixed IV). */
static napi_value js_seal_with_iv(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Bytes enc, mac_k, mac_r, iv, plain;
  if (!get_args(env, info, 5, argv) || !get_key(env, argv, &enc, &mac_k, &mac_r) ||
      !get_bytes_sized(env, argv[3], "iv", IV_SIZE, &iv) || !get_bytes_sized(env, argv[4], "plaintext", -1, &plain))
    return NULL;
  SealState *s = get_state(env);
  uint8_t iv_copy[IV_SIZE];
  memcpy(iv_copy, iv.data, IV_SIZE);
  return sealed_bytes(env, s, &enc, &mac_k, &mac_r, iv_copy, &plain);
}

/*
 * sealInto(encrypt, macK, macR, plaintext, out, offset) -> undefined: writes plaintext.length + 32
 * bytes at out[offset]. The plaintext may already sit at out[offset + 16] (sealed in place); any
 * other overlap is refused.
 */
static napi_value js_seal_into(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Bytes enc, mac_k, mac_r, plain, out;
  if (!get_args(env, info, 6, argv) || !get_key(env, argv, &enc, &mac_k, &mac_r) ||
      !get_bytes_sized(env, argv[3], "plaintext", -1, &plain) || !get_bytes_sized(env, argv[4], "out", -1, &out))
    return NULL;
  double offset_number = 0;
  if (napi_get_value_double(env, argv[5], &offset_number) != napi_ok || offset_number < 0 ||
      offset_number != (double)(size_t)offset_number) {
    napi_throw_range_error(env, NULL, "offset must be a non-negative integer");
    return NULL;
  }
  size_t offset = (size_t)offset_number;
  if (offset > out.length || out.length - offset < plain.length + SEAL_OVERHEAD) {
    napi_throw_range_error(env, NULL, "out has no room for the sealed bytes at offset");
    return NULL;
  }
  uint8_t *dest = out.data + offset;
  uintptr_t d0 = (uintptr_t)dest, d1 = d0 + plain.length + SEAL_OVERHEAD;
  uintptr_t p0 = (uintptr_t)plain.data, p1 = p0 + plain.length;
  int overlaps = plain.length > 0 && p0 < d1 && d0 < p1;
  if (overlaps && plain.data != dest + IV_SIZE) {
    napi_throw_range_error(env, NULL, "plaintext overlaps out other than at offset + 16");
    return NULL;
  }
  SealState *s = get_state(env);
  uint8_t iv[IV_SIZE];
  if (!random_iv(s, iv)) return throw_openssl(env, "RAND_bytes");
  return seal_to(env, s, &enc, &mac_k, &mac_r, iv, plain.data, plain.length, dest);
}

/* computeMac(macK, macR, iv, ciphertext) -> Uint8Array(16). */
static napi_value js_compute_mac(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Bytes mac_k, mac_r, iv, ciphertext;
  if (!get_args(env, info, 4, argv) || !get_bytes_sized(env, argv[0], "macK", 16, &mac_k) ||
      !get_bytes_sized(env, argv[1], "macR", 16, &mac_r) || !get_bytes_sized(env, argv[2], "iv", IV_SIZE, &iv) ||
      !get_bytes_sized(env, argv[3], "ciphertext", -1, &ciphertext))
    return NULL;
  SealState *s = get_state(env);
  uint8_t *tag = NULL;
  napi_value result = new_bytes(env, MAC_SIZE, &tag);
  if (result == NULL) return NULL;
  if (!mac_start(s, mac_k.data, mac_r.data, iv.data) || !mac_update(s, ciphertext.data, ciphertext.length) ||
      !mac_final(s, tag))
    return throw_openssl(env, "Poly1305");
  return result;
}

/* Whether `sealed` (at least 32 bytes) carries a valid tag and a non-zero IV. */
static int check_mac(SealState *s, const Bytes *mac_k, const Bytes *mac_r, const Bytes *sealed, int *valid) {
  const uint8_t *iv = sealed->data;
  size_t length = sealed->length - SEAL_OVERHEAD;
  uint8_t tag[MAC_SIZE];
  if (!mac_start(s, mac_k->data, mac_r->data, iv) || !mac_update(s, iv + IV_SIZE, length) || !mac_final(s, tag)) return 0;
  *valid = CRYPTO_memcmp(tag, iv + IV_SIZE + length, MAC_SIZE) == 0 && !is_zero(iv, IV_SIZE);
  return 1;
}

static int get_sealed(napi_env env, napi_value value, Bytes *sealed) {
  if (!get_bytes_sized(env, value, "sealed", -1, sealed)) return 0;
  if (sealed->length < SEAL_OVERHEAD) {
    napi_throw_range_error(env, NULL, "sealed data is shorter than IV and MAC");
    return 0;
  }
  return 1;
}

/* verify(macK, macR, sealed) -> boolean. */
static napi_value js_verify(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Bytes mac_k, mac_r, sealed;
  if (!get_args(env, info, 3, argv) || !get_bytes_sized(env, argv[0], "macK", 16, &mac_k) ||
      !get_bytes_sized(env, argv[1], "macR", 16, &mac_r) || !get_sealed(env, argv[2], &sealed))
    return NULL;
  int valid = 0;
  if (!check_mac(get_state(env), &mac_k, &mac_r, &sealed, &valid)) return throw_openssl(env, "Poly1305");
  napi_value result;
  napi_get_boolean(env, valid, &result);
  return result;
}

/*
 * open(encrypt, macK, macR, sealed) -> Uint8Array | null: the plaintext, or null when the tag does
 * not match (or the IV is all zero). MAC and decryption run chunk by chunk in one pass; the
 * plaintext buffer is only returned once the whole tag has matched, and wiped otherwise.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Bytes enc, mac_k, mac_r, sealed;
  if (!get_args(env, info, 4, argv) || !get_key(env, argv, &enc, &mac_k, &mac_r) || !get_sealed(env, argv[3], &sealed))
    return NULL;
  SealState *s = get_state(env);
  const uint8_t *iv = sealed.data;
  const uint8_t *ciphertext = iv + IV_SIZE;
  size_t length = sealed.length - SEAL_OVERHEAD;
  uint8_t *plain = NULL;
  napi_value result = new_bytes(env, length, &plain);
  if (result == NULL) return NULL;
  if (!mac_start(s, mac_k.data, mac_r.data, iv)) return throw_openssl(env, "Poly1305 init");
  if (!ctr_start(s, enc.data, iv)) return throw_openssl(env, "AES-256-CTR init");
  for (size_t pos = 0; pos < length; pos += CHUNK) {
    size_t n = length - pos < CHUNK ? length - pos : CHUNK;
    if (!mac_update(s, ciphertext + pos, n)) return throw_openssl(env, "Poly1305");
    if (!ctr_update(s, plain + pos, ciphertext + pos, n)) return throw_openssl(env, "AES-256-CTR");
  }
  uint8_t tag[MAC_SIZE];
  if (!mac_final(s, tag)) return throw_openssl(env, "Poly1305 final");
  if (CRYPTO_memcmp(tag, ciphertext + length, MAC_SIZE) != 0 || is_zero(iv, IV_SIZE)) {
    OPENSSL_cleanse(plain, length);
    napi_value null_value;
    napi_get_null(env, &null_value);
    return null_value;
  }
  return result;
}

/* poly1305(message, key32) -> Uint8Array(16): plain Poly1305 with a one-time key r || s. */
static napi_value js_poly1305(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Bytes message, key;
  if (!get_args(env, info, 2, argv) || !get_bytes_sized(env, argv[0], "message", -1, &message) ||
      !get_bytes_sized(env, argv[1], "key", 32, &key))
    return NULL;
  SealState *s = get_state(env);
  uint8_t *tag = NULL;
  napi_value result = new_bytes(env, MAC_SIZE, &tag);
  if (result == NULL) return NULL;
  if (EVP_MAC_init(s->mac, key.data, 32, NULL) != 1 || !mac_update(s, message.data, message.length) || !mac_final(s, tag))
    return throw_openssl(env, "Poly1305");
  return result;
}

/* aes256Ctr(key32, iv16, data) -> Uint8Array. */
static napi_value js_aes256_ctr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Bytes key, iv, data;
  if (!get_args(env, info, 3, argv) || !get_bytes_sized(env, argv[0], "key", 32, &key) ||
      !get_bytes_sized(env, argv[1], "iv", IV_SIZE, &iv) || !get_bytes_sized(env, argv[2], "data", -1, &data))
    return NULL;
  SealState *s = get_state(env);
  uint8_t *out = NULL;
  napi_value result = new_bytes(env, data.length, &out);
  if (result == NULL) return NULL;
  if (!ctr_start(s, key.data, iv.data) || !ctr_update(s, out, data.data, data.length)) return throw_openssl(env, "AES-256-CTR");
  return result;
}

/* aes128EncryptBlock(key16, block16) -> Uint8Array(16). */
static napi_value js_aes128_encrypt_block(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Bytes key, block;
  if (!get_args(env, info, 2, argv) || !get_bytes_sized(env, argv[0], "key", 16, &key) ||
      !get_bytes_sized(env, argv[1], "block", 16, &block))
    return NULL;
  SealState *s = get_state(env);
  uint8_t *out = NULL;
  napi_value result = new_bytes(env, 16, &out);
  if (result == NULL) return NULL;
  if (!aes128_block(s, key.data, block.data, out)) return throw_openssl(env, "AES-128");
  return result;
}

static SealState *new_state(void) {
  SealState *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->iv_pool_used = IV_POOL;
  s->aes256ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
  s->aes128ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
  s->poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  s->ctr = EVP_CIPHER_CTX_new();
  s->ecb = EVP_CIPHER_CTX_new();
  if (!s->aes256ctr || !s->aes128ecb || !s->poly1305 || !s->ctr || !s->ecb) goto fail;
  s->mac = EVP_MAC_CTX_new(s->poly1305);
  if (!s->mac) goto fail;
  /* Bind each context to its cipher once; calls then only set key (when it changes) and IV. */
  if (EVP_EncryptInit_ex2(s->ctr, s->aes256ctr, NULL, NULL, NULL) != 1) goto fail;
  if (EVP_EncryptInit_ex2(s->ecb, s->aes128ecb, NULL, NULL, NULL) != 1) goto fail;
  if (EVP_CIPHER_CTX_set_padding(s->ecb, 0) != 1) goto fail;
  return s;
fail:
  free_state(s);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  SealState *s = new_state();
  if (s == NULL) {
    throw_openssl(env, "creating the AES-256-CTR, AES-128-ECB and POLY1305 contexts");
    return NULL;
  }
  if (napi_set_instance_data(env, s, finalize_state, NULL) != napi_ok) {
    free_state(s);
    napi_throw_error(env, NULL, "restic-ts seal addon: cannot set instance data");
    return NULL;
  }
  napi_property_descriptor functions[] = {
      {"seal", NULL, js_seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealWithIv", NULL, js_seal_with_iv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealInto", NULL, js_seal_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"computeMac", NULL, js_compute_mac, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, js_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poly1305", NULL, js_poly1305, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aes256Ctr", NULL, js_aes256_ctr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aes128EncryptBlock", NULL, js_aes128_encrypt_block, NULL, NULL, NULL, napi_enumerable, NULL},
      {"romixLanesAsync", NULL, js_romix_lanes_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"romixWidths", NULL, js_romix_widths, NULL, NULL, NULL, napi_enumerable, NULL},
      {"romixReserve", NULL, js_romix_reserve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"romixRelease", NULL, js_romix_release, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
