/* SPDX-License-Identifier: MIT */
/* Concurrent tests: one pool shared by threads, locked by the pthread
 * adapter and by a spinlock of the test's own through the callbacks, with
 * and without per-thread caches. cmocka is not thread-safe: workers only
 * count what they saw; the main thread joins and asserts. */
#include <pthread.h>
#include <stdatomic.h>

#include "amonesize_cache.h"
#include "helpers.h"

enum { NTHREADS = 4, ROUNDS = 20000, NBLOCKS = 64, BLOCK = 64 };

static alignas(64) unsigned char pool_buf[NBLOCKS * BLOCK];
static struct am_onesize pool;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

/* The pool in this group's flavour: the pthread adapter (PTHREAD_ADAPTER)
 * or the spinlock through the callbacks (CALLBACKS). */
static void make_pool(void)
{
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pool.ptr = pool_buf;
    cfg.pool.size = sizeof pool_buf;
    cfg.block_size = BLOCK;
    cfg.alignment = 64;
    if (flavour == PTHREAD_ADAPTER) {
        assert_int_equal(am_onesize_pthread_set_crit(&cfg, &mutex), 0);
    } else {
        cfg.crit_enter = test_spin_enter;
        cfg.crit_exit = test_spin_exit;
    }
    assert_int_equal(am_onesize_ctor(&pool, &cfg), 0);
}

struct stamp {
    uint64_t owner, seq, check;
};

struct worker {
    pthread_t thread;
    uint64_t id;
    size_t bad_stamps, bad_frees, allocated, exhausted;
};

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

/* Per-thread caches: every worker allocates through its own cache, and half
 * of what it allocates is freed by the next worker, into that worker's
 * cache. Stamps verified; at the end, after the flushes, every block is
 * back and the pool's counts agree. */
enum { PASS = 8 }; /* mailboxes and caches together hold at most half the pool */
struct mailbox {
    pthread_mutex_t lock;
    void *slot[PASS];
    uint64_t owner[PASS], seq[PASS];
    size_t n;
};
static struct mailbox boxes[NTHREADS];

static void *cache_worker(void *arg)
{
    struct worker *w = arg;
    static _Thread_local struct am_onesize_cache cache;
    if (am_onesize_cache_init(&cache, &pool, 4) != 0) {
        w->bad_frees++;
        return NULL;
    }
    struct mailbox *out = &boxes[w->id % NTHREADS], *in = &boxes[w->id - 1];
    uint64_t seq = 0;
    for (int r = 0; r < ROUNDS; r++) {
        void *p = am_onesize_cache_allocate(&cache, BLOCK);
        if (p == NULL) {
            w->exhausted++;
        } else {
            w->allocated++;
            put_stamp(p, w->id, ++seq);
            pthread_mutex_lock(&out->lock);
            if (r % 2 == 0 && out->n < PASS) { /* to the next worker */
                out->slot[out->n] = p;
                out->owner[out->n] = w->id;
                out->seq[out->n++] = seq;
                p = NULL;
            }
            pthread_mutex_unlock(&out->lock);
            if (p != NULL) {
                if (!stamp_ok(p, w->id, seq))
                    w->bad_stamps++;
                if (am_onesize_cache_free(&cache, p) != 0)
                    w->bad_frees++;
            }
        }
        pthread_mutex_lock(&in->lock); /* what the previous worker passed */
        while (in->n > 0) {
            in->n--;
            if (!stamp_ok(in->slot[in->n], in->owner[in->n], in->seq[in->n]))
                w->bad_stamps++;
            if (am_onesize_cache_free(&cache, in->slot[in->n]) != 0)
                w->bad_frees++;
        }
        pthread_mutex_unlock(&in->lock);
    }
    am_onesize_cache_flush(&cache);
    return NULL;
}

static void test_threads_caches_pass_blocks_around(void **state)
{
    (void)state;
    make_pool();
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&boxes[i], 0, sizeof boxes[i]);
        pthread_mutex_init(&boxes[i].lock, NULL);
    }
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = (uint64_t)i + 1;
        assert_int_equal(pthread_create(&w[i].thread, NULL, cache_worker, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
    for (int i = 0; i < NTHREADS; i++) { /* blocks left in mailboxes */
        while (boxes[i].n > 0)
            assert_int_equal(am_onesize_free(&pool, boxes[i].slot[--boxes[i].n]), 0);
        pthread_mutex_destroy(&boxes[i].lock);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].bad_stamps, 0);
        assert_int_equal(w[i].bad_frees, 0);
        assert_true(w[i].allocated > 0);
    }
    struct am_onesize_stats st = stats_of(&pool);
    assert_int_equal(st.nfree, NBLOCKS);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.allocations, st.frees);
    assert_int_equal(st.rejected_double + st.rejected_interior + st.rejected_outside + st.corruptions, 0);
    assert_int_equal(am_onesize_check(&pool), 0);
}

static int teardown_pool(void **state)
{
    (void)state;
    am_onesize_dtor(&pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_threads_share_one_pool, teardown_pool),
        cmocka_unit_test_teardown(test_threads_cross_thread_free, teardown_pool),
        cmocka_unit_test_teardown(test_threads_iterate_while_busy, teardown_pool),
        cmocka_unit_test_teardown(test_threads_caches_pass_blocks_around, teardown_pool),
    };
    return cmocka_run_group_tests_name("pthread adapter", tests, flavour_pthread, NULL) +
           cmocka_run_group_tests_name("spinlock callbacks", tests, flavour_callbacks, NULL);
}
