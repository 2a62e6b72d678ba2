/* SPDX-License-Identifier: MIT */
/* Unit tests of the hardened mode (cfg.state, AM_ONESIZE_CHECK_FREED), on
 * unlocked and locked pools, through the pool, bulk calls and caches. */
#include <sys/mman.h>

#include "amonesize_cache.h"
#include "helpers.h"

enum { NB = 32, BS = 64 };
static alignas(64) unsigned char pool_buf[NB * BS];
/* "an integer constant expression when its arguments are" */
static unsigned char state_buf[AM_ONESIZE_STATE_SIZE(sizeof pool_buf, BS)];
_Static_assert(sizeof state_buf == (NB + 7) / 8, "one bit per block, rounded up to bytes");

static void make(struct am_onesize *os, int with_state, unsigned flags)
{
    struct am_onesize_cfg cfg = test_cfg(pool_buf, sizeof pool_buf, BS, 64);
    if (with_state) {
        memset(state_buf, 0xa5, sizeof state_buf); /* "contents ignored at ctor" */
        cfg.state.ptr = state_buf;
        cfg.state.size = sizeof state_buf;
    }
    cfg.flags = flags;
    ctor_ok(os, &cfg);
}

static int bit_of(const void *blk)
{
    const size_t i = (size_t)((const unsigned char *)blk - pool_buf) / BS;
    return (state_buf[i / 8] >> (i % 8)) & 1;
}

static void flip_bit(const void *blk)
{
    const size_t i = (size_t)((const unsigned char *)blk - pool_buf) / BS;
    state_buf[i / 8] ^= (unsigned char)(1u << (i % 8));
}

/* ---- construction ------------------------------------------------------- */

static void test_state_size_is_enough_for_every_block(void **state)
{
    (void)state;
    static const size_t pools[] = {16, 100, 1000, 4096, 65536};
    static const size_t sizes[] = {1, 16, 24, 64, 100};
    static alignas(64) unsigned char big[65536];
    static unsigned char st[65536 / (2 * sizeof(void *)) / 8 + 1]; /* smallest block: two words */
    for (size_t p = 0; p < sizeof pools / sizeof pools[0]; p++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            POOL(os) = {0};
            struct am_onesize_cfg cfg = test_cfg(big, pools[p], sizes[s], 0);
            const size_t need = AM_ONESIZE_STATE_SIZE(pools[p], sizes[s]);
            assert_true(need <= sizeof st);
            cfg.state.ptr = st;
            cfg.state.size = need;
            if (am_onesize_ctor(&os, &cfg) != 0) {
                cfg.state.size = 0; /* too small a pool for a block at all */
                cfg.state.ptr = NULL;
                assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL);
                continue;
            }
            assert_true(need * 8 >= am_onesize_get_nblocks(&os));
        }
}

static void test_ctor_rejects_bad_state_and_flags(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cfg cfg = test_cfg(pool_buf, sizeof pool_buf, BS, 64);
    cfg.state.ptr = state_buf;
    cfg.state.size = 0;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* ptr without size */
    cfg.state.ptr = NULL;
    cfg.state.size = sizeof state_buf;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* size without ptr */
    cfg.state.ptr = state_buf;
    cfg.state.size = (NB + 7) / 8 - 1;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* a bit short */
    cfg.state.ptr = pool_buf + 5 * BS;
    cfg.state.size = sizeof state_buf;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* inside the pool */
    cfg.state.ptr = (void *)((uintptr_t)pool_buf - 2);
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* across its start */
    cfg.state.ptr = (void *)(UINTPTR_MAX - 1);
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* wraps */
    cfg.state.ptr = state_buf;
    cfg.flags = 2;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL); /* an unknown flag */
    cfg.flags = AM_ONESIZE_CHECK_FREED | 0x80000000u;
    assert_int_equal(am_onesize_ctor(&os, &cfg), -EINVAL);
    cfg.flags = AM_ONESIZE_CHECK_FREED;
    assert_int_equal(am_onesize_ctor(&os, &cfg), 0);
}

