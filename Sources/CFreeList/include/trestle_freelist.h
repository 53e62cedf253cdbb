#ifndef TRESTLE_FREELIST_H
#define TRESTLE_FREELIST_H
#include <stddef.h>

/*
 * A small allocator for nghttp2's own allocations (streams, frames, header copies, HPACK
 * entries): per-thread free lists in 32-byte size classes up to 1 KiB, in front of malloc.
 *
 * Why: a proxied call makes a few dozen short-lived nghttp2 allocations; with hundreds of
 * streams in flight glibc's per-thread cache (7 blocks per size) overflows and most of them go
 * through _int_malloc/_int_free (~14% of a proxied call's instructions, measured with
 * callgrind). A session is used only on its worker's thread, so a block is freed on the thread
 * that allocated it and the lists need no lock. Each list keeps a bounded number of blocks;
 * the rest go back to malloc.
 *
 * The functions have nghttp2_mem's signatures (the last argument is its mem_user_data).
 */
void *trestle_freelist_malloc(size_t size, void *ud);
void trestle_freelist_free(void *p, void *ud);
void *trestle_freelist_calloc(size_t n, size_t size, void *ud);
void *trestle_freelist_realloc(void *p, size_t size, void *ud);
#endif
