{
  "targets": [
    {
      "target_name": "barge_posix",
      "sources": ["native/posix.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
