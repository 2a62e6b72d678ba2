/* libamonesize: a fixed-size block allocator over caller-provided memory.
 *
 * The model
 * ---------
 * A *pool* is a span of memory the caller owns (static array, mmap, stack...).
 * am_onesize_ctor() carves it into equal *blocks* of the effective block size
 * (see am_onesize_get_block_size()). A request of up to that many bytes gets
 * one block; a freed block goes back to the front of a singly linked free
 * list, so the most recently freed block is handed out first. Blocks that were
 * never handed out are carved lazily, bump-pointer style, so construction is
 * O(1) and untouched pages stay untouched. The library keeps no bookkeeping in
 * the pool beside the blocks: an aligned pool of exactly n blocks' bytes
 * yields n blocks. It never calls malloc, never prints, never aborts on
 * caller input: bad input is answered with an error and leaves the pool as
 * it was.
 *
 * What a free block holds
 * -----------------------
 * A free block stores two words: the link to the next free block and a check
 * word, the link XOR the block's address XOR a random per-pool key. So:
 *  - allocate verifies the check word of the block it pops: a stray write
 *    into a freed block (use after free) is detected (NULL, errno EFAULT)
 *    instead of a wild pointer being handed out;
 *  - free recognises a block that looks free (its words match the pattern)
 *    and only then confirms by walking the free list, so a double free is
 *    rejected exactly (-EALREADY) while every legitimate free stays O(1).
 * A block handed out has its check word cleared, so an allocated block only
 * looks free if the caller writes the pool's secret pattern into it, which it
 * cannot know; even then the walk keeps the answer exact.
 *
 * Locking
 * -------
 * Without callbacks a pool is for one thread. With crit_enter/crit_exit set,
 * every function (getters and iteration included) may be called from any
 * thread at any time: each call enters the critical section at most once and
 * exits it before returning. The callbacks are always called in balanced
 * pairs, never nested, never from am_onesize_ctor(), and never while an
 * on_error callback runs.
 *
 * Memory debuggers
 * ----------------
 * Under Valgrind (when built with the valgrind option) and when the
 * AddressSanitizer runtime is present in the process (even if only the
 * application was built with -fsanitize=address), free blocks are marked
 * inaccessible and allocated ones accessible, so use after free, reads of
 * uninitialised block memory (Valgrind) and leaked blocks (Valgrind) are
 * reported. This is decided once, in am_onesize_ctor(), and costs nothing
 * otherwise.
 *
 * Fast paths
 * ----------
 * am_onesize_allocate() and am_onesize_free() are defined inline below (C99
 * inline semantics; the library also exports them as ordinary functions).
 * The inline part handles the common case of an unlocked, untracked pool and
 * calls into the library for everything else. The am_onesize_impl_*
 * functions and the fields of struct am_onesize are private: they may change
 * in any release.
 */
#ifndef AMONESIZE_H
#define AMONESIZE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AM_ONESIZE_VERSION_MAJOR 0
#define AM_ONESIZE_VERSION_MINOR 1
#define AM_ONESIZE_VERSION_PATCH 0
#define AM_ONESIZE_VERSION       "0.1.0"

#if defined(__GNUC__)
#define AM_API __attribute__((visibility("default")))
#else
#define AM_API
#endif

/* The fast paths are inline where the compiler has C99 (or C++) inline
 * semantics; define AM_ONESIZE_NO_INLINE to always call the library. */
#if !defined(AM_ONESIZE_NO_INLINE) &&                                                                        \
    (defined(__cplusplus) || defined(__GNUC_STDC_INLINE__) ||                                                \
     (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L && !defined(__GNUC_GNU_INLINE__)))
#define AM_ONESIZE_HAS_INLINE 1
#define AM_ONESIZE_INLINE     inline
#if defined(__GNUC__)
#define AM_ONESIZE_ALWAYS_INLINE __attribute__((always_inline))
#else
#define AM_ONESIZE_ALWAYS_INLINE
#endif
#else
#define AM_ONESIZE_HAS_INLINE 0
#define AM_ONESIZE_INLINE
#endif

