/* scrypt's ROMix for lanes on libuv's thread pool (scrypt-romix.c); registered by seal.c. */
#ifndef RESTIC_TS_SCRYPT_ROMIX_H
#define RESTIC_TS_SCRYPT_ROMIX_H

#include <node_api.h>

/* romixLanesAsync(blocks: Uint8Array (k * 128 * r bytes), N, r) -> Promise<void>; the k lanes are
 * replaced in place, one after another, with one table. */
napi_value js_romix_lanes_async(napi_env env, napi_callback_info info);

#endif
