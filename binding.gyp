{
  "targets": [
    {
      "target_name": "barge_posix",
      "sources": ["native/posix.c", "native/deflate.c"],
      "libraries": ["-ldl"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
