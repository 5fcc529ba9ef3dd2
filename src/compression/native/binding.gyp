{
  "targets": [
    {
      "target_name": "zstd",
      "sources": [
        "zstd.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ],
      "libraries": [
        "-lzstd"
      ],
      "include_dirs": [
        "../../platform"
      ]
    }
  ]
}