/** A span of memory: the pool handed to am_onesize_ctor(). */
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
    void (*crit_enter)(void *crit_ctx); /**< both NULL: no locking */
    void (*crit_exit)(void *crit_ctx);
    void *crit_ctx; /**< passed to both, e.g. a pthread_mutex_t * */
    /** Optional. Called after a misuse was detected and rejected, outside
     * the critical section, with the positive errno value the call fails
     * with (EINVAL: not a block of this pool or a request larger than the
     * block size; EALREADY: double free; EFAULT: free-list corruption) and
     * the pointer concerned (NULL for allocation errors). It may log or
     * abort; it must not call into the same pool. Running out of blocks
     * (ENOMEM) is not a misuse and is not reported here. */
    am_onesize_error_fn on_error;
    void *on_error_ctx;
};

/** Free-list state; private. */
struct am_onesize_freelist {
    void *head;     /* most recently freed block, or NULL */
    size_t ncarved; /* blocks [0, ncarved) have been handed out since
                       construction or the last free_all */
};

/** A batch spliced onto the free list by a cache; private. */
struct am_onesize_chain {
    void *head, *tail;
    size_t n;
};

#define AM_ONESIZE_PRIV_CHAINS 4

/** A pool. Defined here so it can live in static storage; every field is
 * private. Only am_onesize_ctor() may initialise it; do not copy it. */
struct am_onesize {
    /* Read and written by the inline fast paths; zero forever unless the
     * pool is unlocked and untracked (so reading them without a lock is
     * never a data race). */
    struct am_onesize_freelist fast;
    uintptr_t neg_base; /* minus the address of block 0: not a pointer to
                           it, so a leak checker does not take the pool
                           descriptor for a reference to block 0 */
    uintptr_t inv;      /* modular inverse of the odd part of block_size */
    unsigned shift;     /* block_size = odd part << shift */
    size_t block_size;  /* effective block size */
    uintptr_t key;      /* per-pool random key of the free-block pattern */
    size_t budget;      /* nfree - nfree_min */
    uint64_t nallocs;   /* successful allocations */
    /* Used only by the library itself. */
    struct am_onesize_freelist slow; /* state when locked or tracked */
    size_t nblocks;
    size_t nfree_min;
    size_t ncarved_max; /* largest ncarved since construction */
    unsigned mode;
    uint64_t freed_by_free_all;
    uint64_t failed;
    uint64_t oversize;
    uint64_t rejected[4];
    uint64_t corruptions;
    void (*crit_enter)(void *);
    void (*crit_exit)(void *);
    void *crit_ctx;
    am_onesize_error_fn on_error;
    void *on_error_ctx;
    /* Batches cache flushes spliced on top of the free list, newest last,
     * so that a cache refill can take one back in O(1). Valid only while
     * chain_epoch == epoch: every other list operation bumps epoch. */
    size_t epoch, chain_epoch;
    unsigned nchains;
    struct am_onesize_chain chains[AM_ONESIZE_PRIV_CHAINS];
};

/** Counters and state, read together by am_onesize_get_stats(). */
struct am_onesize_stats {
    uint64_t allocations;              /**< blocks handed out */
    uint64_t frees;                    /**< blocks given back by am_onesize_free
                                            (and bulk free) */
    uint64_t freed_by_free_all;        /**< blocks reclaimed by free_all */
    uint64_t failed_allocations;       /**< ENOMEM: no block (or margin) free */
    uint64_t oversize_requests;        /**< EINVAL: size > block size */
    uint64_t rejected_outside;         /**< frees of pointers outside the pool */
    uint64_t rejected_interior;        /**< frees of pointers inside a block */
    uint64_t rejected_never_allocated; /**< frees of never carved blocks */
    uint64_t rejected_double;          /**< double frees, including frees after
                                            free_all of blocks not handed out since */
    uint64_t corruptions;              /**< damaged free blocks found (EFAULT) */
    size_t nfree;                      /**< free blocks now */
    size_t nfree_min;                  /**< low-water mark of nfree */
    size_t nblocks;                    /**< capacity */
    size_t block_size;                 /**< effective block size */
};

