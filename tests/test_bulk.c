/* SPDX-License-Identifier: MIT */
/* Unit tests of the bulk operations (am_onesize_allocate_bulk,
 * am_onesize_free_bulk), single-threaded, on unlocked and locked pools. */
#include <limits.h>

#include "helpers.h"

static alignas(64) unsigned char pool_buf[64 * 64];
static alignas(64) unsigned char twin_buf[64 * 64];

/* 64 blocks of 64 bytes. */
static void make(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = test_cfg(pool_buf, sizeof pool_buf, 64, 64);
    ctor_ok(os, &cfg);
}

static void make_twin(struct am_onesize *os)
{
    struct am_onesize_cfg cfg = test_cfg(twin_buf, sizeof twin_buf, 64, 64);
    ctor_ok(os, &cfg);
}

static void *block(size_t i)
{
    return pool_buf + 64 * i;
}

/* ---- am_onesize_allocate_bulk ------------------------------------------- */

static void test_allocate_bulk_takes_lifo_then_carves(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    void *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
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
    assert_pool_whole(&os);
}

static void test_allocate_bulk_partial_when_exhausted(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    void *out[80];
    out[70] = (void *)&os;
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 80), 64);
    assert_int_equal(errno, ENOMEM);
    assert_ptr_equal(out[70], &os); /* untouched past the count */
    assert_int_equal(am_onesize_get_nfree(&os), 0);
    assert_int_equal(stats_of(&os).failed_allocations, 1);
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 1), 0);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 0), 0);
    assert_int_equal(test_errors.n, 0); /* running out is not misuse */
}

static void test_allocate_bulk_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os) = {0};
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
    assert_pool_whole(&os);
}

/* "a damaged free block was met (errno EFAULT)": the blocks before it are
 * handed out, the damaged one never. */
static void test_allocate_bulk_stops_at_a_damaged_block(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    void *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1), *c = alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(am_onesize_free(&os, b), 0);
    assert_int_equal(am_onesize_free(&os, c), 0); /* list: c b a */
    scribble(b, CHECK_WORD, 0x10);                /* b's check word */
    void *out[4] = {NULL, NULL, NULL, NULL};
    errno = 0;
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 4), 1);
    assert_int_equal(errno, EFAULT);
    assert_ptr_equal(out[0], c);
    assert_null(out[1]);
    assert_int_equal(test_errors.n, 1);
    assert_int_equal(test_errors.last, EFAULT);
    assert_int_equal(stats_of(&os).corruptions, 1);
}

/* ---- am_onesize_free_bulk ----------------------------------------------- */

static void test_free_bulk_frees_all(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    void *out[10];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 10), 10);
    void *batch[11];
    memcpy(batch, out, sizeof out);
    batch[10] = NULL; /* skipped */
    assert_int_equal(am_onesize_free_bulk(&os, batch, 11), 0);
    assert_int_equal(am_onesize_get_nfree(&os), 64);
    assert_int_equal(stats_of(&os).frees, 10);
    assert_ptr_equal(alloc_ok(&os, 1), out[9]); /* the last one freed comes first */
    assert_int_equal(am_onesize_free_bulk(&os, batch, 0), 0);
    assert_pool_whole(&os);
}

/* "frees none if any is invalid", says which, counts it once, and leaves
 * the pool as a twin that never saw the batch. */
static void test_free_bulk_is_all_or_nothing(void **state)
{
    (void)state;
    POOL(os) = {0};
    POOL(twin) = {0};
    make(&os);
    make_twin(&twin);
    void *out[8], *tout[8];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 8), 8);
    assert_int_equal(am_onesize_allocate_bulk(&twin, tout, 8), 8);
    assert_int_equal(am_onesize_free(&os, out[7]), 0);
    assert_int_equal(am_onesize_free(&twin, tout[7]), 0);
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
        test_errors.n = 0;
        errno = 0;
        assert_int_equal(am_onesize_free_bulk(&os, batch, 5), 4); /* blocks[3] */
        assert_int_equal(errno, cases[i].err);
        assert_int_equal(test_errors.n, 1);
        assert_int_equal(test_errors.last, cases[i].err);
        assert_ptr_equal(test_errors.ptr, cases[i].bad);
        struct am_onesize_stats st = stats_of(&os);
        assert_int_equal(st.nfree, 57);
        assert_int_equal(st.frees, 1);
        assert_int_equal(st.rejected_double, cases[i].rejected_double);
        assert_int_equal(st.rejected_interior, cases[i].rejected_interior);
        assert_int_equal(st.rejected_outside, cases[i].rejected_outside);
        assert_int_equal(st.rejected_never_allocated, cases[i].rejected_never);
        assert_pool_whole(&os);
    }
    /* the blocks are still allocated: a plain free of each works once */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(am_onesize_free(&os, out[i]), 0);
        assert_int_equal(am_onesize_free(&twin, tout[i]), 0);
    }
    assert_drains_like(&os, pool_buf, &twin, twin_buf);
}

/* The contents of the blocks of a rejected batch: as the caller left them
 * beyond the first two words. */
static void test_free_bulk_rejected_keeps_the_data(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os);
    unsigned char *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
    memset(a, 0x5a, 64);
    memset(b, 0x5b, 64);
    void *batch[3] = {a, b, a + 8};
    assert_int_equal(am_onesize_free_bulk(&os, batch, 3), 3);
    for (size_t k = 16; k < 64; k++) {
        assert_int_equal(a[k], 0x5a);
        assert_int_equal(b[k], 0x5b);
    }
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(am_onesize_free(&os, b), 0);
    assert_pool_whole(&os);
}

static void test_free_bulk_rejects_bad_arguments(void **state)
{
    (void)state;
    POOL(os) = {0};
    void *one[1] = {pool_buf};
    assert_int_equal(am_onesize_free_bulk(&os, one, 1), -EINVAL); /* never constructed */
    make(&os);
    assert_int_equal(am_onesize_free_bulk(NULL, one, 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, NULL, 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, one, (size_t)INT_MAX + 1), -EINVAL);
    assert_int_equal(am_onesize_free_bulk(&os, NULL, 0), 0);
    assert_int_equal(test_errors.n, 0); /* bad arguments are not reported */
    assert_pool_whole(&os);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_allocate_bulk_takes_lifo_then_carves),
        TEST(test_allocate_bulk_partial_when_exhausted),
        TEST(test_allocate_bulk_rejects_bad_arguments),
        TEST(test_allocate_bulk_stops_at_a_damaged_block),
        TEST(test_free_bulk_frees_all),
        TEST(test_free_bulk_is_all_or_nothing),
        TEST(test_free_bulk_rejected_keeps_the_data),
        TEST(test_free_bulk_rejects_bad_arguments),
    };
    return RUN_IN_EVERY_FLAVOUR(tests);
}
