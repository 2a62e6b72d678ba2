/* amonesize-stress: hammer one pool from many threads and verify everything.
 *
 * One pool (mmap'ed, never malloc'ed) is shared by worker threads through the
 * pthread adapter or a spinlock given as critical-section callbacks. Every
 * block handed out is stamped (owner, sequence, checksum over the whole
 * block) and verified before it is freed; every pointer is checked to be a
 * block of the pool; the model (blocks each thread holds, kept in atomics)
 * is reconciled with the pool's counts inside the critical section; at the
 * end every block must be back. Every thread must keep completing
 * allocate+free pairs (see watch_progress()). Any violation is printed with
 * what was seen and makes the exit status 1. SIGINT or SIGTERM ends a run
 * early, checked and summarised as at its normal end. Bad options: a one-line
 * error, usage, 2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "amonesize.h"
#include "amonesize_cache.h"
#include "amonesize_pthread.h"

enum pattern { P_LIFO, P_BURST, P_RANDOM, P_HANDOFF, P_MIXED, P_COUNT };
static const char *const pattern_names[] = {"lifo", "burst", "random", "handoff", "mixed"};
enum { ROLE_DIAG = P_COUNT }; /* the mixed pattern's diagnostics thread */

enum { MAX_THREADS = 256, BURST_MAX = 64, RING = 64 };

/* A worker that spends this much of its own CPU time without completing an
 * allocate+free pair made no progress (see watch_progress()). CPU time, not
 * wall time, so that a thread the scheduler (or Valgrind) leaves waiting is
 * not mistaken for a starving one. */
#define STALL_CPU_S 1.0

struct options {
    unsigned threads;
    double seconds;
    uint64_t ops; /* per worker; 0: run for `seconds` */
    size_t blocks, block_size, alignment;
    bool spin, json, quiet, broken_lock, hoard;
    size_t cache; /* per-thread cache capacity; 0: no caches */
    enum pattern pattern;
    uint64_t seed;
};

/* What one thread did; written by its owner, read after join (ops also by
 * the progress line, pairs by the progress watch, hence atomic). A pair is
 * an allocate+free completed: a block the thread allocated is freed, or
 * handed to its consumer (handoff producer), or a block it received is
 * freed (handoff consumer). */
struct counts {
    atomic_uint_fast64_t ops, pairs;
    uint64_t failed, violations;
};

/* The main thread's watch on a worker's progress; main thread only. */
struct watch {
    clockid_t clock; /* the worker's CPU-time clock */
    bool have_clock;
    uint64_t pairs;   /* as last seen */
    double cpu, time; /* its CPU time and the run's time when pairs last changed */
    bool stalled;     /* then, what was seen: */
    double stall_cpu, stall_at;
    uint64_t stall_pairs;
    size_t stall_nfree, stall_held;
};

struct worker {
    pthread_t thread;
    unsigned id; /* 1-based; the stamp's owner */
    int role;    /* a pattern, or ROLE_DIAG */
    uint64_t rng;
    struct counts c;
    size_t held;   /* blocks this thread holds now; owner only */
    size_t cached; /* blocks in its cache, as last seen; owner only */
    struct am_onesize_cache cache;
    struct ring *give, *take; /* handoff: queues to the consumer / from the producer */
    atomic_bool done;         /* handoff producer: nothing more will come */
    atomic_bool ended;        /* the thread returned everything and is about to end */
    uint64_t reconciles;
    uint64_t flush_seen; /* flush requests served; owner only */
    struct watch watch;
};

/* The model: blocks held by all threads (in their hands or their caches) and
 * pool calls in flight, in one atomic word so that it is read at one
 * instant. At every instant the pool's allocated count lies within
 * in-flight x batch of held: a call in flight has changed the pool by up to
 * one batch (one block without caches) that the model does not show yet. */
#define MODEL_BUSY ((uint64_t)1)
#define MODEL_HELD ((uint64_t)1 << 20)
static atomic_uint_fast64_t model;
static size_t batch = 1;

/* Single-producer single-consumer ring of blocks for the handoff pattern. */
struct ring {
    _Alignas(64) atomic_size_t head;
    _Alignas(64) atomic_size_t tail;
    void *slot[RING];
    uint64_t seq[RING];
};

static struct options opt;
static struct am_onesize pool;
static void *map_mem; /* the pool's memory: mmap'ed, the pool's start aligned within */
static size_t map_bytes, nblocks, bsize;
static size_t unit; /* what every block is aligned to: the alignment, at least a pointer's */
static uintptr_t first_block;
static struct worker *workers;
static unsigned nworkers;
static atomic_bool stop;
/* The first SIGINT or SIGTERM, written only by on_stop_signal(). Worker
 * threads block both signals, so the handler runs on the main thread, which
 * polls this flag and ends the run as if its time were up. */
static volatile sig_atomic_t stop_signal;
static atomic_uint finished;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static pthread_mutex_t report_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t violations_total;
/* Bumped by a thread whose cache found the pool empty: every other thread
 * then flushes its cache once, at its next operation. Without this, caches
 * can hold every block of a small pool for good (a consumer's cache keeps
 * what it frees until it is full) and the threads that need blocks starve.
 * --hoard turns the requests off, to show that such a run fails. */
static atomic_uint_fast64_t flush_requests;

/* ---- reporting ---------------------------------------------------------- */

static void violation(struct worker *w, const void *blk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void violation(struct worker *w, const void *blk, const char *fmt, ...)
{
    va_list ap;
    w->c.violations++;
    if (atomic_fetch_add(&violations_total, 1) >= 20)
        return; /* enough to diagnose; the count goes on */
    pthread_mutex_lock(&report_mutex);
    fprintf(stderr, "VIOLATION: thread %u (%s), block %p: ", w->id,
            w->role == ROLE_DIAG ? "diagnostics" : pattern_names[w->role], blk);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&report_mutex);
}

