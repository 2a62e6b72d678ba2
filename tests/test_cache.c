/* SPDX-License-Identifier: MIT */
/* Unit tests of per-thread caches (amonesize_cache.h), single-threaded, on
 * unlocked and locked pools: the contract, and every misuse held to the
 * core's standard (answered at once, the pool whole, no block handed out
 * twice). */
#include <sys/mman.h>

#include "amonesize_cache.h"
#include "helpers.h"
#include "testing.h"

enum { NB = 64, BS = 64 };
static alignas(64) unsigned char pool_buf[NB * BS];
static alignas(64) unsigned char twin_buf[NB * BS];

static void make(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = test_cfg(pool_buf, sizeof pool_buf, BS, 64);
    ctor_ok(os, &cfg);
}

static void make_twin(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = test_cfg(twin_buf, sizeof twin_buf, BS, 64);
    ctor_ok(os, &cfg);
}

static void *block(size_t i)
{
    return pool_buf + BS * i;
}

/* Tests of caching itself need a cache that caches: under a memory
 * debugger every call goes to the pool (tested separately). */
static void cache_or_skip(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity)
{
    if (under_memory_debugger())
        skip();
    assert_int_equal(am_onesize_cache_init(c, os, capacity), 0);
}

/* Allocate everything the cache and then the pool still give, and assert
 * no block comes twice: the end of every misuse test. */
static void assert_no_block_twice(struct am_onesize *os, struct am_onesize_cache *c)
{
    unsigned char seen[NB] = {0};
    void *p;
    while ((p = am_onesize_cache_allocate(c, 1)) != NULL || errno == EFAULT) {
        if (p == NULL)
            continue; /* a damaged block was dropped; go on */
        const size_t i = (size_t)((unsigned char *)p - pool_buf) / BS;
        assert_true(i < NB);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
    }
    while ((p = am_onesize_allocate(os, 1)) != NULL) {
        const size_t i = (size_t)((unsigned char *)p - pool_buf) / BS;
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
    }
}

/* One damaged block found: not handed out, counted, reported; the pool
 * whole and no block handed out twice afterwards. */
static void assert_damage_found(struct am_onesize *os, struct am_onesize_cache *c, const void *blk)
{
    assert_int_equal(test_errors.n, 1);
    assert_int_equal(test_errors.last, EFAULT);
    assert_ptr_equal(test_errors.ptr, blk);
    assert_int_equal(stats_of(os).corruptions, 1);
    assert_int_equal(stats_of(os).retired, 1); /* out of service until free_all */
    assert_pool_whole(os);
    assert_no_block_twice(os, c);
}

/* ---- am_onesize_cache_init ---------------------------------------------- */

static void test_cache_init_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(NULL, &os, 0), -EINVAL);
    assert_int_equal(am_onesize_cache_init(&c, &os, 0), -EINVAL); /* pool never constructed */
    make(&os);
    assert_int_equal(am_onesize_cache_init(&c, NULL, 0), -EINVAL);
    assert_int_equal(am_onesize_cache_init(&c, &os, AM_ONESIZE_CACHE_MAX + 1), -EINVAL);
    /* a failed init leaves a harmless cache */
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, block(0)), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, NULL), 0);
    am_onesize_cache_flush(&c);
    am_onesize_cache_flush(NULL);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_cache_get_ncached(NULL), 0);
    assert_null(am_onesize_cache_allocate(NULL, 1));
    assert_int_equal(am_onesize_cache_free(NULL, block(0)), -EINVAL);
    assert_int_equal(am_onesize_cache_init(&c, &os, AM_ONESIZE_CACHE_MAX), 0);
    assert_pool_whole(&os);
}

