/* SPDX-License-Identifier: MIT */
/* Many blocks in one critical section: bulk allocation and free, and how
 * per-thread caches trade blocks with the pool.
 *
 * Caches and the pool trade pointers, never chains of linked blocks: a
 * cache holds blocks in an array, each parked (the free pattern with the
 * park mark as its link, see the engine), and gives them back into the
 * pool's depot, an array of up to AM_ONESIZE_PRIV_DEPOT parked blocks that
 * the next refill takes first. A hand-over therefore copies pointers under
 * the lock and reads no block memory there (Bonwick's magazines and depot;
 * DPDK's mempool cache). Blocks beyond the depot's room go on the free list
 * through the engine; blocks a refill needs beyond the depot come off it
 * the same way, so every block a cache receives was validated by the
 * engine or was parked by a cache, and a parked block is checked again
 * when it leaves the depot. */
#include "internal.h"

#include <errno.h>
#include <limits.h>

#include "amonesize_cache.h"
#include "lock.h"

/* ---- bulk operations ----------------------------------------------------- */

size_t am_onesize_allocate_bulk(struct am_onesize *os, void **out, size_t n)
{
    if (!is_constructed(os) || (out == NULL && n > 0)) {
        errno = EINVAL;
        return 0;
    }
    size_t got = 0;
    int err = 0;
    struct am_retired r = {.n = 0};
    lock(os);
    for (; got < n; got++) {
        if (nfree_of(os) == 0 || (err = am_take_one(os, 0, &out[got], &r)) == ENOMEM) {
            os->counts[CNT_FAILED]++;
            err = ENOMEM;
            break;
        }
        if (err != 0)
            break;
    }
    unlock(os);
    am_report_retired(os, &r);
    if (err == EFAULT)
        am_onesize_impl_report(os, err, NULL);
    if (got < n)
        errno = err;
    return got;
}

int am_onesize_free_bulk(struct am_onesize *os, void *const *blocks, size_t n)
{
    if (!is_constructed(os) || (blocks == NULL && n > 0) || n > INT_MAX)
        return -EINVAL;
    size_t done = 0, pushed = 0;
    int err = 0;
    lock(os);
    struct am_onesize_list *fl = list_of(os);
    /* Linked without telling a memory debugger until the whole batch is
     * known to be good: a rejected batch is taken off again with every
     * block's accessibility and definedness as the caller left it. */
    const unsigned flags = eflags(os) | AM_ONESIZE_E_KEEP;
    for (; done < n; done++) {
        void *b = blocks[done];
        if (b == NULL)
            continue;
        if (!am_onesize_impl_push(os, fl, b, flags)) {
            if ((err = am_check_freeable(os, b)) != 0)
                break;
            am_onesize_impl_link(os, fl, b, flags);
        }
        pushed++;
    }
    if (err != 0) { /* all or nothing: the pushed blocks are on top of the list */
        const uint64_t nallocs = fl->nallocs;
        while (pushed-- > 0) {
            void *b = am_onesize_impl_pop(os, fl, flags);
            AM_ONESIZE_ASSERT(b != NULL);
            (void)b;
        }
        fl->nallocs = nallocs; /* taking them back is not an allocation */
    } else {
        for (size_t i = 0; i < n; i++) {
            if (blocks[i] == NULL)
                continue;
            AM_ONESIZE_TRACK_FREE(os, blocks[i], eflags(os));
            AM_ONESIZE_FILL(os, blocks[i], eflags(os));
        }
        if (pushed != 0)
            notify(os);
    }
    unlock(os);
    if (err == 0)
        return 0;
    am_onesize_impl_report(os, -err, blocks[done]);
    errno = -err;
    return (int)done + 1;
}

/* ---- caches -------------------------------------------------------------- */

/* Blocks the cache holds under a key the pool no longer has were reclaimed
 * by free_all (or the pool was constructed again): they are the pool's and
 * already uncounted there; the cache forgets them. Locked. */
static void drop_if_stale(const struct am_onesize *os, struct am_onesize_cache *c)
{
    if (c->key != os->key) {
        c->n = 0;
        c->reported = 0;
        c->key = takes_every_call(os) ? AM_CACHE_KEY_PASS : os->key;
        c->mark = am_onesize_impl_park_mark(os->key);
        /* Only what was carved under the new key can be freed into it: a
         * stale pointer to a block carved before must go to the pool. */
        c->carved = list_of_c(os)->ncarved;
    }
}

/* The cache now holds c->n blocks: the pool's count follows. Locked. */
static void report_held(struct am_onesize *os, struct am_onesize_cache *c)
{
    AM_ONESIZE_ASSERT(os->cached >= c->reported);
    os->cached = os->cached - c->reported + c->n;
    c->reported = c->n;
}

void am_batch_sync(struct am_onesize_cache *c)
{
    struct am_onesize *os = c->os;
    lock(os);
    drop_if_stale(os, c);
    c->carved = list_of(os)->ncarved;
    unlock(os);
}

