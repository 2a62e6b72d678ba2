/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 the libamonesize authors */
/**
 * libamonesize: a fixed-size block allocator over caller-provided memory.
 *
 * This header is the reference manual of the core allocator. The per-thread
 * caches are in <amonesize_cache.h>, the pthread adapter in
 * <amonesize_pthread.h>.
 *
 * The model
 * ---------
 * A *pool* is a span of memory the caller owns (static array, mmap, stack).
 * am_onesize_ctor() carves it into equal *blocks* of the effective block
 * size (see am_onesize_get_block_size()). A request of up to that many bytes
 * gets one block; a freed block goes back to the front of a singly linked
 * free list, so the most recently freed block is handed out first. Blocks
 * never handed out are carved lazily, bump-pointer style, so construction is
 * O(1) and untouched pages stay untouched. The library keeps no bookkeeping
 * in the pool beside the blocks: an aligned pool of exactly n blocks' bytes
 * yields n blocks. It never calls malloc, never prints, never aborts on
 * caller input: bad input is answered with an error and leaves the pool as
 * it was.
 *
 * What a free block holds, and what is detected
 * ---------------------------------------------
 * A free block stores two words in its first bytes: the link to the next
 * free block and a check word, the link XOR the block's position XOR a
 * random per-pool key (the free pattern). A block handed out has its check
 * word cleared. So, without a memory debugger:
 *  - a free of a pointer that is not a block of this pool handed out since
 *    construction or the last am_onesize_free_all() is rejected exactly
 *    (outside the pool, inside a block, never handed out): -EINVAL;
 *  - a double free is rejected exactly (-EALREADY): free recognises a block
 *    that carries the pattern and confirms by walking the free list, so
 *    every legitimate free stays O(1);
 *  - a write into the first two words of a freed block (a use after free)
 *    is detected when allocation reaches that block (NULL, errno EFAULT);
 *    the damaged link is never followed;
 * and what is not:
 *  - a write into a freed block beyond its first two words;
 *  - a use-after-free write into the first two words followed by a double
 *    free of that block: the block no longer carries the pattern, so the
 *    free is accepted as a legitimate one (the damage is still found when
 *    allocation reaches it, or by am_onesize_check());
 *  - a stale pointer to a block that was freed and handed out again: it is
 *    a valid block, so freeing it frees the new owner's block.
 * Caller data matches the pattern only if the caller writes the pool's
 * secret key into a block; even then the walk keeps double-free detection
 * exact. One more check needs no look at the block: a free into a pool whose
 * every block is free is a double free, always. The misuse table in
 * docs/misuse.md lists every case, in each mode, with its test.
 *
 * The hardened mode
 * -----------------
 * For those who would rather spend a little memory and time than ship such
 * a bug, two options close the blind spots without a debugger:
 *  - cfg.state, caller memory of AM_ONESIZE_STATE_SIZE() bytes, holds one bit
 *    per block (handed out or not). Every free is judged by the bit in O(1),
 *    whatever the block holds: a free of a free block is -EALREADY, also
 *    after a stray write into it and after am_onesize_free_all(); a block
 *    on the free list whose bit says handed out is damage (EFAULT), never
 *    handed out. Per-thread caches then pass every call to the pool, so that
 *    the bits are exact at every moment.
 *  - cfg.flags AM_ONESIZE_CHECK_FREED fills a freed block beyond its first
 *    two words with a pattern derived from the key, and the allocation that
 *    next takes the block verifies it first. A mismatch is a write after
 *    free: the block is taken out of service until free_all (the "retired"
 *    statistic), the event is counted ("freed_writes") and reported to
 *    on_error (EFAULT, with the block's address), and allocation goes on
 *    with the next block. Per-thread caches keep this: a block is checked
 *    when the pool hands it to a cache and filled when a cache gives it
 *    back (not while it is reused within one cache).
 * Both work together, with locking, bulk operations and under memory
 * debuggers (whose own checks are then the stronger ones). An unlocked
 * pool with only cfg.state keeps an inline fast path (the bit is read and
 * written inline); with AM_ONESIZE_CHECK_FREED, or cfg.state on a locked
 * pool, each call is a library call. A pool without them pays nothing for
 * their existence.
 *
 * Locking
 * -------
 * Without callbacks a pool is for one thread. With crit_enter/crit_exit set,
 * every function (getters and iteration included) may be called from any
 * thread at any time, and blocks may be freed by a thread other than the one
 * that allocated them: each call of this header enters the critical section
 * at most once (am_onesize_allocate_wait() may wait inside it) and leaves it
 * before it returns; a cache's calls say how often they enter it. The
 * callbacks are called in balanced pairs, never nested, never from
 * am_onesize_ctor() or am_onesize_dtor(), and never while an on_error
 * callback runs.
 *
 * Memory debuggers
 * ----------------
 * Under Valgrind memcheck (when built with the valgrind option) and when the
 * AddressSanitizer runtime is present in the process (even if only the
 * application was built with -fsanitize=address), free blocks are marked
 * inaccessible and allocated ones accessible, so use after free anywhere in
 * a block, reads of uninitialised block memory (memcheck) and leaked blocks
 * (memcheck) are reported. This is decided once, in am_onesize_ctor(), and
 * costs nothing otherwise.
 *
 * Fast paths
 * ----------
 * am_onesize_allocate() and am_onesize_free() are inline (C99 inline
 * semantics; the library also exports them as ordinary functions). The inline
 * part handles the common case of an unlocked pool, of an unlocked pool with
 * only cfg.state, and of a pool locked through callbacks (calling crit_enter
 * and crit_exit itself, once each), when no memory debugger is present; it
 * hands everything else to the library. Define AM_ONESIZE_NO_INLINE to
 * always call the library.
 * The layout of struct am_onesize and the am_onesize_impl_* functions, in
 * <amonesize/inline.h>, are private: use only what this header documents.
 */
