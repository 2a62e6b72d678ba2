/* SPDX-License-Identifier: MIT */
/* What the test programs share: pools built in each locking flavour, an
 * error recorder, a lock that checks how it is used, and the assertions
 * every misuse test ends with. Each test program is one file that includes
 * this header once. */
#ifndef AMONESIZE_TEST_HELPERS_H
#define AMONESIZE_TEST_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#if defined(AM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#include "amonesize.h"
#if defined(AM_TEST_HAVE_PTHREAD)
#include <pthread.h>

#include "amonesize_pthread.h"
#endif

/* Helpers a given test program may not use. */
#define HELPER static __attribute__((unused))

/* ---- flavours: the same test on an unlocked pool, a pool locked through
 * callbacks of the test's own, and one locked by the pthread adapter (which
 * the library locks directly) ---------------------------------------------- */

enum flavour { UNLOCKED, CALLBACKS, PTHREAD_ADAPTER };
static enum flavour flavour;

/* A lock for one thread that records how it is used: the library must call
 * it in balanced pairs, never nested. */
static struct test_lock {
    int depth, max_depth, enters, exits;
} test_lock;

HELPER void test_lock_enter(void *ctx)
{
    struct test_lock *l = (struct test_lock *)ctx;
    l->enters++;
    if (++l->depth > l->max_depth)
        l->max_depth = l->depth;
}

HELPER void test_lock_exit(void *ctx)
{
    struct test_lock *l = (struct test_lock *)ctx;
    l->exits++;
    l->depth--;
}

#if defined(AM_TEST_HAVE_PTHREAD)
static pthread_mutex_t test_mutex = PTHREAD_MUTEX_INITIALIZER;
#endif

/* A spinlock of the test's own, for callbacks shared by threads. */
#include <stdatomic.h>
static atomic_flag test_spin = ATOMIC_FLAG_INIT;

HELPER void test_spin_enter(void *ctx)
{
    (void)ctx;
    while (atomic_flag_test_and_set_explicit(&test_spin, memory_order_acquire))
        ;
}

HELPER void test_spin_exit(void *ctx)
{
    (void)ctx;
    atomic_flag_clear_explicit(&test_spin, memory_order_release);
}

/* What on_error was told. */
static struct test_errors {
    int n, last;
    const void *ptr;
} test_errors;

HELPER void test_on_error(void *ctx, int err, const void *ptr)
{
    struct test_errors *e = (struct test_errors *)ctx;
    e->n++;
    e->last = err;
    e->ptr = ptr;
}

/* A configuration in the current flavour, with the error recorder. */
HELPER struct am_onesize_cfg test_cfg(void *ptr, size_t size, size_t block_size, size_t alignment)
{
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pool.ptr = ptr;
    cfg.pool.size = size;
    cfg.block_size = block_size;
    cfg.alignment = alignment;
    cfg.on_error = test_on_error;
    cfg.on_error_ctx = &test_errors;
    if (flavour == CALLBACKS) {
        cfg.crit_enter = test_lock_enter;
        cfg.crit_exit = test_lock_exit;
        cfg.crit_ctx = &test_lock;
    }
#if defined(AM_TEST_HAVE_PTHREAD)
    if (flavour == PTHREAD_ADAPTER)
        assert_int_equal(am_onesize_pthread_set_crit(&cfg, &test_mutex), 0);
#endif
    return cfg;
}

HELPER int flavour_unlocked(void **state)
{
    (void)state;
    flavour = UNLOCKED;
    return 0;
}

HELPER int flavour_callbacks(void **state)
{
    (void)state;
    flavour = CALLBACKS;
    return 0;
}

HELPER int flavour_pthread(void **state)
{
    (void)state;
    flavour = PTHREAD_ADAPTER;
    return 0;
}

HELPER int reset_records(void **state)
{
    (void)state;
    memset(&test_lock, 0, sizeof test_lock);
    memset(&test_errors, 0, sizeof test_errors);
    return 0;
}

/* After every test: the library left the lock as it found it. */
HELPER int check_lock_use(void **state)
{
    (void)state;
    assert_int_equal(test_lock.depth, 0);
    assert_true(test_lock.max_depth <= 1);
    assert_int_equal(test_lock.enters, test_lock.exits);
#if defined(AM_TEST_HAVE_PTHREAD)
    assert_int_equal(pthread_mutex_trylock(&test_mutex), 0); /* not left locked */
    pthread_mutex_unlock(&test_mutex);
#endif
    return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, reset_records, check_lock_use)