/* ---- the state bitmap --------------------------------------------------- */

static void test_state_double_free_whatever_the_block_holds(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    unsigned char *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
    assert_int_equal(bit_of(a), 1);
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(bit_of(a), 0);
    stray_write(a, 0, BS, 0); /* a stray write: the free pattern is gone */
    assert_int_equal(am_onesize_free(&os, a), -EALREADY);
    assert_int_equal(test_errors.last, EALREADY);
    assert_int_equal(stats_of(&os).rejected_double, 1);
    assert_int_equal(am_onesize_free(&os, a + 3), -EINVAL);
    assert_int_equal(am_onesize_free(&os, pool_buf + 30 * BS), -EINVAL); /* never handed out */
    am_onesize_free_all(&os);
    assert_int_equal(am_onesize_free(&os, b), -EALREADY); /* after free_all */
    void *again = alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, again), 0);
    assert_int_equal(am_onesize_free(&os, again), -EALREADY);
    assert_int_equal(am_onesize_check(&os), 0);
}

static void test_state_list_block_marked_handed_out_is_damage(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    void *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
    alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(am_onesize_free(&os, b), 0);
    flip_bit(b); /* b is on the list; its bit now says handed out */
    assert_int_equal(am_onesize_check(&os), -EFAULT);
    errno = 0;
    assert_null(am_onesize_allocate(&os, 1));
    assert_int_equal(errno, EFAULT);
    assert_int_equal(stats_of(&os).corruptions, 1);
    flip_bit(b);
    assert_int_equal(am_onesize_check(&os), 0);
    flip_bit(a); /* the other way: a bit of a free block set... */
    assert_int_equal(am_onesize_check(&os), -EFAULT);
}

static void test_state_check_sees_a_cleared_bit(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    void *a = alloc_ok(&os, 1);
    alloc_ok(&os, 1);
    flip_bit(a); /* handed out, but its bit says not */
    assert_int_equal(am_onesize_check(&os), -EFAULT);
    assert_int_equal(am_onesize_free(&os, a), -EALREADY); /* the bit decides */
    flip_bit(a);
    assert_int_equal(am_onesize_free(&os, a), 0);
    assert_int_equal(am_onesize_check(&os), 0);
}

static void record_cb(void *ctx, size_t index, void *block, size_t size)
{
    void **seen = ctx;
    (void)size;
    seen[index] = block;
}

static void test_state_iteration_visits_handed_out_blocks(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, p[2]), 0);
    assert_int_equal(am_onesize_free(&os, p[5]), 0);
    void *seen[8] = {0};
    assert_int_equal(am_onesize_iterate_over_allocated(&os, 0, record_cb, seen), 6);
    static const int held[] = {0, 1, 3, 4, 6, 7};
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(seen[i], p[held[i]]);
    assert_ptr_equal(alloc_ok(&os, 1), p[5]); /* order unchanged: LIFO */
}

static void test_state_bulk_is_judged_by_the_bits(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    void *out[4];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 4), 4);
    void *twice[3] = {out[0], out[1], out[0]};
    assert_int_equal(am_onesize_free_bulk(&os, twice, 3), 3);
    assert_int_equal(errno, EALREADY);
    assert_int_equal(bit_of(out[0]), 1); /* nothing was freed */
    assert_int_equal(am_onesize_check(&os), 0);
    assert_int_equal(am_onesize_free_bulk(&os, out, 4), 0);
    assert_int_equal(bit_of(out[3]), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
}

static void test_state_caches_pass_through(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, 0);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_non_null(p);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(bit_of(p), 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(bit_of(p), 0);
    stray_write(p, 0, BS, 0);
    assert_int_equal(am_onesize_cache_free(&c, p), -EALREADY);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
}

/* ---- AM_ONESIZE_CHECK_FREED ------------------------------------------------ */

/* A write at any offset past the two list words of a freed block: the block
 * is retired, counted, reported with its address, never handed out until
 * free_all; allocation goes on with the next block. */