#ifndef AMONESIZE_H
#define AMONESIZE_H

#include <stddef.h>
#include <stdint.h>
#if !defined(__GNUC__)
#include <string.h> /* memcpy, for the inline code (gcc and clang use their builtin) */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define AM_ONESIZE_VERSION_MAJOR 0
#define AM_ONESIZE_VERSION_MINOR 2
#define AM_ONESIZE_VERSION_PATCH 0
#define AM_ONESIZE_VERSION       "0.2.0"

/** Marks every function the library exports. */
#if defined(__GNUC__)
#define AM_ONESIZE_API __attribute__((visibility("default")))
#else
#define AM_ONESIZE_API
#endif

/* The fast paths are inline where the compiler has C99 (or C++) inline
 * semantics. */
#if !defined(AM_ONESIZE_NO_INLINE) &&                                                                        \
    (defined(__cplusplus) || defined(__GNUC_STDC_INLINE__) ||                                                \
     (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L && !defined(__GNUC_GNU_INLINE__)))
#define AM_ONESIZE_HAS_INLINE 1
#define AM_ONESIZE_INLINE     inline
#else
#define AM_ONESIZE_HAS_INLINE 0
#define AM_ONESIZE_INLINE
#endif

struct timespec;

/** A span of memory. */
struct am_blk {
    void *ptr;
    size_t size;
};

/** Called on every detected misuse; see struct am_onesize_cfg. */
typedef void (*am_onesize_error_fn)(void *ctx, int err, const void *ptr);

/** Construction parameters. Zero-initialise, then set what you need. */
struct am_onesize_cfg {
    struct am_blk pool;                 /**< caller-owned memory the blocks are carved from */
    size_t block_size;                  /**< largest request served (> 0) */
    size_t alignment;                   /**< 0: alignof(max_align_t); else a power of two */
    void (*crit_enter)(void *crit_ctx); /**< enter the critical section; both NULL: no locking */
    void (*crit_exit)(void *crit_ctx);  /**< leave it */
    void *crit_ctx;                     /**< passed to every crit_* callback, e.g. a mutex */
    /** Optional. Called after a misuse was detected and rejected, outside
     * the critical section, with a positive errno value and the pointer
     * concerned (NULL when there is none):
     *  - EINVAL: not a block of this pool, or a request larger than the
     *    block size;
     *  - EALREADY: a double free;
     *  - EFAULT: a damaged free block (a write after free) or free list;
     *    the pointer is the block concerned, except NULL when an
     *    allocation or am_onesize_iterate_over_allocated() fails with
     *    EFAULT (what it stopped at is not a block of the caller's);
     *  - ESTALE: am_onesize_free_all() reclaimed blocks that per-thread
     *    caches held (see <amonesize_cache.h>).
     * It may log or abort; it must not call into the same pool. Running out
     * of blocks (ENOMEM) and timeouts are not misuse and are not reported. */
    am_onesize_error_fn on_error;
    void *on_error_ctx;
    /** Optional, for am_onesize_allocate_wait(): both set or both NULL, and
     * only together with crit_enter/crit_exit. crit_wait is called inside
     * the critical section: it leaves it, sleeps until crit_notify() is
     * called or until the CLOCK_MONOTONIC time *deadline (NULL: no
     * deadline), and enters it again; it returns 0, or ETIMEDOUT once the
     * deadline has passed (spurious wake-ups are allowed). crit_notify is
     * called inside the critical section, only while some thread waits, and
     * must wake every waiter. <amonesize_pthread.h> has both. */
    int (*crit_wait)(void *crit_ctx, const struct timespec *deadline);
    void (*crit_notify)(void *crit_ctx);
    /** Optional (ptr and size both 0: none): the hardened mode's state, one
     * bit per block, in caller memory of at least AM_ONESIZE_STATE_SIZE(
     * pool.size, block_size) bytes, any alignment, not overlapping the pool;
     * its contents are ignored by ctor. The library never allocates it. */
    struct am_blk state;
    /** 0, or AM_ONESIZE_CHECK_FREED. */
    unsigned flags;
};

