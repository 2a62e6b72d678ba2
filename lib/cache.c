/* SPDX-License-Identifier: MIT */
/* Per-thread caches; the contract is in amonesize_cache.h. A cache is an
 * array of parked blocks; it trades them with the pool only through
 * lib/batch.c and reads or writes block memory only through the engine. */
#include "internal.h"

#include <errno.h>

#include "amonesize_cache.h"

/* The inline fast paths get their one external definition here. */
#if AM_ONESIZE_HAS_INLINE
extern void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size);
extern int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr);
#endif

static bool is_stale(const struct am_onesize_cache *c)
{
    return c->key != AM_ONESIZE_KEY_OF(c->os);
}

int am_onesize_cache_init(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity)
{
    if (c == NULL)
        return -EINVAL;
    /* Every field written, none read: *c may be uninitialised memory. */
    c->os = NULL;
    c->n = c->capacity = c->batch = c->carved = c->reported = 0;
    c->key = c->mark = 0;
    if (!is_constructed(os) || capacity > AM_ONESIZE_CACHE_MAX)
        return -EINVAL;
    c->os = os;
    c->capacity = capacity != 0 ? capacity : AM_ONESIZE_CACHE_DEFAULT;
    c->batch = c->capacity / 2 != 0 ? c->capacity / 2 : 1;
    /* key 0 is never a pool's and carved is 0: the first call synchronises
     * with the pool. */
    return 0;
}

void *am_onesize_impl_cache_allocate(struct am_onesize_cache *c, size_t size)
{
    if (c == NULL || c->os == NULL) {
        errno = EINVAL;
        return NULL;
    }
    struct am_onesize *os = c->os;
    if (takes_every_call(os) || size > os->block_size)
        return am_onesize_allocate(os, size); /* counted, reported by the pool */
    for (;;) {
        if (c->n == 0 || is_stale(c)) {
            c->n = 0;
            if (am_batch_refill(c) == 0)
                return NULL; /* errno from the pool */
        }
        void *b = c->blocks[--c->n];
        if (am_onesize_impl_unpark(os, c->key, c->mark, b))
            return b;
        /* Its check word is gone: written while cached, or a second entry
         * for a block handed out already (a double free after a write into
         * it). Never handed out; the next one is tried. */
        am_batch_drop_damaged(c, b);
    }
}

int am_onesize_impl_cache_free(struct am_onesize_cache *c, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (c == NULL || c->os == NULL)
        return -EINVAL;
    struct am_onesize *os = c->os;
    if (!is_constructed(os) || takes_every_call(os))
        return am_onesize_free(os, ptr);
    uintptr_t p = (uintptr_t)ptr;
    const uintptr_t idx = am_onesize_impl_index(os, &p);
    if (idx >= os->nblocks)
        return am_onesize_free(os, ptr); /* not a block start: rejected, counted by the pool */
    if (idx >= c->carved || is_stale(c)) {
        am_batch_sync(c);
        if (idx >= c->carved)
            return am_onesize_free(os, ptr); /* never handed out (or stale): the pool says which */
    }
    void *b = (void *)p;
    uintptr_t w[2];
    AM_ONESIZE_GET(os, b, w, 0);
    const uintptr_t pos = am_onesize_impl_pos(os, b, eflags(os));
    if (am_onesize_impl_is_parked(c->key, c->mark, pos, w)) { /* in a cache (maybe this one) or the depot */
        am_batch_reject_double(os, b);
        return -EALREADY;
    }
    if (am_onesize_impl_is_free_pattern(c->key, pos, w)) {
        /* On the pool's free list (a double free: the pool answers
         * -EALREADY), or caller data matching the pattern (the pool takes
         * the block back). Never parked here. */
        return am_onesize_free(os, b);
    }
    if (c->n == c->capacity)
        am_batch_flush(c, c->batch);
    am_onesize_impl_park(os, c->key, c->mark, b);
    c->blocks[c->n++] = b;
    return 0;
}

void am_onesize_cache_flush(struct am_onesize_cache *c)
{
    if (c == NULL || c->os == NULL || (c->n == 0 && c->reported == 0))
        return;
    am_batch_flush(c, c->n); /* also when empty: the pool's count follows */
}

size_t am_onesize_cache_get_ncached(const struct am_onesize_cache *c)
{
    if (c == NULL || c->os == NULL)
        return 0;
    return is_stale(c) ? 0 : c->n; /* stale blocks are not the cache's */
}
