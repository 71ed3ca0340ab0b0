#ifndef BARGE_DEFLATE_H
#define BARGE_DEFLATE_H
#include <node_api.h>
/* Adds zlibCompress to the addon's exports (native/deflate.c). */
napi_status define_deflate(napi_env env, napi_value exports);
#endif