/** Bytes of cfg.state enough for every block of a pool of pool_size bytes
 * and block_size: an integer constant expression when its arguments are. */
#define AM_ONESIZE_STATE_SIZE(pool_size, block_size)                                                         \
    (((size_t)(pool_size) /                                                                                  \
          ((size_t)(block_size) > 2 * sizeof(void *) ? (size_t)(block_size) : 2 * sizeof(void *)) +          \
      7) /                                                                                                   \
     8)

/** cfg.flags: fill freed blocks and check the fill when they are taken
 * again (see "The hardened mode"). */
#define AM_ONESIZE_CHECK_FREED 1u

/** Counters and state, read together by am_onesize_get_stats(). */
struct am_onesize_stats {
    uint64_t allocations;              /**< blocks handed out (to callers and caches) */
    uint64_t frees;                    /**< blocks given back (by free, bulk free and
                                            cache flushes) */
    uint64_t freed_by_free_all;        /**< blocks free_all took back (held, cached or
                                            retired) */
    uint64_t failed_allocations;       /**< ENOMEM: no block (or margin) free */
    uint64_t oversize_requests;        /**< EINVAL: size > block size */
    uint64_t rejected_outside;         /**< frees of pointers outside the pool */
    uint64_t rejected_interior;        /**< frees of pointers inside a block */
    uint64_t rejected_never_allocated; /**< frees of never handed out blocks */
    uint64_t rejected_double;          /**< double frees, including frees after
                                            free_all of blocks not handed out since */
    uint64_t corruptions;              /**< damaged free blocks or lists found (EFAULT) */
    size_t nfree;                      /**< free blocks now */
    size_t nfree_min;                  /**< low-water mark of nfree */
    size_t nblocks;                    /**< capacity */
    size_t block_size;                 /**< effective block size */
    size_t cached;                     /**< blocks held by per-thread caches when each
                                            last traded with the pool (counted as
                                            allocated; see amonesize_cache.h) */
    uint64_t cache_reclaimed;          /**< blocks caches held when free_all took them
                                            back (those caches drop them) */
    size_t retired;                    /**< blocks found written after they were freed
                                            (their fill, or their words while the depot
                                            or a cache held them) since free_all: out of
                                            service until then (a stale pointer to one
                                            freed again returns it, uncounted here; with
                                            a state bitmap such a free is -EALREADY) */
    uint64_t waits;                    /**< am_onesize_allocate_wait calls that waited */
    uint64_t timeouts;                 /**< am_onesize_allocate_wait calls that ended with
                                            ETIMEDOUT (a deadline already past too) */
    uint64_t freed_writes;             /**< writes into freed blocks found by their fill
                                            (AM_ONESIZE_CHECK_FREED) */
};

/** A pool. Its definition (in <amonesize/inline.h>) is visible so that it
 * can live in static storage or on the stack; every field is private. Only
 * am_onesize_ctor() may initialise it; do not copy it. */
struct am_onesize;

