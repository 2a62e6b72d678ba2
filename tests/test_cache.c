/* Unit tests of the bulk operations (amonesize.h) and of per-thread caches
 * (amonesize_cache.h), single-threaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "amonesize.h"
#include "amonesize_cache.h"

static alignas(64) unsigned char pool_buf[64 * 64];

#define POOL(name) struct am_onesize name __attribute__((cleanup(am_onesize_dtor))) = {0}

static int errors_seen, last_err;
static const void *last_ptr;

static void on_error(void *ctx, int err, const void *ptr)
{
    (void)ctx;
    errors_seen++;
    last_err = err;
    last_ptr = ptr;
}

/* 64 blocks of 64 bytes, with an error callback. */
static void make(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = {.pool = {pool_buf, sizeof pool_buf}, .block_size = 64, .alignment = 64};
    cfg.on_error = on_error;
    am_onesize_dtor(os);
    assert_int_equal(am_onesize_ctor(os, &cfg), 0);
    errors_seen = 0;
}

static struct am_onesize_stats stats_of(const struct am_onesize *os)
{
    struct am_onesize_stats st;
    assert_int_equal(am_onesize_get_stats(os, &st), 0);
    return st;
}

/* Under a memory debugger a cache passes every call to its pool: tests of
 * caching itself are skipped there (the plain and tsan suites run them). */
static void cache_or_skip(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity)
{
    assert_int_equal(am_onesize_cache_init(c, os, capacity), 0);
    if (c->bypass)
        skip();
}

static void count_cb(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)block, (void)size;
    ++*(size_t *)ctx;
}

/* Every block back, the list intact, every allocation matched by a free,
 * nothing rejected or damaged. */
static void assert_pool_whole(const struct am_onesize *os)
{
    struct am_onesize_stats st = stats_of(os);
    assert_int_equal(st.nfree, st.nblocks);
    assert_int_equal(st.allocations, st.frees + st.freed_by_free_all);
    assert_int_equal(st.rejected_double + st.rejected_interior + st.rejected_outside +
                         st.rejected_never_allocated + st.corruptions,
                     0);
    assert_int_equal(am_onesize_check((struct am_onesize *)os), 0);
}

static void *block(size_t i)
{
    return pool_buf + 64 * i;
}

/* ---- am_onesize_allocate_bulk ------------------------------------------- */

static void test_allocate_bulk_takes_lifo_then_carves(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    void *a = am_onesize_allocate(&os, 1), *b = am_onesize_allocate(&os, 1);
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(am_onesize_free(&os, b), 0);
    void *out[5];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 5), 5);
    assert_ptr_equal(out[0], b); /* most recently freed first */
    assert_ptr_equal(out[1], a);
    assert_ptr_equal(out[2], block(2));
    assert_ptr_equal(out[4], block(4));
    assert_int_equal(am_onesize_get_nfree(&os), 59);
    assert_int_equal(am_onesize_get_nfree_min(&os), 59);
    assert_int_equal(stats_of(&os).allocations, 7);
    assert_int_equal(am_onesize_check(&os), 0);
}

static void test_allocate_bulk_partial_when_exhausted(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    void *out[80];
    out[70] = (void *)&os;
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 80), 64);
    assert_int_equal(errno, ENOMEM);
    assert_ptr_equal(out[70], &os); /* untouched past the count */
    assert_int_equal(am_onesize_get_nfree(&os), 0);
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 1), 0);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 0), 0);
}

static void test_allocate_bulk_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os);
    void *out[2];
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 2), 0); /* never constructed */
    assert_int_equal(errno, EINVAL);
    make(&os);
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, NULL, 2), 0);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(NULL, out, 2), 0);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

/* ---- am_onesize_free_bulk ----------------------------------------------- */

static void test_free_bulk_frees_all(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    void *out[10];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 10), 10);
    void *batch[11];
    memcpy(batch, out, sizeof out);
    batch[10] = NULL; /* skipped */
    assert_int_equal(am_onesize_free_bulk(&os, batch, 11), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.frees, 10);
    assert_ptr_equal(am_onesize_allocate(&os, 1), out[9]); /* the last one freed comes first */
    assert_int_equal(am_onesize_free_bulk(&os, batch, 0), 0);
    assert_int_equal(am_onesize_check(&os), 0);
}

