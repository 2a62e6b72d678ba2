/* libamonesize: per-thread caches in front of one pool.
 *
 * A pool behind one lock serialises its threads. A cache is a small stack
 * of blocks owned by one thread: allocating and freeing through it takes no
 * lock; it goes to the pool only in batches (half its capacity at a time,
 * with am_onesize_allocate_bulk() and am_onesize_free_bulk()), so the lock
 * is taken once per batch. This is the magazine layer of Bonwick's slab
 * allocator, or DPDK's mempool cache, made explicit.
 *
 *     static _Thread_local struct am_onesize_cache cache;
 *     am_onesize_cache_init(&cache, &pool, 0);      // once per thread
 *     void *p = am_onesize_cache_allocate(&cache, 64);
 *     am_onesize_cache_free(&cache, p);             // any thread's cache, or the pool
 *     am_onesize_cache_flush(&cache);               // before the cache is dropped
 *
 * Rules
 * - A cache belongs to one thread at a time and is bound to one pool; the
 *   pool needs critical-section callbacks if several threads use it.
 * - A block allocated through one cache may be freed through any other
 *   cache of the same pool, or with am_onesize_free(), and vice versa.
 * - Blocks sitting in a cache count as allocated for the pool:
 *   am_onesize_get_nfree() does not count them, am_onesize_get_nfree_min()
 *   sees them as in use, am_onesize_iterate_over_allocated() visits them,
 *   and the pool's "allocations" statistic counts blocks handed to caches.
 * - Call am_onesize_cache_flush() before a cache is dropped (its thread
 *   ends, its memory is reused): otherwise its blocks are lost to the pool
 *   until am_onesize_free_all(). As a debug aid, am_onesize_cache_init()
 *   refuses (-EBUSY) to re-initialise a cache that still holds blocks.
 * - Under Valgrind memcheck or AddressSanitizer (see amonesize.h) a cache
 *   passes every call straight to its pool, so that the debugger sees each
 *   block's life exactly.
 *
 * When misuse is caught
 * - A pointer that is not a block of the pool (outside, interior) is
 *   rejected by am_onesize_cache_free() at once, as am_onesize_free() would.
 * - Freeing a block that is already in the same cache is rejected at once
 *   with -EALREADY.
 * - A block freed into two caches, a block freed both into a cache and to
 *   the pool, and a block never handed out are caught when the cache's batch
 *   reaches the pool (a flush): the pool rejects that one block exactly as
 *   am_onesize_free() would (counted, reported to on_error), the cache drops
 *   it, and the rest of the batch is freed. Until then the block may have two
 *   owners, as with any double free; the pool itself is never corrupted.
 */
#ifndef AMONESIZE_CACHE_H
#define AMONESIZE_CACHE_H

#include "amonesize.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AM_ONESIZE_CACHE_MAX     512 /**< largest capacity */
#define AM_ONESIZE_CACHE_DEFAULT 32  /**< capacity 0 means this */

/** A per-thread cache. Defined here so it can live anywhere (a
 * _Thread_local, a worker struct, the stack); every field is private. */
struct am_onesize_cache {
    struct am_onesize *os;
    size_t n; /* blocks cached now, in blocks[0..n) */
    size_t capacity;
    size_t batch;    /* blocks moved to or from the pool at a time */
    uintptr_t tag;   /* marks blocks in a cache: pool key ^ salt */
    int bypass;      /* a memory debugger watches the pool */
    uintptr_t magic; /* address ^ a constant: set by a successful init */
    void *chain;     /* a batch taken whole from the pool, still linked */
    size_t nchain;   /* blocks left on it */
    void *blocks[AM_ONESIZE_CACHE_MAX];
};

/**
 * Bind an empty cache to a constructed pool.
 * @retval 0 success.
 * @retval -EBUSY  *c is a cache that still holds blocks: it was not flushed
 *         (a debug aid against losing them; flush it first). Nothing changes.
 * @retval -EINVAL iff c or os is NULL, os was never successfully
 *         constructed, or capacity > AM_ONESIZE_CACHE_MAX (then *c, if not
 *         NULL, is zeroed and every call on it fails harmlessly).
 * Capacity 0 means AM_ONESIZE_CACHE_DEFAULT. Locking: none. O(1).
 */
AM_API int am_onesize_cache_init(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity);

/**
 * Allocate a block: from the cache, or, when it is empty, after moving
 * half its capacity from the pool with one am_onesize_allocate_bulk().
 * @return a block, or NULL with errno: ENOMEM (the pool has no free block;
 *         other caches may still hold some), EINVAL (size larger than the
 *         block size, or c not initialised), EFAULT (damaged free list).
 * Locking: none, except once when refilling. Complexity: O(1) amortised;
 * a refill is O(capacity / 2).
 */
AM_API AM_ONESIZE_INLINE void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size);

/**
 * Give a block back to the cache; when the cache is full, half its capacity
 * (the blocks cached longest) goes to the pool with one am_onesize_free_bulk().
 * NULL is a no-op returning 0.
 * @retval 0          ptr is in the cache (see "When misuse is caught").
 * @retval -EINVAL    ptr is not a block of the pool, or c is not initialised.
 * @retval -EALREADY  ptr is already in this cache.
 * Locking: none, except once when flushing. Complexity: O(1) amortised; a
 * flush is O(capacity / 2).
 */
AM_API AM_ONESIZE_INLINE int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr);

/**
 * Give every cached block back to the pool (one am_onesize_free_bulk(),
 * repeated only to skip blocks the pool rejects). The cache stays bound and
 * usable. Does nothing for a NULL or uninitialised cache.
 * Locking: once (more only if the pool rejects blocks). O(ncached).
 */
AM_API void am_onesize_cache_flush(struct am_onesize_cache *c);

/** Blocks in the cache now (0 for NULL). No lock. O(1). */
AM_API size_t am_onesize_cache_get_ncached(const struct am_onesize_cache *c);

/* Private: the out-of-line parts of the inline fast paths below. */
AM_API void *am_onesize_impl_cache_allocate(struct am_onesize_cache *c, size_t size);
AM_API int am_onesize_impl_cache_free(struct am_onesize_cache *c, const void *ptr);

#if AM_ONESIZE_HAS_INLINE
/* The common cases inline: a block from the array, a block into the array
 * with room left that carries neither the cache's mark nor the pool's free
 * pattern. Everything else (refill, flush, the chain, a suspicious block,
 * a memory debugger: capacity is 0 then) goes to the library. */
AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size)
{
    if (c != NULL && c->n != 0 && size <= c->os->block_size) {
        unsigned char *b = (unsigned char *)c->blocks[--c->n];
        const uintptr_t cleared = 0;
        memcpy(b + sizeof cleared, &cleared, sizeof cleared);
        return b;
    }
    return am_onesize_impl_cache_allocate(c, size);
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr)
{
    if (c != NULL && c->n < c->capacity && ptr != NULL) {
        const struct am_onesize *os = c->os;
        uintptr_t p = (uintptr_t)ptr;
        if (am_onesize_impl_index(os, &p) < os->nblocks) {
            unsigned char *b = (unsigned char *)p;
            uintptr_t w[2];
            memcpy(w, b, sizeof w);
            if (w[1] != (p ^ c->tag) && (w[0] ^ w[1] ^ p) != os->key) {
                w[1] = p ^ c->tag;
                memcpy(b + sizeof w[0], &w[1], sizeof w[1]);
                c->blocks[c->n++] = b;
                return 0;
            }
        }
    }
    return am_onesize_impl_cache_free(c, ptr);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_CACHE_H */
