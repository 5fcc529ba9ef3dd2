{
  "targets": [
    {
      "target_name": "xattr",
      "sources": ["xattr.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