/* "frees none if any is invalid", and says which */
static void test_free_bulk_is_all_or_nothing(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    void *out[8];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 8), 8);
    assert_int_equal(am_onesize_free(&os, out[7]), 0);
    const struct {
        void *bad;
        int err;
        uint64_t rejected_double, rejected_interior, rejected_outside, rejected_never;
    } cases[] = {
        {(unsigned char *)out[2] + 1, EINVAL, 0, 1, 0, 0}, /* interior */
        {pool_buf + sizeof pool_buf, EINVAL, 0, 1, 1, 0},  /* outside */
        {block(40), EINVAL, 0, 1, 1, 1},                   /* never handed out */
        {out[7], EALREADY, 1, 1, 1, 1},                    /* already free */
        {out[1], EALREADY, 2, 1, 1, 1},                    /* twice in the batch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *batch[5] = {out[0], out[1], out[2], cases[i].bad, out[3]};
        errors_seen = 0;
        errno = 0;
        assert_int_equal(am_onesize_free_bulk(&os, batch, 5), 4); /* blocks[3] */
        assert_int_equal(errno, cases[i].err);
        assert_int_equal(errors_seen, 1);
        assert_int_equal(last_err, cases[i].err);
        assert_ptr_equal(last_ptr, cases[i].bad);
        /* nothing freed: counts and list as before */
        struct am_onesize_stats st = stats_of(&os);
        assert_int_equal(st.nfree, 57);
        assert_int_equal(st.frees, 1);
        assert_int_equal(st.rejected_double, cases[i].rejected_double);
        assert_int_equal(st.rejected_interior, cases[i].rejected_interior);
        assert_int_equal(st.rejected_outside, cases[i].rejected_outside);
        assert_int_equal(st.rejected_never_allocated, cases[i].rejected_never);
        assert_int_equal(am_onesize_check(&os), 0);
    }
    /* the blocks are still allocated: a plain free of each works once */
    for (int i = 0; i < 7; i++)
        assert_int_equal(am_onesize_free(&os, out[i]), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

static void test_free_bulk_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os);
    void *one[1] = {pool_buf};
    assert_int_equal(am_onesize_free_bulk(&os, one, 1), -EINVAL); /* never constructed */
    make(&os);
    assert_int_equal(am_onesize_free_bulk(NULL, one, 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, NULL, 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, one, (size_t)INT32_MAX + 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, NULL, 0), 0);
}

/* ---- am_onesize_cache_init ---------------------------------------------- */

static void test_cache_init_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os);
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
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_cache_get_ncached(NULL), 0);
    assert_int_equal(am_onesize_cache_init(&c, &os, AM_ONESIZE_CACHE_MAX), 0);
}

/* ---- allocate / free / flush -------------------------------------------- */

static void test_cache_refills_half_and_flushes_half(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 0); /* default 32 */
    void *p = am_onesize_cache_allocate(&c, 64);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 15); /* 16 moved, 1 handed out */
    assert_int_equal(am_onesize_get_nfree(&os), 48);        /* cached blocks count as allocated */
    void *held[40];
    held[0] = p;
    for (int i = 1; i < 40; i++)
        assert_non_null(held[i] = am_onesize_cache_allocate(&c, 1));
    for (int i = 0; i < 40; i++) /* all distinct */
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(held[i], held[j]);
    assert_int_equal(am_onesize_get_nfree(&os), 64 - 48); /* three refills of 16 */
    assert_int_equal(am_onesize_cache_get_ncached(&c), 8);
    for (int i = 0; i < 40; i++)
        assert_int_equal(am_onesize_cache_free(&c, held[i]), 0);
    /* 48 cached would exceed 32: flushes of 16 happened at 32 */
    assert_true(am_onesize_cache_get_ncached(&c) <= 32);
    assert_int_equal(am_onesize_get_nfree(&os) + am_onesize_cache_get_ncached(&c), 64);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_pool_whole(&os);
}

static void test_cache_lifo_reuse_without_the_pool(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1);
    const uint64_t allocs = stats_of(&os).allocations;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(am_onesize_cache_free(&c, p), 0);
        assert_ptr_equal(am_onesize_cache_allocate(&c, 1), p);
    }
    assert_int_equal(stats_of(&os).allocations, allocs); /* the pool was not asked */
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