/* "*c may hold anything before (it is not read)". */
static void test_cache_init_works_on_uninitialised_memory(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    static const unsigned char fills[] = {0x00, 0xff, 0xa5, 0x5a, 0x01};
    for (size_t f = 0; f < sizeof fills; f++) {
        struct am_onesize_cache c;
        memset(&c, fills[f], sizeof c);
        assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
        assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
        void *p = am_onesize_cache_allocate(&c, 1);
        assert_non_null(p);
        assert_int_equal(am_onesize_cache_free(&c, p), 0);
        am_onesize_cache_flush(&c);
        assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    }
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

/* ---- allocate / free / flush -------------------------------------------- */

static void test_cache_refills_half_and_flushes_half(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 0); /* default 32 */
    void *p = am_onesize_cache_allocate(&c, BS);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 15); /* 16 moved, 1 handed out */
    assert_int_equal(am_onesize_get_nfree(&os), NB - 16);   /* cached blocks count as allocated */
    assert_int_equal(stats_of(&os).cached, 16);             /* as of the refill */
    void *held[40];
    held[0] = p;
    for (int i = 1; i < 40; i++)
        assert_non_null(held[i] = am_onesize_cache_allocate(&c, 1));
    for (int i = 0; i < 40; i++) /* all distinct */
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(held[i], held[j]);
    assert_int_equal(am_onesize_get_nfree(&os), NB - 48); /* three refills of 16 */
    assert_int_equal(am_onesize_cache_get_ncached(&c), 8);
    for (int i = 0; i < 40; i++)
        assert_int_equal(am_onesize_cache_free(&c, held[i]), 0);
    /* 48 cached would exceed 32: flushes of 16 happened at 32 */
    assert_true(am_onesize_cache_get_ncached(&c) <= 32);
    assert_int_equal(am_onesize_get_nfree(&os) + am_onesize_cache_get_ncached(&c), NB);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(stats_of(&os).cached, 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

static void test_cache_lifo_reuse_without_the_pool(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1);
    const uint64_t allocs = stats_of(&os).allocations;
    const int enters = test_lock.enters;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(am_onesize_cache_free(&c, p), 0);
        assert_ptr_equal(am_onesize_cache_allocate(&c, 1), p);
    }
    assert_int_equal(test_lock.enters, enters);          /* no lock taken */
    assert_int_equal(stats_of(&os).allocations, allocs); /* the pool was not asked */
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

static void test_cache_allocate_errors(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 4);
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, BS + 1));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(stats_of(&os).oversize_requests, 1); /* counted by the pool */
    assert_int_equal(test_errors.last, EINVAL);
    void *all[NB];
    for (size_t i = 0; i < NB; i++)
        assert_non_null(all[i] = am_onesize_cache_allocate(&c, 1));
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(errno, ENOMEM);
    for (size_t i = 0; i < NB; i++)
        assert_int_equal(am_onesize_cache_free(&c, all[i]), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

/* ---- misuse, answered at once ------------------------------------------- */

static void test_cache_free_rejects_foreign_interior_and_never_handed_out(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    unsigned char *p = am_onesize_cache_allocate(&c, 1);
    struct am_onesize_stats before = stats_of(&os);
    static unsigned char elsewhere[64];
    assert_int_equal(am_onesize_cache_free(&c, elsewhere), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, p + 1), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, p + BS - 1), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, block(NB - 1)), -EINVAL); /* never handed out */
    assert_int_equal(test_errors.n, 4);
    assert_int_equal(test_errors.last, EINVAL);
    assert_ptr_equal(test_errors.ptr, block(NB - 1));
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.rejected_outside, 1);
    assert_int_equal(st.rejected_interior, 2);
    assert_int_equal(st.rejected_never_allocated, 1);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 3);
    assert_same_state(&os, &before);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_no_block_twice(&os, &c);
}

/* The same misuse on a cache and on a twin pool that never saw it: both
 * hand out the same blocks afterwards. */
static void test_cache_free_twice_into_same_cache(void **state)
{
    (void)state;
    POOL(os) = {0};
    POOL(twin) = {0};
    make(&os);
    make_twin(&twin);
    struct am_onesize_cache c, tc;
    cache_or_skip(&c, &os, 8);
    assert_int_equal(am_onesize_cache_init(&tc, &twin, 8), 0);
    void *p = am_onesize_cache_allocate(&c, 1), *q = am_onesize_cache_allocate(&c, 1);
    void *tp = am_onesize_cache_allocate(&tc, 1), *tq = am_onesize_cache_allocate(&tc, 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_free(&tc, tp), 0);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY);
    assert_int_equal(test_errors.last, EALREADY);
    assert_ptr_equal(test_errors.ptr, p);
    assert_int_equal(stats_of(&os).rejected_double, 1);
    void *a = am_onesize_cache_allocate(&c, 1), *b = am_onesize_cache_allocate(&c, 1);
    assert_ptr_equal(a, p);
    assert_ptr_not_equal(a, b); /* "the next two allocations are two blocks" */
    assert_int_equal(am_onesize_cache_free(&c, a), 0);
    assert_int_equal(am_onesize_cache_free(&c, b), 0);
    assert_int_equal(am_onesize_cache_free(&c, q), 0);
    void *ta = am_onesize_cache_allocate(&tc, 1), *tb = am_onesize_cache_allocate(&tc, 1);
    assert_int_equal(am_onesize_cache_free(&tc, ta), 0);
    assert_int_equal(am_onesize_cache_free(&tc, tb), 0);
    assert_int_equal(am_onesize_cache_free(&tc, tq), 0);
    am_onesize_cache_flush(&c);
    am_onesize_cache_flush(&tc);
    assert_pool_whole(&os);
    assert_drains_like(&os, pool_buf, &twin, twin_buf);
}