static void test_check_freed_catches_a_write_at_every_offset(void **state)
{
    (void)state;
    for (size_t off = 2 * sizeof(uintptr_t); off < BS; off++) {
        POOL(os) = {0};
        make(&os, 0, AM_ONESIZE_CHECK_FREED);
        test_errors.n = 0;
        unsigned char *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
        alloc_ok(&os, 1);
        assert_int_equal(am_onesize_free(&os, b), 0);
        assert_int_equal(am_onesize_free(&os, a), 0); /* list: a b */
        scribble(a, off, 0x10);
        void *got = alloc_ok(&os, 1);
        assert_ptr_equal(got, b);
        assert_int_equal(test_errors.n, 1);
        assert_int_equal(test_errors.last, EFAULT);
        assert_ptr_equal(test_errors.ptr, a);
        struct am_onesize_stats st = stats_of(&os);
        assert_int_equal(st.freed_writes, 1);
        assert_int_equal(st.retired, 1);
        assert_int_equal(st.nfree, NB - 3);
        assert_int_equal(am_onesize_check(&os), 0);
        for (void *p; (p = am_onesize_allocate(&os, 1)) != NULL;)
            assert_ptr_not_equal(p, a);
        am_onesize_free_all(&os);
        assert_int_equal(stats_of(&os).retired, 0);
        assert_ptr_equal(alloc_ok(&os, 1), pool_buf); /* back in service */
    }
}

static void test_check_freed_intact_blocks_pass(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 0, AM_ONESIZE_CHECK_FREED);
    void *p[NB];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < NB; i++) {
            p[i] = alloc_ok(&os, 1);
            memset(p[i], (int)i, BS); /* any data the caller likes */
        }
        for (size_t i = 0; i < NB; i++)
            assert_int_equal(am_onesize_free(&os, p[i]), 0);
    }
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.freed_writes, 0);
    assert_int_equal(st.retired, 0);
    assert_int_equal(test_errors.n, 0);
}

static void test_check_freed_with_no_other_block_is_enomem(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cfg cfg = test_cfg(pool_buf, 2 * BS, BS, 64);
    cfg.flags = AM_ONESIZE_CHECK_FREED;
    ctor_ok(&os, &cfg);
    void *a = alloc_ok(&os, 1);
    alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, a), 0);
    scribble(a, 40, 1);
    errno = 0;
    assert_null(am_onesize_allocate(&os, 1));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(stats_of(&os).freed_writes, 1);
    assert_int_equal(am_onesize_get_nfree(&os), 0);
}

static void test_check_freed_bulk(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 0, AM_ONESIZE_CHECK_FREED);
    unsigned char *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
    memset(a, 'a', BS);
    memset(b, 'b', BS);
    void *bad[3] = {a, b, a + 1};
    assert_int_equal(am_onesize_free_bulk(&os, bad, 3), 3);
    for (size_t k = 16; k < BS; k++) /* a rejected batch is not filled */
        assert_true(a[k] == 'a' && b[k] == 'b');
    void *good[2] = {a, b};
    assert_int_equal(am_onesize_free_bulk(&os, good, 2), 0);
    scribble(b, 50, 4); /* b is on top */
    void *out[2];
    assert_int_equal(am_onesize_allocate_bulk(&os, out, 2), 2);
    assert_ptr_equal(out[0], a);
    assert_ptr_not_equal(out[1], b);
    assert_int_equal(stats_of(&os).freed_writes, 1);
    assert_ptr_equal(test_errors.ptr, b);
}

/* A pool with AM_ONESIZE_CHECK_FREED and two caches of capacity 4 (their
 * refills take 2). Skipped under a memory debugger: caches pass every call
 * through there, and the pool's own check applies. */
static void two_caches_of_a_check_freed_pool(struct am_onesize *os, struct am_onesize_cache *a,
                                             struct am_onesize_cache *b)
{
    if (under_memory_debugger())
        skip();
    make(os, 0, AM_ONESIZE_CHECK_FREED);
    assert_int_equal(am_onesize_cache_init(a, os, 4), 0);
    assert_int_equal(am_onesize_cache_init(b, os, 4), 0);
}

