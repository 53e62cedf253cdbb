#include "trestle_freelist.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Layout: a 16-byte header before each block: [size class, or 0 for a large block][byte size
 * of a large block]. A free block keeps its list link in the header's second word. */
#define CLASSES 32
#define KEEP 1024

typedef struct block { uint64_t cls; struct block *next; } block;

static __thread block *lists[CLASSES + 1];
static __thread unsigned counts[CLASSES + 1];

void *trestle_freelist_malloc(size_t size, void *ud) {
    (void)ud;
    size_t cls = (size + 31) >> 5;
    if (cls == 0) cls = 1;
    if (cls <= CLASSES) {
        block *b = lists[cls];
        if (b) {
            lists[cls] = b->next;
            counts[cls]--;
            return (char *)b + 16;
        }
        uint64_t *raw = malloc(16 + (cls << 5));
        if (!raw) return NULL;
        raw[0] = cls;
        return (char *)raw + 16;
    }
    uint64_t *raw = malloc(16 + size);
    if (!raw) return NULL;
    raw[0] = 0;
    raw[1] = size;
    return (char *)raw + 16;
}

void trestle_freelist_free(void *p, void *ud) {
    (void)ud;
    if (!p) return;
    block *b = (block *)((char *)p - 16);
    size_t cls = (size_t)b->cls;
    if (cls != 0 && counts[cls] < KEEP) {
        b->next = lists[cls];
        lists[cls] = b;
        counts[cls]++;
        return;
    }
    free(b);
}

void *trestle_freelist_calloc(size_t n, size_t size, void *ud) {
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    void *p = trestle_freelist_malloc(n * size, ud);
    if (p) memset(p, 0, n * size);
    return p;
}

void *trestle_freelist_realloc(void *p, size_t size, void *ud) {
    if (!p) return trestle_freelist_malloc(size, ud);
    uint64_t *raw = (uint64_t *)((char *)p - 16);
    size_t cap = raw[0] ? (size_t)raw[0] << 5 : (size_t)raw[1];
    if (size <= cap) return p;
    void *q = trestle_freelist_malloc(size, ud);
    if (!q) return NULL;
    memcpy(q, p, cap);
    trestle_freelist_free(p, ud);
    return q;
}
