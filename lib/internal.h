/* SPDX-License-Identifier: MIT */
/* Private to the library: what its files share. Every library source
 * includes this header first; it sets up the engine's hooks before
 * <amonesize.h> pulls the engine in. Not installed. */
#ifndef AMONESIZE_INTERNAL_H
#define AMONESIZE_INTERNAL_H

#define AM_ONESIZE_LIBRARY 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct am_onesize;
#include "track.h" /* the hooks the engine calls for tracked pools */

#include "amonesize.h"

/* ---- modes: what a pool is, decided once by ctor ------------------------ */

enum {
    AM_MODE_LOCKED = 1u,   /* critical-section callbacks set */
    AM_MODE_VALGRIND = 2u, /* running under memcheck */
    AM_MODE_ASAN = 4u,     /* an AddressSanitizer runtime is in the process */
    AM_MODE_PTHREAD = 8u,  /* the callbacks are the library's pthread adapter */
    AM_MODE_WAIT = 16u,    /* crit_wait and crit_notify set */
    AM_MODE_STATE = 32u,   /* hardened: a state bit per block (cfg.state) */
    AM_MODE_FILL = 64u,    /* hardened: freed blocks are filled (AM_ONESIZE_CHECK_FREED) */
    AM_MODE_SHARED = 128u, /* a pool shared between processes (lib/shared.c) */
};
#define AM_MODE_TRACKED (AM_MODE_VALGRIND | AM_MODE_ASAN)
/* Pools whose every call goes through the library. */
#define AM_MODE_LIBRARY (AM_MODE_TRACKED | AM_MODE_STATE | AM_MODE_FILL | AM_MODE_SHARED)

/* ---- event counters: struct am_onesize.counts[] ------------------------- */

enum {
    CNT_FREED_BY_FREE_ALL,
    CNT_FAILED,
    CNT_OVERSIZE,
    CNT_REJ_OUTSIDE,
    CNT_REJ_INTERIOR,
    CNT_REJ_NEVER,
    CNT_REJ_DOUBLE,
    CNT_CORRUPTIONS,
    CNT_CACHE_RECLAIMED,
    CNT_WAITS,
    CNT_TIMEOUTS,
    CNT_FREED_WRITES,
    CNT_RETIRED_UNHANDED, /* blocks ever retired straight from the list or the depot (no allocation) */
    CNT_COUNT
};
_Static_assert(CNT_COUNT <= AM_ONESIZE_PRIV_NCOUNTS, "struct am_onesize has room for every counter");

/* ---- internal assertions ------------------------------------------------ */

/* For states no caller input can produce (a broken invariant of the
 * library itself, or a descriptor overwritten by a stray write). Active
 * unless NDEBUG (release builds define it); never for caller errors, which
 * are answered with an error code. */
#if defined(NDEBUG)
#define AM_ONESIZE_ASSERT(c) ((void)sizeof((c) ? 1 : 0))
#else
#define AM_ONESIZE_ASSERT(c) ((c) ? (void)0 : am_assert_failed(__FILE__, __LINE__, #c))
#endif
__attribute__((noreturn, cold)) void am_assert_failed(const char *file, int line, const char *what);

/* ---- small shared helpers ----------------------------------------------- */

static inline bool is_constructed(const struct am_onesize *os)
{
    return os != NULL && os->nblocks != 0;
}

/* The list the pool lives on: the fast one only for plain pools. */
static inline struct am_onesize_list *list_of(struct am_onesize *os)
{
    return os->mode == 0 ? &os->fast : &os->slow;
}

static inline const struct am_onesize_list *list_of_c(const struct am_onesize *os)
{
    return os->mode == 0 ? &os->fast : &os->slow;
}

/* Engine flags for this pool's mode. */
static inline unsigned eflags(const struct am_onesize *os)
{
    return ((os->mode & AM_MODE_TRACKED) ? AM_ONESIZE_E_TRACK : 0u) |
           ((os->mode & AM_MODE_STATE) ? AM_ONESIZE_E_STATE : 0u) |
           ((os->mode & AM_MODE_FILL) ? AM_ONESIZE_E_FILL : 0u) |
           ((os->mode & AM_MODE_SHARED) ? AM_ONESIZE_E_OFFSET : 0u);
}

static inline size_t nfree_of(const struct am_onesize *os)
{
    return os->nblocks - list_of_c(os)->inuse;
}

static inline size_t nfree_min_of(const struct am_onesize *os)
{
    return os->nblocks - list_of_c(os)->inuse_max;
}

static inline uintptr_t base_of(const struct am_onesize *os)
{
    return 0 - os->neg_base;
}

/* The pool takes every call of its caches: a memory debugger sees each
 * block's life only if the pool does, and a state bitmap is exact only if
 * every call reaches the pool. Asked at every call, not at cache_init: the
 * pool may have been constructed again, in another mode, since. */
static inline bool takes_every_call(const struct am_onesize *os)
{
    return (os->mode & (AM_MODE_TRACKED | AM_MODE_STATE)) != 0;
}