/**
 * Construct a pool over cfg->pool.
 *
 * The effective block size is cfg->block_size rounded up to at least two
 * pointers (a free block's link and check word) and then to a multiple of
 * the alignment; an alignment below a pointer's is raised to it, so that the
 * links in free blocks are aligned. A pool start that is not aligned is
 * aligned up; the skipped bytes are unused, not an error. Trailing bytes
 * smaller than a block are unused. The pool memory is not read or written
 * (except that memory debuggers are told it is inaccessible). *os may hold
 * anything before the call, including a pool that was never destroyed.
 *
 * @retval 0        success; every block is free.
 * @retval -EINVAL  and *os (if not NULL) is zeroed, so every later call on it
 *                  fails harmlessly. Returns -EINVAL iff:
 *                  - os or cfg is NULL;
 *                  - cfg->pool.ptr is NULL or cfg->pool.size is 0;
 *                  - the pool wraps around the end of the address space;
 *                  - cfg->block_size is 0;
 *                  - cfg->alignment is neither 0 nor a power of two;
 *                  - exactly one of crit_enter and crit_exit is set;
 *                  - exactly one of crit_wait and crit_notify is set, or
 *                    they are set without crit_enter and crit_exit;
 *                  - cfg->flags has a bit other than AM_ONESIZE_CHECK_FREED;
 *                  - exactly one of cfg->state.ptr and cfg->state.size is
 *                    zero, cfg->state is smaller than the pool's blocks need
 *                    (one bit each, rounded up to bytes), wraps around the
 *                    address space, or overlaps cfg->pool;
 *                  - the effective block size overflows size_t;
 *                  - the pool, once aligned, has no room for one block.
 * Locking: never calls the critical-section callbacks.
 * Complexity: O(1), whatever the pool size (under memcheck, O(pools)).
 */
AM_ONESIZE_API int am_onesize_ctor(struct am_onesize *os, const struct am_onesize_cfg *cfg);

/**
 * End a pool: its memory is the caller's again. Memory debuggers are told
 * the whole pool is ordinary addressable memory once more (contents
 * unspecified), and *os is zeroed, so every later call on it fails
 * harmlessly until the next am_onesize_ctor().
 *
 * Call it before reusing the pool memory for anything else, and before a
 * pool on the stack goes out of scope: under a memory debugger that memory
 * would otherwise stay marked inaccessible. Without a debugger it only
 * zeroes *os. Blocks still allocated are simply forgotten; per-thread caches
 * of the pool drop what they hold at their next call. No thread may be
 * using the pool, or waiting in am_onesize_allocate_wait(), during or after
 * the call: that is a caller error the library cannot detect.
 * Does nothing if os is NULL or was never successfully constructed.
 * Locking: none. Complexity: O(1) (under a memory debugger: O(blocks handed
 * out since the last free_all)).
 */
AM_ONESIZE_API void am_onesize_dtor(struct am_onesize *os);

/**
 * Allocate one block for a request of size bytes (0 included).
 *
 * Returns the most recently freed block, or else a block per-thread caches
 * gave back, or else the next never-used one. The contents are unspecified.
 * @return the block, aligned to the configured alignment; or NULL with errno:
 *  - ENOMEM: no block is free;
 *  - EINVAL: size > am_onesize_get_block_size(), or os was never
 *    successfully constructed (os NULL included);
 *  - EFAULT: the free block to be handed out was damaged (its first two
 *    words written after it was freed, or, with a state bitmap, its bit
 *    says handed out). Nothing is handed out, the damage is counted and
 *    reported (to on_error with a NULL pointer), and allocations fail
 *    this way as long as that block is the
 *    first of the free list, that is until am_onesize_free_all() except
 *    that a block freed since is handed out first: a damaged link is never
 *    followed. (A block that
 *    per-thread caches gave back is dropped instead, and the next call goes
 *    on. With AM_ONESIZE_CHECK_FREED, a block whose fill was written is
 *    retired and allocation goes on with the next block; NULL with ENOMEM
 *    (counted in failed_allocations) if none is left. One call retires at
 *    most four blocks, each reported; meeting a fifth, it stops with
 *    EFAULT, reported with a NULL pointer and not counted in corruptions,
 *    and the next call goes on from that block.)
 * Locking: enters the critical section at most once.
 * Complexity: O(1).
 */
AM_ONESIZE_API AM_ONESIZE_INLINE void *am_onesize_allocate(struct am_onesize *os, size_t size);

/**
 * As am_onesize_allocate(), but succeeds only while more than margin blocks
 * are free, keeping a reserve for callers that use a smaller margin.
 * @return the block, or NULL with errno ENOMEM when nfree <= margin (also
 *         once blocks retired on the way, AM_ONESIZE_CHECK_FREED, leave no
 *         more than margin free), and the other errno values of
 *         am_onesize_allocate().
 * Locking: enters the critical section at most once. Complexity: O(1).
 */
