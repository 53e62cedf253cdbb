#ifndef TRESTLE_CZLIB_SHIM_H
#define TRESTLE_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 / deflateInit2 are macros (they pass ZLIB_VERSION and the struct size). */
/* windowBits 15 + 16: a gzip wrapper (RFC 1952), as gRPC's "gzip" encoding is. */
static inline int trestle_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}

static inline int trestle_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
