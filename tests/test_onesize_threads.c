/* Concurrent tests of the core through the pthread adapter. cmocka is not
 * thread-safe: workers only count what they saw; the main thread joins and
 * asserts. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "amonesize.h"
#include "amonesize_pthread.h"

enum { NTHREADS = 4, ROUNDS = 20000, NBLOCKS = 64, BLOCK = 64 };

static alignas(64) unsigned char pool_buf[NBLOCKS * BLOCK];
static struct am_onesize pool;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

struct stamp {
    uint64_t owner, seq, check;
};

struct worker {
    pthread_t thread;
    uint64_t id;
    size_t bad_stamps, bad_frees, allocated, exhausted;
};

static void make_pool(void)
{
    struct am_onesize_cfg cfg = {0};
    cfg.pool.ptr = pool_buf;
    cfg.pool.size = sizeof pool_buf;
    cfg.block_size = BLOCK;
    cfg.alignment = 64;
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, &mutex), 0);
    am_onesize_dtor(&pool); /* the previous test's pool, over the same memory */
    assert_int_equal(am_onesize_ctor(&pool, &cfg), 0);
}

static void put_stamp(void *blk, uint64_t owner, uint64_t seq)
{
    struct stamp s = {owner, seq, owner * 0x9e3779b97f4a7c15u ^ seq};
    memcpy(blk, &s, sizeof s);
    memset((unsigned char *)blk + sizeof s, (int)(owner & 0xff), BLOCK - sizeof s);
}

static int stamp_ok(const void *blk, uint64_t owner, uint64_t seq)
{
    struct stamp s;
    memcpy(&s, blk, sizeof s);
    if (s.owner != owner || s.seq != seq || s.check != (owner * 0x9e3779b97f4a7c15u ^ seq))
        return 0;
    for (size_t i = sizeof s; i < BLOCK; i++)
        if (((const unsigned char *)blk)[i] != (owner & 0xff))
            return 0;
    return 1;
}

static void count_cb(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)block, (void)size;
    ++*(size_t *)ctx;
}

/* Each worker holds up to 4 blocks, stamps them, verifies and frees them. */
static void *hammer(void *arg)
{
    struct worker *w = arg;
    void *held[4];
    uint64_t seq = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 0;
        for (size_t k = 0; k < 1 + (size_t)r % 4; k++) {
            void *p = am_onesize_allocate(&pool, BLOCK);
            if (p == NULL) {
                w->exhausted++;
                continue;
            }
            put_stamp(p, w->id, seq + k);
            held[n++] = p;
            w->allocated++;
        }
        for (size_t k = 0; k < n; k++) {
            if (!stamp_ok(held[k], w->id, seq + k))
                w->bad_stamps++;
        }
        while (n > 0) {
            if (am_onesize_free(&pool, held[--n]) != 0)
                w->bad_frees++;
        }
        seq += 4;
        if (r % 1000 == 0) /* getters are safe from any thread */
            (void)am_onesize_get_nfree(&pool);
    }
    return NULL;
}