static void test_cache_allocate_errors(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 4);
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 65));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(stats_of(&os).oversize_requests, 1);
    errno = 0;
    assert_null(am_onesize_cache_allocate(NULL, 1));
    assert_int_equal(errno, EINVAL);
    int n = 0;
    while (am_onesize_cache_allocate(&c, 1) != NULL)
        n++;
    assert_int_equal(n, 64);
    assert_int_equal(errno, ENOMEM);
}

static void test_cache_free_rejects_foreign_and_interior(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 4);
    unsigned char *p = am_onesize_cache_allocate(&c, 1);
    const size_t cached = am_onesize_cache_get_ncached(&c);
    assert_int_equal(am_onesize_cache_free(&c, p + 8), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, pool_buf + sizeof pool_buf), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, &c), -EINVAL);
    assert_int_equal(am_onesize_cache_free(&c, NULL), 0);
    assert_int_equal(am_onesize_cache_free(NULL, p), -EINVAL);
    assert_int_equal(am_onesize_cache_get_ncached(&c), cached);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.rejected_interior, 1);
    assert_int_equal(st.rejected_outside, 2);
    assert_int_equal(errors_seen, 3);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

/* "Freeing a block that is already in the same cache is rejected at once" */
static void test_cache_free_twice_into_same_cache(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 16);
    void *p = am_onesize_cache_allocate(&c, 1), *q = am_onesize_cache_allocate(&c, 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_free(&c, q), 0);
    const size_t cached = am_onesize_cache_get_ncached(&c);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY);
    assert_int_equal(am_onesize_cache_get_ncached(&c), cached);
    assert_int_equal(stats_of(&os).rejected_double, 1);
    assert_int_equal(last_err, EALREADY);
    assert_ptr_equal(last_ptr, p);
    /* the two next allocations are two different blocks: no two owners */
    void *x = am_onesize_cache_allocate(&c, 1), *y = am_onesize_cache_allocate(&c, 1);
    assert_ptr_not_equal(x, y);
    assert_int_equal(am_onesize_cache_free(&c, x), 0);
    assert_int_equal(am_onesize_cache_free(&c, y), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    assert_int_equal(am_onesize_check(&os), 0);
}

/* Into two caches, or a cache and the pool: caught when the batch reaches
 * the pool; the pool stays intact and the block is freed once. */
static void test_cache_double_free_across_caches_caught_at_flush(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 8);
    cache_or_skip(&b, &os, 8);
    void *p = am_onesize_cache_allocate(&a, 1);
    assert_int_equal(am_onesize_cache_free(&a, p), 0);
    assert_int_equal(am_onesize_cache_free(&b, p), 0); /* not knowable yet */
    am_onesize_cache_flush(&a);
    assert_int_equal(stats_of(&os).rejected_double, 0);
    am_onesize_cache_flush(&b); /* here */
    assert_int_equal(stats_of(&os).rejected_double, 1);
    assert_ptr_equal(last_ptr, p);
    assert_int_equal(am_onesize_cache_get_ncached(&b), 0);
    assert_int_equal(am_onesize_check(&os), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    /* a cache and the pool */
    void *q = am_onesize_cache_allocate(&a, 1);
    assert_int_equal(am_onesize_cache_free(&a, q), 0);
    assert_int_equal(am_onesize_free(&os, q), 0); /* the pool sees an allocated block */
    am_onesize_cache_flush(&a);
    assert_int_equal(stats_of(&os).rejected_double, 2);
    assert_int_equal(am_onesize_check(&os), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    /* a block never handed out, freed into a cache */
    assert_int_equal(am_onesize_cache_free(&a, block(63)), 0);
    am_onesize_cache_flush(&a);
    assert_int_equal(stats_of(&os).rejected_never_allocated, 1);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

/* Cross-cache and cache/pool frees of valid blocks */
static void test_cache_blocks_move_between_caches_and_pool(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 4);
    cache_or_skip(&b, &os, 4);
    void *p[20];
    for (int i = 0; i < 20; i++)
        assert_non_null(p[i] = am_onesize_cache_allocate(&a, 1));
    for (int i = 0; i < 10; i++)
        assert_int_equal(am_onesize_cache_free(&b, p[i]), 0);
    for (int i = 10; i < 20; i++)
        assert_int_equal(am_onesize_free(&os, p[i]), 0);
    void *q = am_onesize_allocate(&os, 1);
    assert_int_equal(am_onesize_cache_free(&a, q), 0);
    am_onesize_cache_flush(&a);
    am_onesize_cache_flush(&b);
    assert_pool_whole(&os);
}

/* Cached blocks are allocated for the pool: iteration visits them. */
static void test_cache_blocks_count_as_allocated(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    cache_or_skip(&c, &os, 8);
    assert_non_null(am_onesize_cache_allocate(&c, 1)); /* 4 moved, 1 handed out */
    size_t n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&os, 0, count_cb, &n), 4);
    assert_int_equal(n, 4);
    assert_int_equal(am_onesize_get_nfree(&os), 60);
    assert_int_equal(am_onesize_get_nfree_min(&os), 60);
    am_onesize_free_all(&os); /* the cache must not be used after this */
    assert_int_equal(am_onesize_get_nfree(&os), 64);
}