/**
 * Construct a pool over cfg->pool.
 *
 * The effective block size is cfg->block_size rounded up to at least two
 * pointers (a free block's link and check word) and then to a multiple of the
 * alignment; an alignment below a pointer's is raised to it, so that the
 * links in free blocks are aligned. A pool start that is not aligned is aligned up; the skipped
 * bytes are unused, not an error. Trailing bytes smaller than a block are
 * unused. The pool memory is not read or written here (except that memory
 * debuggers are told it is inaccessible).
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
 *                  - the effective block size overflows size_t;
 *                  - the pool, once aligned, has no room for one block.
 * Locking: never calls the critical-section callbacks.
 * Complexity: O(1), whatever the pool size.
 */
AM_API int am_onesize_ctor(struct am_onesize *os, const struct am_onesize_cfg *cfg);

/**
 * End a pool: its memory is the caller's again. Memory debuggers are told
 * the whole pool is ordinary addressable memory once more (contents
 * unspecified), and *os is zeroed, so every later call on it fails
 * harmlessly until the next am_onesize_ctor().
 *
 * Call it before reusing the pool memory for anything else, and before a
 * pool on the stack goes out of scope: under Valgrind or AddressSanitizer
 * that memory would otherwise stay marked inaccessible. Without a memory
 * debugger it only zeroes *os. Blocks still allocated are simply forgotten.
 * Does nothing if os is NULL or was never successfully constructed.
 * Locking: none; no other thread may use the pool during or after the call.
 * Complexity: O(1) (under a memory debugger: O(pool size)).
 */
AM_API void am_onesize_dtor(struct am_onesize *os);

/**
 * Allocate one block for a request of size bytes (0 included).
 *
 * Returns the most recently freed block, or else the next never-used one.
 * The block's contents are unspecified.
 * @return the block, aligned to the configured alignment; or NULL with errno:
 *  - ENOMEM: no block is free;
 *  - EINVAL: size > am_onesize_get_block_size(), or os was never
 *    successfully constructed (os NULL included);
 *  - EFAULT: the free block to be handed out was damaged (written after it
 *    was freed). Nothing is handed out and the damage is counted; every
 *    allocation fails this way until am_onesize_free_all().
 * Locking: enters the critical section at most once.
 * Complexity: O(1).
 */
AM_API AM_ONESIZE_INLINE void *am_onesize_allocate(struct am_onesize *os, size_t size);

/**
 * As am_onesize_allocate(), but succeeds only while more than margin blocks
 * are free, keeping a reserve for callers that use a smaller margin.
 * @return the block, or NULL with errno ENOMEM when nfree <= margin, and the
 *         other errno values of am_onesize_allocate().
 * Locking: enters the critical section at most once. Complexity: O(1).
 */
AM_API void *am_onesize_allocate_x(struct am_onesize *os, size_t size, size_t margin);

/**
 * Give a block back. free(NULL) is a no-op returning 0.
 *
 * Misuse is detected exactly and changes nothing (no count, no list):
 * @retval 0          the block is free again (and will be handed out next).
 * @retval -EINVAL    ptr is not a block of this pool that was handed out:
 *                    outside the pool, not at the start of a block, a block
 *                    never handed out since construction; or os was never
 *                    successfully constructed.
 * @retval -EALREADY  double free: ptr is free already, including a block
 *                    reclaimed by am_onesize_free_all() and not handed out
 *                    since.
 * @retval -EFAULT    ptr looks free but the free list is damaged, so that
 *                    could not be confirmed; ptr is not freed.
 * Locking: enters the critical section at most once.
 * Complexity: O(1); only a double free (or a block whose contents match the
 * pool's secret free pattern) pays a walk of the free list, O(nfree).
 */
AM_API AM_ONESIZE_INLINE int am_onesize_free(struct am_onesize *os, const void *ptr);

/**
 * Return every block to the pool at once. The low-water mark is kept.
 * Pointers handed out before are invalid afterwards; freeing one is
 * rejected with -EALREADY until the block is handed out again.
 * Does nothing if os was never successfully constructed.
 * Locking: enters the critical section once. Complexity: O(1) (under a
 * memory debugger: O(blocks ever handed out)).
 */