/* Scenario: a stale pointer to a block another cache holds, freed into a
 * second cache, is a double free: answered at once, never cached twice. */
static void test_cache_free_into_two_caches_is_caught_at_once(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 8);
    assert_int_equal(am_onesize_cache_init(&b, &os, 8), 0);
    void *p = am_onesize_cache_allocate(&a, 1);
    assert_int_equal(am_onesize_cache_free(&a, p), 0); /* p is in a */
    assert_int_equal(am_onesize_cache_free(&b, p), -EALREADY);
    assert_int_equal(am_onesize_cache_get_ncached(&b), 0);
    assert_int_equal(stats_of(&os).rejected_double, 1);
    am_onesize_cache_flush(&b);
    am_onesize_cache_flush(&a);                                /* p goes to the pool's depot, parked */
    assert_int_equal(am_onesize_cache_free(&b, p), -EALREADY); /* ... still caught */
    assert_int_equal(am_onesize_free(&os, p), -EALREADY);
    assert_int_equal(stats_of(&os).rejected_double, 3);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
    assert_no_block_twice(&os, &a);
}

static void test_cache_then_pool_double_free(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    struct am_onesize_stats before = stats_of(&os);
    assert_int_equal(am_onesize_free(&os, p), -EALREADY);
    void *one[1] = {p};
    assert_int_equal(am_onesize_free_bulk(&os, one, 1), 1);
    assert_int_equal(errno, EALREADY);
    assert_same_state(&os, &before);
    assert_no_block_twice(&os, &c);
}

/* Scenario: a block freed to the pool, then into a cache. The cache must not
 * mark a block on the pool's free list: the pool answers -EALREADY, its list
 * stays intact, its counts exact. */
static void test_pool_then_cache_double_free(void **state)
{
    (void)state;
    POOL(os) = {0};
    POOL(twin) = {0};
    make(&os);
    make_twin(&twin);
    struct am_onesize_cache c, tc;
    cache_or_skip(&c, &os, 8);
    assert_int_equal(am_onesize_cache_init(&tc, &twin, 8), 0);
    void *p = alloc_ok(&os, 1), *q = alloc_ok(&os, 1);
    void *tp = alloc_ok(&twin, 1), *tq = alloc_ok(&twin, 1);
    /* warm caches: a refill tells them p and q were handed out, so the
     * inline path, not the library's, sees the misuse below */
    assert_int_equal(am_onesize_cache_free(&c, am_onesize_cache_allocate(&c, 1)), 0);
    assert_int_equal(am_onesize_cache_free(&tc, am_onesize_cache_allocate(&tc, 1)), 0);
    assert_int_equal(am_onesize_free(&os, p), 0);
    assert_int_equal(am_onesize_free(&twin, tp), 0);
    const size_t cached = am_onesize_cache_get_ncached(&c);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY);
    assert_int_equal(test_errors.last, EALREADY);
    assert_ptr_equal(test_errors.ptr, p);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.rejected_double, 1);
    assert_int_equal(st.nfree, NB - 1 - 4);
    assert_int_equal(am_onesize_cache_get_ncached(&c), cached);
    assert_pool_whole(&os);
    assert_int_equal(am_onesize_free(&os, q), 0);
    assert_int_equal(am_onesize_free(&twin, tq), 0);
    am_onesize_cache_flush(&c);
    am_onesize_cache_flush(&tc);
    assert_drains_like(&os, pool_buf, &twin, twin_buf);
}