/* Run a table in every flavour the build has. */
#if defined(AM_TEST_HAVE_PTHREAD)
#define RUN_IN_EVERY_FLAVOUR(tests)                                                                          \
    (cmocka_run_group_tests_name("unlocked", tests, flavour_unlocked, NULL) +                                \
     cmocka_run_group_tests_name("callbacks", tests, flavour_callbacks, NULL) +                              \
     cmocka_run_group_tests_name("pthread adapter", tests, flavour_pthread, NULL))
#else
#define RUN_IN_EVERY_FLAVOUR(tests)                                                                          \
    ((void)flavour_pthread, cmocka_run_group_tests_name("unlocked", tests, flavour_unlocked, NULL) +         \
                                cmocka_run_group_tests_name("callbacks", tests, flavour_callbacks, NULL))
#endif

/* Is a memory debugger watching the pools of this process? Then per-thread
 * caches pass every call to the pool, and tests of caching itself skip. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#endif
HELPER int under_memory_debugger(void)
{
#if defined(TEST_UNDER_ASAN)
    return 1;
#elif defined(AM_HAVE_VALGRIND)
    return RUNNING_ON_VALGRIND != 0;
#else
    return 0;
#endif
}

/* ---- pools -------------------------------------------------------------- */

/* Every test pool ends with am_onesize_dtor(), as the header asks before
 * pool memory is reused (the next test reuses the same buffer). */
#define POOL(name) struct am_onesize name __attribute__((cleanup(am_onesize_dtor)))

HELPER void ctor_ok(struct am_onesize *os, const struct am_onesize_cfg *cfg)
{
    assert_int_equal(am_onesize_ctor(os, cfg), 0);
    assert_int_equal(am_onesize_check(os), 0);
}

HELPER struct am_onesize_stats stats_of(const struct am_onesize *os)
{
    struct am_onesize_stats st;
    assert_int_equal(am_onesize_get_stats(os, &st), 0);
    return st;
}

HELPER void *alloc_ok(struct am_onesize *os, size_t size)
{
    void *p = am_onesize_allocate(os, size);
    assert_non_null(p);
    return p;
}

HELPER void count_cb(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)block, (void)size;
    ++*(size_t *)ctx;
}

/* Everything a rejected call must leave as it was. */
HELPER void assert_same_state(const struct am_onesize *os, const struct am_onesize_stats *before)
{
    struct am_onesize_stats now = stats_of(os);
    assert_int_equal(now.nfree, before->nfree);
    assert_int_equal(now.nfree_min, before->nfree_min);
    assert_int_equal(now.allocations, before->allocations);
    assert_int_equal(now.frees, before->frees);
    assert_int_equal(now.cached, before->cached);
    assert_int_equal(am_onesize_check(os), 0);
}

/* The pool is whole: its invariants hold and its counts are sane. */
HELPER void assert_pool_whole(const struct am_onesize *os)
{
    struct am_onesize_stats st = stats_of(os);
    assert_int_equal(am_onesize_check(os), 0);
    assert_true(st.nfree <= st.nblocks);
    assert_true(st.nfree_min <= st.nfree);
    assert_true(st.cached + st.retired <= st.nblocks - st.nfree);
}

/* Drain both pools and compare what they hand out, block by block, as
 * offsets from their first block: a misuse the pool rejected left it
 * exactly as a twin that never saw the misuse. Both end empty. */
HELPER void assert_drains_like(struct am_onesize *os, const void *base, struct am_onesize *twin,
                               const void *twin_base)
{
    for (;;) {
        unsigned char *a = (unsigned char *)am_onesize_allocate(os, 1);
        unsigned char *b = (unsigned char *)am_onesize_allocate(twin, 1);
        if (a == NULL || b == NULL) {
            assert_null(a);
            assert_null(b);
            break;
        }
        assert_int_equal(a - (const unsigned char *)base, b - (const unsigned char *)twin_base);
    }
    assert_int_equal(am_onesize_get_nfree(os), 0);
}

/* Where a free block keeps its check word: the second word (byte 8 on
 * 64-bit targets, byte 4 on 32-bit ones). */
#define CHECK_WORD sizeof(uintptr_t)

/* Write into a freed block behind the memory debuggers' backs: the test
 * wants the library's own detection, not theirs. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
HELPER void
scribble(void *freed, size_t offset, unsigned char bits)
{
    volatile unsigned char *p = (volatile unsigned char *)freed + offset;
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, 1);
#endif
    *p ^= bits;
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, 1);
#endif
}

/* Write len bytes of value into a freed block from offset on, likewise. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
HELPER void
stray_write(void *freed, size_t offset, size_t len, unsigned char value)
{
    volatile unsigned char *p = (volatile unsigned char *)freed + offset;
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, len);
#endif
    for (size_t i = 0; i < len; i++)
        p[i] = value;
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(p, len);
#endif
}

#endif /* AMONESIZE_TEST_HELPERS_H */