/* ---- critical sections, with a snapshot of the model under the lock ----- */

struct snapshot {
    bool wanted, taken;
    size_t held, busy;
};
static _Thread_local struct snapshot snap;

/* Inside the critical section: every pool count and every thread's model
 * are read at the same instant. */
static void take_snapshot(void)
{
    if (!snap.wanted)
        return;
    const uint64_t m = atomic_load(&model);
    snap.held = (size_t)(m / MODEL_HELD);
    snap.busy = (size_t)(m % MODEL_HELD);
    snap.taken = true;
}

static void mutex_enter(void *ctx)
{
    am_onesize_pthread_enter(ctx);
}

static void mutex_exit(void *ctx)
{
    take_snapshot();
    am_onesize_pthread_exit(ctx);
}

static void spin_enter(void *ctx)
{
    (void)ctx;
    while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire))
        sched_yield();
}

static void spin_exit(void *ctx)
{
    (void)ctx;
    take_snapshot();
    atomic_flag_clear_explicit(&spin, memory_order_release);
}

/* Test only (--broken-lock): a critical section that protects nothing. The
 * run must then fail, proving the checks bite. */
static void broken_enter(void *ctx)
{
    (void)ctx;
}

static void broken_exit(void *ctx)
{
    (void)ctx;
    take_snapshot();
}

/* After a call: account for the change in the thread's cache, and end the
 * call. held_change is what the call did to the thread's own hands. */
static void model_settle(struct worker *w, int held_change)
{
    const size_t cached = opt.cache ? am_onesize_cache_get_ncached(&w->cache) : 0;
    const uint64_t delta = (uint64_t)(int64_t)held_change + (uint64_t)cached - (uint64_t)w->cached;
    w->cached = cached;
    atomic_fetch_add(&model, delta * MODEL_HELD - MODEL_BUSY);
}

/* ---- stamps ------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185u;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44du;
    x ^= x >> 33;
    return x;
}

static uint64_t rnd(struct worker *w)
{
    w->rng += 0x9e3779b97f4a7c15u;
    return mix(w->rng);
}

static uint64_t tag_of(unsigned owner, uint64_t seq)
{
    return (uint64_t)owner << 48 | (seq & 0xffffffffffffu);
}

/* Block layout: tag (owner, seq), checksum, then filler derived from the
 * tag; the checksum covers the tag and every filler byte. */
static void stamp(void *blk, unsigned owner, uint64_t seq)
{
    unsigned char *b = blk;
    const uint64_t tag = tag_of(owner, seq);
    uint64_t sum = mix(tag);
    for (size_t i = 16; i < bsize; i++) {
        b[i] = (unsigned char)(mix(tag + i) >> 56);
        sum = (sum ^ b[i]) * 0x100000001b3u;
    }
    memcpy(b, &tag, 8);
    memcpy(b + 8, &sum, 8);
}

static bool in_pool(struct worker *w, const void *blk)
{
    const uintptr_t p = (uintptr_t)blk;
    if (p < first_block || p >= first_block + nblocks * bsize) {
        violation(w, blk, "outside the pool [%p, %p)", (void *)first_block,
                  (void *)(first_block + nblocks * bsize));
        return false;
    }
    if ((p - first_block) % bsize != 0) {
        violation(w, blk, "not on a block boundary (offset %zu into a %zu-byte block)",
                  (size_t)((p - first_block) % bsize), bsize);
        return false;
    }
    if (p % unit != 0) {
        violation(w, blk, "not aligned to %zu", unit);
        return false;
    }
    return true;
}

static bool verify(struct worker *w, const void *blk, unsigned owner, uint64_t seq)
{
    const unsigned char *b = blk;
    uint64_t tag, sum, expect_sum;
    memcpy(&tag, b, 8);
    memcpy(&sum, b + 8, 8);
    const uint64_t want = tag_of(owner, seq);
    if (tag != want) {
        violation(w, blk, "stamp: expected owner %u seq %" PRIu64 ", found owner %u seq %" PRIu64, owner,
                  seq & 0xffffffffffffu, (unsigned)(tag >> 48), tag & 0xffffffffffffu);
        return false;
    }
    expect_sum = mix(tag);
    for (size_t i = 16; i < bsize; i++)
        expect_sum = (expect_sum ^ b[i]) * 0x100000001b3u;
    if (sum != expect_sum) {
        violation(w, blk, "torn block: checksum expected %016" PRIx64 ", found %016" PRIx64, expect_sum, sum);
        return false;
    }
    return true;
}

/* ---- pool operations with the model kept -------------------------------- */

static void check_exhaustion(struct worker *w, size_t margin)
{
    /* The pool said nfree <= margin inside the critical section, where the
     * model was snapshotted: blocks held, plus at most one per thread in
     * the middle of a call, must account for that. */
    if (snap.taken && snap.held + snap.busy * batch < nblocks - (margin < nblocks ? margin : nblocks))
        violation(w, NULL,
                  "allocation failed (margin %zu) while the model says %zu of %zu blocks are held (+%zu in "
                  "flight)",
                  margin, snap.held, nblocks, snap.busy);
}

/* Every cached block back to the pool, with the model kept. */
static void flush_cache(struct worker *w)
{
    atomic_fetch_add(&model, MODEL_BUSY);
    am_onesize_cache_flush(&w->cache);
    model_settle(w, 0);
}