/* Scenario: a write into a cached block (a use after free), then another
 * cached block freed again: the cache never follows or trusts the damaged
 * words; the damaged block is never handed out. */
static void test_cache_write_into_cached_block_is_never_followed(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 32);
    void *first = am_onesize_cache_allocate(&c, 1); /* a refill of 16: 15 cached */
    assert_int_equal(am_onesize_cache_free(&c, first), 0);
    void *victim = am_onesize_cache_allocate(&c, 1), *other = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, other), 0);
    assert_int_equal(am_onesize_cache_free(&c, victim), 0);
    stray_write(victim, 0, 16, 0x41); /* its link and check word, 0x4141... */
    assert_int_equal(am_onesize_cache_free(&c, other), -EALREADY);
    /* the damaged block: not handed out, counted, reported, the next one is */
    test_errors.n = 0;
    void *next = am_onesize_cache_allocate(&c, 1);
    assert_non_null(next);
    assert_ptr_not_equal(next, victim);
    assert_damage_found(&os, &c, victim);
}

/* The default mode's documented blind spot: a write into a freed block's
 * first two words, then a double free, is accepted. Even then no block is
 * handed out twice: the second entry no longer carries its check word when
 * the cache reaches it. */
static void test_cache_double_free_after_a_write_never_hands_out_twice(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    stray_write(p, 0, 16, 0);                          /* the write ... */
    assert_int_equal(am_onesize_cache_free(&c, p), 0); /* ... hides the double free */
    assert_ptr_equal(am_onesize_cache_allocate(&c, 1), p);
    void *q = am_onesize_cache_allocate(&c, 1); /* the second entry for p is dropped */
    assert_ptr_not_equal(q, p);
    assert_int_equal(test_errors.last, EFAULT);
    assert_no_block_twice(&os, &c);
}

/* Scenario: free_all while a cache holds blocks. The pool takes them all
 * back; the cache never hands them out or gives them back again; the event
 * is counted and reported. */
static void test_free_all_with_cached_blocks(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 32);
    void *held = am_onesize_cache_allocate(&c, 1);
    void *mine = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, mine), 0);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 15);
    test_errors.n = 0;
    am_onesize_free_all(&os);
    assert_int_equal(test_errors.n, 1);
    assert_int_equal(test_errors.last, ESTALE);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.cache_reclaimed, 16);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.nfree, NB);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    /* a stale pointer from before free_all: rejected by the cache too */
    assert_int_equal(am_onesize_cache_free(&c, held), -EALREADY);
    /* the pool hands out every block; the cache then has none to give */
    void *all[NB];
    for (size_t i = 0; i < NB; i++)
        assert_non_null(all[i] = am_onesize_allocate(&os, 1));
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(errno, ENOMEM);
    am_onesize_cache_flush(&c); /* nothing to give back: no block freed twice */
    assert_int_equal(am_onesize_get_nfree(&os), 0);
    for (size_t i = 0; i < NB; i++)
        assert_int_equal(am_onesize_cache_free(&c, all[i]), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

/* Blocks freed into a cache whose blocks free_all took back are the
 * cache's own: kept, not lost. */
static void test_cache_keeps_blocks_freed_after_free_all(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    assert_non_null(am_onesize_cache_allocate(&c, 1));
    am_onesize_free_all(&os);
    void *p = alloc_ok(&os, 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 1);
    assert_ptr_equal(am_onesize_cache_allocate(&c, 1), p);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

/* dtor and a new ctor over the same pool, with blocks in a cache: the cache
 * drops them, its next blocks come from the new pool. */
static void test_ctor_again_with_cached_blocks(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    assert_non_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(am_onesize_cache_get_ncached(&c), 3);
    am_onesize_dtor(&os);
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1)); /* the pool is gone */
    assert_int_equal(errno, EINVAL);
    make(&os);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(stats_of(&os).cached, 0);
    assert_no_block_twice(&os, &c);
}

/* ---- what the pool knows about caches ----------------------------------- */

static void test_cache_blocks_count_as_allocated(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1);
    size_t n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&os, 0, count_cb, &n), 4);
    assert_int_equal(am_onesize_get_nfree(&os), NB - 4);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.allocations, 4);
    assert_int_equal(st.cached, 4);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    st = stats_of(&os);
    assert_int_equal(st.frees, 4);
    assert_int_equal(st.cached, 0);
    n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&os, 0, count_cb, &n), 0);
    assert_pool_whole(&os);
}

