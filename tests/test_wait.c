/* SPDX-License-Identifier: MIT */
/* Tests of am_onesize_allocate_wait(): with the pthread adapter's mutex and
 * condition variable, with a mutex and condition variable of the test's own
 * given as callbacks, and with a spinlock and a futex of the test's own.
 * Timing is asserted only as a lower bound and a generous upper bound. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "amonesize_cache.h"
#include "helpers.h"

enum { NB = 4, BS = 64 };
static alignas(64) unsigned char pool_buf[NB * BS];
static struct am_onesize pool;

/* ---- three ways to wait ------------------------------------------------- */

enum waiting { ADAPTER, OWN_CONDVAR, SPIN_FUTEX };
static enum waiting waiting;
static struct am_onesize_pthread sync_adapter;

/* A mutex and a condition variable of the test's own, through callbacks. */
static pthread_mutex_t own_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t own_cond;

static void own_enter(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&own_mutex);
}

static void own_exit(void *ctx)
{
    (void)ctx;
    pthread_mutex_unlock(&own_mutex);
}

static int own_wait(void *ctx, const struct timespec *deadline)
{
    (void)ctx;
    const int err = deadline != NULL ? pthread_cond_timedwait(&own_cond, &own_mutex, deadline)
                                     : pthread_cond_wait(&own_cond, &own_mutex);
    return err == ETIMEDOUT ? ETIMEDOUT : 0;
}

static void own_notify(void *ctx)
{
    (void)ctx;
    pthread_cond_broadcast(&own_cond);
}

/* A spinlock and a futex: crit_wait reads the wake-up sequence inside the
 * critical section, leaves it, sleeps while the sequence is unchanged (or
 * until the CLOCK_MONOTONIC deadline), and enters again. */
static atomic_uint wake_seq;