static void serve_flush_requests(struct worker *w)
{
    if (opt.cache == 0)
        return;
    const uint64_t r = atomic_load_explicit(&flush_requests, memory_order_relaxed);
    if (r != w->flush_seen) {
        w->flush_seen = r;
        flush_cache(w);
    }
}

static void *get_block(struct worker *w, size_t margin)
{
    serve_flush_requests(w);
    const size_t size = (size_t)(rnd(w) % (bsize + 1));
    atomic_fetch_add(&model, MODEL_BUSY);
    snap.wanted = true;
    snap.taken = false;
    errno = 0;
    void *p = margin      ? am_onesize_allocate_x(&pool, size, margin)
              : opt.cache ? am_onesize_cache_allocate(&w->cache, size)
                          : am_onesize_allocate(&pool, size);
    const int err = errno;
    snap.wanted = false;
    model_settle(w, p != NULL);
    w->held += p != NULL;
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    if (p == NULL) {
        if (err != ENOMEM)
            violation(w, NULL, "allocate(%zu) failed with %s", size, strerror(err));
        else
            check_exhaustion(w, margin);
        if (err == ENOMEM && opt.cache && margin == 0 && !opt.hoard)
            atomic_fetch_add_explicit(&flush_requests, 1, memory_order_relaxed);
        w->c.failed++;
        return NULL;
    }
    if (!in_pool(w, p))
        return NULL;
    return p;
}

static void put_block(struct worker *w, void *p)
{
    serve_flush_requests(w);
    atomic_fetch_add(&model, MODEL_BUSY - MODEL_HELD);
    w->held--;
    const int err = opt.cache ? am_onesize_cache_free(&w->cache, p) : am_onesize_free(&pool, p);
    model_settle(w, 0);
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    if (err != 0)
        violation(w, p, "free failed with %s", strerror(-err));
    else
        atomic_fetch_add_explicit(&w->c.pairs, 1, memory_order_relaxed);
}

static bool running(struct worker *w)
{
    if (atomic_load_explicit(&stop, memory_order_relaxed))
        return false; /* time is up, a signal came, or a thread made no progress */
    /* --ops counts what succeeded: a starving thread cannot finish its
     * share by failing, and the progress watch catches it instead. */
    if (opt.ops != 0 && w->role != ROLE_DIAG)
        return atomic_load_explicit(&w->c.ops, memory_order_relaxed) - w->c.failed < opt.ops;
    return true;
}

/* ---- patterns ----------------------------------------------------------- */

static void run_lifo(struct worker *w)
{
    uint64_t seq = 0;
    while (running(w)) {
        void *p = get_block(w, 0);
        if (p == NULL)
            continue;
        stamp(p, w->id, ++seq);
        verify(w, p, w->id, seq);
        put_block(w, p);
    }
}

static void run_burst(struct worker *w)
{
    void *held[BURST_MAX];
    uint64_t seqs[BURST_MAX], seq = 0;
    size_t kmax = nblocks / (nworkers + 1);
    kmax = kmax < 1 ? 1 : kmax > BURST_MAX ? BURST_MAX : kmax;
    while (running(w)) {
        const size_t k = 1 + (size_t)(rnd(w) % kmax);
        size_t n = 0;
        while (n < k && !atomic_load_explicit(&stop, memory_order_relaxed)) {
            void *p = get_block(w, 0);
            if (p == NULL)
                break;
            seqs[n] = ++seq;
            stamp(p, w->id, seq);
            held[n++] = p;
        }
        if (rnd(w) & 1) { /* shuffled order; else LIFO */
            for (size_t i = n; i > 1; i--) {
                const size_t j = (size_t)(rnd(w) % i);
                void *tp = held[i - 1];
                uint64_t ts = seqs[i - 1];
                held[i - 1] = held[j], seqs[i - 1] = seqs[j];
                held[j] = tp, seqs[j] = ts;
            }
        }
        while (n > 0) {
            n--;
            verify(w, held[n], w->id, seqs[n]);
            put_block(w, held[n]);
        }
    }
}

static void run_random(struct worker *w, bool with_margin)
{
    void *held[BURST_MAX];
    uint64_t seqs[BURST_MAX], seq = 0;
    size_t n = 0, cap = nblocks / (nworkers + 1);
    cap = cap < 1 ? 1 : cap > BURST_MAX ? BURST_MAX : cap;
    while (running(w)) {
        const uint64_t r = rnd(w);
        if (n < cap && (n == 0 || (r & 1))) {
            const size_t margin = with_margin && (r & 0x30) == 0 ? nblocks / 4 : 0;
            void *p = get_block(w, margin);
            if (p == NULL)
                continue;
            seqs[n] = ++seq;
            stamp(p, w->id, seq);
            held[n++] = p;
        } else if (n > 0) {
            const size_t i = (size_t)((r >> 8) % n);
            verify(w, held[i], w->id, seqs[i]);
            put_block(w, held[i]);
            held[i] = held[--n];
            seqs[i] = seqs[n];
        }
    }
    while (n > 0) {
        n--;
        verify(w, held[n], w->id, seqs[n]);
        put_block(w, held[n]);
    }
}

static void run_producer(struct worker *w)
{
    struct ring *q = w->give;
    uint64_t seq = 0;
    while (running(w)) {
        void *p = get_block(w, 0);
        if (p == NULL) {
            sched_yield();
            continue;
        }
        stamp(p, w->id, ++seq);
        const size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        while (t - atomic_load_explicit(&q->head, memory_order_acquire) == RING && running(w)) {
            serve_flush_requests(w);
            sched_yield();
        }
        if (t - atomic_load_explicit(&q->head, memory_order_acquire) == RING) {
            verify(w, p, w->id, seq); /* stopping with a full ring: keep it */
            put_block(w, p);
            break;
        }
        q->slot[t % RING] = p;
        q->seq[t % RING] = seq;
        w->held--; /* the consumer's now; the model's total is unchanged */
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
        atomic_fetch_add_explicit(&w->c.pairs, 1, memory_order_relaxed);
    }
    atomic_store(&w->done, true);
}