static void test_threads_share_one_pool(void **state)
{
    (void)state;
    make_pool();
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = (uint64_t)i + 1;
        assert_int_equal(pthread_create(&w[i].thread, NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_int_equal(w[i].bad_stamps, 0);
        assert_int_equal(w[i].bad_frees, 0);
        assert_true(w[i].allocated > 0);
        assert_int_equal(w[i].exhausted, 0); /* 4 x 4 held at most, 64 blocks */
    }
    assert_int_equal(am_onesize_get_nfree(&pool), NBLOCKS);
    size_t n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&pool, 0, count_cb, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(am_onesize_check(&pool), 0);
    struct am_onesize_stats st;
    assert_int_equal(am_onesize_get_stats(&pool, &st), 0);
    uint64_t total = 0;
    for (int i = 0; i < NTHREADS; i++)
        total += w[i].allocated;
    assert_int_equal(st.allocations, total);
    assert_int_equal(st.frees, total);
}

/* Cross-thread free: a producer allocates, a consumer frees, through a
 * small mutex-protected ring. */
enum { RING = 16, HANDOFFS = 20000 };
static void *ring[RING];
static size_t ring_head, ring_tail;
static pthread_mutex_t ring_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cond = PTHREAD_COND_INITIALIZER;

static void ring_put(void *p)
{
    pthread_mutex_lock(&ring_mutex);
    while (ring_tail - ring_head == RING)
        pthread_cond_wait(&ring_cond, &ring_mutex);
    ring[ring_tail++ % RING] = p;
    pthread_cond_broadcast(&ring_cond);
    pthread_mutex_unlock(&ring_mutex);
}

static void *ring_get(void)
{
    pthread_mutex_lock(&ring_mutex);
    while (ring_tail == ring_head)
        pthread_cond_wait(&ring_cond, &ring_mutex);
    void *p = ring[ring_head++ % RING];
    pthread_cond_broadcast(&ring_cond);
    pthread_mutex_unlock(&ring_mutex);
    return p;
}

static void *producer(void *arg)
{
    struct worker *w = arg;
    for (uint64_t i = 0; i < HANDOFFS; i++) {
        void *p;
        while ((p = am_onesize_allocate(&pool, 1)) == NULL)
            w->exhausted++; /* cannot happen: at most RING + 2 held */
        put_stamp(p, w->id, i);
        w->allocated++;
        ring_put(p);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct worker *w = arg;
    for (uint64_t i = 0; i < HANDOFFS; i++) {
        void *p = ring_get();
        if (!stamp_ok(p, 1, i))
            w->bad_stamps++;
        if (am_onesize_free(&pool, p) != 0)
            w->bad_frees++;
    }
    return NULL;
}

static void test_threads_cross_thread_free(void **state)
{
    (void)state;
    make_pool();
    struct worker prod = {.id = 1}, cons = {.id = 2};
    assert_int_equal(pthread_create(&prod.thread, NULL, producer, &prod), 0);
    assert_int_equal(pthread_create(&cons.thread, NULL, consumer, &cons), 0);
    assert_int_equal(pthread_join(prod.thread, NULL), 0);
    assert_int_equal(pthread_join(cons.thread, NULL), 0);
    assert_int_equal(prod.allocated, HANDOFFS);
    assert_int_equal(prod.exhausted, 0);
    assert_int_equal(cons.bad_stamps, 0);
    assert_int_equal(cons.bad_frees, 0);
    assert_int_equal(am_onesize_get_nfree(&pool), NBLOCKS);
    size_t n = 0;
    assert_int_equal(am_onesize_iterate_over_allocated(&pool, 0, count_cb, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(am_onesize_check(&pool), 0);
}

/* Iteration and diagnostics run while other threads allocate and free. */
static void *iterate_while_busy(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 200; i++) {
        size_t n = 0;
        size_t visited = am_onesize_iterate_over_allocated(&pool, 0, count_cb, &n);
        if (visited != n || visited > NBLOCKS)
            w->bad_stamps++;
        struct am_onesize_stats st; /* one instant, unlike two getters */
        if (am_onesize_get_stats(&pool, &st) != 0 || st.nfree_min > st.nfree || st.nfree > NBLOCKS)
            w->bad_stamps++;
    }
    return NULL;
}

static void test_threads_iterate_while_busy(void **state)
{
    (void)state;
    make_pool();
    struct worker w[3];
    memset(w, 0, sizeof w);
    w[0].id = 1;
    w[1].id = 2;
    assert_int_equal(pthread_create(&w[0].thread, NULL, hammer, &w[0]), 0);
    assert_int_equal(pthread_create(&w[1].thread, NULL, hammer, &w[1]), 0);
    assert_int_equal(pthread_create(&w[2].thread, NULL, iterate_while_busy, &w[2]), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        assert_int_equal(w[i].bad_stamps, 0);
        assert_int_equal(w[i].bad_frees, 0);
    }
    assert_int_equal(am_onesize_get_nfree(&pool), NBLOCKS);
    assert_int_equal(am_onesize_check(&pool), 0);
}

/* ---- the adapter itself ------------------------------------------------- */

static void test_pthread_set_crit_fills_three_fields(void **state)
{
    (void)state;
    struct am_onesize_cfg cfg = {0};
    cfg.block_size = 64;
    assert_int_equal(am_onesize_pthread_set_crit(NULL, &mutex), -EINVAL);
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, NULL), -EINVAL);
    assert_null(cfg.crit_enter); /* untouched on error */
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, &mutex), 0);
    assert_true(cfg.crit_enter == am_onesize_pthread_enter);
    assert_true(cfg.crit_exit == am_onesize_pthread_exit);
    assert_ptr_equal(cfg.crit_ctx, &mutex);
    assert_int_equal(cfg.block_size, 64);
}

/* "print one line naming the error to stderr and call abort()": unlocking an
 * error-checking mutex this thread does not hold fails with EPERM. */
static void test_pthread_exit_failure_aborts_with_a_message(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        pthread_mutexattr_t attr;
        pthread_mutex_t m;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
        pthread_mutex_init(&m, &attr);
        am_onesize_pthread_exit(&m); /* not locked: EPERM */
        _exit(0);                    /* must not get here */
    }
    close(fds[1]);
    static char msg[16384];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (strstr(msg, "ThreadSanitizer: unlock of an unlocked mutex") != NULL) {
        /* under ThreadSanitizer (halt_on_error) its own report of the bad
         * unlock comes first and ends the child */
        assert_true(WIFEXITED(status) ? WEXITSTATUS(status) != 0 : WTERMSIG(status) == SIGABRT);
        return;
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(msg, "amonesize: pthread_mutex_unlock failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_share_one_pool),
        cmocka_unit_test(test_threads_cross_thread_free),
        cmocka_unit_test(test_threads_iterate_while_busy),
        cmocka_unit_test(test_pthread_set_crit_fills_three_fields),
        cmocka_unit_test(test_pthread_exit_failure_aborts_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