/* One refill: c->n blocks (0 with *err set, or 0 with *err 0 when every
 * block it took from the depot was found written and retired). */
static size_t refill_once(struct am_onesize_cache *c, int *err)
{
    struct am_onesize *os = c->os;
    struct am_retired r = {.n = 0};
    *err = 0;
    lock(os);
    drop_if_stale(os, c);
    AM_ONESIZE_ASSERT(c->n == 0);
    struct am_onesize_list *fl = list_of(os);
    const size_t n = c->batch;
    /* The depot first: pointers only, no block read under the lock. */
    const size_t from_depot = n < os->ndepot ? n : os->ndepot;
    os->ndepot -= from_depot;
    for (size_t i = 0; i < from_depot; i++)
        c->blocks[i] = os->depot[os->ndepot + i];
    am_onesize_impl_took(fl, fl->inuse, from_depot, 0);
    c->n = from_depot;
    /* Then the free list and never-used blocks, through the engine. */
    while (c->n < n) {
        if (nfree_of(os) == 0) {
            *err = ENOMEM;
            break;
        }
        if ((*err = am_take_one(os, 0, &c->blocks[c->n], &r)) != 0)
            break;
        am_onesize_impl_park(os, os->key, c->mark, c->blocks[c->n++]);
    }
    if (c->n == 0 && *err == ENOMEM)
        os->counts[CNT_FAILED]++;
    report_held(os, c);
    c->carved = fl->ncarved;
    unlock(os);
    am_report_retired(os, &r);
    if (*err == EFAULT)
        am_onesize_impl_report(os, *err, NULL);
    /* The depot's blocks have their check word checked as the cache hands
     * them out; their fill (AM_ONESIZE_CHECK_FREED) is checked now, outside
     * the lock, as the pool hands them to the cache. */
    if (os->mode & AM_MODE_FILL)
        for (size_t i = from_depot; i-- > 0;)
            if (!am_fill_ok(os, c->blocks[i])) {
                const void *bad = c->blocks[i];
                c->blocks[i] = c->blocks[--c->n];
                am_batch_retire(c, bad);
            }
    return c->n;
}

size_t am_batch_refill(struct am_onesize_cache *c)
{
    if (!is_constructed(c->os)) {
        errno = EINVAL;
        return 0;
    }
    /* Left with nothing only because every block taken from the depot was
     * retired, it takes again: each round empties the depot by at least
     * one block, so this ends. */
    int err;
    while (refill_once(c, &err) == 0 && err == 0)
        ;
    if (c->n == 0)
        errno = err;
    return c->n;
}

void am_batch_flush(struct am_onesize_cache *c, size_t k)
{
    struct am_onesize *os = c->os;
    if (!is_constructed(os))
        return;
    lock(os);
    const uintptr_t key = c->key;
    drop_if_stale(os, c);
    if (key == c->key) {
        /* AM_ONESIZE_CHECK_FREED: filled here, under the lock, once the
         * blocks are known to be still the cache's (a free_all meanwhile
         * would have made them the pool's, maybe handed out again). */
        if (os->mode & AM_MODE_FILL)
            for (size_t i = 0; i < k; i++)
                am_fill(os, c->blocks[i]);
        struct am_onesize_list *fl = list_of(os);
        size_t i = 0;
        for (; i < k && os->ndepot < AM_ONESIZE_PRIV_DEPOT; i++)
            os->depot[os->ndepot++] = c->blocks[i];
        am_onesize_impl_gave(fl, i);
        for (; i < k; i++)
            am_onesize_impl_link(os, fl, c->blocks[i], 0);
        for (i = k; i < c->n; i++)
            c->blocks[i - k] = c->blocks[i];
        c->n -= k;
        report_held(os, c);
        if (k != 0)
            notify(os);
    }
    unlock(os);
}

/* A block a cache took (handed out to it, so counted as an allocation) is
 * found damaged before it reached a caller: out of service until free_all,
 * a retired block. Locked. */
static void retire_cached(struct am_onesize *os)
{
    os->retired++;
}

void am_batch_drop_damaged(struct am_onesize_cache *c, const void *blk)
{
    struct am_onesize *os = c->os;
    lock(os);
    if (c->key == os->key) { /* else free_all took it back already */
        report_held(os, c);
        os->counts[CNT_CORRUPTIONS]++;
        retire_cached(os);
    }
    unlock(os);
    am_onesize_impl_report(os, EFAULT, blk);
}

void am_batch_retire(struct am_onesize_cache *c, const void *blk)
{
    struct am_onesize *os = c->os;
    lock(os);
    if (c->key == os->key) { /* else free_all took it back already */
        report_held(os, c);
        retire_cached(os);
        os->counts[CNT_FREED_WRITES]++;
    }
    unlock(os);
    am_onesize_impl_report(os, EFAULT, blk);
}

void am_batch_reject_double(struct am_onesize *os, const void *ptr)
{
    lock(os);
    os->counts[CNT_REJ_DOUBLE]++;
    unlock(os);
    am_onesize_impl_report(os, EALREADY, ptr);
}