/* "a block checked when the pool hands it to a cache, filled when a cache
 * gives it back" */
static void test_check_freed_through_caches(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cache a, b;
    two_caches_of_a_check_freed_pool(&os, &a, &b);
    unsigned char *p = am_onesize_cache_allocate(&a, 1);
    memset(p, 0x77, BS);
    assert_int_equal(am_onesize_cache_free(&a, p), 0);
    am_onesize_cache_flush(&a); /* filled as it goes back */
    scribble(p, 33, 0x80);      /* then written after free */
    test_errors.n = 0;
    void *got[4];
    for (int i = 0; i < 3; i++) {
        got[i] = am_onesize_cache_allocate(&b, 1);
        assert_non_null(got[i]);
        assert_ptr_not_equal(got[i], p);
    }
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.freed_writes, 1);
    assert_int_equal(st.retired, 1);
    assert_int_equal(test_errors.n, 1);
    assert_ptr_equal(test_errors.ptr, p);
    for (int i = 0; i < 3; i++)
        assert_int_equal(am_onesize_cache_free(&b, got[i]), 0);
    am_onesize_cache_flush(&b);
    assert_int_equal(am_onesize_check(&os), 0);
}

/* "allocation goes on with the next block", also when every block a
 * cache's refill took from those caches gave back was written: the refill
 * takes again (found by a program written from the headers only: the cache
 * said NULL with errno 0). */
static void test_check_freed_cache_refill_of_only_written_blocks_goes_on(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cache a, b;
    two_caches_of_a_check_freed_pool(&os, &a, &b);
    unsigned char *p[2];
    for (int i = 0; i < 2; i++)
        assert_non_null(p[i] = am_onesize_allocate(&os, 1));
    for (int i = 0; i < 2; i++)
        assert_int_equal(am_onesize_cache_free(&a, p[i]), 0);
    am_onesize_cache_flush(&a); /* both kept by the pool for caches, filled */
    for (int i = 0; i < 2; i++)
        scribble(p[i], 40 + i, 0x80);
    test_errors.n = 0;
    const int enters = test_lock.enters;
    errno = 0;
    void *got = am_onesize_cache_allocate(&b, 1);
    assert_non_null(got);
    assert_int_equal(errno, 0);
    assert_ptr_not_equal(got, p[0]);
    assert_ptr_not_equal(got, p[1]);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.freed_writes, 2);
    assert_int_equal(st.retired, 2);
    /* each reported, with its address */
    assert_int_equal(test_errors.n, 2);
    assert_int_equal(test_errors.last, EFAULT);
    assert_true(test_errors.ptr == p[0] || test_errors.ptr == p[1]);
    /* "once when refilling; each ... written block it retires adds once
     * (to count it) and maybe a refill more" (counted where the test's own
     * callbacks lock) */
    if (flavour == CALLBACKS)
        assert_in_range(test_lock.enters - enters, 1, 1 + 2 * 2);
    assert_int_equal(am_onesize_cache_free(&b, got), 0);
    am_onesize_cache_flush(&b);
    assert_int_equal(am_onesize_check(&os), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB - 2);
}

/* Both options together. */
static void test_state_and_check_freed_together(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 1, AM_ONESIZE_CHECK_FREED);
    unsigned char *a = alloc_ok(&os, 1), *b = alloc_ok(&os, 1);
    alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, b), 0);
    assert_int_equal(am_onesize_free(&os, a), 0);
    scribble(a, 0, 0xff); /* its link: damage the default mode sees too... */
    scribble(a, CHECK_WORD, 0xff);
    assert_int_equal(am_onesize_free(&os, a), -EALREADY); /* ...but the double free only the bit */
    am_onesize_free_all(&os);
    a = alloc_ok(&os, 1);
    b = alloc_ok(&os, 1);
    alloc_ok(&os, 1);
    assert_int_equal(am_onesize_free(&os, b), 0);
    assert_int_equal(am_onesize_free(&os, a), 0);
    scribble(a, 60, 1);
    assert_ptr_equal(alloc_ok(&os, 1), b);
    assert_int_equal(bit_of(a), 0); /* retired: not handed out */
    assert_int_equal(am_onesize_free(&os, a), -EALREADY);
    assert_int_equal(am_onesize_check(&os), 0);
    size_t n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&os, 0, count_cb, &n), 2);
}