AM_ONESIZE_API void *am_onesize_allocate_x(struct am_onesize *os, size_t size, size_t margin);

/**
 * As am_onesize_allocate(), but waits while no block is free.
 *
 * Returns a block as soon as one is free: at once if one is, else as soon
 * as a free, a bulk free, a cache flush or free_all gives one back to the
 * pool (blocks held in per-thread caches are not free for the pool and wake
 * nobody). deadline is an absolute CLOCK_MONOTONIC time; NULL waits without
 * limit; a deadline already past does not wait. No wake-up is lost: a block
 * freed after the call started waiting is seen. Blocks it retires on the
 * way (AM_ONESIZE_CHECK_FREED) were not free after all: if nothing else
 * is, it waits.
 * @return the block, or NULL with errno:
 *  - ETIMEDOUT: the deadline passed and no block was free;
 *  - EINVAL: size > am_onesize_get_block_size(), os was never successfully
 *    constructed, or deadline->tv_nsec is outside [0, 1000000000);
 *  - ENOTSUP: the pool has no crit_wait and crit_notify;
 *  - EFAULT: as am_onesize_allocate().
 * Locking: enters the critical section once, and stays in it except while
 * crit_wait() sleeps. Complexity: O(1) besides the wait.
 */
AM_ONESIZE_API void *am_onesize_allocate_wait(struct am_onesize *os, size_t size,
                                              const struct timespec *deadline);

/**
 * Give a block back. free(NULL) is a no-op returning 0.
 *
 * Misuse is detected exactly (see "What a free block holds") and changes
 * nothing but the rejection counters:
 * @retval 0          the block is free again (and will be handed out next).
 * @retval -EINVAL    ptr is not a block of this pool that was handed out:
 *                    outside the pool, not at the start of a block, a block
 *                    never handed out since construction; or os was never
 *                    successfully constructed.
 * @retval -EALREADY  double free: ptr is free already, including a block
 *                    reclaimed by am_onesize_free_all() and not handed out
 *                    since, and a block held by a per-thread cache.
 * @retval -EFAULT    ptr looks free but the free list is damaged, so that
 *                    could not be confirmed; ptr is not freed.
 * Locking: enters the critical section at most once.
 * Complexity: O(1); only a double free (or a block whose contents match the
 * pool's secret free pattern) pays a walk of the free list, O(nfree).
 */
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_free(struct am_onesize *os, const void *ptr);

/**
 * Return every block to the pool at once, including blocks held by
 * per-thread caches (each cache drops them at its next call; they are never
 * handed out or given back by it again: counted in cache_reclaimed and
 * reported to on_error with ESTALE). The low-water mark is kept.
 * Pointers handed out before are invalid afterwards; freeing one is
 * rejected with -EALREADY until the block is handed out again.
 * Does nothing if os was never successfully constructed.
 * Locking: enters the critical section once. Complexity: O(1) (under a
 * memory debugger: O(blocks handed out since the last free_all)).
 */
AM_ONESIZE_API void am_onesize_free_all(struct am_onesize *os);

/** Callback of am_onesize_iterate_over_allocated(): index counts visited
 * blocks from 0, block is the block, size the effective block size. */
typedef void (*am_onesize_iterate_fn)(void *ctx, size_t index, void *block, size_t size);

/**
 * Call cb for up to num allocated blocks (num 0: all), in address order.
 * Blocks held by per-thread caches count as allocated, and so do blocks
 * retired as damaged (stats.retired), except in a pool with a state bitmap:
 * its bits say which blocks are handed out, and a retired block is not.
 *
 * Only free blocks are read to tell them apart, never allocated ones (their
 * owners may be writing them from other threads): the free list is sorted by
 * address in place for the walk and put back in its LIFO order afterwards,
 * so the order of later allocations is unchanged.
 * cb runs inside the critical section: it must not call into the same pool
 * (that would deadlock or, unlocked, corrupt the walk), but it may read and
 * write the block it is given.
 * @return how many blocks were visited; 0 with errno EINVAL if cb is NULL or
 *         os was never successfully constructed; 0 with errno EFAULT (and
 *         on_error called) if the free list is damaged, without visiting.
 * Locking: enters the critical section once, for the whole walk.
 * Complexity: O(c + f x ceil(log2(c) / 6)) for c blocks handed out since
 * construction or free_all and f free ones among them: linear, never
 * O(nblocks x nfree). Uses 1 KiB of stack.
 */
