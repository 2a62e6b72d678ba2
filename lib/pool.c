/* SPDX-License-Identifier: MIT */
/* The pool: construction, the slow paths of allocate and free (everything
 * the inline fast paths hand over), free_all, getters, statistics and the
 * invariant check. The model and the contract are in amonesize.h; what a
 * free block looks like is the engine's (amonesize/inline.h). */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>

#include "lock.h"

/* The inline functions of the headers get their one external definition
 * here (C99 6.7.4: a declaration without `inline` makes this unit emit it). */
#if AM_ONESIZE_HAS_INLINE
extern void am_onesize_impl_store(void *b, unsigned i, uintptr_t v);
extern int am_onesize_impl_state(const struct am_onesize *os, uintptr_t i, int v);
extern uintptr_t am_onesize_impl_state_index(const struct am_onesize *os, const void *b, unsigned flags);
extern int am_onesize_impl_fill(const struct am_onesize *os, void *b, int write);
extern uintptr_t am_onesize_impl_pos(const struct am_onesize *os, const void *b, unsigned flags);
extern unsigned char *am_onesize_impl_at(const struct am_onesize *os, uintptr_t pos, unsigned flags);
extern void am_onesize_impl_pattern(uintptr_t key, uintptr_t pos, uintptr_t link, uintptr_t w[2]);
extern int am_onesize_impl_is_free_pattern(uintptr_t key, uintptr_t pos, const uintptr_t w[2]);
extern uintptr_t am_onesize_impl_park_mark(uintptr_t key);
extern int am_onesize_impl_is_parked(uintptr_t key, uintptr_t mark, uintptr_t pos, const uintptr_t w[2]);
extern void am_onesize_impl_park(const struct am_onesize *os, uintptr_t key, uintptr_t mark, void *b);
extern int am_onesize_impl_unpark(const struct am_onesize *os, uintptr_t key, uintptr_t mark, void *b);
extern uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p);
extern void am_onesize_impl_took(struct am_onesize_list *fl, size_t inuse, size_t n, unsigned flags);
extern void am_onesize_impl_gave(struct am_onesize_list *fl, size_t n);
extern void *am_onesize_impl_pop(struct am_onesize *os, struct am_onesize_list *fl, unsigned flags);
extern void am_onesize_impl_link(struct am_onesize *os, struct am_onesize_list *fl, void *b, unsigned flags);
extern int am_onesize_impl_put(struct am_onesize *os, struct am_onesize_list *fl, void *b, uintptr_t idx,
                               unsigned flags);
extern int am_onesize_impl_push(struct am_onesize *os, struct am_onesize_list *fl, const void *ptr,
                                unsigned flags);
extern void *am_onesize_allocate(struct am_onesize *os, size_t size);
extern int am_onesize_free(struct am_onesize *os, const void *ptr);
#endif

#define MIN_BLOCK (2 * sizeof(uintptr_t)) /* a free block's link and check word */

_Static_assert((sizeof(uintptr_t) & (sizeof(uintptr_t) - 1)) == 0, "word size is a power of two");

/* ---- helpers ------------------------------------------------------------ */

/* Modular inverse of an odd number modulo 2^WORD_BITS (Newton's iteration:
 * each step doubles the number of correct low bits, 3 bits to start). */
static uintptr_t inverse_of_odd(uintptr_t d)
{
    uintptr_t x = d;
    for (int i = 0; i < 6; i++)
        x *= 2 - d * x;
    return x;
}

/* A block whose fill was written after it was freed: out of service until
 * free_all, counted, and reported once the critical section is left. */
static void retire(struct am_onesize *os, struct am_retired *r, const void *b)
{
    os->retired++;
    os->counts[CNT_RETIRED_UNHANDED]++; /* taken with E_RETIRE: no allocation */
    os->counts[CNT_FREED_WRITES]++;
    r->blk[r->n++] = b;
}

void am_report_retired(const struct am_onesize *os, const struct am_retired *r)
{
    for (unsigned i = 0; i < r->n; i++)
        am_onesize_impl_report(os, EFAULT, r->blk[i]);
}