static void run_consumer(struct worker *w, unsigned producer)
{
    struct ring *q = w->take;
    for (;;) {
        const size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        if (h == atomic_load_explicit(&q->tail, memory_order_acquire)) {
            if (atomic_load(&workers[producer - 1].done) &&
                h == atomic_load_explicit(&q->tail, memory_order_acquire))
                break;
            serve_flush_requests(w);
            sched_yield();
            continue;
        }
        void *p = q->slot[h % RING];
        const uint64_t seq = q->seq[h % RING];
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
        w->held++;
        if (in_pool(w, p)) {
            verify(w, p, producer, seq);
            put_block(w, p);
        }
    }
}

static void count_cb(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)block, (void)size;
    ++*(size_t *)ctx;
}

/* Reconcile the pool with the model, both read in one critical section. */
static void reconcile(struct worker *w)
{
    struct am_onesize_stats st;
    snap.wanted = true;
    snap.taken = false;
    const int err = am_onesize_get_stats(&pool, &st);
    snap.wanted = false;
    w->reconciles++;
    if (err != 0 || !snap.taken) {
        violation(w, NULL, "get_stats failed (%d) or the lock callbacks were not called", err);
        return;
    }
    const size_t allocated = st.nblocks - st.nfree, tolerance = snap.busy * batch;
    if (allocated + tolerance < snap.held || allocated > snap.held + tolerance)
        violation(w, NULL,
                  "counts do not reconcile: nfree %zu + held %zu != nblocks %zu (%zu calls in flight)",
                  st.nfree, snap.held, st.nblocks, snap.busy);
    if (st.nfree_min > st.nfree || st.nblocks != nblocks || st.rejected_double || st.rejected_interior ||
        st.rejected_outside || st.rejected_never_allocated || st.corruptions)
        violation(w, NULL,
                  "stats: nfree_min %zu nfree %zu; rejected frees %" PRIu64 " double, %" PRIu64
                  " other; corruptions %" PRIu64,
                  st.nfree_min, st.nfree, st.rejected_double,
                  st.rejected_interior + st.rejected_outside + st.rejected_never_allocated, st.corruptions);
}

static void run_diagnostics(struct worker *w)
{
    while (running(w)) {
        reconcile(w);
        size_t n = 0;
        const size_t visited = am_onesize_iterate_over_allocated(&pool, 0, count_cb, &n);
        if (visited != n || visited > nblocks)
            violation(w, NULL, "iteration visited %zu blocks (callback saw %zu) of %zu", visited, n, nblocks);
        atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    if (opt.cache && w->role != ROLE_DIAG && am_onesize_cache_init(&w->cache, &pool, opt.cache) != 0)
        violation(w, NULL, "am_onesize_cache_init failed");
    switch (w->role) {
    case P_LIFO:
        run_lifo(w);
        break;
    case P_BURST:
        run_burst(w);
        break;
    case P_RANDOM:
        run_random(w, opt.pattern == P_MIXED);
        break;
    case P_HANDOFF:
        if (w->give != NULL)
            run_producer(w);
        else
            run_consumer(w, w->id - 1);
        break;
    case ROLE_DIAG:
        run_diagnostics(w);
        break;
    }
    if (opt.cache && w->role != ROLE_DIAG) { /* every cached block back to the pool */
        flush_cache(w);
        if (w->cached != 0)
            violation(w, NULL, "%zu blocks left in the cache after a flush", w->cached);
    }
    atomic_store(&w->ended, true);
    if (w->role != ROLE_DIAG)
        atomic_fetch_add(&finished, 1);
    return NULL;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: amonesize-stress [options]\n"
        "  --threads N        worker threads (default: online CPUs, at least 2; for mixed at least 5)\n"
        "  --seconds S        run for S seconds (default 5)\n"
        "  --ops N            or: N operations per worker (failed allocations do not count)\n"
        "  --blocks N         blocks in the pool (default 1024)\n"
        "  --block-size B     block size in bytes (default 64)\n"
        "  --alignment A      block alignment, a power of two up to 4096, or 0 (the default):\n"
        "                     the library's default, alignof(max_align_t)\n"
        "  --lock mutex|spin  pthread adapter or a spinlock through the callbacks (default mutex)\n"
        "  --pattern P        lifo|burst|random|handoff|mixed (default mixed)\n"
        "                     lifo: allocate one, free it; burst: allocate up to 64, free all (LIFO or\n"
        "                     shuffled); random: a random working set; handoff: producers allocate,\n"
        "                     consumers in other threads free; mixed: lifo, burst, random and a handoff\n"
        "                     pair across the threads (with 5 or more), margin allocations, plus a thread\n"
        "                     that reconciles counts and iterates over allocated blocks meanwhile\n"
        "  --seed N           random seed (default: from the clock; always printed)\n"
        "  --cache N          every thread allocates and frees through its own cache of N blocks\n"
        "                     (1..512; default 0: straight to the pool); a thread that finds the pool\n"
        "                     empty has the others flush theirs, so even a 1-block pool progresses\n"
        "  --json             print the summary as JSON on stdout\n"
        "  --quiet            no progress line, no table (violations are still printed)\n"
        "  --broken-lock      TEST ONLY: callbacks that lock nothing; the run must fail\n"
        "  --hoard            TEST ONLY: a thread that finds the pool empty does not ask the others to\n"
        "                     flush their caches; with a pool the caches can hold, the run must fail\n"
        "  --help, --version\n"
        "a thread that spends 1 s of CPU time without completing an allocate+free pair made no\n"
        "progress: a violation, and the run stops. SIGINT or SIGTERM stops the run early, verified\n"
        "and summarised as usual; a second one kills.\n"
        "exit status: 0 all checks passed, 1 a violation was seen, 2 bad options\n");
}

