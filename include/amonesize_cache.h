/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 the libamonesize authors */
/**
 * libamonesize: per-thread caches in front of one pool.
 *
 * A pool behind one lock serialises its threads. A cache is a small stack
 * of blocks owned by one thread: allocating and freeing through it takes no
 * lock; it goes to the pool only in batches (half its capacity at a time),
 * so the lock is taken once per batch, and a batch hand-over copies
 * pointers without touching the blocks. This is the magazine layer of
 * Bonwick's slab allocator, or DPDK's mempool cache, made explicit.
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
 * - Blocks held by a cache count as allocated for the pool:
 *   am_onesize_get_nfree() does not count them,
 *   am_onesize_iterate_over_allocated() visits them, the pool's
 *   "allocations" statistic counts blocks handed to caches, and the "cached"
 *   statistic says how many caches hold now. A waiter in
 *   am_onesize_allocate_wait() is woken only by blocks that reach the pool.
 * - Call am_onesize_cache_flush() before a cache is dropped (its thread
 *   ends, its memory is reused): otherwise its blocks stay out of the pool
 *   until am_onesize_free_all() (visible as "cached" in the statistics).
 * - am_onesize_free_all() takes back the blocks caches hold; each cache
 *   drops them at its next call, and never hands them out or gives them
 *   back again. The same holds after am_onesize_dtor() and a new
 *   am_onesize_ctor() on the pool.
 * - Under Valgrind memcheck or AddressSanitizer (see amonesize.h), and for
 *   a pool with a state bitmap (cfg.state), a cache passes every call
 *   straight to its pool, so that the debugger sees each block's life
 *   exactly and the bits stay exact. This follows the pool's mode at each
 *   call: after am_onesize_ctor() on the pool, its new mode counts.
 *
 * Misuse, caught at once, exactly as the pool catches it (and counted and
 * reported by the pool):
 * - a pointer that is not a block of the pool (outside, interior) or was
 *   never handed out: -EINVAL;
 * - a block that is already free: in this cache, in another cache of the
 *   pool, kept by the pool for caches, or on the pool's free list:
 *   -EALREADY. A cached block carries the free pattern with a secret mark
 *   derived from the pool's key as its link; only a caller who writes that
 *   mark into a block of its own could have it taken for a cached one.
 * Never followed: a cache never follows a link. A block whose check word
 * (its second word) was written while it waited in the pool for a cache is
 * found when a cache takes it (EFAULT, counted, reported, taken out of
 * service until free_all: the "retired" statistic); a write into its first
 * word only, or into a block while it sits in a cache, is not detected
 * (only a memory debugger sees that).
 *
 * The pool's "cached" statistic counts the blocks each cache held when it
 * last traded with the pool (a refill, a flush, or catching up after
 * am_onesize_free_all()), not the blocks it holds at this instant: trading
 * only then is what keeps the common calls free of the pool's lock.
 */
#ifndef AMONESIZE_CACHE_H
#define AMONESIZE_CACHE_H

#include "amonesize.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AM_ONESIZE_CACHE_MAX     512 /**< largest capacity */
#define AM_ONESIZE_CACHE_DEFAULT 32  /**< capacity 0 means this */

/** A per-thread cache. Its definition (in <amonesize/cache_inline.h>) is
 * visible so that it can live anywhere (a _Thread_local, a worker struct,
 * the stack); every field is private. */
struct am_onesize_cache;

/**
 * Bind a cache to a constructed pool, empty. *c may hold anything before
 * (it is not read): re-initialising a cache that still holds blocks leaves
 * them out of the pool until am_onesize_free_all().
 * @retval 0 success.
 * @retval -EINVAL iff c or os is NULL, os was never successfully
 *         constructed, or capacity > AM_ONESIZE_CACHE_MAX (then *c, if not
 *         NULL, is set so that every call on it fails harmlessly).
 * Capacity 0 means AM_ONESIZE_CACHE_DEFAULT. Locking: none. O(1).
 */
AM_ONESIZE_API int am_onesize_cache_init(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity);

/**
 * Allocate a block: from the cache, or, when it is empty, after taking half
 * its capacity from the pool at once.
 * @return a block, or NULL with errno: ENOMEM (the pool has no free block;
 *         other caches may still hold some), EINVAL (size larger than the
 *         block size, or c not initialised), EFAULT (damaged free list, or
 *         every block taken was damaged).
 * With AM_ONESIZE_CHECK_FREED, a block the refill takes whose fill was
 * written is retired and reported (amonesize.h), and the refill takes
 * again if it is left with nothing.
 * Locking: none, except once when refilling; each damaged block it drops,
 * or written block it retires, adds once (to count it) and maybe a refill
 * more. Complexity: O(1)
 * amortised; a refill is O(capacity / 2), and copies pointers only under
 * the lock.
 */
AM_ONESIZE_API AM_ONESIZE_INLINE void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size);

/**
 * Give a block back to the cache; when the cache is full, half its capacity
 * (the blocks cached longest) goes to the pool at once. NULL is a no-op
 * returning 0.
 * @retval 0          ptr is in the cache (or, if it carried data matching
 *                    the pool's free pattern, freed to the pool).
 * @retval -EINVAL    ptr is not a handed-out block of the pool, or c is not
 *                    initialised.
 * @retval -EALREADY  ptr is free already (see "Misuse" above).
 * Locking: none, except once when flushing, or once to catch up with the
 * pool (the first free after init or am_onesize_free_all(), or of a block
 * carved since the cache last looked); a block passed to the pool (see
 * above) adds the pool's own once. So at most twice. Complexity: O(1)
 * amortised; a flush is O(capacity / 2).
 */
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr);

/**
 * Give every cached block back to the pool, in one critical section. The
 * cache stays bound and usable. Does nothing for a NULL or uninitialised
 * cache, or one whose blocks free_all took back.
 * Locking: once. O(ncached).
 */
AM_ONESIZE_API void am_onesize_cache_flush(struct am_onesize_cache *c);

/** Blocks in the cache now (0 for NULL, and for blocks free_all took
 * back). No lock. O(1). */
AM_ONESIZE_API size_t am_onesize_cache_get_ncached(const struct am_onesize_cache *c);

#ifdef __cplusplus
}
#endif

#include "amonesize/cache_inline.h"

#endif /* AMONESIZE_CACHE_H */