int am_take_one(struct am_onesize *os, size_t margin, void **out, struct am_retired *r)
{
    struct am_onesize_list *fl = list_of(os);
    const unsigned flags = eflags(os);
    void *b;
    for (;;) {
        if (nfree_of(os) <= margin) /* none or only the reserve left (maybe after retirements) */
            return ENOMEM;
        const bool may_retire = r->n < AM_RETIRED_MAX;
        if (fl->head != 0) {
            if ((flags & AM_ONESIZE_E_FILL) &&
                !am_fill_ok(os, am_onesize_impl_at(os, fl->head, eflags(os)))) {
                void *bad = may_retire ? am_onesize_impl_pop(os, fl, flags | AM_ONESIZE_E_RETIRE) : NULL;
                if (bad == NULL) { /* a damaged link, or no room to report: later */
                    os->counts[CNT_CORRUPTIONS] += may_retire;
                    return EFAULT;
                }
                retire(os, r, bad);
                continue;
            }
            b = am_onesize_impl_pop(os, fl, flags);
            if (b == NULL) {
                os->counts[CNT_CORRUPTIONS]++;
                return EFAULT;
            }
        } else if (os->ndepot != 0) {
            /* Caches, and so the depot, are never used when tracked or with
             * a state bitmap. A block that lost its check word there is
             * dropped (written after it was freed, or handed out already
             * through a second entry): no longer free, never handed out. */
            b = os->depot[os->ndepot - 1];
            const bool filled = !(flags & AM_ONESIZE_E_FILL) || am_fill_ok(os, b);
            if (!filled && !may_retire)
                return EFAULT;
            os->ndepot--;
            const bool intact = am_onesize_impl_unpark(os, os->key, am_onesize_impl_park_mark(os->key), b);
            am_onesize_impl_took(fl, fl->inuse, 1, intact && filled ? 0u : AM_ONESIZE_E_RETIRE);
            if (!intact) { /* out of service until free_all, as a retired block */
                os->retired++;
                os->counts[CNT_RETIRED_UNHANDED]++;
                os->counts[CNT_CORRUPTIONS]++;
                return EFAULT;
            }
            if (!filled) {
                retire(os, r, b);
                continue;
            }
        } else {
            AM_ONESIZE_ASSERT(fl->ncarved < os->nblocks); /* nfree > 0 */
            b = block_at(os, fl->ncarved++);
            if (fl->ncarved > os->ncarved_max)
                os->ncarved_max = fl->ncarved;
            /* Both words cleared: the block does not look free, and no stale
             * link is left for a leak checker to mistake for a reference. */
            const uintptr_t cleared[2] = {0, 0};
            AM_ONESIZE_SET(os, b, cleared, flags);
            am_onesize_impl_took(fl, fl->inuse, 1, 0);
            AM_ONESIZE_STATE_SET(os, fl->ncarved - 1, 1, flags);
            AM_ONESIZE_TRACK_ALLOC(os, b, flags);
        }
        *out = b;
        return 0;
    }
}

int am_allocate_locked(struct am_onesize *os, size_t size, size_t margin, void **out, struct am_retired *r)
{
    if (size > os->block_size) {
        os->counts[CNT_OVERSIZE]++;
        return EINVAL;
    }
    const int err = am_take_one(os, margin, out, r);
    os->counts[CNT_FAILED] += err == ENOMEM;
    return err;
}

struct am_onesize_impl_got am_onesize_impl_allocate_in(struct am_onesize *os, size_t size)
{
    struct am_onesize_impl_got got = {NULL, 0};
    struct am_retired r = {.n = 0};
    got.err = am_allocate_locked(os, size, 0, &got.blk, &r);
    AM_ONESIZE_ASSERT(r.n == 0); /* the inline locked path is never hardened */
    return got;
}

void am_onesize_impl_report(const struct am_onesize *os, int err, const void *ptr)
{
    if (os->on_error != NULL)
        os->on_error(os->on_error_ctx, err, ptr);
}

