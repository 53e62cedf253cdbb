#ifndef TRESTLE_CNGHTTP2_SHIM_H
#define TRESTLE_CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>
#include <string.h>
#endif