static _Noreturn void bad_option(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void bad_option(const char *fmt, ...)
{
    va_list ap;
    fputs("amonesize-stress: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr);
    exit(2);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    if (s[0] == '-' || s[0] == '\0')
        bad_option("%s: '%s' is not a non-negative number", name, s);
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0')
        bad_option("%s: '%s' is not a number", name, s);
    if (v < min || v > max)
        bad_option("%s: %llu is out of range [%" PRIu64 ", %" PRIu64 "]", name, v, min, max);
    return v;
}

static void parse_options(int argc, char **argv)
{
    enum {
        O_THREADS = 256,
        O_SECONDS,
        O_OPS,
        O_BLOCKS,
        O_BSIZE,
        O_ALIGN,
        O_LOCK,
        O_PATTERN,
        O_SEED,
        O_JSON,
        O_QUIET,
        O_BROKEN,
        O_HELP,
        O_VERSION,
        O_CACHE,
        O_HOARD
    };
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, O_THREADS},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"ops", required_argument, NULL, O_OPS},
        {"blocks", required_argument, NULL, O_BLOCKS},
        {"block-size", required_argument, NULL, O_BSIZE},
        {"alignment", required_argument, NULL, O_ALIGN},
        {"lock", required_argument, NULL, O_LOCK},
        {"pattern", required_argument, NULL, O_PATTERN},
        {"seed", required_argument, NULL, O_SEED},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, O_QUIET},
        {"broken-lock", no_argument, NULL, O_BROKEN},
        {"help", no_argument, NULL, O_HELP},
        {"cache", required_argument, NULL, O_CACHE},
        {"hoard", no_argument, NULL, O_HOARD},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = ncpu < 2 ? 2 : ncpu > MAX_THREADS ? MAX_THREADS : (unsigned)ncpu;
    opt.seconds = 5;
    opt.blocks = 1024;
    opt.block_size = 64;
    opt.pattern = P_MIXED;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    opt.seed = mix(((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) ^ (uint64_t)getpid());
    bool have_seconds = false, have_threads = false;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case O_THREADS:
            opt.threads = (unsigned)parse_u64("--threads", optarg, 1, MAX_THREADS);
            have_threads = true;
            break;
        case O_SECONDS: {
            char *end;
            errno = 0;
            opt.seconds = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || end == optarg || !(opt.seconds > 0) || opt.seconds > 86400)
                bad_option("--seconds: '%s' is not a number of seconds in (0, 86400]", optarg);
            have_seconds = true;
            break;
        }
        case O_OPS:
            opt.ops = parse_u64("--ops", optarg, 1, UINT64_MAX / 2);
            break;
        case O_BLOCKS:
            opt.blocks =
                (size_t)parse_u64("--blocks", optarg, 1, /* and what a size_t holds */
                                  (uint64_t)SIZE_MAX < (uint64_t)1 << 32 ? SIZE_MAX : (uint64_t)1 << 32);
            break;
        case O_BSIZE:
            opt.block_size = (size_t)parse_u64("--block-size", optarg, 1, (uint64_t)1 << 20);
            break;
        case O_ALIGN:
            opt.alignment = (size_t)parse_u64("--alignment", optarg, 0, 4096); /* 0: the default */
            if (opt.alignment & (opt.alignment - 1))
                bad_option("--alignment: %zu is not a power of two", opt.alignment);
            break;
        case O_LOCK:
            if (strcmp(optarg, "mutex") == 0)
                opt.spin = false;
            else if (strcmp(optarg, "spin") == 0)
                opt.spin = true;
            else
                bad_option("--lock: '%s' is neither mutex nor spin", optarg);
            break;
        case O_PATTERN: {
            int found = -1;
            for (int i = 0; i < P_COUNT; i++)
                if (strcmp(optarg, pattern_names[i]) == 0)
                    found = i;
            if (found < 0)
                bad_option("--pattern: '%s' is not one of lifo, burst, random, handoff, mixed", optarg);
            opt.pattern = (enum pattern)found;
            break;
        }
        case O_SEED:
            opt.seed = parse_u64("--seed", optarg, 0, UINT64_MAX);
            break;
        case O_JSON:
            opt.json = true;
            break;
        case O_CACHE:
            opt.cache = (size_t)parse_u64("--cache", optarg, 0, AM_ONESIZE_CACHE_MAX);
            break;
        case O_QUIET:
            opt.quiet = true;
            break;
        case O_BROKEN:
            opt.broken_lock = true;
            break;
        case O_HOARD:
            opt.hoard = true;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_VERSION:
            printf("amonesize-stress %s\n", AM_ONESIZE_VERSION);
            exit(0);
        case ':':
            bad_option("%s needs a value", argv[optind - 1]);
        default:
            bad_option("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad_option("unexpected argument '%s'", argv[optind]);
    if (have_seconds && opt.ops != 0)
        bad_option("--seconds and --ops exclude each other");
    if (opt.pattern == P_MIXED && !have_threads && opt.threads < 5)
        opt.threads = 5; /* lifo, burst, random and a handoff pair */
    if (opt.pattern == P_HANDOFF && opt.threads < 2)
        bad_option("--pattern handoff needs at least 2 threads");
}