void *am_onesize_impl_failed(const struct am_onesize *os, int err)
{
    if (err != ENOMEM)
        am_onesize_impl_report(os, err, NULL);
    errno = err;
    return NULL;
}

static void *allocate(struct am_onesize *os, size_t size, size_t margin)
{
    if (!is_constructed(os)) {
        errno = EINVAL;
        return NULL;
    }
    void *blk = NULL;
    struct am_retired r = {.n = 0};
    lock(os);
    const int err = am_allocate_locked(os, size, margin, &blk, &r);
    unlock(os);
    am_report_retired(os, &r);
    return err == 0 ? blk : am_onesize_impl_failed(os, err);
}

/* Where a pointer that is not a block start lies, for the statistics. */
static bool is_inside(const struct am_onesize *os, uintptr_t p)
{
    return p >= base_of(os) && (p - base_of(os)) / os->block_size < os->nblocks;
}

int am_check_freeable(struct am_onesize *os, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    const uintptr_t idx = am_onesize_impl_index(os, &p);
    if (idx >= os->nblocks) {
        os->counts[is_inside(os, p) ? CNT_REJ_INTERIOR : CNT_REJ_OUTSIDE]++;
        return -EINVAL;
    }
    if (idx >= list_of(os)->ncarved) {
        /* Never handed out since ctor or free_all: a block that was handed
         * out before the last free_all is a stale (double) free. */
        if (idx < os->ncarved_max) {
            os->counts[CNT_REJ_DOUBLE]++;
            return -EALREADY;
        }
        os->counts[CNT_REJ_NEVER]++;
        return -EINVAL;
    }
    if (nfree_of(os) == os->nblocks || ((os->mode & AM_MODE_STATE) && !am_onesize_impl_state(os, idx, -1))) {
        /* every block is free already, or this one's bit says so: a double
         * free, whatever the block holds */
        os->counts[CNT_REJ_DOUBLE]++;
        return -EALREADY;
    }
    if (os->mode & AM_MODE_STATE)
        return 0; /* the bit says handed out: exact, no look at the block */
    uintptr_t w[2];
    AM_ONESIZE_GET(os, ptr, w, eflags(os));
    const uintptr_t pos = am_onesize_impl_pos(os, ptr, eflags(os));
    if (am_onesize_impl_is_free_pattern(os->key, pos, w)) {
        /* Free, or caller data that matches the secret pattern: a parked
         * block (in a cache or the depot) says so by its link; a list block
         * is found by walking the list. */
        if (am_onesize_impl_is_parked(os->key, am_onesize_impl_park_mark(os->key), pos, w)) {
            os->counts[CNT_REJ_DOUBLE]++;
            return -EALREADY;
        }
        switch (am_find_in_list(os, ptr)) {
        case 1:
            os->counts[CNT_REJ_DOUBLE]++;
            return -EALREADY;
        case -1:
            os->counts[CNT_CORRUPTIONS]++;
            return -EFAULT;
        default:
            break; /* a handed-out block whose data matches the pattern */
        }
    }
    return 0;
}

int am_onesize_impl_free_in(struct am_onesize *os, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    struct am_onesize_list *fl = list_of(os);
    if (!am_onesize_impl_push(os, fl, ptr, eflags(os))) {
        const int err = am_check_freeable(os, ptr);
        if (err != 0)
            return err;
        am_onesize_impl_link(os, fl, (void *)(uintptr_t)ptr, eflags(os));
    }
    notify(os);
    return 0;
}

/* ---- public functions, in header order ---------------------------------- */