static int futex_wait_wait(void *ctx, const struct timespec *deadline)
{
    const unsigned seen = atomic_load(&wake_seq);
    test_spin_exit(ctx);
    long r = syscall(SYS_futex, &wake_seq, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, deadline, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    const int timed_out = r != 0 && errno == ETIMEDOUT;
    test_spin_enter(ctx);
    return timed_out ? ETIMEDOUT : 0;
}

static void futex_notify(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&wake_seq, 1);
    syscall(SYS_futex, &wake_seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
}

static void make_pool(void)
{
    struct am_onesize_cfg cfg = test_cfg(pool_buf, sizeof pool_buf, BS, 64);
    cfg.crit_enter = NULL;
    cfg.crit_exit = NULL;
    switch (waiting) {
    case ADAPTER:
        assert_int_equal(am_onesize_pthread_set_sync(&cfg, &sync_adapter), 0);
        break;
    case OWN_CONDVAR:
        cfg.crit_enter = own_enter;
        cfg.crit_exit = own_exit;
        cfg.crit_wait = own_wait;
        cfg.crit_notify = own_notify;
        break;
    case SPIN_FUTEX:
        cfg.crit_enter = test_spin_enter;
        cfg.crit_exit = test_spin_exit;
        cfg.crit_wait = futex_wait_wait;
        cfg.crit_notify = futex_notify;
        break;
    }
    assert_int_equal(am_onesize_ctor(&pool, &cfg), 0);
    memset(&test_errors, 0, sizeof test_errors);
}

static int setup_adapter(void **state)
{
    (void)state;
    waiting = ADAPTER;
    return am_onesize_pthread_init(&sync_adapter) == 0 ? 0 : -1;
}

static int teardown_adapter(void **state)
{
    (void)state;
    am_onesize_pthread_destroy(&sync_adapter);
    return 0;
}

static int setup_own(void **state)
{
    (void)state;
    waiting = OWN_CONDVAR;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    const int err = pthread_cond_init(&own_cond, &ca);
    pthread_condattr_destroy(&ca);
    return err == 0 ? 0 : -1;
}

static int teardown_own(void **state)
{
    (void)state;
    pthread_cond_destroy(&own_cond);
    return 0;
}

static int setup_futex(void **state)
{
    (void)state;
    waiting = SPIN_FUTEX;
    return 0;
}

static int teardown_pool(void **state)
{
    (void)state;
    am_onesize_dtor(&pool);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct timespec in_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void take_all(void *held[NB])
{
    for (size_t i = 0; i < NB; i++)
        held[i] = alloc_ok(&pool, 1);
}

/* A thread that waits (deadline: none, or ms from now) and reports. */
struct waiter {
    pthread_t thread;
    long deadline_ms; /* < 0: NULL deadline */
    void *got;
    int err;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    struct timespec dl = in_ms(w->deadline_ms);
    errno = 0;
    w->got = am_onesize_allocate_wait(&pool, 1, w->deadline_ms < 0 ? NULL : &dl);
    w->err = errno;
    return NULL;
}

/* Wait until the pool counts a waiter (the stats' "waits"), so that what
 * the test does next happens while the thread sleeps. */
static void until_waiting(uint64_t waits)
{
    for (int i = 0; i < 100000 && stats_of(&pool).waits < waits; i++)
        usleep(100);
    assert_int_equal(stats_of(&pool).waits, waits);
    usleep(20 * 1000); /* and is asleep in crit_wait, most likely */
}

/* ---- tests -------------------------------------------------------------- */

static void test_allocate_wait_returns_at_once_when_a_block_is_free(void **state)
{
    (void)state;
    make_pool();
    struct timespec past = {0, 0};
    void *p = am_onesize_allocate_wait(&pool, BS, NULL);
    void *q = am_onesize_allocate_wait(&pool, 0, &past); /* a past deadline: no wait */
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    struct am_onesize_stats st = stats_of(&pool);
    assert_int_equal(st.waits, 0);
    assert_int_equal(st.allocations, 2);
    assert_int_equal(am_onesize_free(&pool, p), 0);
    assert_int_equal(am_onesize_free(&pool, q), 0);
}

static void test_allocate_wait_rejects_bad_arguments(void **state)
{
    (void)state;
    struct am_onesize never = {0};
    errno = 0;
    assert_null(am_onesize_allocate_wait(&never, 1, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(am_onesize_allocate_wait(NULL, 1, NULL));
    assert_int_equal(errno, EINVAL);
    make_pool();
    const struct timespec bad[] = {{0, -1}, {0, 1000000000L}, {1, LONG_MAX}, {-1, -5}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(am_onesize_allocate_wait(&pool, 1, &bad[i]));
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_null(am_onesize_allocate_wait(&pool, BS + 1, NULL));
    assert_int_equal(errno, EINVAL);
    struct am_onesize_stats st = stats_of(&pool);
    assert_int_equal(st.oversize_requests, 1);
    assert_int_equal(st.allocations, 0);
    assert_int_equal(st.waits, 0);
    assert_int_equal(test_errors.n, 1); /* the oversize request, as allocate */
    assert_int_equal(test_errors.last, EINVAL);
}

static void test_allocate_wait_needs_wait_callbacks(void **state)
{
    (void)state;
    POOL(plain) = {0};
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    static alignas(64) unsigned char other[4 * 64];
    cfg.pool.ptr = other;
    cfg.pool.size = sizeof other;
    cfg.block_size = 64;
    ctor_ok(&plain, &cfg); /* no lock at all */
    errno = 0;
    assert_null(am_onesize_allocate_wait(&plain, 1, NULL));
    assert_int_equal(errno, ENOTSUP);
    assert_int_equal(am_onesize_get_nfree(&plain), 4);
    make_pool(); /* and the flavour's pool can */
    void *p = am_onesize_allocate_wait(&pool, 1, NULL);
    assert_non_null(p);
    assert_int_equal(am_onesize_free(&pool, p), 0);
}

static void test_allocate_wait_times_out_after_the_deadline(void **state)
{
    (void)state;
    make_pool();
    void *held[NB];
    take_all(held);
    struct timespec past = in_ms(-1000); /* "a deadline already past does not wait" */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    assert_null(am_onesize_allocate_wait(&pool, 1, &past));
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(ms_since(&t0) < 5000.0);
    /* The deadline is read before t0, so however long this thread is
     * descheduled between the two, the call cannot return before dl. */
    const struct timespec dl = in_ms(150);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    assert_null(am_onesize_allocate_wait(&pool, 1, &dl));
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(ms_since(&dl) >= 0.0);    /* not before the deadline */
    assert_true(ms_since(&t0) < 10000.0); /* nor hours after it */
    struct am_onesize_stats st = stats_of(&pool);
    assert_int_equal(st.timeouts, 2);
    assert_int_equal(st.waits, 1); /* the past deadline did not wait */
    assert_int_equal(st.failed_allocations, 0);
    assert_int_equal(test_errors.n, 0); /* a timeout is not misuse */
    for (size_t i = 0; i < NB; i++)
        assert_int_equal(am_onesize_free(&pool, held[i]), 0);
}

/* Woken by each way of giving blocks back. */
enum how { BY_FREE, BY_FREE_BULK, BY_FREE_ALL, BY_CACHE_FLUSH };

static void wake_by(enum how how)
{
    make_pool();
    struct am_onesize_cache cache;
    void *held[NB];
    size_t from_cache = 0;
    if (how == BY_CACHE_FLUSH && !under_memory_debugger()) {
        assert_int_equal(am_onesize_cache_init(&cache, &pool, 8), 0);
        for (size_t i = 0; i < NB; i++)
            assert_non_null(held[i] = am_onesize_cache_allocate(&cache, 1));
        assert_int_equal(am_onesize_cache_free(&cache, held[0]), 0); /* cached: not free */
        from_cache = 1;
    } else {
        take_all(held);
    }
    struct waiter w = {.deadline_ms = -1};
    assert_int_equal(pthread_create(&w.thread, NULL, wait_thread, &w), 0);
    until_waiting(1);
    switch (how) {
    case BY_FREE:
        assert_int_equal(am_onesize_free(&pool, held[2]), 0);
        break;
    case BY_FREE_BULK:
        assert_int_equal(am_onesize_free_bulk(&pool, held + 1, 2), 0);
        break;
    case BY_FREE_ALL:
        am_onesize_free_all(&pool);
        break;
    case BY_CACHE_FLUSH:
        if (from_cache)
            am_onesize_cache_flush(&cache);
        else
            assert_int_equal(am_onesize_free(&pool, held[0]), 0);
        break;
    }
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    assert_non_null(w.got);
    assert_int_equal(w.err, 0);
    assert_int_equal(stats_of(&pool).timeouts, 0);
}

static void test_allocate_wait_woken_by_free(void **state)
{
    (void)state;
    wake_by(BY_FREE);
}

static void test_allocate_wait_woken_by_free_bulk(void **state)
{
    (void)state;
    wake_by(BY_FREE_BULK);
}

static void test_allocate_wait_woken_by_free_all(void **state)
{
    (void)state;
    wake_by(BY_FREE_ALL);
}

static void test_allocate_wait_woken_by_cache_flush(void **state)
{
    (void)state;
    wake_by(BY_CACHE_FLUSH);
}

/* Many threads, one block: each takes it with a deadline, holds it, stamps
 * it, gives it back. Every round succeeds (the deadlines are generous: two
 * minutes, for a loaded machine under a memory debugger), no
 * two threads hold the block at once, and the pool ends full. */
enum { WORKERS = 6, ROUNDS = 300 };
static atomic_int holders;

struct pipeline_worker {
    pthread_t thread;
    int got, overlaps, timeouts, bad_frees;
};

/* Under a memory debugger threads run one at a time, much slower. */
static int rounds(void)
{
    return under_memory_debugger() ? ROUNDS / 10 : ROUNDS;
}

static void *pipeline(void *arg)
{
    struct pipeline_worker *w = arg;
    for (int r = 0; r < rounds(); r++) {
        const struct timespec dl = in_ms(120000);
        int *p = am_onesize_allocate_wait(&pool, sizeof(int), &dl);
        if (p == NULL) {
            w->timeouts++;
            continue;
        }
        if (atomic_fetch_add(&holders, 1) != 0)
            w->overlaps++;
        *p = r;
        if (*p != r)
            w->overlaps++;
        atomic_fetch_sub(&holders, 1);
        w->got++;
        if (am_onesize_free(&pool, p) != 0)
            w->bad_frees++;
    }
    return NULL;
}

static void test_allocate_wait_many_waiters_one_block(void **state)
{
    (void)state;
    make_pool();
    void *held[NB - 1];
    for (size_t i = 0; i < NB - 1; i++) /* one block left to share */
        held[i] = alloc_ok(&pool, 1);
    struct pipeline_worker w[WORKERS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&w[i].thread, NULL, pipeline, &w[i]), 0);
    int total = 0;
    for (int i = 0; i < WORKERS; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_int_equal(w[i].overlaps, 0);
        assert_int_equal(w[i].timeouts, 0);
        assert_int_equal(w[i].bad_frees, 0);
        total += w[i].got;
    }
    assert_int_equal(total, WORKERS * rounds());
    for (size_t i = 0; i < NB - 1; i++)
        assert_int_equal(am_onesize_free(&pool, held[i]), 0);
    struct am_onesize_stats st = stats_of(&pool);
    assert_int_equal(st.nfree, NB);
    assert_int_equal(st.allocations, (uint64_t)(NB - 1 + WORKERS * rounds()));
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(am_onesize_check(&pool), 0);
}

/* Waiters with short deadlines against a holder that keeps the only block
 * longer: each times out, none past its deadline by much; then they all
 * succeed once the block comes back. */
static void test_allocate_wait_timeouts_under_contention(void **state)
{
    (void)state;
    make_pool();
    void *held[NB];
    take_all(held);
    struct waiter w[3] = {{.deadline_ms = 100}, {.deadline_ms = 100}, {.deadline_ms = 100}};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&w[i].thread, NULL, wait_thread, &w[i]), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_null(w[i].got);
        assert_int_equal(w[i].err, ETIMEDOUT);
    }
    assert_true(ms_since(&t0) >= 99.0);
    assert_int_equal(stats_of(&pool).timeouts, 3);
    for (int i = 0; i < 3; i++)
        w[i].deadline_ms = 20000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&w[i].thread, NULL, wait_thread, &w[i]), 0);
    until_waiting(3 + 3);
    for (size_t i = 0; i < NB; i++)
        assert_int_equal(am_onesize_free(&pool, held[i]), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_non_null(w[i].got);
        assert_int_equal(am_onesize_free(&pool, w[i].got), 0);
    }
    assert_int_equal(am_onesize_get_nfree(&pool), NB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_allocate_wait_returns_at_once_when_a_block_is_free, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_rejects_bad_arguments, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_needs_wait_callbacks, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_times_out_after_the_deadline, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_woken_by_free, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_woken_by_free_bulk, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_woken_by_free_all, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_woken_by_cache_flush, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_many_waiters_one_block, teardown_pool),
        cmocka_unit_test_teardown(test_allocate_wait_timeouts_under_contention, teardown_pool),
    };
    return cmocka_run_group_tests_name("pthread adapter", tests, setup_adapter, teardown_adapter) +
           cmocka_run_group_tests_name("own mutex and condvar", tests, setup_own, teardown_own) +
           cmocka_run_group_tests_name("spinlock and futex", tests, setup_futex, NULL);
}