/* ---- set-up, progress, summary ------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pool is built so that it holds exactly --blocks blocks: from the
 * options, compute the effective block size as am_onesize_ctor() documents
 * it (at least two pointers, rounded up to the alignment, an alignment below
 * a pointer's raised to it), then give the library an aligned region of
 * exactly that many blocks' bytes ("an aligned pool of exactly n blocks'
 * bytes yields n blocks"). What the library built is then checked against
 * that: a difference is a violation of its documentation. */
static void make_pool(void)
{
    const size_t align = opt.alignment ? opt.alignment : _Alignof(max_align_t);
    unit = align > _Alignof(void *) ? align : _Alignof(void *);
    const size_t least = 2 * sizeof(void *);
    size_t want = opt.block_size < least ? least : opt.block_size, bytes, mapped;
    if (__builtin_add_overflow(want, unit - 1, &want))
        bad_option("--block-size %zu with --alignment %zu overflows", opt.block_size, align);
    bsize = want & ~(unit - 1);
    if (__builtin_mul_overflow(opt.blocks, bsize, &bytes) || __builtin_add_overflow(bytes, unit, &mapped))
        bad_option("--blocks %zu of %zu bytes do not fit in memory", opt.blocks, bsize);
    map_bytes = mapped; /* room to align the start, whatever the page size */
    map_mem = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map_mem == MAP_FAILED) {
        fprintf(stderr, "amonesize-stress: mmap of %zu bytes failed: %s\n", map_bytes, strerror(errno));
        exit(1);
    }
    first_block = ((uintptr_t)map_mem + unit - 1) & ~(uintptr_t)(unit - 1);
    /* alignment 0 goes to the library as 0: its default is what is tested */
    struct am_onesize_cfg cfg = {
        .pool = {(void *)first_block, bytes}, .block_size = opt.block_size, .alignment = opt.alignment};
    if (opt.broken_lock) {
        cfg.crit_enter = broken_enter;
        cfg.crit_exit = broken_exit;
    } else if (opt.spin) {
        cfg.crit_enter = spin_enter;
        cfg.crit_exit = spin_exit;
    } else {
        am_onesize_pthread_set_crit(&cfg, &mutex); /* the adapter's callbacks... */
        cfg.crit_enter = mutex_enter;              /* ...wrapped to snapshot the model */
        cfg.crit_exit = mutex_exit;
    }
    int err = am_onesize_ctor(&pool, &cfg);
    if (err != 0) {
        fprintf(stderr, "VIOLATION: am_onesize_ctor over %zu aligned bytes for %zu blocks of %zu: %s\n",
                bytes, opt.blocks, bsize, strerror(-err));
        exit(1);
    }
    nblocks = am_onesize_get_nblocks(&pool);
    if (nblocks != opt.blocks || am_onesize_get_block_size(&pool) != bsize) {
        fprintf(stderr,
                "VIOLATION: from %zu bytes aligned to %zu the library built %zu blocks of %zu bytes, not the "
                "%zu blocks of %zu that --blocks %zu --block-size %zu --alignment %zu ask for\n",
                bytes, unit, nblocks, am_onesize_get_block_size(&pool), opt.blocks, bsize, opt.blocks,
                opt.block_size, opt.alignment);
        exit(1);
    }
    batch = opt.cache ? (opt.cache / 2 ? opt.cache / 2 : 1) : 1;
}

static void assign_roles(void)
{
    const bool mixed = opt.pattern == P_MIXED;
    nworkers = opt.threads + (mixed ? 1 : 0);
    workers = calloc(nworkers, sizeof *workers);
    static struct ring rings[MAX_THREADS / 2];
    if (workers == NULL) {
        fprintf(stderr, "amonesize-stress: out of memory\n");
        exit(1);
    }
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        w->id = i + 1;
        w->rng = opt.seed ^ mix(i + 1);
        atomic_init(&w->c.ops, 0);
        atomic_init(&w->c.pairs, 0);
        atomic_init(&w->done, false);
        atomic_init(&w->ended, false);
        if (!mixed)
            w->role = opt.pattern;
        else if (i == opt.threads)
            w->role = ROLE_DIAG;
        else if (opt.threads >= 4 && i >= opt.threads - 2)
            w->role = P_HANDOFF;
        else
            w->role = (int[]){P_LIFO, P_BURST, P_RANDOM}[i % 3];
    }
    /* pair handoff threads: producer i, consumer i + 1 */
    unsigned r = 0;
    for (unsigned i = 0; i + 1 < nworkers; i++) {
        if (workers[i].role == P_HANDOFF && workers[i + 1].role == P_HANDOFF) {
            workers[i].give = workers[i + 1].take = &rings[r++];
            i++;
        } else if (workers[i].role == P_HANDOFF) {
            workers[i].role = P_LIFO; /* an odd one out */
        }
    }
    if (workers[nworkers - 1].role == P_HANDOFF && workers[nworkers - 1].take == NULL)
        workers[nworkers - 1].role = P_LIFO;
}

/* Only records the signal: everything else happens on the main thread,
 * outside the handler. SA_RESETHAND makes a second signal of the same kind
 * kill the process at once; the main thread restores the default action for
 * both as soon as it has seen the first. */
static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        fprintf(stderr, "amonesize-stress: sigaction: %s\n", strerror(errno));
        exit(1);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "VIOLATION: watchdog: the run did not finish in time (deadlock or livelock)\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(1);
    _exit(1);
}