int am_onesize_ctor(struct am_onesize *os, const struct am_onesize_cfg *cfg)
{
    if (os == NULL)
        return -EINVAL;
    /* Zeroed first: a failed ctor leaves a pool every call rejects. */
    *os = (struct am_onesize){0};
    if (cfg == NULL || cfg->pool.ptr == NULL || cfg->pool.size == 0 || cfg->block_size == 0)
        return -EINVAL;
    if ((cfg->crit_enter == NULL) != (cfg->crit_exit == NULL))
        return -EINVAL;
    if ((cfg->crit_wait == NULL) != (cfg->crit_notify == NULL) ||
        (cfg->crit_wait != NULL && cfg->crit_enter == NULL))
        return -EINVAL;
    const size_t align = cfg->alignment != 0 ? cfg->alignment : alignof(max_align_t);
    if ((align & (align - 1)) != 0)
        return -EINVAL;

    uintptr_t start = (uintptr_t)cfg->pool.ptr, end, aligned, bsize;
    if (__builtin_add_overflow(start, cfg->pool.size, &end))
        return -EINVAL;
    bsize = cfg->block_size < MIN_BLOCK ? MIN_BLOCK : cfg->block_size;
    /* Blocks start and end on the alignment, and at least on a word so that
     * the links in free blocks are aligned. */
    const size_t unit = align > alignof(uintptr_t) ? align : alignof(uintptr_t);
    if (__builtin_add_overflow(bsize, unit - 1, &bsize))
        return -EINVAL;
    bsize &= ~(uintptr_t)(unit - 1);
    if (__builtin_add_overflow(start, unit - 1, &aligned))
        return -EINVAL;
    aligned &= ~(uintptr_t)(unit - 1);
    if (aligned >= end || (end - aligned) / bsize == 0)
        return -EINVAL;

    const size_t nblocks = (end - aligned) / bsize;
    if (am_hardened_cfg(cfg, nblocks, start, end) != 0)
        return -EINVAL;

    struct am_onesize o = {0};
    o.neg_base = 0 - aligned;
    o.block_size = bsize;
    o.nblocks = nblocks;
    o.shift = (unsigned)__builtin_ctzll((unsigned long long)bsize);
    o.inv = inverse_of_odd(bsize >> o.shift);
    o.key = am_new_key(os, cfg->pool.ptr);
    o.crit_enter = cfg->crit_enter;
    o.crit_exit = cfg->crit_exit;
    o.crit_wait = cfg->crit_wait;
    o.crit_notify = cfg->crit_notify;
    o.crit_ctx = cfg->crit_ctx;
    o.on_error = cfg->on_error;
    o.on_error_ctx = cfg->on_error_ctx;
    if (cfg->crit_enter != NULL)
        o.mode |= AM_MODE_LOCKED;
#if defined(AM_HAVE_PTHREAD)
    if (cfg->crit_enter == am_onesize_pthread_enter && cfg->crit_exit == am_onesize_pthread_exit)
        o.mode |= AM_MODE_PTHREAD;
#endif
    if (cfg->crit_wait != NULL)
        o.mode |= AM_MODE_WAIT;
    o.mode |= am_track_detect();
    if (cfg->state.ptr != NULL) {
        o.mode |= AM_MODE_STATE;
        o.state = (unsigned char *)cfg->state.ptr;
    }
    if (cfg->flags & AM_ONESIZE_CHECK_FREED)
        o.mode |= AM_MODE_FILL;
    /* The way the inline paths go: the engine on the fast list only for a
     * plain pool (whose fast list alone is then used), the inline locked
     * path for callbacks, else the library every time. */
    o.path = o.mode == 0                ? AM_ONESIZE_PRIV_PLAIN
             : o.mode == AM_MODE_STATE  ? AM_ONESIZE_PRIV_STATE
             : o.mode & AM_MODE_LIBRARY ? AM_ONESIZE_PRIV_LIBRARY
                                        : AM_ONESIZE_PRIV_LOCKED;
    *os = o;
    am_track_create(os, block_at(os, 0), os->nblocks * os->block_size);
    return 0;
}

void am_onesize_dtor(struct am_onesize *os)
{
    if (!is_constructed(os))
        return;
    am_untrack_allocated(os);
    am_track_destroy(os, block_at(os, 0), os->nblocks * os->block_size);
    *os = (struct am_onesize){0};
}