/* ---- chains: a locked pool splices and detaches whole batches ----------- */

static int crit_depth, crit_enters;
static void enter(void *ctx)
{
    (void)ctx;
    crit_depth++;
    crit_enters++;
}
static void leave(void *ctx)
{
    (void)ctx;
    crit_depth--;
}

static void make_locked(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = {.pool = {pool_buf, sizeof pool_buf}, .block_size = 64, .alignment = 64};
    cfg.on_error = on_error;
    cfg.crit_enter = enter;
    cfg.crit_exit = leave;
    am_onesize_dtor(os);
    assert_int_equal(am_onesize_ctor(os, &cfg), 0);
    errors_seen = 0;
}

/* Fill a cache of capacity 8 (batches of 4) so that a flush splices a batch
 * on top of the free list; the next refill takes it back whole. */
static void test_cache_chain_round_trip(void **state)
{
    (void)state;
    POOL(os);
    make_locked(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 8);
    cache_or_skip(&b, &os, 8);
    void *p[8];
    for (int i = 0; i < 8; i++)
        assert_non_null(p[i] = am_onesize_cache_allocate(&a, 1));
    for (int i = 0; i < 8; i++) /* 8 cached: full, no flush yet */
        assert_int_equal(am_onesize_cache_free(&a, p[i]), 0);
    assert_int_equal(am_onesize_cache_free(&a, am_onesize_allocate(&os, 1)), 0); /* 9th: flushes 4 */
    assert_int_equal(am_onesize_cache_get_ncached(&a), 5);
    const int enters = crit_enters;
    void *r = am_onesize_cache_allocate(&b, 1); /* refill of 4 = the spliced batch */
    assert_non_null(r);
    assert_int_equal(crit_enters, enters + 1); /* one critical section */
    assert_int_equal(b.nchain, 3);             /* white-box: taken whole, as a chain */
    assert_int_equal(am_onesize_cache_get_ncached(&b), 3);
    void *got[4] = {r};
    for (int i = 1; i < 4; i++)
        assert_non_null(got[i] = am_onesize_cache_allocate(&b, 1));
    for (int i = 0; i < 4; i++) /* four distinct blocks, none still cached in a */
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(got[i], got[j]);
    for (int i = 0; i < 4; i++)
        assert_int_equal(am_onesize_cache_free(&b, got[i]), 0);
    am_onesize_cache_flush(&a);
    am_onesize_cache_flush(&b);
    assert_pool_whole(&os);
    assert_int_equal(crit_depth, 0);
    assert_int_equal(errors_seen, 0);
}

/* A detached batch sits on the cache as a chain: a stale free of one of its
 * blocks, a write after free into one, and a flush of what is left. */
static void take_chain(struct am_onesize *os, struct am_onesize_cache *a, struct am_onesize_cache *b,
                       void **first)
{
    void *p[8];
    for (int i = 0; i < 8; i++)
        assert_non_null(p[i] = am_onesize_cache_allocate(a, 1));
    for (int i = 0; i < 8; i++)
        assert_int_equal(am_onesize_cache_free(a, p[i]), 0);
    assert_int_equal(am_onesize_cache_free(a, am_onesize_allocate(os, 1)), 0); /* flush 4 */
    *first = am_onesize_cache_allocate(b, 1);                                  /* detaches them */
    assert_non_null(*first);
    assert_int_equal(b->nchain, 3);
}