static double cpu_s(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* Called by the main thread about every 10 ms while the run goes on. A
 * worker made no progress if it spent STALL_CPU_S of its own CPU time since
 * it last completed an allocate+free pair (or since it started). Returns
 * true when one did: the run is then stopped, its verdict already known. */
static bool watch_progress(double run_time)
{
    bool stalled = false;
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        struct timespec ts;
        if (w->role == ROLE_DIAG || !w->watch.have_clock || w->watch.stalled || atomic_load(&w->ended))
            continue;
        const uint64_t pairs = atomic_load_explicit(&w->c.pairs, memory_order_relaxed);
        if (clock_gettime(w->watch.clock, &ts) != 0)
            continue; /* it has just ended */
        if (pairs != w->watch.pairs) {
            w->watch.pairs = pairs;
            w->watch.cpu = cpu_s(&ts);
            w->watch.time = run_time;
        } else if (cpu_s(&ts) - w->watch.cpu >= STALL_CPU_S) {
            w->watch.stalled = stalled = true;
            w->watch.stall_cpu = cpu_s(&ts) - w->watch.cpu;
            w->watch.stall_at = run_time;
            w->watch.stall_pairs = pairs;
            w->watch.stall_nfree = am_onesize_get_nfree(&pool);
            w->watch.stall_held = (size_t)(atomic_load(&model) / MODEL_HELD);
        }
    }
    return stalled;
}