AM_ONESIZE_API size_t am_onesize_iterate_over_allocated(struct am_onesize *os, size_t num,
                                                        am_onesize_iterate_fn cb, void *ctx);

/** Free blocks now, counting never-used ones. Locking: once. O(1).
 * 0 if os was never successfully constructed. */
AM_ONESIZE_API size_t am_onesize_get_nfree(const struct am_onesize *os);

/** Smallest am_onesize_get_nfree() seen since construction (free_all does
 * not reset it). Locking: once. O(1). */
AM_ONESIZE_API size_t am_onesize_get_nfree_min(const struct am_onesize *os);

/** Effective block size (see am_onesize_ctor()); 0 for a pool never
 * successfully constructed. Never changes; no lock. */
AM_ONESIZE_API size_t am_onesize_get_block_size(const struct am_onesize *os);

/** Capacity in blocks; 0 for a pool never successfully constructed. Never
 * changes; no lock. */
AM_ONESIZE_API size_t am_onesize_get_nblocks(const struct am_onesize *os);

/**
 * Allocate up to n blocks in one critical section, into out[0..n-1].
 *
 * Each block is taken as am_onesize_allocate() would take it (most recently
 * freed first); the request size is the block size.
 * @return how many blocks were stored in out (the rest of out is untouched):
 *         n, or fewer when the pool ran out (errno ENOMEM) or a damaged free
 *         block was met (errno EFAULT); 0 with errno EINVAL if out is NULL
 *         and n > 0, or os was never successfully constructed. n == 0
 *         returns 0 and changes nothing.
 * Locking: enters the critical section once, for the whole batch.
 * Complexity: O(n).
 */
AM_ONESIZE_API size_t am_onesize_allocate_bulk(struct am_onesize *os, void **out, size_t n);

/**
 * Free n blocks in one critical section, all or nothing.
 *
 * Every pointer is checked exactly as am_onesize_free() checks it, including
 * against the earlier pointers of the same batch (a pointer given twice is
 * a double free). NULL pointers are skipped.
 * @retval 0        every block is free again.
 * @retval k > 0    nothing was freed: blocks[k - 1] is the first bad pointer,
 *                  and errno says why (EINVAL: not a handed-out block of this
 *                  pool; EALREADY: a double free, within the batch or not;
 *                  EFAULT: the free list is damaged). The rejection is
 *                  counted and reported to on_error like am_onesize_free()'s.
 *                  The blocks before it stay allocated, with their contents
 *                  as they were except that the first two words may have
 *                  been overwritten (memory debuggers see no change).
 * @retval -EINVAL  os NULL or never successfully constructed, blocks NULL
 *                  with n > 0, or n > INT_MAX; nothing was done.
 * Locking: enters the critical section once, for the whole batch.
 * Complexity: O(n) (a double free costs a walk of the free list).
 */
AM_ONESIZE_API int am_onesize_free_bulk(struct am_onesize *os, void *const *blocks, size_t n);

/**
 * Copy every counter at one instant into *out.
 * @retval 0 success; -EINVAL iff os or out is NULL (out is then untouched)
 *         or os was never successfully constructed (out is then zeroed).
 * Locking: once. Complexity: O(1).
 */
AM_ONESIZE_API int am_onesize_get_stats(const struct am_onesize *os, struct am_onesize_stats *out);

/**
 * Check every invariant of the pool: counts consistent
 * (nfree_min <= nfree <= nblocks, the blocks not yet handed out among the
 * free ones), every free-list link valid and every free block's two words
 * intact (not its fill: AM_ONESIZE_CHECK_FREED checks that as allocation
 * takes the block), no cycle, list length matching the counts, blocks kept
 * for caches intact, with a state bitmap the bits agreeing with the counts.
 * For tests and debug builds; it changes nothing.
 * @retval 0 all hold; -EFAULT a free block is damaged or the list is
 *         inconsistent; -EINVAL os NULL or never successfully constructed.
 * Locking: once. Complexity: O(nblocks).
 */
AM_ONESIZE_API int am_onesize_check(const struct am_onesize *os);

#ifdef __cplusplus
}
#endif

#include "amonesize/inline.h"

#endif /* AMONESIZE_H */