static void test_cache_chain_stale_free_and_damage(void **state)
{
    (void)state;
    POOL(os);
    make_locked(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 8);
    cache_or_skip(&b, &os, 8);
    void *first;
    take_chain(&os, &a, &b, &first);
    void *on_chain = b.chain; /* white-box: the next block b would hand out */
    assert_int_equal(am_onesize_cache_free(&b, on_chain), -EALREADY);
    assert_int_equal(stats_of(&os).rejected_double, 1);
    assert_int_equal(b.nchain, 3);
    /* a write into a block of the chain: detected, never followed */
    ((unsigned char *)on_chain)[3] ^= 1;
    errno = 0;
    assert_null(am_onesize_cache_allocate(&b, 1));
    assert_int_equal(errno, EFAULT);
    assert_int_equal(stats_of(&os).corruptions, 1);
    assert_int_equal(am_onesize_cache_free(&b, first), 0);
    am_onesize_cache_flush(&a);
    am_onesize_cache_flush(&b);
    assert_int_equal(am_onesize_check(&os), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 61); /* 3 lost with the damaged chain */
}

static void test_cache_flush_returns_a_partly_used_chain(void **state)
{
    (void)state;
    POOL(os);
    make_locked(&os);
    struct am_onesize_cache a, b;
    cache_or_skip(&a, &os, 8);
    cache_or_skip(&b, &os, 8);
    void *first;
    take_chain(&os, &a, &b, &first);
    void *second = am_onesize_cache_allocate(&b, 1);
    assert_int_equal(am_onesize_cache_get_ncached(&b), 2);
    assert_int_equal(am_onesize_cache_free(&b, first), 0);
    assert_int_equal(am_onesize_cache_free(&b, second), 0);
    am_onesize_cache_flush(&b);
    am_onesize_cache_flush(&a);
    assert_int_equal(am_onesize_cache_get_ncached(&b), 0);
    assert_pool_whole(&os);
}

/* The debug aid: a cache still holding blocks is not re-initialised. */
static void test_cache_init_refuses_an_unflushed_cache(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    memset(&c, 0, sizeof c);
    cache_or_skip(&c, &os, 8);
    void *p = am_onesize_cache_allocate(&c, 1); /* 3 more stay cached */
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), -EBUSY);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 3); /* nothing changed */
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0); /* flushed: fine */
    assert_pool_whole(&os);
}

static void test_cache_passes_through_under_memory_debugger(void **state)
{
    (void)state;
    POOL(os);
    make(&os);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    if (!c.bypass)
        skip();
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 63);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY); /* at once */
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_check(&os), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocate_bulk_takes_lifo_then_carves),
        cmocka_unit_test(test_allocate_bulk_partial_when_exhausted),
        cmocka_unit_test(test_allocate_bulk_rejects_bad_arguments),
        cmocka_unit_test(test_free_bulk_frees_all),
        cmocka_unit_test(test_free_bulk_is_all_or_nothing),
        cmocka_unit_test(test_free_bulk_rejects_bad_arguments),
        cmocka_unit_test(test_cache_init_rejects_bad_arguments),
        cmocka_unit_test(test_cache_refills_half_and_flushes_half),
        cmocka_unit_test(test_cache_lifo_reuse_without_the_pool),
        cmocka_unit_test(test_cache_allocate_errors),
        cmocka_unit_test(test_cache_free_rejects_foreign_and_interior),
        cmocka_unit_test(test_cache_free_twice_into_same_cache),
        cmocka_unit_test(test_cache_double_free_across_caches_caught_at_flush),
        cmocka_unit_test(test_cache_blocks_move_between_caches_and_pool),
        cmocka_unit_test(test_cache_blocks_count_as_allocated),
        cmocka_unit_test(test_cache_chain_round_trip),
        cmocka_unit_test(test_cache_chain_stale_free_and_damage),
        cmocka_unit_test(test_cache_flush_returns_a_partly_used_chain),
        cmocka_unit_test(test_cache_init_refuses_an_unflushed_cache),
        cmocka_unit_test(test_cache_passes_through_under_memory_debugger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