/* One call retires at most four blocks; a fifth stops it with EFAULT,
 * reported with NULL and not a corruption, and the next call goes on. */
static void test_check_freed_five_writes_stop_one_call(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 0, AM_ONESIZE_CHECK_FREED);
    unsigned char *p[7];
    for (int i = 0; i < 7; i++)
        p[i] = alloc_ok(&os, 1);
    for (int i = 0; i < 7; i++)
        assert_int_equal(am_onesize_free(&os, p[i]), 0); /* list: p6 .. p0 */
    for (int i = 1; i < 7; i++)
        scribble(p[i], 20 + (size_t)i, 0x42);
    test_errors.n = 0;
    errno = 0;
    assert_null(am_onesize_allocate(&os, 1));
    assert_int_equal(errno, EFAULT);
    assert_int_equal(test_errors.n, 5); /* four blocks, then the stop */
    assert_int_equal(test_errors.last, EFAULT);
    assert_null(test_errors.ptr);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.freed_writes, 4);
    assert_int_equal(st.retired, 4);
    assert_int_equal(st.corruptions, 0);
    assert_int_equal(st.nfree, NB - 4);
    assert_ptr_equal(alloc_ok(&os, 1), p[0]); /* p2, p1 retired on the way */
    st = stats_of(&os);
    assert_int_equal(st.freed_writes, 6);
    assert_int_equal(st.retired, 6);
    assert_ptr_equal(test_errors.ptr, p[1]);
}