/* The library's half of am_onesize_allocate(), for what the inline path
 * does not do itself (and for compilers without inline semantics). A
 * hardened pool's common case is the engine with constant flags. */
void *am_onesize_impl_allocate(struct am_onesize *os, size_t size)
{
    if (!is_constructed(os)) {
        errno = EINVAL;
        return NULL;
    }
    void *blk = NULL;
    int err = 0;
    struct am_retired r = {.n = 0};
    lock(os);
    struct am_onesize_list *fl = list_of(os);
    const unsigned hard = os->mode & (AM_MODE_TRACKED | AM_MODE_STATE | AM_MODE_FILL);
    if (size <= os->block_size) {
        if (hard == AM_MODE_STATE)
            blk = am_onesize_impl_pop(os, fl, AM_ONESIZE_E_FAST | AM_ONESIZE_E_STATE);
        else if ((hard == AM_MODE_FILL || hard == (AM_MODE_FILL | AM_MODE_STATE)) && fl->head != 0 &&
                 am_onesize_impl_fill(os, am_onesize_impl_at(os, fl->head, eflags(os)), 0))
            blk =
                hard == AM_MODE_FILL
                    ? am_onesize_impl_pop(os, fl, AM_ONESIZE_E_FAST | AM_ONESIZE_E_FILL)
                    : am_onesize_impl_pop(os, fl, AM_ONESIZE_E_FAST | AM_ONESIZE_E_FILL | AM_ONESIZE_E_STATE);
    }
    if (blk == NULL)
        err = am_allocate_locked(os, size, 0, &blk, &r);
    unlock(os);
    if (r.n != 0)
        am_report_retired(os, &r);
    return AM_ONESIZE_LIKELY(err == 0) ? blk : am_onesize_impl_failed(os, err);
}

void *am_onesize_allocate_x(struct am_onesize *os, size_t size, size_t margin)
{
    return allocate(os, size, margin);
}

/* The library's half of am_onesize_free(), likewise. */
int am_onesize_impl_free(struct am_onesize *os, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (!is_constructed(os))
        return -EINVAL;
    int err = 0;
    lock(os);
    struct am_onesize_list *fl = list_of(os);
    const unsigned hard = os->mode & (AM_MODE_TRACKED | AM_MODE_STATE | AM_MODE_FILL);
    bool done = false;
    if (hard == AM_MODE_STATE)
        done = am_onesize_impl_push(os, fl, ptr, AM_ONESIZE_E_STATE);
    else if (hard == AM_MODE_FILL)
        done = am_onesize_impl_push(os, fl, ptr, AM_ONESIZE_E_FILL);
    else if (hard == (AM_MODE_FILL | AM_MODE_STATE))
        done = am_onesize_impl_push(os, fl, ptr, AM_ONESIZE_E_FILL | AM_ONESIZE_E_STATE);
    if (done)
        notify(os);
    else
        err = am_onesize_impl_free_in(os, ptr);
    unlock(os);
    if (err != 0)
        am_onesize_impl_report(os, -err, ptr);
    return err;
}

void am_onesize_free_all(struct am_onesize *os)
{
    if (!is_constructed(os))
        return;
    lock(os);
    struct am_onesize_list *fl = list_of(os);
    const size_t reclaimed_from_caches = os->cached;
    os->counts[CNT_FREED_BY_FREE_ALL] += fl->inuse;
    os->counts[CNT_CACHE_RECLAIMED] += reclaimed_from_caches;
    am_untrack_allocated(os);
    fl->head = 0;
    fl->ncarved = 0;
    fl->inuse = 0;
    os->ndepot = 0;
    os->cached = 0;
    os->retired = 0;
    /* A new key: blocks parked in caches under the old one are theirs no
     * more; every cache sees the change at its next call and drops them. */
    uintptr_t key;
    do
        key = am_new_key(os, block_at(os, 0));
    while (key == os->key);
    __atomic_store_n(&os->key, key, __ATOMIC_RELAXED);
    notify(os);
    unlock(os);
    if (reclaimed_from_caches != 0)
        am_onesize_impl_report(os, ESTALE, NULL);
}

