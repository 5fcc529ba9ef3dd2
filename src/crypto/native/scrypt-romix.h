/* scrypt's ROMix for one lane on libuv's thread pool (scrypt-romix.c); registered by seal.c. */
#ifndef RESTIC_TS_SCRYPT_ROMIX_H
#define RESTIC_TS_SCRYPT_ROMIX_H

#include <node_api.h>

/* romixAsync(block: Uint8Array (128 * r bytes), N, r) -> Promise<void>; the block is replaced in place. */
napi_value js_romix_async(napi_env env, napi_callback_info info);

#endif