/* "a cache dropped without a flush is visible" */
static void test_cache_dropped_without_flush_is_visible(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    assert_non_null(am_onesize_cache_allocate(&c, 1));      /* a refill of 4, 3 left */
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0); /* dropped, not flushed */
    assert_int_equal(stats_of(&os).cached, 4);
    assert_int_equal(am_onesize_check(&os), 0);
    am_onesize_free_all(&os);
    assert_int_equal(stats_of(&os).cached, 0);
    assert_int_equal(stats_of(&os).cache_reclaimed, 4);
}

static void test_cache_blocks_move_between_caches_and_pool(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 4);
    assert_int_equal(am_onesize_cache_init(&b, &os, 4), 0);
    void *x = am_onesize_cache_allocate(&a, 1), *y = alloc_ok(&os, 1), *z = am_onesize_cache_allocate(&b, 1);
    assert_int_equal(am_onesize_cache_free(&b, x), 0); /* a's block into b */
    assert_int_equal(am_onesize_free(&os, z), 0);      /* b's block to the pool */
    assert_int_equal(am_onesize_cache_free(&a, y), 0); /* the pool's block into a */
    am_onesize_cache_flush(&a);
    am_onesize_cache_flush(&b);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_int_equal(stats_of(&os).cached, 0);
    assert_pool_whole(&os);
}

/* A block written while it waited in the pool for a cache (in the depot)
 * is never handed out, by a cache or by the pool. */
static void test_depot_block_written_after_flush_is_not_handed_out(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 4);
    assert_int_equal(am_onesize_cache_init(&b, &os, 4), 0);
    void *p = am_onesize_cache_allocate(&a, 1), *q = am_onesize_cache_allocate(&a, 1);
    am_onesize_cache_free(&a, p);
    am_onesize_cache_free(&a, q);
    am_onesize_cache_flush(&a);    /* 4 parked blocks in the depot */
    scribble(q, CHECK_WORD, 0x01); /* a use after free */
    test_errors.n = 0;
    void *got[4];
    size_t n = 0;
    for (int i = 0; i < 5 && n < 4; i++) {
        void *r = am_onesize_cache_allocate(&b, 1);
        if (r != NULL)
            got[n++] = r;
    }
    for (size_t i = 0; i < n; i++)
        assert_ptr_not_equal(got[i], q);
    assert_damage_found(&os, &b, q);
}

/* Caller data that matches the pool's free pattern is still an allocated
 * block: a cache gives it to the pool, which takes it back. White-box. */
static void test_cache_free_of_lookalike_data_goes_to_the_pool(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = alloc_ok(&os, 1);
    am_test_forge_free_pattern(&os, p, 4242);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

static void test_cache_passes_through_under_memory_debugger(void **state)
{
    (void)state;
    if (!under_memory_debugger())
        skip();
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB - 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_pool_whole(&os);
}

/* After dtor the pool's memory is the caller's again, here unmapped: a
 * cache still bound to it must not read a block (its inline paths compare
 * keys first). Found by the fuzzer (stale_cache_inline, cache_free_reads). */
static void test_cache_calls_after_dtor_read_no_block_memory(void **state)
{
    (void)state;
    if (under_memory_debugger())
        skip(); /* caches pass through: nothing is cached to read */
    unsigned char *mem = mmap(NULL, NB * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    POOL(os) = {0};
    struct am_onesize_cfg cfg = test_cfg(mem, NB * BS, BS, 64);
    ctor_ok(&os, &cfg);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    void *p = am_onesize_cache_allocate(&c, 1), *q = am_onesize_cache_allocate(&c, 1);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_free(&c, q), 0); /* cached blocks in mem */
    am_onesize_dtor(&os);
    assert_int_equal(munmap(mem, NB * BS), 0); /* a read of a block now faults */
    assert_int_equal(am_onesize_cache_free(&c, NULL), 0);
    assert_int_equal(am_onesize_cache_free(&c, p), -EINVAL);
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(errno, EINVAL);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
}

/* A flush after free_all catches the cache up with the pool's new key; a
 * stale pointer freed into it afterwards is still a double free, never
 * kept (the pool carves that block again: it would have two owners).
 * Found by the fuzzer (flush_keeps_carved). */
static void test_stale_free_after_free_all_and_flush_is_rejected(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *held = am_onesize_cache_allocate(&c, 1); /* carved: 4 blocks */
    am_onesize_free_all(&os);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_free(&c, held), -EALREADY);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_no_block_twice(&os, &c);
}