/* allocate_x keeps its reserve also when blocks are retired on the way. */
static void test_check_freed_margin_holds_after_retirements(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cfg cfg = test_cfg(pool_buf, 4 * BS, BS, 64);
    cfg.flags = AM_ONESIZE_CHECK_FREED;
    ctor_ok(&os, &cfg);
    unsigned char *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = alloc_ok(&os, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(am_onesize_free(&os, p[i]), 0); /* list: p2 p1 p0 */
    scribble(p[2], 30, 1);
    scribble(p[1], 31, 1);
    errno = 0;
    assert_null(am_onesize_allocate_x(&os, 1, 1)); /* 3 free > 1, but two are retired */
    assert_int_equal(errno, ENOMEM);
    struct am_onesize_stats st = stats_of(&os);
    assert_int_equal(st.freed_writes, 2);
    assert_int_equal(st.nfree, 1);
    assert_int_equal(st.failed_allocations, 1);
    assert_ptr_equal(alloc_ok(&os, 1), p[0]); /* the reserve is still there */
}

/* A cache follows its pool's mode at every call: constructed again with a
 * state bitmap, the pool gets every call, so the bits stay exact. */
static void test_cache_follows_a_new_ctor_into_state_mode(void **state)
{
    (void)state;
    POOL(os) = {0};
    make(&os, 0, 0);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    assert_non_null(am_onesize_cache_allocate(&c, 1));
    am_onesize_dtor(&os);
    make(&os, 1, 0);
    void *p = am_onesize_cache_allocate(&c, 1);
    assert_ptr_equal(p, pool_buf); /* the pool's first block, not a batch's last */
    assert_int_equal(bit_of(p), 1);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB - 1);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(bit_of(p), 0);
    assert_int_equal(am_onesize_check(&os), 0);
    /* A flush catches the cache up with the pool, and still every later
     * call goes to the pool (the inline free path keeps nothing). */
    p = am_onesize_cache_allocate(&c, 1);
    am_onesize_cache_flush(&c);
    assert_int_equal(am_onesize_cache_free(&c, p), 0);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(bit_of(p), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
    assert_int_equal(am_onesize_check(&os), 0);
}

/* A flush after the pool was constructed again over other memory does not
 * fill the blocks the cache held: they are the caller's memory again. */
static void test_cache_flush_after_ctor_leaves_old_blocks_alone(void **state)
{
    (void)state;
    if (under_memory_debugger())
        skip(); /* caches pass through there: they hold nothing */
    static alignas(64) unsigned char other[NB * BS];
    POOL(os) = {0};
    struct am_onesize_cfg cfg = test_cfg(other, sizeof other, BS, 64);
    cfg.flags = AM_ONESIZE_CHECK_FREED;
    ctor_ok(&os, &cfg);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    assert_non_null(am_onesize_cache_allocate(&c, 1));
    assert_int_not_equal(am_onesize_cache_get_ncached(&c), 0);
    am_onesize_dtor(&os);
    memset(other, 'z', sizeof other); /* the caller's memory again */
    make(&os, 0, AM_ONESIZE_CHECK_FREED);
    am_onesize_cache_flush(&c);
    for (size_t i = 0; i < sizeof other; i++)
        assert_int_equal(other[i], 'z');
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
    assert_int_equal(am_onesize_get_nfree(&os), NB);
}

/* A cache that caught up with a state-bitmap pool (a flush) and outlives
 * it: its calls after dtor read no block memory (the pool's memory is
 * unmapped here). Found by the fuzzer: a cache of such a pool kept key 0,
 * a destroyed pool's key, and its inline free took the pool for current. */
static void test_cache_of_a_state_pool_after_dtor_reads_nothing(void **state)
{
    (void)state;
    unsigned char *mem = mmap(NULL, NB * BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    POOL(os) = {0};
    make(&os, 0, 0);
    struct am_onesize_cache c;
    assert_int_equal(am_onesize_cache_init(&c, &os, 8), 0);
    void *old = am_onesize_cache_allocate(&c, 1);
    assert_non_null(old);
    assert_int_equal(am_onesize_cache_free(&c, old), 0);
    am_onesize_dtor(&os);
    struct am_onesize_cfg cfg = test_cfg(mem, NB * BS, BS, 64);
    cfg.state.ptr = state_buf;
    cfg.state.size = sizeof state_buf;
    ctor_ok(&os, &cfg);
    void *p = alloc_ok(&os, 1);
    am_onesize_cache_flush(&c); /* catches up with the new pool */
    am_onesize_dtor(&os);
    assert_int_equal(munmap(mem, NB * BS), 0); /* a read of a block now faults */
    assert_int_equal(am_onesize_cache_free(&c, p), -EINVAL);
    errno = 0;
    assert_null(am_onesize_cache_allocate(&c, 1));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(am_onesize_cache_get_ncached(&c), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_state_size_is_enough_for_every_block),
        TEST(test_ctor_rejects_bad_state_and_flags),
        TEST(test_state_double_free_whatever_the_block_holds),
        TEST(test_state_list_block_marked_handed_out_is_damage),
        TEST(test_state_check_sees_a_cleared_bit),
        TEST(test_state_iteration_visits_handed_out_blocks),
        TEST(test_state_bulk_is_judged_by_the_bits),
        TEST(test_state_caches_pass_through),
        TEST(test_check_freed_catches_a_write_at_every_offset),
        TEST(test_check_freed_intact_blocks_pass),
        TEST(test_check_freed_with_no_other_block_is_enomem),
        TEST(test_check_freed_bulk),
        TEST(test_check_freed_through_caches),
        TEST(test_check_freed_cache_refill_of_only_written_blocks_goes_on),
        TEST(test_state_and_check_freed_together),
        TEST(test_check_freed_five_writes_stop_one_call),
        TEST(test_check_freed_margin_holds_after_retirements),
        TEST(test_cache_follows_a_new_ctor_into_state_mode),
        TEST(test_cache_flush_after_ctor_leaves_old_blocks_alone),
        TEST(test_cache_of_a_state_pool_after_dtor_reads_nothing),
    };
    return RUN_IN_EVERY_FLAVOUR(tests);
}