size_t am_onesize_get_nfree(const struct am_onesize *os)
{
    if (!is_constructed(os))
        return 0;
    lock(os);
    const size_t n = nfree_of(os);
    unlock(os);
    return n;
}

size_t am_onesize_get_nfree_min(const struct am_onesize *os)
{
    if (!is_constructed(os))
        return 0;
    lock(os);
    const size_t n = nfree_min_of(os);
    unlock(os);
    return n;
}

size_t am_onesize_get_block_size(const struct am_onesize *os)
{
    return os != NULL ? os->block_size : 0;
}

size_t am_onesize_get_nblocks(const struct am_onesize *os)
{
    return os != NULL ? os->nblocks : 0;
}

void am_stats_locked(const struct am_onesize *os, struct am_onesize_stats *out)
{
    const struct am_onesize_list *fl = list_of_c(os);
    out->allocations = fl->nallocs;
    out->freed_by_free_all = os->counts[CNT_FREED_BY_FREE_ALL];
    out->failed_allocations = os->counts[CNT_FAILED];
    out->oversize_requests = os->counts[CNT_OVERSIZE];
    out->rejected_outside = os->counts[CNT_REJ_OUTSIDE];
    out->rejected_interior = os->counts[CNT_REJ_INTERIOR];
    out->rejected_never_allocated = os->counts[CNT_REJ_NEVER];
    out->rejected_double = os->counts[CNT_REJ_DOUBLE];
    out->corruptions = os->counts[CNT_CORRUPTIONS];
    out->nfree = nfree_of(os);
    out->nfree_min = nfree_min_of(os);
    out->nblocks = os->nblocks;
    out->block_size = os->block_size;
    out->cached = os->cached;
    out->cache_reclaimed = os->counts[CNT_CACHE_RECLAIMED];
    out->retired = os->retired;
    out->waits = os->counts[CNT_WAITS];
    out->timeouts = os->counts[CNT_TIMEOUTS];
    out->freed_writes = os->counts[CNT_FREED_WRITES];
    /* Blocks enter use when handed out, or when retired straight from the
     * list or the depot (no allocation); they leave it by a free or by
     * free_all. What is in use now is the difference. */
    out->frees = out->allocations + os->counts[CNT_RETIRED_UNHANDED] - out->freed_by_free_all -
                 (out->nblocks - out->nfree);
}

int am_onesize_get_stats(const struct am_onesize *os, struct am_onesize_stats *out)
{
    if (os == NULL || out == NULL)
        return -EINVAL;
    *out = (struct am_onesize_stats){0};
    if (!is_constructed(os))
        return -EINVAL;
    lock(os);
    am_stats_locked(os, out);
    unlock(os);
    return 0;
}

int am_check_locked(const struct am_onesize *os)
{
    const struct am_onesize_list *fl = list_of_c(os);
    const size_t nfree = nfree_of(os);
    /* (No bound on os->retired: it counts retirements since free_all, and a
     * stale pointer to a retired block freed again puts it back in service
     * uncounted, so it may be retired again.) */
    if (fl->inuse > fl->inuse_max || fl->inuse_max > os->nblocks || fl->ncarved > os->ncarved_max ||
        os->ncarved_max > os->nblocks || os->nblocks - fl->ncarved > nfree ||
        os->ndepot > AM_ONESIZE_PRIV_DEPOT)
        return -EFAULT;
    if (os->mode != 0 &&
        (os->fast.head != 0 || os->fast.ncarved != 0 || os->fast.inuse != 0 || os->fast.inuse_max != 0))
        return -EFAULT;
    return am_list_is_intact(os) ? 0 : -EFAULT;
}

int am_onesize_check(const struct am_onesize *os)
{
    if (!is_constructed(os))
        return -EINVAL;
    lock(os);
    const int err = am_check_locked(os);
    unlock(os);
    return err;
}

void am_assert_failed(const char *file, int line, const char *what)
{
    (void)file, (void)line, (void)what;
    __builtin_trap();
}
