/* amonesize-stress: hammer one pool from many threads and verify everything.
 *
 * One pool (mmap'ed, never malloc'ed) is shared by worker threads through the
 * pthread adapter or a spinlock given as critical-section callbacks. Every
 * block handed out is stamped (owner, sequence, checksum over the whole
 * block) and verified before it is freed; every pointer is checked to be a
 * block of the pool; the model (blocks each thread holds, kept in atomics)
 * is reconciled with the pool's counts inside the critical section; at the
 * end every block must be back. The wait pattern allocates with
 * am_onesize_allocate_wait() and a deadline, and every call must return
 * within a stated tolerance of its deadline, never time out before it, and
 * never sleep while the model says a block is free. Every thread must keep
 * completing allocate+free pairs (see watch_progress()). Any violation is
 * printed with what was seen and makes the exit status 1. SIGINT or SIGTERM
 * ends a run early, checked and summarised as at its normal end. Bad
 * options: a one-line error, usage, 2. */
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
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#define HAVE_FUTEX 1
#else
#define HAVE_FUTEX 0
#endif
#if defined(AM_STRESS_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

#include "amonesize.h"
#include "amonesize_cache.h"
#include "amonesize_pthread.h"

enum pattern { P_LIFO, P_BURST, P_RANDOM, P_HANDOFF, P_WAIT, P_MIXED, P_COUNT };
static const char *const pattern_names[] = {"lifo", "burst", "random", "handoff", "wait", "mixed"};
enum { ROLE_DIAG = P_COUNT }; /* the mixed pattern's diagnostics thread */

enum { MAX_THREADS = 256, BURST_MAX = 64, RING = 64 };

/* A worker that spends this much of its own CPU time without completing an
 * allocate+free pair made no progress (see watch_progress()). CPU time, not
 * wall time, so that a thread the scheduler (or Valgrind) leaves waiting is
 * not mistaken for a starving one. */
#define STALL_CPU_S 1.0
/* A run with wait threads in which no worker at all completes a pair for
 * this long, plus twice the deadline and the longest hold, of the main
 * thread's own running time made no progress (see watch_progress()). */
#define STALL_RUN_S 10.0
/* A wait still inside am_onesize_allocate_wait() this long past its deadline
 * plus the tolerance is stuck, and reported while it is. */
#define STUCK_S 1.0

/* The default tolerance on a deadline, in ms: how late past its deadline a
 * call of am_onesize_allocate_wait() may return. It covers waking up,
 * taking the lock and being scheduled on a busy machine, for up to
 * TOLERANCE_THREADS threads per CPU; beyond that it grows in proportion,
 * because a thread whose deadline passed waits its turn among the runnable
 * ones. Measured on 2 CPUs, worst lateness: 8 threads 7 ms idle, 40 to 60 ms
 * beside two CPU hogs, 112 ms beside the rest of the test suite; 128
 * threads 110 ms, 256 threads 180 ms. Taking the lock is part of it, and an
 * unfair mutex bounds that by nothing when threads call without pause
 * (--deadline-ms 0): 1.5 s was seen under ThreadSanitizer beside another
 * such run. The tolerance is there to catch the gross failures (a wrong
 * clock or unit, an ignored deadline, a lost wake-up with no deadline); a
 * timeout before the deadline is never tolerated. A sanitizer build, or
 * Valgrind (which runs one thread at a time: one CPU), needs more. */
#define TOLERANCE_THREADS     4
#define TOLERANCE_MS          250
#define TOLERANCE_MS_SANITIZE 1000
#define TOLERANCE_MS_VALGRIND 2000
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#if !defined(SANITIZED)
#define SANITIZED 0
#endif

/* Test only (--broken-wait): a crit_wait that breaks its promise, so that
 * the deadline checks must fail the run. */
enum broken_wait { BW_NONE, BW_EARLY, BW_LATE, BW_STUCK };
static const char *const broken_wait_names[] = {"none", "early", "late", "stuck"};