static inline unsigned char *block_at(const struct am_onesize *os, size_t idx)
{
    return (unsigned char *)(base_of(os) + idx * os->block_size);
}

/* ---- between the files of the library ----------------------------------- */

/* pool.c: the exact verdict on a pointer to be freed, with the lock held:
 * 0 if it is a handed-out block, else the negative errno, counted. */
int am_check_freeable(struct am_onesize *os, const void *ptr);
/* Blocks retired during one call (AM_ONESIZE_CHECK_FREED), to be reported
 * to on_error once the critical section is left. */
#define AM_RETIRED_MAX 4
struct am_retired {
    const void *blk[AM_RETIRED_MAX];
    unsigned n;
};
void am_report_retired(const struct am_onesize *os, const struct am_retired *r);
/* pool.c: hand out one block with the lock held, while more than margin
 * are free: the free list first (most recently freed), then the depot, then
 * a block never handed out. Blocks whose fill was written are retired into
 * r on the way. 0; EFAULT for a damaged block or list (counted), or when r
 * is full and another block to retire is met (not counted: the next call
 * retires it); ENOMEM if no more than margin blocks are free (also after
 * retirements; not counted here). */
int am_take_one(struct am_onesize *os, size_t margin, void **out, struct am_retired *r);
/* wait.c: wait, locked, while no block of os is free. sleep(ctx, deadline)
 * leaves the critical section, sleeps until a wake-up or the deadline and
 * enters it again: 0 or ETIMEDOUT; any other value means it could not enter
 * again, and is returned at once with the lock not held. Counts the wait
 * (once per call, through *waited) and timeouts, and keeps os->waiters, so
 * that every path giving blocks back notifies. Returns 0 when a block is
 * free, ETIMEDOUT, or the sleeper's error. */
int am_wait_free(struct am_onesize *os, const struct timespec *deadline, bool *waited,
                 int (*sleep)(void *ctx, const struct timespec *deadline), void *ctx);
/* key.c: a fresh key, different from the current one. Every key has its
 * top bit set: 0 (a destroyed pool's) and AM_CACHE_KEY_PASS never are. */
uintptr_t am_new_key(const void *os, const void *pool);
/* The key a cache keeps while its pool takes every call (a memory debugger,
 * a state bitmap): never a pool's, live or destroyed, so the cache's inline
 * paths always call the library, which passes the call on. */
#define AM_CACHE_KEY_PASS ((uintptr_t)1)

/* pool.c: the statistics and the invariant check, with the lock held. */
void am_stats_locked(const struct am_onesize *os, struct am_onesize_stats *out);
int am_check_locked(const struct am_onesize *os);
/* pool.c: the allocation, with the lock held: 0 or the errno value,
 * counted; retired blocks are left in r to be reported. */
int am_allocate_locked(struct am_onesize *os, size_t size, size_t margin, void **out, struct am_retired *r);

/* hardened.c: is the fill of a free block intact? */
bool am_fill_ok(const struct am_onesize *os, void *blk);
/* hardened.c: the state bit of block i. */
int am_state_get_index(const struct am_onesize *os, size_t i);
/* hardened.c: 0, or -EINVAL if cfg's state and flags are not valid for a
 * pool of nblocks over [pool_start, pool_end). */
int am_hardened_cfg(const struct am_onesize_cfg *cfg, size_t nblocks, uintptr_t pool_start,
                    uintptr_t pool_end);

/* iterate.c: is the free list (and the depot) intact and of the length the
 * counts say? */
bool am_list_is_intact(const struct am_onesize *os);
/* iterate.c: is blk on the free list? 1 yes, 0 no, -1 the list is damaged. */
int am_find_in_list(const struct am_onesize *os, const void *blk);
/* iterate.c: under a memory debugger, tell it every handed-out block is
 * gone, whatever state the free list is in. */
void am_untrack_allocated(struct am_onesize *os);

/* batch.c: how caches trade with the pool, each in one critical section.
 * Every one first drops the cache's blocks if free_all reclaimed them, and
 * leaves the pool's "cached" count matching what the cache holds. */
struct am_onesize_cache;
/* Refill an empty cache with up to its batch; how many it holds (errno set
 * if none). */
size_t am_batch_refill(struct am_onesize_cache *c);
/* Give the cache's first k blocks back (a flush). */
void am_batch_flush(struct am_onesize_cache *c, size_t k);
/* The pool's key and carved count, into the cache. */
void am_batch_sync(struct am_onesize_cache *c);
/* A cache dropped a block it could not hand out (see cache.c): counted,
 * reported. */
void am_batch_drop_damaged(struct am_onesize_cache *c, const void *blk);
/* A block the pool handed to a cache had its fill written (the cache has
 * let go of it already): out of service until free_all, counted, reported. */
void am_batch_retire(struct am_onesize_cache *c, const void *blk);
/* Count and report a double free a cache caught by itself. */
void am_batch_reject_double(struct am_onesize *os, const void *ptr);

#endif /* AMONESIZE_INTERNAL_H */