static void final_checks(struct worker *main_w, size_t *visited_end, struct am_onesize_stats *st)
{
    reconcile(main_w);
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (!w->watch.stalled)
            continue;
        violation(
            w, NULL,
            "no progress: %scompleted no allocate+free pair in %.2f s of its CPU time (run time %.2f to "
            "%.2f s), after %" PRIu64 " completed; %" PRIu64 " failed allocations in all; then %zu of "
            "%zu blocks were free and the threads held %zu (in hand, in rings or cached)%s",
            w->role != P_HANDOFF ? ""
            : w->give != NULL    ? "as a producer, "
                                 : "as a consumer, ",
            w->watch.stall_cpu, w->watch.time, w->watch.stall_at, w->watch.stall_pairs, w->c.failed,
            w->watch.stall_nfree, nblocks, w->watch.stall_held,
            opt.hoard ? "; --hoard: no thread was asked to flush its cache" : "");
    }
    for (unsigned i = 0; i < nworkers; i++)
        if (workers[i].held != 0)
            violation(main_w, NULL, "thread %u still holds %zu blocks at the end", i + 1, workers[i].held);
    if (atomic_load(&model) != 0)
        violation(main_w, NULL, "the model still counts %zu blocks held at the end",
                  (size_t)(atomic_load(&model) / MODEL_HELD));
    am_onesize_get_stats(&pool, st);
    if (st->nfree != nblocks)
        violation(main_w, NULL, "at the end nfree is %zu, not nblocks %zu", st->nfree, nblocks);
    if (st->allocations != st->frees)
        violation(main_w, NULL, "%" PRIu64 " allocations but %" PRIu64 " frees", st->allocations, st->frees);
    *visited_end = 0;
    size_t n = 0;
    *visited_end = am_onesize_iterate_over_allocated(&pool, 0, count_cb, &n);
    if (*visited_end != 0)
        violation(main_w, NULL, "iteration at the end visited %zu blocks, expected none", *visited_end);
    if (am_onesize_check(&pool) != 0)
        violation(main_w, NULL, "am_onesize_check found a damaged free list at the end");
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    catch_stop_signals();
    make_pool();
    assign_roles();
    const bool tty = isatty(STDERR_FILENO) && !opt.quiet && !opt.json;
    if (!opt.quiet && !opt.json)
        printf(
            "amonesize-stress %s: %u threads, pattern %s, lock %s, %zu blocks of %zu bytes, %s, seed %" PRIu64
            "\n",
            AM_ONESIZE_VERSION, opt.threads, pattern_names[opt.pattern],
            opt.broken_lock ? "BROKEN"
            : opt.spin      ? "spin"
                            : "mutex",
            nblocks, bsize, opt.ops ? "ops per thread" : "timed", opt.seed);
    if (!opt.quiet && !opt.json && opt.ops)
        printf("  %" PRIu64 " operations per thread\n", opt.ops);
    if (!opt.quiet && !opt.json && opt.cache)
        printf("  through per-thread caches of %zu blocks\n", opt.cache);
    fflush(stdout);

    signal(SIGALRM, on_alarm);
    alarm((unsigned)(opt.ops ? 600 : opt.seconds * 3 + 60));
    /* Workers inherit a mask that blocks SIGINT and SIGTERM: the handler then
     * always runs on this thread, and no worker's system call is cut short. */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    const double t0 = now_s();
    for (unsigned i = 0; i < nworkers; i++)
        if (pthread_create(&workers[i].thread, NULL, thread_main, &workers[i]) != 0) {
            fprintf(stderr, "amonesize-stress: pthread_create failed\n");
            return 1;
        }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    for (unsigned i = 0; i < nworkers; i++) /* without a clock a thread is not watched */
        workers[i].watch.have_clock = pthread_getcpuclockid(workers[i].thread, &workers[i].watch.clock) == 0;
    int interrupted = 0; /* the signal that ended the run early, if any */
    /* main thread: progress, and the clock */
    double next = t0 + 1;
    uint64_t last_ops = 0;
    const unsigned nbusy = nworkers - (opt.pattern == P_MIXED ? 1 : 0);
    for (;;) {
        const double t = now_s();
        if (stop_signal != 0) {
            interrupted = stop_signal;
            signal(SIGINT, SIG_DFL); /* a second signal of either kind kills */
            signal(SIGTERM, SIG_DFL);
            atomic_store(&stop, true);
            break;
        }
        if ((opt.ops == 0 && t - t0 >= opt.seconds) || atomic_load(&finished) == nbusy ||
            watch_progress(t - t0)) {
            atomic_store(&stop, true);
            break;
        }
        if (tty && t >= next) {
            uint64_t ops = 0;
            for (unsigned i = 0; i < nworkers; i++)
                ops += atomic_load_explicit(&workers[i].c.ops, memory_order_relaxed);
            fprintf(stderr, "\r[%5.1f/%.0f s] %8.2f M ops/s  free %zu (min %zu)   ", t - t0,
                    opt.ops ? 0.0 : opt.seconds, (double)(ops - last_ops) / 1e6, am_onesize_get_nfree(&pool),
                    am_onesize_get_nfree_min(&pool));
            last_ops = ops;
            next += 1;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    const double elapsed = now_s() - t0;
    if (tty)
        fputs("\r\033[K", stderr);

    struct worker main_w = {.id = 0, .role = ROLE_DIAG};
    size_t visited_end;
    struct am_onesize_stats st;
    final_checks(&main_w, &visited_end, &st);

    struct {
        uint64_t ops, failed, violations;
    } per[P_COUNT + 1] = {{0}};
    uint64_t reconciles = main_w.reconciles, violations = main_w.c.violations;
    for (unsigned i = 0; i < nworkers; i++) {
        const int k = workers[i].role == ROLE_DIAG ? P_COUNT : workers[i].role;
        per[k].ops += atomic_load(&workers[i].c.ops);
        per[k].failed += workers[i].c.failed;
        per[k].violations += workers[i].c.violations;
        reconciles += workers[i].reconciles;
        violations += workers[i].c.violations;
    }
    uint64_t ops = 0, failed = 0;
    for (int k = 0; k < P_COUNT; k++)
        ops += per[k].ops, failed += per[k].failed;
    const bool ok = violations == 0;
    const char *signame = interrupted == SIGINT ? "SIGINT" : "SIGTERM";

    if (opt.json) {
        printf("{\"version\": \"%s\", \"seed\": \"%" PRIu64 "\", \"threads\": %u, \"pattern\": \"%s\", "
               "\"lock\": \"%s\", \"cache\": %zu, \"blocks\": %zu, \"block_size\": %zu, \"alignment\": %zu, "
               "\"seconds\": %.3f, "
               "\"patterns\": {",
               AM_ONESIZE_VERSION, opt.seed, opt.threads, pattern_names[opt.pattern],
               opt.broken_lock ? "broken"
               : opt.spin      ? "spin"
                               : "mutex",
               opt.cache, nblocks, bsize, unit, elapsed);
        bool first = true;
        for (int k = 0; k < P_COUNT; k++) {
            if (per[k].ops == 0)
                continue;
            printf("%s\"%s\": {\"ops\": %" PRIu64 ", \"ops_per_s\": %.0f, \"failed_allocations\": %" PRIu64
                   ", \"violations\": %" PRIu64 "}",
                   first ? "" : ", ", pattern_names[k], per[k].ops, (double)per[k].ops / elapsed,
                   per[k].failed, per[k].violations);
            first = false;
        }
        printf("}, \"total\": {\"ops\": %" PRIu64 ", \"ops_per_s\": %.0f, \"failed_allocations\": %" PRIu64
               ", \"violations\": %" PRIu64 "}, \"reconciles\": %" PRIu64 ", \"nblocks\": %zu, "
               "\"nfree_end\": %zu, \"nfree_min\": %zu, \"allocations\": %" PRIu64 ", \"frees\": %" PRIu64
               ", \"iterated_at_end\": %zu, \"interrupted\": %s%s%s, \"ok\": %s}\n",
               ops, (double)ops / elapsed, failed, violations, reconciles, nblocks, st.nfree, st.nfree_min,
               st.allocations, st.frees, visited_end, interrupted ? "\"" : "", interrupted ? signame : "null",
               interrupted ? "\"" : "", ok ? "true" : "false");
    } else if (!opt.quiet) {
        if (interrupted)
            printf("\ninterrupted by %s after %.3f s: the threads stopped, what ran is verified below\n",
                   signame, elapsed);
        printf("\n%-10s %14s %12s %14s %11s\n", "pattern", "operations", "M ops/s", "failed allocs",
               "violations");
        for (int k = 0; k < P_COUNT; k++)
            if (per[k].ops != 0)
                printf("%-10s %14" PRIu64 " %12.2f %14" PRIu64 " %11" PRIu64 "\n", pattern_names[k],
                       per[k].ops, (double)per[k].ops / elapsed / 1e6, per[k].failed, per[k].violations);
        printf("%-10s %14" PRIu64 " %12.2f %14" PRIu64 " %11" PRIu64 "\n", "total", ops,
               (double)ops / elapsed / 1e6, failed, violations);
        printf("\nlow-water mark: %zu of %zu blocks free at the worst moment\n", st.nfree_min, nblocks);
        printf("%" PRIu64 " reconciliations of pool counts with the threads' model\n", reconciles);
        printf("end: %zu of %zu blocks free, %" PRIu64 " allocations = %" PRIu64
               " frees, iteration visits %zu\n",
               st.nfree, nblocks, st.allocations, st.frees, visited_end);
        printf("%s\n", ok ? "PASS: no violation" : "FAIL: violations seen (details above)");
    }
    am_onesize_dtor(&pool);
    munmap(map_mem, map_bytes);
    free(workers);
    return ok ? 0 : 1;
}
