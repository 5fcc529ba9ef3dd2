{
  "targets": [
    {
      "target_name": "seal",
      "sources": [
        "seal.c",
        "scrypt-romix.c"
      ],
      "cflags": [
        "-O3",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "OPENSSL_API_COMPAT=30000"
      ],
      "include_dirs": [
        "../../platform"
      ]
    }
  ]
}