AM_API void am_onesize_free_all(struct am_onesize *os);

/** Callback of am_onesize_iterate_over_allocated(): index counts visited
 * blocks from 0, block is the block, size the effective block size. */
typedef void (*am_onesize_iterate_fn)(void *ctx, size_t index, void *block, size_t size);

/**
 * Call cb for up to num allocated blocks (num 0: all), in address order.
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
AM_API size_t am_onesize_iterate_over_allocated(struct am_onesize *os, size_t num, am_onesize_iterate_fn cb,
                                                void *ctx);

/** Free blocks now, counting never-used ones. Locking: once. O(1).
 * 0 if os was never successfully constructed. */
AM_API size_t am_onesize_get_nfree(const struct am_onesize *os);

/** Smallest am_onesize_get_nfree() seen since construction (free_all does
 * not reset it). Locking: once. O(1). */
AM_API size_t am_onesize_get_nfree_min(const struct am_onesize *os);

/** Effective block size (see am_onesize_ctor()). Never changes; no lock. */
AM_API size_t am_onesize_get_block_size(const struct am_onesize *os);

/** Capacity in blocks. Never changes; no lock. */
AM_API size_t am_onesize_get_nblocks(const struct am_onesize *os);

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
AM_API size_t am_onesize_allocate_bulk(struct am_onesize *os, void **out, size_t n);

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
 *                  The blocks before it stay allocated, but their first two
 *                  words may have been overwritten.
 * @retval -EINVAL  os NULL or never successfully constructed, blocks NULL
 *                  with n > 0, or n > INT_MAX; nothing was done.
 * Locking: enters the critical section once, for the whole batch.
 * Complexity: O(n) (a double free costs a walk of the free list).
 */
AM_API int am_onesize_free_bulk(struct am_onesize *os, void *const *blocks, size_t n);

/**
 * Copy every counter at one instant into *out.
 * @retval 0 success; -EINVAL iff os or out is NULL (out is then untouched)
 *         or os was never successfully constructed (out is then zeroed).
 * Locking: once. Complexity: O(1).
 */
AM_API int am_onesize_get_stats(const struct am_onesize *os, struct am_onesize_stats *out);

/**
 * Check every invariant of the pool: counts consistent
 * (nfree_min <= nfree <= nblocks), every free-list link valid and every free
 * block intact, no cycle, list length matching the counts.
 * For tests and debug builds; it changes nothing.
 * @retval 0 all hold; -EFAULT a free block is damaged or the list is
 *         inconsistent; -EINVAL os NULL or never successfully constructed.
 * Locking: once. Complexity: O(nblocks).
 */
AM_API int am_onesize_check(struct am_onesize *os);

/* Private: the out-of-line parts of the inline fast paths. The *_locked
 * ones are entered with the critical section held, and leave it. */
#define AM_ONESIZE_PRIV_LOCKED 1u /* struct am_onesize.mode: callbacks only */
AM_API void *am_onesize_impl_allocate(struct am_onesize *os, size_t size, size_t margin);
AM_API int am_onesize_impl_free(struct am_onesize *os, const void *ptr);
AM_API void *am_onesize_impl_allocate_locked(struct am_onesize *os, size_t size);
AM_API int am_onesize_impl_free_locked(struct am_onesize *os, const void *ptr);
AM_API AM_ONESIZE_INLINE void *am_onesize_impl_pop(struct am_onesize *os, struct am_onesize_freelist *fl,
                                                   size_t size);
AM_API AM_ONESIZE_INLINE int am_onesize_impl_push(struct am_onesize *os, struct am_onesize_freelist *fl,
                                                  const void *ptr);
AM_API AM_ONESIZE_INLINE uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p);

#if AM_ONESIZE_HAS_INLINE
/* The fast paths touch only the block's two words and the hot fields. An
 * unlocked, untracked pool uses the fast list; a pool with callbacks only
 * uses the slow list under the callbacks; anything else (tracking, no block
 * on the list, a request too large, a damaged block, a pointer that is not a
 * handed-out block, a block that looks free) goes to the library, with the
 * critical section still held if it was taken, so each call enters it at
 * most once. */