/* A block on the pool's free list, written by the caller and then freed
 * again into a cache (the documented-undetected case: accepted), is parked
 * while still on the list. The pool must take it for damage, not follow
 * its link (the park mark, odd). Found by the fuzzer (parked_link_followed). */
static void test_written_list_block_freed_into_cache_is_never_followed(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, p), 0); /* the head of the free list */
    stray_write(p, 0, 16, 0x41);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    test_errors.n = 0;
    errno = 0;
    assert_null(am_onesize_allocate(&os, 1));
    assert_int_equal(errno, EFAULT);
    assert_int_equal(test_errors.last, EFAULT);
    assert_int_equal(am_onesize_check(&os), -EFAULT);
    am_onesize_free_all(&os); /* the way back */
    assert_pool_whole(&os);
    void *all[NB];
    for (size_t i = 0; i < NB; i++)
        assert_non_null(all[i] = am_onesize_allocate(&os, 1));
    for (size_t i = 0; i < NB; i++)
        assert_int_equal(am_onesize_free(&os, all[i]), 0);
}

/* A cached block found written is retired: out of service, counted as
 * retired, and the statistics still add up. Found by the fuzzer
 * (retired_never_counts). */
static void test_retired_cached_block_keeps_the_counts(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 32);
    void *first = am_onesize_cache_allocate(&c, 1); /* a refill of 16 */
    assert_int_equal(am_onesize_cache_free(&c, first), 0);
    void *victim = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, victim), 0);
    stray_write(victim, 0, 16, 0x41);
    void *next = am_onesize_cache_allocate(&c, 1); /* victim dropped, the next one */
    assert_non_null(next);
    assert_ptr_not_equal(next, victim);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.retired, 1);
    assert_int_equal(st.allocations, 16);
    assert_int_equal(st.frees, 0);
    am_onesize_cache_flush(&c); /* 14 back: 16 less the one held and the one retired */
    st = stats_of(&os);
    assert_int_equal(st.frees, 14);
    assert_int_equal(st.nfree, NB - 2);
    am_onesize_free_all(&os);
    st = stats_of(&os);
    assert_int_equal(st.retired, 0);
    assert_int_equal(st.freed_by_free_all, 2); /* the held one and the retired one */
    assert_int_equal(st.frees, 14);
    assert_int_equal(st.nfree, NB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_cache_init_rejects_bad_arguments),
        TEST(test_cache_calls_after_dtor_read_no_block_memory),
        TEST(test_stale_free_after_free_all_and_flush_is_rejected),
        TEST(test_written_list_block_freed_into_cache_is_never_followed),
        TEST(test_retired_cached_block_keeps_the_counts),
        TEST(test_cache_init_works_on_uninitialised_memory),
        TEST(test_cache_refills_half_and_flushes_half),
        TEST(test_cache_lifo_reuse_without_the_pool),
        TEST(test_cache_allocate_errors),
        TEST(test_cache_free_rejects_foreign_interior_and_never_handed_out),
        TEST(test_cache_free_twice_into_same_cache),
        TEST(test_cache_free_into_two_caches_is_caught_at_once),
        TEST(test_cache_then_pool_double_free),
        TEST(test_pool_then_cache_double_free),
        TEST(test_cache_write_into_cached_block_is_never_followed),
        TEST(test_cache_double_free_after_a_write_never_hands_out_twice),
        TEST(test_free_all_with_cached_blocks),
        TEST(test_cache_keeps_blocks_freed_after_free_all),
        TEST(test_ctor_again_with_cached_blocks),
        TEST(test_cache_blocks_count_as_allocated),
        TEST(test_cache_dropped_without_flush_is_visible),
        TEST(test_cache_blocks_move_between_caches_and_pool),
        TEST(test_depot_block_written_after_flush_is_not_handed_out),
        TEST(test_cache_free_of_lookalike_data_goes_to_the_pool),
        TEST(test_cache_passes_through_under_memory_debugger),
    };
    return RUN_IN_EVERY_FLAVOUR(tests);
}
