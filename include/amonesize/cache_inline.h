/* SPDX-License-Identifier: MIT */
/**
 * @internal
 * The machinery behind <amonesize_cache.h>: the layout of struct
 * am_onesize_cache and the inline fast paths of a cache, built from the
 * engine in amonesize/inline.h. Not API; ABI like everything in
 * amonesize/inline.h.
 */
#ifndef AMONESIZE_CACHE_INLINE_H
#define AMONESIZE_CACHE_INLINE_H

#ifndef AMONESIZE_CACHE_H
#error "include <amonesize_cache.h>, not <amonesize/cache_inline.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @internal A per-thread cache; see amonesize_cache.h. */
struct am_onesize_cache {
    struct am_onesize *os;
    size_t n;        /* blocks cached now, in blocks[0..n), each parked */
    size_t capacity; /* 0: every call goes to the pool */
    size_t batch;    /* blocks moved to or from the pool at a time */
    uintptr_t key;   /* the pool's key when the cached blocks were parked */
    uintptr_t mark;  /* am_onesize_impl_park_mark(key) */
    size_t carved;   /* blocks [0, carved) had been handed out under key */
    size_t reported; /* n as the pool last counted it (in its "cached") */
    void *blocks[AM_ONESIZE_CACHE_MAX];
};

AM_ONESIZE_API void *am_onesize_impl_cache_allocate(struct am_onesize_cache *c, size_t size);
AM_ONESIZE_API int am_onesize_impl_cache_free(struct am_onesize_cache *c, const void *ptr);

/* The pool's key, read without its lock: free_all changes it, and a cache
 * whose blocks were parked under another key drops them. */
#if defined(__GNUC__)
#define AM_ONESIZE_KEY_OF(os) __atomic_load_n(&(os)->key, __ATOMIC_RELAXED)
#else
#define AM_ONESIZE_KEY_OF(os) (*(const volatile uintptr_t *)&(os)->key)
#endif

#if AM_ONESIZE_HAS_INLINE
/* The common cases: a block from the array, and a block into the array
 * with room left that is plainly a handed-out block (carved, not carrying
 * the free pattern). Everything else (refill, flush, a suspicious block, a
 * key that changed, a cache passing everything to the pool) goes to the
 * library. */
AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size)
{
    if (AM_ONESIZE_LIKELY(c != 0)) {
        const size_t n = c->n;
        const struct am_onesize *os = c->os;
        /* The key first: blocks parked under another key (free_all took
         * them back, or the pool was destroyed) are not read here. */
        if (AM_ONESIZE_LIKELY(n != 0 && size <= os->block_size && c->key == AM_ONESIZE_KEY_OF(os))) {
            /* Checked as it is handed out, as the pool checks what it pops:
             * a block written while cached is never handed out. */
            void *b = c->blocks[n - 1];
            if (AM_ONESIZE_LIKELY(am_onesize_impl_unpark(os, c->key, c->mark, b))) {
                c->n = n - 1;
                return b;
            }
        }
    }
    return am_onesize_impl_cache_allocate(c, size);
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr)
{
    if (AM_ONESIZE_LIKELY(c != 0)) {
        const size_t n = c->n;
        const struct am_onesize *os = c->os;
        uintptr_t p = (uintptr_t)ptr;
        const uintptr_t key = c->key;
        /* Nothing is read from ptr unless the cache is current (the pool
         * was not emptied by free_all, destroyed or constructed again since
         * it synchronised) and ptr is a block carved under that key. */
        if (AM_ONESIZE_LIKELY(n < c->capacity && key == AM_ONESIZE_KEY_OF(os) &&
                              am_onesize_impl_index(os, &p) < c->carved)) {
            void *b = (void *)p;
            uintptr_t w[2];
            AM_ONESIZE_COPY(w, b);
            if (AM_ONESIZE_LIKELY(!am_onesize_impl_is_free_pattern(key, am_onesize_impl_pos(os, b, 0), w))) {
                am_onesize_impl_park(os, key, c->mark, b);
                c->blocks[n] = b;
                c->n = n + 1;
                return 0;
            }
        }
    }
    return am_onesize_impl_cache_free(c, ptr);
}
#endif /* AM_ONESIZE_HAS_INLINE */

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_CACHE_INLINE_H */