/* Pop a block that passes the free-pattern check, or NULL. */
AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_impl_pop(struct am_onesize *os,
                                                          struct am_onesize_freelist *fl, size_t size)
{
    unsigned char *b = (unsigned char *)fl->head;
    if (b == NULL || size > os->block_size)
        return NULL;                  /* budget may be another list's, under a lock not held */
    const size_t budget = os->budget; /* read once: one forwarded load */
    if (budget != 0) {
        uintptr_t w[2];
        memcpy(w, b, sizeof w);
        if ((w[0] ^ w[1] ^ (uintptr_t)b) == os->key) {
            const uintptr_t cleared = 0;
            fl->head = (void *)w[0];
            memcpy(b + sizeof w[0], &cleared, sizeof cleared);
            os->budget = budget - 1;
            os->nallocs++;
            return b;
        }
    }
    return NULL;
}

/* The one pointer-validity predicate: the index of the block *p points to
 * the start of, or a number >= nblocks if it points anywhere else.
 * (p - base) / block_size by multiplication: for an offset that is a
 * multiple of the block size this is the exact quotient; for any other it is
 * larger than every block index (Granlund & Montgomery).
 * *p is also laundered, for the caller to use: given a constant bogus
 * pointer, gcc 12 warns about loads through it (which only happen for pool
 * blocks) or crashes in its value-range pass. The empty asm hides where the
 * value came from and emits no instruction. */
AM_ONESIZE_ALWAYS_INLINE inline uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p)
{
#if defined(__GNUC__)
    __asm__("" : "+r"(*p));
#endif
    const uintptr_t m = (*p + os->neg_base) * os->inv;
    return (m >> os->shift) | (m << ((0u - os->shift) & (sizeof m * 8u - 1u)));
}

/* Push a handed-out block that does not look free; 1 if done, else 0. */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_push(struct am_onesize *os,
                                                         struct am_onesize_freelist *fl, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    const uintptr_t idx = am_onesize_impl_index(os, &p);
    if (idx < fl->ncarved) {
        unsigned char *b = (unsigned char *)p;
        uintptr_t w[2];
        memcpy(w, b, sizeof w);
        if ((w[0] ^ w[1] ^ p) != os->key) {
            w[0] = (uintptr_t)fl->head;
            w[1] = w[0] ^ p ^ os->key;
            /* The head store in between keeps gcc from packing the two
             * word stores through SSE registers (3 more instructions). */
            memcpy(b + sizeof w[0], &w[1], sizeof w[1]);
            fl->head = b;
            memcpy(b, &w[0], sizeof w[0]);
            os->budget++;
            return 1;
        }
    }
    return 0;
}

AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_allocate(struct am_onesize *os, size_t size)
{
    if (os != NULL) {
        void *b = am_onesize_impl_pop(os, &os->fast, size);
        if (b != NULL)
            return b;
        if (os->mode == AM_ONESIZE_PRIV_LOCKED) {
            os->crit_enter(os->crit_ctx);
            b = am_onesize_impl_pop(os, &os->slow, size);
            if (b == NULL)
                return am_onesize_impl_allocate_locked(os, size);
            os->epoch++;
            os->crit_exit(os->crit_ctx);
            return b;
        }
    }
    return am_onesize_impl_allocate(os, size, 0);
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_free(struct am_onesize *os, const void *ptr)
{
    if (os != NULL) {
        if (am_onesize_impl_push(os, &os->fast, ptr))
            return 0;
        if (os->mode == AM_ONESIZE_PRIV_LOCKED && ptr != NULL) {
            os->crit_enter(os->crit_ctx);
            if (!am_onesize_impl_push(os, &os->slow, ptr))
                return am_onesize_impl_free_locked(os, ptr);
            os->epoch++;
            os->crit_exit(os->crit_ctx);
            return 0;
        }
    }
    return am_onesize_impl_free(os, ptr);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_H */