struct options {
    unsigned threads;
    double seconds;
    uint64_t ops; /* per worker; 0: run for `seconds` */
    size_t blocks, block_size, alignment;
    bool spin, json, quiet, broken_lock, hoard;
    size_t cache; /* per-thread cache capacity; 0: no caches */
    enum pattern pattern;
    uint64_t seed;
    uint64_t deadline_ms;  /* how long each am_onesize_allocate_wait() may wait */
    uint64_t hold_us;      /* the wait pattern holds a block up to this long */
    uint64_t tolerance_ms; /* how late past its deadline a wait may return */
    const char *tolerance_why;
    enum broken_wait broken_wait;
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

/* What one wait thread saw of its am_onesize_allocate_wait() calls; owner
 * only, read after join. Times in seconds. */
struct wait_counts {
    uint64_t calls, waited, timeouts, late_blocks;
    double longest;       /* the longest call that returned a block */
    double late_block;    /* the latest a block came past its deadline */
    double late_timeout;  /* the latest a timeout came past its deadline */
    double early_timeout; /* the earliest a timeout came before it (a violation) */
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
    bool stuck; /* a wait thread still inside a call long past its deadline */
    double stuck_for, stuck_at;
};

struct worker {
    pthread_t thread;
    unsigned id;     /* 1-based; the stamp's owner */
    int role;        /* a pattern, or ROLE_DIAG */
    bool uses_cache; /* allocates and frees through its cache */
    uint64_t rng;
    struct counts c;
    struct wait_counts wc;
    /* A wait thread's calls, for the progress watch: calls that timed out,
     * CPU time spent inside calls, and the deadline of the call in progress
     * (CLOCK_MONOTONIC ns; 0: none). */
    atomic_uint_fast64_t timeouts, wait_cpu_ns, in_wait_until;
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
/* The lock can wait (crit_wait/crit_notify are set): the wait pattern runs,
 * alone or in the mixed pattern. With --lock mutex that is the adapter's
 * struct am_onesize_pthread; with --lock spin a futex of the tool's own. */
static bool can_wait;
static struct am_onesize_pthread wait_sync;
static int (*inner_wait)(void *ctx, const struct timespec *deadline);
static _Atomic uint32_t wake_seq; /* --lock spin: the futex word */
static double tolerance_s;
static unsigned wait_threads; /* workers running the wait pattern */

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
    /* During am_onesize_allocate_wait(): crit_wait was called (the call
     * waited), and the model said a block was free when it was. */
    bool slept, slept_free;
    size_t slept_held, slept_busy;
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

static uint64_t ns_of(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

static struct timespec timespec_of(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ns_of(&ts);
}

#if HAVE_FUTEX
/* --lock spin: wait and notify on a futex word, a wake-up sequence. The
 * waiter reads the sequence inside the critical section and notify bumps it
 * inside the critical section, so a notify after the waiter left it changes
 * the word and FUTEX_WAIT returns at once: no wake-up is lost. The deadline
 * is absolute on CLOCK_MONOTONIC, which FUTEX_WAIT_BITSET takes as is. */
static int spin_wait(void *ctx, const struct timespec *deadline)
{
    const uint32_t seen = atomic_load(&wake_seq);
    atomic_flag_clear_explicit(&spin, memory_order_release); /* not spin_exit: no snapshot here */
    const long r = syscall(SYS_futex, &wake_seq, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, deadline, NULL,
                           FUTEX_BITSET_MATCH_ANY);
    const int err = r == 0 ? 0 : errno;
    spin_enter(ctx);
    return err == ETIMEDOUT ? ETIMEDOUT : 0; /* EAGAIN (woken before sleeping), EINTR: spurious */
}

static void spin_notify(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&wake_seq, 1);
    syscall(SYS_futex, &wake_seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
}
#endif

/* Sleep in inner_wait(), lock released, until until_ns whatever wakes it;
 * --broken-wait stuck: until the run stops. */
static void oversleep(void *ctx, uint64_t until_ns)
{
    for (;;) {
        const uint64_t now = mono_ns();
        if (opt.broken_wait == BW_STUCK ? atomic_load(&stop) : now >= until_ns)
            return;
        const struct timespec t = timespec_of(now + 50000000u < until_ns ? now + 50000000u : until_ns);
        inner_wait(ctx, &t);
    }
}

/* crit_wait as the pool sees it: the lock's own wait, after noting in the
 * thread's snapshot that the call waits and what the model says then. The
 * library calls it inside the critical section having found no block free,
 * so the threads must hold every block but those of calls in flight. */
static int tool_wait(void *ctx, const struct timespec *deadline)
{
    if (snap.wanted && !snap.slept_free) {
        const uint64_t m = atomic_load(&model);
        const size_t held = (size_t)(m / MODEL_HELD), busy = (size_t)(m % MODEL_HELD);
        if (held + busy * batch < nblocks) {
            snap.slept_free = true;
            snap.slept_held = held;
            snap.slept_busy = busy;
        }
    }
    snap.slept = true;
    /* Blocks kept in caches wake nobody: have the threads with caches give
     * theirs back, as an allocation that finds the pool empty does. */
    if (opt.cache && !opt.hoard)
        atomic_fetch_add_explicit(&flush_requests, 1, memory_order_relaxed);
    switch (opt.broken_wait) {
    case BW_NONE:
        break;
    case BW_EARLY: /* a timeout before the deadline, without sleeping */
        return ETIMEDOUT;
    case BW_LATE: /* sleep through the deadline and the tolerance */
    case BW_STUCK:
        oversleep(ctx, (deadline ? ns_of(deadline) : mono_ns()) + (uint64_t)(tolerance_s * 1e9) + 100000000u);
        return ETIMEDOUT;
    }
    return inner_wait(ctx, deadline);
}

/* After a call: account for the change in the thread's cache, and end the
 * call. held_change is what the call did to the thread's own hands. */
static void model_settle(struct worker *w, int held_change)
{
    const size_t cached = w->uses_cache ? am_onesize_cache_get_ncached(&w->cache) : 0;
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
    if (!w->uses_cache)
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
    void *p = margin          ? am_onesize_allocate_x(&pool, size, margin)
              : w->uses_cache ? am_onesize_cache_allocate(&w->cache, size)
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
        if (err == ENOMEM && w->uses_cache && margin == 0 && !opt.hoard)
            atomic_fetch_add_explicit(&flush_requests, 1, memory_order_relaxed);
        w->c.failed++;
        return NULL;
    }
    if (!in_pool(w, p))
        return NULL;
    return p;
}

static double ms_of(double s)
{
    return s * 1e3;
}

/* One am_onesize_allocate_wait() with a deadline opt.deadline_ms from now,
 * straight to the pool (a block kept in a cache would wake no waiter), with
 * the model kept and every promise about time checked: a block or a
 * timeout no later than the tolerance past the deadline, a timeout never
 * before it, and no sleep while the model says a block is free. */
static void *wait_block(struct worker *w)
{
    const size_t size = (size_t)(rnd(w) % (bsize + 1));
    struct timespec cpu0, cpu1, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    const uint64_t t0 = mono_ns(), dl = t0 + opt.deadline_ms * 1000000u;
    const struct timespec deadline = timespec_of(dl);
    atomic_store(&w->in_wait_until, dl);
    atomic_fetch_add(&model, MODEL_BUSY);
    snap = (struct snapshot){.wanted = true};
    errno = 0;
    void *p = am_onesize_allocate_wait(&pool, size, &deadline);
    const int err = errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    snap.wanted = false;
    model_settle(w, p != NULL);
    w->held += p != NULL;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    /* the CPU time first: the watch reads it once the call is over */
    atomic_fetch_add(&w->wait_cpu_ns, ns_of(&cpu1) - ns_of(&cpu0));
    atomic_store(&w->in_wait_until, 0);
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    w->wc.calls++;
    w->wc.waited += snap.slept;
    const double took = (double)(ns_of(&t1) - t0) / 1e9, late = ((double)ns_of(&t1) - (double)dl) / 1e9;
    if (snap.slept_free)
        violation(
            w, p,
            "am_onesize_allocate_wait slept while the model says %zu of %zu blocks are held (+%zu calls "
            "in flight): a block was free",
            snap.slept_held, nblocks, snap.slept_busy);
    if (p == NULL) {
        w->c.failed++;
        if (err != ETIMEDOUT) {
            violation(w, NULL, "allocate_wait(%zu) failed with %s", size, strerror(err));
            return NULL;
        }
        w->wc.timeouts++;
        atomic_fetch_add_explicit(&w->timeouts, 1, memory_order_relaxed);
        check_exhaustion(w, 0);
        if (late < 0) {
            if (-late > w->wc.early_timeout)
                w->wc.early_timeout = -late;
            violation(w, NULL, "timed out %.3f ms before its deadline (of %" PRIu64 " ms)", ms_of(-late),
                      opt.deadline_ms);
        } else {
            if (late > w->wc.late_timeout)
                w->wc.late_timeout = late;
            if (late > tolerance_s)
                violation(w, NULL,
                          "timed out %.3f ms past its deadline (of %" PRIu64 " ms): more than "
                          "the tolerance of %" PRIu64 " ms",
                          ms_of(late), opt.deadline_ms, opt.tolerance_ms);
        }
        return NULL;
    }
    if (took > w->wc.longest)
        w->wc.longest = took;
    if (late > 0) {
        w->wc.late_blocks++;
        if (late > w->wc.late_block)
            w->wc.late_block = late;
        if (late > tolerance_s)
            violation(w, p,
                      "returned a block %.3f ms past its deadline (of %" PRIu64 " ms): more "
                      "than the tolerance of %" PRIu64 " ms",
                      ms_of(late), opt.deadline_ms, opt.tolerance_ms);
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
    const int err = w->uses_cache ? am_onesize_cache_free(&w->cache, p) : am_onesize_free(&pool, p);
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

/* Hold a block a random time up to --hold-us: busy (the block re-verified
 * as the time passes) or asleep, at random. */
static void hold(struct worker *w, const void *p, uint64_t seq)
{
    const uint64_t us = opt.hold_us ? rnd(w) % (opt.hold_us + 1) : 0;
    if (us == 0)
        return;
    if (rnd(w) & 1) {
        const uint64_t end = mono_ns() + us * 1000u;
        while (mono_ns() < end && verify(w, p, w->id, seq))
            ;
    } else {
        const struct timespec ts = timespec_of(us * 1000u);
        nanosleep(&ts, NULL);
    }
}

static void run_wait(struct worker *w)
{
    uint64_t seq = 0;
    while (running(w)) {
        void *p = wait_block(w);
        if (p == NULL)
            continue;
        stamp(p, w->id, ++seq);
        hold(w, p, seq);
        verify(w, p, w->id, seq);
        put_block(w, p);
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
    if (w->uses_cache && am_onesize_cache_init(&w->cache, &pool, opt.cache) != 0)
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
    case P_WAIT:
        run_wait(w);
        break;
    case ROLE_DIAG:
        run_diagnostics(w);
        break;
    }
    if (w->uses_cache) { /* every cached block back to the pool */
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
    fprintf(f,
            "usage: amonesize-stress [options]\n"
            "  --threads N        worker threads (default: online CPUs, at least 2; for mixed at least 6;\n"
            "                     for wait 4 per online CPU, at least 8)\n"
            "  --seconds S        run for S seconds (default 5)\n"
            "  --ops N            or: N operations per worker (failed allocations do not count)\n"
            "  --blocks N         blocks in the pool (default 1024; for wait max(1, threads / 4))\n"
            "  --block-size B     block size in bytes (default 64)\n"
            "  --alignment A      block alignment, a power of two up to 4096, or 0 (the default):\n"
            "                     the library's default, alignof(max_align_t)\n"
            "  --lock mutex|spin  pthread adapter or a spinlock through the callbacks (default mutex);\n"
            "                     to wait, the adapter's mutex and condition variable, or for spin a futex\n"
            "  --pattern P        lifo|burst|random|handoff|wait|mixed (default mixed)\n"
            "                     lifo: allocate one, free it; burst: allocate up to 64, free all (LIFO or\n"
            "                     shuffled); random: a random working set; handoff: producers allocate,\n"
            "                     consumers in other threads free; wait: am_onesize_allocate_wait with a\n"
            "                     deadline, hold the block up to --hold-us, free it; mixed: lifo, burst,\n"
            "                     random and wait in turn and a handoff pair across the threads (with 6 or\n"
            "                     more), margin allocations, plus a thread that reconciles counts and\n"
            "                     iterates over allocated blocks meanwhile\n"
            "  --deadline-ms MS   wait: each allocation may wait MS ms (0..60000, default 200); timing out\n"
            "                     is legal, returning late or timing out early is a violation\n"
            "  --hold-us US       wait: hold each block a random 0..US us, busy or asleep (0..100000,\n"
            "                     default 200)\n"
            "  --wait-tolerance MS  wait: how late past its deadline a call may return (default 250 ms,\n"
            "                     1000 ms in a sanitizer build, 2000 ms under Valgrind; times threads /\n"
            "                     (4 x CPUs) rounded up, if above 1; under Valgrind CPUs counts as 1)\n"
            "  --seed N           random seed (default: from the clock; always printed)\n"
            "  --cache N          every thread allocates and frees through its own cache of N blocks\n"
            "                     (1..512; default 0: straight to the pool); a thread that finds the pool\n"
            "                     empty has the others flush theirs, so even a 1-block pool progresses;\n"
            "                     wait threads use none (blocks a cache keeps wake no waiter)\n"
            "  --json             print the summary as JSON on stdout\n"
            "  --quiet            no progress line, no table (violations are still printed)\n"
            "  --broken-lock      TEST ONLY: callbacks that lock nothing; the run must fail\n"
            "  --hoard            TEST ONLY: a thread that finds the pool empty does not ask the others to\n"
            "                     flush their caches; with a pool the caches can hold, the run must fail\n"
            "  --broken-wait early|late|stuck  TEST ONLY: a crit_wait that times out at once, or sleeps\n"
            "                     past the deadline and the tolerance, or until the run stops; must fail\n"
            "  --help, --version\n"
            "a thread that spends 1 s of CPU time without completing an allocate+free pair made no\n"
            "progress: a violation, and the run stops. A wait thread's CPU time inside\n"
            "am_onesize_allocate_wait is not counted, and a timeout counts as progress; instead, a call\n"
            "still waiting 1 s past its deadline and the tolerance is stuck, and a run with wait threads in\n"
            "which no thread completes a pair for 10 s plus twice the deadline and --hold-us made no\n"
            "progress. SIGINT or SIGTERM stops the run early, verified and summarised as usual; a second\n"
            "one kills.\n"
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

/* The CPUs this process may run on. */
static unsigned usable_cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
#endif
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (unsigned)n;
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
        O_HOARD,
        O_DEADLINE,
        O_HOLD,
        O_TOLERANCE,
        O_BROKEN_WAIT
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
        {"deadline-ms", required_argument, NULL, O_DEADLINE},
        {"hold-us", required_argument, NULL, O_HOLD},
        {"wait-tolerance", required_argument, NULL, O_TOLERANCE},
        {"broken-wait", required_argument, NULL, O_BROKEN_WAIT},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = ncpu < 2 ? 2 : ncpu > MAX_THREADS ? MAX_THREADS : (unsigned)ncpu;
    opt.seconds = 5;
    opt.blocks = 1024;
    opt.block_size = 64;
    opt.pattern = P_MIXED;
    opt.deadline_ms = 200;
    opt.hold_us = 200;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    opt.seed = mix(((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) ^ (uint64_t)getpid());
    bool have_seconds = false, have_threads = false, have_blocks = false, have_tolerance = false;
    bool have_wait_option = false;
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
            have_blocks = true;
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
                bad_option("--pattern: '%s' is not one of lifo, burst, random, handoff, wait, mixed", optarg);
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
        case O_DEADLINE:
            opt.deadline_ms = parse_u64("--deadline-ms", optarg, 0, 60000);
            have_wait_option = true;
            break;
        case O_HOLD:
            opt.hold_us = parse_u64("--hold-us", optarg, 0, 100000);
            have_wait_option = true;
            break;
        case O_TOLERANCE:
            opt.tolerance_ms = parse_u64("--wait-tolerance", optarg, 0, 60000);
            have_tolerance = have_wait_option = true;
            break;
        case O_BROKEN_WAIT: {
            int found = -1;
            for (int i = BW_EARLY; i <= BW_STUCK; i++)
                if (strcmp(optarg, broken_wait_names[i]) == 0)
                    found = i;
            if (found < 0)
                bad_option("--broken-wait: '%s' is not one of early, late, stuck", optarg);
            opt.broken_wait = (enum broken_wait)found;
            have_wait_option = true;
            break;
        }
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
    if (opt.pattern == P_MIXED && !have_threads && opt.threads < 6)
        opt.threads = 6; /* lifo, burst, random, wait and a handoff pair */
    if (opt.pattern == P_HANDOFF && opt.threads < 2)
        bad_option("--pattern handoff needs at least 2 threads");
    /* Both locks can wait where the tool has a futex for the spinlock; the
     * broken lock never does (it is for the other checks). */
    can_wait = !opt.broken_lock && (!opt.spin || HAVE_FUTEX);
    if (opt.pattern == P_WAIT && opt.broken_lock)
        bad_option("--pattern wait needs a lock that can wait; --broken-lock cannot");
    if (opt.pattern == P_WAIT && !can_wait)
        bad_option("--pattern wait --lock spin needs a futex, which this system lacks: use --lock mutex");
    if (have_wait_option && opt.pattern != P_WAIT && !(opt.pattern == P_MIXED && can_wait))
        bad_option("--deadline-ms, --hold-us, --wait-tolerance and --broken-wait are for --pattern wait "
                   "or mixed with a lock that can wait");
    if (opt.pattern == P_WAIT && !have_threads) {
        const long four = 4 * (ncpu < 1 ? 1 : ncpu);
        opt.threads = four < 8 ? 8 : four > MAX_THREADS ? MAX_THREADS : (unsigned)four;
    }
    if (opt.pattern == P_WAIT && !have_blocks)
        opt.blocks = opt.threads / 4 ? opt.threads / 4 : 1; /* far fewer blocks than threads */
    if (!have_tolerance) {
        static char why[96];
        unsigned cpus = usable_cpus();
        opt.tolerance_ms = SANITIZED ? TOLERANCE_MS_SANITIZE : TOLERANCE_MS;
        const char *where = SANITIZED ? " in a sanitizer build" : "";
#if defined(AM_STRESS_HAVE_VALGRIND)
        if (RUNNING_ON_VALGRIND) {
            opt.tolerance_ms = TOLERANCE_MS_VALGRIND;
            where = " under Valgrind";
            cpus = 1;
        }
#endif
        const unsigned per = TOLERANCE_THREADS * cpus, scale = (opt.threads + per - 1) / per;
        if (scale > 1) {
            opt.tolerance_ms *= scale;
            snprintf(why, sizeof why, "the default%s for %u threads on %u CPU%s", where, opt.threads, cpus,
                     cpus == 1 ? "" : "s");
        } else {
            snprintf(why, sizeof why, "the default%s", where);
        }
        opt.tolerance_why = why;
    } else {
        opt.tolerance_why = "--wait-tolerance";
    }
    tolerance_s = (double)opt.tolerance_ms / 1e3;
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
#if HAVE_FUTEX
        if (can_wait) {
            inner_wait = spin_wait;
            cfg.crit_wait = tool_wait;
            cfg.crit_notify = spin_notify;
        }
#endif
    } else if (can_wait) {
        /* The adapter's mutex and condition variable: its wait and notify
         * as they are, its lock wrapped to snapshot the model, its wait
         * wrapped to note each wait. */
        const int e = am_onesize_pthread_init(&wait_sync);
        if (e != 0) {
            fprintf(stderr, "VIOLATION: am_onesize_pthread_init: %s\n", strerror(-e));
            exit(1);
        }
        am_onesize_pthread_set_sync(&cfg, &wait_sync);
        inner_wait = cfg.crit_wait;
        cfg.crit_wait = tool_wait;
        cfg.crit_enter = mutex_enter;
        cfg.crit_exit = mutex_exit;
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
        atomic_init(&w->timeouts, 0);
        atomic_init(&w->wait_cpu_ns, 0);
        atomic_init(&w->in_wait_until, 0);
        if (!mixed)
            w->role = opt.pattern;
        else if (i == opt.threads)
            w->role = ROLE_DIAG;
        else if (opt.threads >= 4 && i >= opt.threads - 2)
            w->role = P_HANDOFF;
        else if (can_wait)
            w->role = (int[]){P_LIFO, P_BURST, P_RANDOM, P_WAIT}[i % 4];
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
    for (unsigned i = 0; i < nworkers; i++) {
        workers[i].uses_cache = opt.cache != 0 && workers[i].role != ROLE_DIAG && workers[i].role != P_WAIT;
        wait_threads += workers[i].role == P_WAIT;
    }
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

/* STALL_RUN_S plus twice the longest a pair of the wait pattern may
 * rightly take: a full wait and a full hold. */
static double run_stall_limit(void)
{
    return STALL_RUN_S + 2 * ((double)opt.deadline_ms / 1e3 + (double)opt.hold_us / 1e6);
}

static double cpu_s(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* The whole run's progress, for runs with wait threads; main thread only. */
static struct {
    uint64_t pairs;     /* every worker's, as last seen */
    double quiet, last; /* running time without a pair since; the time of the last look */
    bool stalled;       /* then, what was seen: */
    double stall_at;
    size_t stall_nfree, stall_held;
} run_watch;

/* Called by the main thread about every 10 ms while the run goes on.
 *
 * Per worker, on its CPU-time clock: a worker made no progress if it spent
 * STALL_CPU_S of its own CPU time since it last completed an allocate+free
 * pair (or since it started). CPU time, so that a thread the scheduler
 * leaves waiting is not taken for a starving one. For a wait thread two
 * things change, because waiting is not spinning: a call that ended by its
 * deadline (ETIMEDOUT) counts as progress, since under pressure a waiter may
 * rightly time out again and again while others hold the blocks; and the CPU
 * time spent inside am_onesize_allocate_wait() is not counted (being woken
 * over and over by frees that other waiters win is part of waiting, and each
 * call is bounded by its deadline, which is checked). What that leaves
 * unwatched is watched otherwise:
 *  - a call still inside am_onesize_allocate_wait() STUCK_S past its
 *    deadline plus the tolerance is stuck (on CLOCK_MONOTONIC, the clock of
 *    the deadline), reported while it is;
 *  - in a run with wait threads, if no worker at all completes a pair for
 *    STALL_RUN_S plus twice the deadline and the longest hold, the run made
 *    no progress, however legitimate each timeout looked. That is measured
 *    in the main thread's own running time: a gap of more than 0.5 s
 *    between two looks (the process stopped with Ctrl-Z, or starved) counts
 *    as 0.5 s.
 * Returns true when one of these is seen: the run is then stopped, its
 * verdict already known. */
static bool watch_progress(double run_time)
{
    bool stalled = false;
    const uint64_t now = mono_ns(), stuck_ns = (uint64_t)((tolerance_s + STUCK_S) * 1e9);
    uint64_t all_pairs = 0;
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        struct timespec ts;
        all_pairs += atomic_load_explicit(&w->c.pairs, memory_order_relaxed);
        if (w->role == ROLE_DIAG || !w->watch.have_clock || w->watch.stalled || atomic_load(&w->ended))
            continue;
        const uint64_t until = atomic_load(&w->in_wait_until);
        if (until != 0 && now > until + stuck_ns && !w->watch.stuck) {
            w->watch.stuck = stalled = true;
            w->watch.stuck_for = (double)(now - until) / 1e9;
            w->watch.stuck_at = run_time;
        }
        /* pairs, and for a wait thread its timeouts too */
        const uint64_t pairs = atomic_load_explicit(&w->c.pairs, memory_order_relaxed) +
                               atomic_load_explicit(&w->timeouts, memory_order_relaxed);
        if (clock_gettime(w->watch.clock, &ts) != 0)
            continue; /* it has just ended */
        const double cpu = cpu_s(&ts) - (double)atomic_load(&w->wait_cpu_ns) / 1e9;
        if (pairs != w->watch.pairs) {
            w->watch.pairs = pairs;
            w->watch.cpu = cpu;
            w->watch.time = run_time;
        } else if (until == 0 && cpu - w->watch.cpu >= STALL_CPU_S) {
            /* inside a call the CPU time of the call is not known yet */
            w->watch.stalled = stalled = true;
            w->watch.stall_cpu = cpu - w->watch.cpu;
            w->watch.stall_at = run_time;
            w->watch.stall_pairs = atomic_load_explicit(&w->c.pairs, memory_order_relaxed);
            w->watch.stall_nfree = am_onesize_get_nfree(&pool);
            w->watch.stall_held = (size_t)(atomic_load(&model) / MODEL_HELD);
        }
    }
    if (wait_threads != 0) {
        const double gap = run_time - run_watch.last;
        run_watch.last = run_time;
        if (all_pairs != run_watch.pairs) {
            run_watch.pairs = all_pairs;
            run_watch.quiet = 0;
        } else if ((run_watch.quiet += gap < 0.5 ? gap : 0.5) >= run_stall_limit() && !run_watch.stalled) {
            run_watch.stalled = stalled = true;
            run_watch.stall_at = run_time;
            run_watch.stall_nfree = am_onesize_get_nfree(&pool);
            run_watch.stall_held = (size_t)(atomic_load(&model) / MODEL_HELD);
        }
    }
    return stalled;
}

/* The wait threads' counts together. */
static struct wait_counts wait_totals(void)
{
    struct wait_counts t = {0};
    for (unsigned i = 0; i < nworkers; i++) {
        const struct wait_counts *c = &workers[i].wc;
        t.calls += c->calls;
        t.waited += c->waited;
        t.timeouts += c->timeouts;
        t.late_blocks += c->late_blocks;
        t.longest = c->longest > t.longest ? c->longest : t.longest;
        t.late_block = c->late_block > t.late_block ? c->late_block : t.late_block;
        t.late_timeout = c->late_timeout > t.late_timeout ? c->late_timeout : t.late_timeout;
        t.early_timeout = c->early_timeout > t.early_timeout ? c->early_timeout : t.early_timeout;
    }
    return t;
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
            "no progress: %scompleted no allocate+free pair%s in %.2f s of its CPU time%s (run time %.2f "
            "to %.2f s), after %" PRIu64 " completed; %" PRIu64 " failed allocations in all; then %zu of "
            "%zu blocks were free and the threads held %zu (in hand, in rings or cached)%s",
            w->role != P_HANDOFF ? ""
            : w->give != NULL    ? "as a producer, "
                                 : "as a consumer, ",
            w->role == P_WAIT ? " and had no timeout" : "", w->watch.stall_cpu,
            w->role == P_WAIT ? " outside am_onesize_allocate_wait" : "", w->watch.time, w->watch.stall_at,
            w->watch.stall_pairs, w->c.failed, w->watch.stall_nfree, nblocks, w->watch.stall_held,
            opt.hoard ? "; --hoard: no thread was asked to flush its cache" : "");
    }
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (w->watch.stuck)
            violation(w, NULL,
                      "stuck: at run time %.2f s still inside am_onesize_allocate_wait %.3f s past its "
                      "deadline (tolerance %" PRIu64 " ms)",
                      w->watch.stuck_at, w->watch.stuck_for, opt.tolerance_ms);
    }
    if (run_watch.stalled)
        violation(main_w, NULL,
                  "no progress: no thread completed an allocate+free pair for %.2f s of running time (to run "
                  "time %.2f s); then %zu of %zu blocks were free and the threads held %zu",
                  run_stall_limit(), run_watch.stall_at, run_watch.stall_nfree, nblocks,
                  run_watch.stall_held);
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
    /* Only the wait threads call am_onesize_allocate_wait(), and each of
     * their calls that called crit_wait waited. */
    const struct wait_counts wt = wait_totals();
    if (st->waits != wt.waited || st->timeouts != wt.timeouts)
        violation(main_w, NULL,
                  "the pool counts %" PRIu64 " waits and %" PRIu64 " timeouts, the threads saw %" PRIu64
                  " and %" PRIu64,
                  st->waits, st->timeouts, wt.waited, wt.timeouts);
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
        printf("  through per-thread caches of %zu blocks%s\n", opt.cache,
               wait_threads ? " (not the wait threads)" : "");
    if (!opt.quiet && !opt.json && wait_threads)
        printf("  %u wait threads: deadline %" PRIu64 " ms, holding blocks up to %" PRIu64
               " us, tolerance %" PRIu64 " ms (%s)%s%s\n",
               wait_threads, opt.deadline_ms, opt.hold_us, opt.tolerance_ms, opt.tolerance_why,
               opt.broken_wait ? ", BROKEN wait: " : "",
               opt.broken_wait ? broken_wait_names[opt.broken_wait] : "");
    fflush(stdout);

    signal(SIGALRM, on_alarm);
    /* with wait threads, late enough for the run-wide progress watch to speak first */
    alarm((unsigned)(opt.ops ? 600 : opt.seconds * 3 + 60) +
          (wait_threads ? (unsigned)(2 * run_stall_limit()) : 0));
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
    const struct wait_counts wt = wait_totals();
    const double worst_late = wt.late_block > wt.late_timeout ? wt.late_block : wt.late_timeout;

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
        printf("}, ");
        if (wait_threads == 0)
            printf("\"wait\": null, ");
        else
            printf("\"wait\": {\"threads\": %u, \"deadline_ms\": %" PRIu64 ", \"hold_us\": %" PRIu64
                   ", \"tolerance_ms\": %" PRIu64 ", \"calls\": %" PRIu64 ", \"waits\": %" PRIu64
                   ", \"timeouts\": %" PRIu64 ", \"longest_wait_ms\": %.3f, \"late_blocks\": %" PRIu64
                   ", \"worst_lateness_ms\": %.3f, \"worst_timeout_lateness_ms\": %.3f, "
                   "\"earliest_timeout_ms\": %.3f}, ",
                   wait_threads, opt.deadline_ms, opt.hold_us, opt.tolerance_ms, wt.calls, wt.waited,
                   wt.timeouts, ms_of(wt.longest), wt.late_blocks, ms_of(worst_late), ms_of(wt.late_timeout),
                   ms_of(wt.early_timeout));
        printf("\"total\": {\"ops\": %" PRIu64 ", \"ops_per_s\": %.0f, \"failed_allocations\": %" PRIu64
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
        if (wait_threads != 0) {
            printf("\nwait: %" PRIu64 " calls of am_onesize_allocate_wait, %" PRIu64 " waited, %" PRIu64
                   " timed out (deadline %" PRIu64 " ms)\n",
                   wt.calls, wt.waited, wt.timeouts, opt.deadline_ms);
            printf("      longest wait for a block %.3f ms; %" PRIu64 " blocks came past their deadline, "
                   "at worst %.3f ms\n",
                   ms_of(wt.longest), wt.late_blocks, ms_of(wt.late_block));
            printf("      timeouts came at worst %.3f ms past their deadline%s; tolerance %" PRIu64
                   " ms (%s)\n",
                   ms_of(wt.late_timeout), wt.early_timeout > 0 ? ", some BEFORE it" : "", opt.tolerance_ms,
                   opt.tolerance_why);
        }
        printf("\nlow-water mark: %zu of %zu blocks free at the worst moment\n", st.nfree_min, nblocks);
        printf("%" PRIu64 " reconciliations of pool counts with the threads' model\n", reconciles);
        printf("end: %zu of %zu blocks free, %" PRIu64 " allocations = %" PRIu64
               " frees, iteration visits %zu\n",
               st.nfree, nblocks, st.allocations, st.frees, visited_end);
        printf("%s\n", ok ? "PASS: no violation" : "FAIL: violations seen (details above)");
    }
    am_onesize_dtor(&pool);
    if (can_wait && !opt.spin)
        am_onesize_pthread_destroy(&wait_sync);
    munmap(map_mem, map_bytes);
    free(workers);
    return ok ? 0 : 1;
}
