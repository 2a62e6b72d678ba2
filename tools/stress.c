/* SPDX-License-Identifier: MIT */
/* amonesize-stress: hammer one pool from many threads, or many processes,
 * and verify everything.
 *
 * Threads (the default): one pool (mmap'ed, never malloc'ed) is shared by
 * worker threads through the pthread adapter or a spinlock given as
 * critical-section callbacks. Every block handed out is stamped (owner,
 * sequence, checksum over the whole block) and verified before it is freed;
 * every pointer is checked to be a block of the pool; the model (blocks each
 * thread holds, kept in atomics) is reconciled with the pool's counts inside
 * the critical section; at the end every block must be back. The wait
 * pattern allocates with am_onesize_allocate_wait() and a deadline, and
 * every call must return within a stated tolerance of its deadline, never
 * time out before it, and never sleep while the model says a block is free.
 * Every thread must keep completing allocate+free pairs (see
 * watch_progress()). --hardened gives the pool a state bitmap and
 * AM_ONESIZE_CHECK_FREED.
 *
 * Processes (--processes N): worker processes made with fork() share a pool
 * laid out by am_onesize_shared_create() in a memfd that each maps itself;
 * the parent supervises, kills and replaces them (--kill-every), reaps, and
 * proves that every block comes back and none ever has two owners (see
 * "processes" below).
 *
 * Any violation is printed with what was seen and makes the exit status 1.
 * SIGINT or SIGTERM ends a run early, checked and summarised as at its
 * normal end. Bad options: a one-line error, usage, 2. */
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
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
/* The futex operations --lock spin waits with. musl's compiler wrapper has
 * no kernel headers, so the values (the kernel's ABI) are spelled here when
 * <linux/futex.h> is missing. */
#if defined(__linux__) && defined(SYS_futex)
#define HAVE_FUTEX 1
#if defined(__has_include)
#if __has_include(<linux/futex.h>)
#include <linux/futex.h>
#endif
#endif
#if !defined(FUTEX_WAIT_BITSET)
#define FUTEX_WAKE             1
#define FUTEX_WAIT_BITSET      9
#define FUTEX_PRIVATE_FLAG     128
#define FUTEX_BITSET_MATCH_ANY 0xffffffffu
#endif
#else
#define HAVE_FUTEX 0
#endif
#if defined(AM_STRESS_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

#include "amonesize.h"
#include "amonesize_cache.h"
#include "amonesize_pthread.h"
#include "amonesize_shared.h"

enum pattern { P_LIFO, P_BURST, P_RANDOM, P_HANDOFF, P_WAIT, P_MIXED, P_COUNT };
static const char *const pattern_names[] = {"lifo", "burst", "random", "handoff", "wait", "mixed"};
/* The mixed pattern's diagnostics thread; with --processes, the supervisor. */
enum { ROLE_DIAG = P_COUNT, ROLE_SUPER };

enum { MAX_THREADS = 256, BURST_MAX = 64, RING = 64 };
/* With --processes: workers at once (the library attaches up to
 * AM_ONESIZE_SHARED_MAX_OWNERS handles, the supervisor's and dead ones not
 * yet reaped included), and processes started in a run (an incarnation
 * number is a stamp's owner: 15 bits, so that the ledger has a bit left). */
enum { MAX_PROCESSES = 64, MAX_INCARNATIONS = 32767 };
_Static_assert(MAX_PROCESSES * 2 < AM_ONESIZE_SHARED_MAX_OWNERS, "workers, their dead and the supervisor "
                                                                 "fit the shared pool's owner slots");

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
    bool hardened;          /* a state bitmap and AM_ONESIZE_CHECK_FREED */
    bool broken_free_write; /* test only: write into a freed block once */
    unsigned processes;     /* 0: threads; else worker processes */
    double kill_every;      /* with processes: seconds between kills; 0: none */
    bool broken_reap;       /* test only: the supervisor never reaps */
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
    /* --processes: the record lives in the control area, shared; the
     * fields above are the incarnation's, reset when a replacement starts. */
    unsigned slot;        /* 1-based position, kept by replacements */
    unsigned generation;  /* replacements started in this slot so far */
    int pring, cring;     /* handoff ring given to / taken from; -1: none */
    pid_t pid;            /* written by the supervisor; 0: none running */
    atomic_uint attached; /* the process has a handle on the pool */
    /* The process's model, one word: blocks it holds << 1 | 1 while it is
     * inside a pool call (see op_begin()). */
    atomic_uint_fast64_t pmodel;
    uintptr_t map_addr;  /* where the process mapped the pool */
    uint64_t ops_before; /* --ops: done in this slot by its earlier incarnations */
    uint64_t gives, takes, taken_after_giver_died, reused_after_reap;
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
/* The run is over: set by the main thread (or the supervisor, in the control
 * area, for worker processes). */
static atomic_uint stop_local;
static atomic_uint *stop = &stop_local;
/* The first SIGINT or SIGTERM, written only by on_stop_signal(). Worker
 * threads block both signals, so the handler runs on the main thread, which
 * polls this flag and ends the run as if its time were up. */
static volatile sig_atomic_t stop_signal;
static atomic_uint finished;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag spin = ATOMIC_FLAG_INIT;
/* Violations printed so far, by every thread (or process: in the control
 * area), to print no more than 20. */
static atomic_uint_fast64_t violations_local;
static atomic_uint_fast64_t *violations_seen = &violations_local;
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
#if HAVE_FUTEX
static _Atomic uint32_t wake_seq; /* --lock spin: the futex word */
#endif
static double tolerance_s;
static unsigned wait_threads; /* workers running the wait pattern */

/* ---- reporting ---------------------------------------------------------- */

static void violation(struct worker *w, const void *blk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The checks at the end print their verdicts whatever the run printed:
 * say how many were not printed, and start counting again. */
static void end_of_run_violations(void)
{
    const uint64_t seen = atomic_exchange(violations_seen, 0);
    if (seen > 20)
        fprintf(stderr, "(%" PRIu64 " more violations during the run were counted, not printed)\n",
                seen - 20);
}
static void violation(struct worker *w, const void *blk, const char *fmt, ...)
{
    va_list ap;
    w->c.violations++;
    if (atomic_fetch_add(violations_seen, 1) >= 20)
        return; /* enough to diagnose; the count goes on */
    /* One write per line, so that lines from threads and processes do not
     * interleave. */
    char line[1024];
    int n;
    if (w->role == ROLE_SUPER)
        n = snprintf(line, sizeof line, "VIOLATION: supervisor, block %p: ", blk);
    else if (opt.processes)
        n = snprintf(line, sizeof line,
                     "VIOLATION: process %u (incarnation %u, pid %ld, %s), block %p: ", w->slot, w->id,
                     (long)getpid(), pattern_names[w->role], blk);
    else
        n = snprintf(line, sizeof line, "VIOLATION: thread %u (%s), block %p: ", w->id,
                     w->role == ROLE_DIAG ? "diagnostics" : pattern_names[w->role], blk);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    len = n < 0 ? len : len + (size_t)n < sizeof line - 1 ? len + (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0)
        return; /* nowhere to say it; the count stands */
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
        if (opt.broken_wait == BW_STUCK ? atomic_load(stop) : now >= until_ns)
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
    if (bsize >= 16) /* 8-byte blocks (two 32-bit words) hold the tag alone */
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
    uint64_t tag, sum = 0, expect_sum;
    memcpy(&tag, b, 8);
    if (bsize >= 16)
        memcpy(&sum, b + 8, 8);
    const uint64_t want = tag_of(owner, seq);
    if (tag != want) {
        violation(w, blk, "stamp: expected owner %u seq %" PRIu64 ", found owner %u seq %" PRIu64, owner,
                  seq & 0xffffffffffffu, (unsigned)(tag >> 48), tag & 0xffffffffffffu);
        return false;
    }
    if (bsize < 16)
        return true; /* the tag alone */
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

/* With --processes, the same operations on the shared pool (see
 * "processes" below). */
static void *p_get_block(struct worker *w);
static void p_put_block(struct worker *w, void *p);
static void *p_wait_block(struct worker *w);
static void *judge_wait(struct worker *w, void *p, int err, size_t size, uint64_t t0, uint64_t dl,
                        uint64_t t1);

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
    if (opt.processes)
        return p_get_block(w);
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
    if (opt.processes)
        return p_wait_block(w);
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
    w->wc.waited += snap.slept;
    if (snap.slept_free)
        violation(
            w, p,
            "am_onesize_allocate_wait slept while the model says %zu of %zu blocks are held (+%zu calls "
            "in flight): a block was free",
            snap.slept_held, nblocks, snap.slept_busy);
    if (judge_wait(w, p, err, size, t0, dl, ns_of(&t1)) == NULL || !in_pool(w, p))
        return NULL;
    return p;
}

/* The promises about time of one call of am_onesize_allocate_wait() or
 * am_onesize_shared_allocate_wait() made at t0 (ns) with the deadline dl,
 * which returned p, or NULL with err, at t1: p, or NULL if it failed. */
static void *judge_wait(struct worker *w, void *p, int err, size_t size, uint64_t t0, uint64_t dl,
                        uint64_t t1)
{
    w->wc.calls++;
    const double took = (double)(t1 - t0) / 1e9, late = ((double)t1 - (double)dl) / 1e9;
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
    return p;
}

static void put_block(struct worker *w, void *p)
{
    if (opt.processes) {
        p_put_block(w, p);
        return;
    }
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
    if (atomic_load_explicit(stop, memory_order_relaxed))
        return false; /* time is up, a signal came, or a thread made no progress */
    /* --ops counts what succeeded: a starving thread cannot finish its
     * share by failing, and the progress watch catches it instead. */
    if (opt.ops != 0 && w->role != ROLE_DIAG)
        return atomic_load_explicit(&w->c.ops, memory_order_relaxed) - w->c.failed + w->ops_before < opt.ops;
    return true;
}

/* ---- patterns ----------------------------------------------------------- */

static void run_lifo(struct worker *w)
{
    uint64_t seq = 0;
    bool wrote_freed = false;
    while (running(w)) {
        void *p = get_block(w, 0);
        if (p == NULL)
            continue;
        stamp(p, w->id, ++seq);
        verify(w, p, w->id, seq);
        put_block(w, p);
        if (opt.broken_free_write && !wrote_freed && seq >= 100) {
            /* --broken-free-write: a use after free, once, into the last
             * byte (beyond the free block's two words); the pool's check of
             * the fill must catch it when it hands the block out again. */
            ((volatile unsigned char *)p)[bsize - 1] ^= 0x5a;
            wrote_freed = true;
        }
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
        while (n < k && !atomic_load_explicit(stop, memory_order_relaxed)) {
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
        st.rejected_outside || st.rejected_never_allocated || st.corruptions || st.freed_writes || st.retired)
        violation(w, NULL,
                  "stats: nfree_min %zu nfree %zu; rejected frees %" PRIu64 " double, %" PRIu64
                  " other; corruptions %" PRIu64 "; writes into freed blocks %" PRIu64 ", retired blocks %zu",
                  st.nfree_min, st.nfree, st.rejected_double,
                  st.rejected_interior + st.rejected_outside + st.rejected_never_allocated, st.corruptions,
                  st.freed_writes, st.retired);
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
            "  --ops N            or: N operations per worker (failed allocations do not count; a\n"
            "                     replaced worker process's replacement goes on with its count)\n"
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
            "                     wait threads use none (blocks a cache keeps wake no waiter)\n");
    fprintf(
        f, "  --hardened         give the pool a state bitmap (cfg.state) and AM_ONESIZE_CHECK_FREED; the\n"
           "                     pool's freed_writes and retired must stay 0 (threads only)\n"
           "  --processes N      N worker processes (1..64) instead of threads: they share a pool laid out\n"
           "                     by am_onesize_shared_create in a memfd, each mapping it itself; the parent\n"
           "                     supervises (reaps, reconciles, checks); handoff passes blocks by offset\n"
           "                     through rings with am_onesize_shared_give/take; wait uses\n"
           "                     am_onesize_shared_allocate_wait; mixed gives each replacement the next\n"
           "                     of lifo, burst, random, wait. Excludes --threads, --lock, --cache\n"
           "  --kill-every S     with --processes: every S seconds (fractions allowed) SIGKILL a random\n"
           "                     worker and start a replacement; its blocks must come back by reaping,\n"
           "                     none may get two owners, its gifts in transit must still be taken\n"
           "  --json             print the summary as JSON on stdout\n"
           "  --quiet            no progress line, no table (violations are still printed)\n"
           "  --broken-lock      TEST ONLY: callbacks that lock nothing; the run must fail\n"
           "  --hoard            TEST ONLY: a thread that finds the pool empty does not ask the others to\n"
           "                     flush their caches; with a pool the caches can hold, the run must fail\n"
           "  --broken-wait early|late|stuck  TEST ONLY: a crit_wait that times out at once, or sleeps\n"
           "                     past the deadline and the tolerance, or until the run stops; must fail\n"
           "  --broken-free-write  TEST ONLY, with --hardened --pattern lifo: each thread writes into a\n"
           "                     block once after freeing it; the pool's fill check must catch it\n"
           "  --broken-reap      TEST ONLY, with --processes: the supervisor never reaps; the blocks of\n"
           "                     killed workers are lost and the run must fail\n"
           "  --help, --version\n"
           "a thread that spends 1 s of CPU time without completing an allocate+free pair made no\n"
           "progress: a violation, and the run stops. A wait thread's CPU time inside\n"
           "am_onesize_allocate_wait is not counted, and a timeout counts as progress; instead, a call\n"
           "still waiting 1 s past its deadline and the tolerance is stuck, and a run with wait threads in\n"
           "which no thread completes a pair for 10 s plus twice the deadline and --hold-us made no\n"
           "progress. A worker process made no progress if it completes no pair (and has no timeout) for\n"
           "that long of the supervisor's running time. SIGINT or SIGTERM stops the run early, verified\n"
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
        O_BROKEN_WAIT,
        O_HARDENED,
        O_BROKEN_FREE_WRITE,
        O_PROCESSES,
        O_KILL_EVERY,
        O_BROKEN_REAP
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
        {"hardened", no_argument, NULL, O_HARDENED},
        {"broken-free-write", no_argument, NULL, O_BROKEN_FREE_WRITE},
        {"processes", required_argument, NULL, O_PROCESSES},
        {"kill-every", required_argument, NULL, O_KILL_EVERY},
        {"broken-reap", no_argument, NULL, O_BROKEN_REAP},
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
    bool have_wait_option = false, have_lock = false;
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
            have_lock = true;
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
        case O_HARDENED:
            opt.hardened = true;
            break;
        case O_BROKEN_FREE_WRITE:
            opt.broken_free_write = true;
            break;
        case O_PROCESSES:
            opt.processes = (unsigned)parse_u64("--processes", optarg, 1, MAX_PROCESSES);
            break;
        case O_KILL_EVERY: {
            char *end;
            errno = 0;
            opt.kill_every = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || end == optarg || !(opt.kill_every >= 0.001) ||
                opt.kill_every > 86400)
                bad_option("--kill-every: '%s' is not a number of seconds in [0.001, 86400]", optarg);
            break;
        }
        case O_BROKEN_REAP:
            opt.broken_reap = true;
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
    if (opt.processes) {
        if (have_threads)
            bad_option("--processes and --threads exclude each other");
        if (have_lock)
            bad_option("--lock is for threads: a shared pool locks with its own robust process-shared mutex");
        if (opt.cache)
            bad_option("--cache is for threads: a shared pool has no per-thread caches");
        if (opt.broken_lock || opt.hoard || opt.broken_wait)
            bad_option("--broken-lock, --hoard and --broken-wait are for threads");
        if (opt.hardened)
            bad_option("--hardened is for threads: a shared pool has no state bitmap or fill check");
        if (opt.pattern == P_HANDOFF && opt.processes < 2)
            bad_option("--pattern handoff needs at least 2 processes");
        opt.threads = opt.processes; /* the workers, for their roles and the tolerance */
    } else {
        if (opt.kill_every > 0)
            bad_option("--kill-every needs --processes");
        if (opt.broken_reap)
            bad_option("--broken-reap needs --processes");
    }
    if (opt.broken_free_write && (!opt.hardened || opt.pattern != P_LIFO))
        bad_option("--broken-free-write needs --hardened and --pattern lifo");
    if (opt.pattern == P_MIXED && !have_threads && !opt.processes && opt.threads < 6)
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
    if (opt.pattern == P_WAIT && !have_threads && !opt.processes) {
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
            snprintf(why, sizeof why, "the default%s for %u %s on %u CPU%s", where, opt.threads,
                     opt.processes ? "processes" : "threads", cpus, cpus == 1 ? "" : "s");
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
static size_t plan_blocks(void)
{
    const size_t align = opt.alignment ? opt.alignment : _Alignof(max_align_t);
    unit = align > _Alignof(void *) ? align : _Alignof(void *);
    const size_t least = 2 * sizeof(void *);
    size_t want = opt.block_size < least ? least : opt.block_size, bytes;
    if (__builtin_add_overflow(want, unit - 1, &want))
        bad_option("--block-size %zu with --alignment %zu overflows", opt.block_size, align);
    bsize = want & ~(unit - 1);
    if (__builtin_mul_overflow(opt.blocks, bsize, &bytes))
        bad_option("--blocks %zu of %zu bytes do not fit in memory", opt.blocks, bsize);
    return bytes;
}

/* --hardened: the state bitmap's bytes, kept in the same mapping after the
 * pool (not overlapping it). */
static size_t state_bytes;

static void make_pool(void)
{
    const size_t bytes = plan_blocks();
    size_t mapped;
    state_bytes = opt.hardened ? AM_ONESIZE_STATE_SIZE(bytes, opt.block_size) : 0;
    if (__builtin_add_overflow(bytes, unit, &mapped) || __builtin_add_overflow(mapped, state_bytes, &mapped))
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
    if (opt.hardened) {
        cfg.state = (struct am_blk){(void *)(first_block + bytes), state_bytes};
        cfg.flags = AM_ONESIZE_CHECK_FREED;
    }
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
static void add_wait(struct wait_counts *t, const struct wait_counts *c)
{
    t->calls += c->calls;
    t->waited += c->waited;
    t->timeouts += c->timeouts;
    t->late_blocks += c->late_blocks;
    t->longest = c->longest > t->longest ? c->longest : t->longest;
    t->late_block = c->late_block > t->late_block ? c->late_block : t->late_block;
    t->late_timeout = c->late_timeout > t->late_timeout ? c->late_timeout : t->late_timeout;
    t->early_timeout = c->early_timeout > t->early_timeout ? c->early_timeout : t->early_timeout;
}

static struct wait_counts wait_totals(void)
{
    struct wait_counts t = {0};
    for (unsigned i = 0; i < nworkers; i++)
        add_wait(&t, &workers[i].wc);
    return t;
}

static void final_checks(struct worker *main_w, size_t *visited_end, struct am_onesize_stats *st)
{
    end_of_run_violations();
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
    if (st->freed_writes != 0 || st->retired != 0)
        violation(main_w, NULL,
                  "the pool's check of freed blocks found %" PRIu64
                  " writes after free and retired %zu blocks",
                  st->freed_writes, st->retired);
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

/* ---- processes (--processes N) ------------------------------------------ */

/* Worker processes share one pool that am_onesize_shared_create() laid out
 * in a memfd; each maps the memfd itself, at an address of its own (a spacer
 * of a few pages varies it between incarnations), and attaches. A second
 * shared mapping, the control area, made before any fork and so inherited,
 * holds the workers' records, the handoff rings, the incarnations' states
 * and the ledger. It holds no address of the pool: blocks travel between
 * processes by their offsets. The parent, the supervisor, runs no pattern:
 * it kills and replaces workers (--kill-every), reaps, reconciles the pool's
 * counts with what the workers hold, and at the end accounts for every
 * block.
 *
 * Every worker process is an incarnation, numbered from 1 in the order they
 * were started, and a block's stamp names the incarnation that holds it. The
 * ledger, one word per block, says who holds each block as the tool sees it:
 * 0 nobody, an incarnation, or TRANSIT and the giver's stamp tag for a block
 * given and not yet taken. A process changes the entry of a block with one
 * atomic exchange, right after the pool gave it the block and right before
 * it lets the block go, and checks what the exchange returned. A block the
 * pool hands out must be free in the ledger, or held by an incarnation that
 * was killed and whose blocks the supervisor has begun to reap: so a block
 * freed by the reaper is reused legitimately, while a block still held by a
 * live process, or one in transit, has two owners. The stamp, verified
 * before every free and give and after every take, catches a second owner
 * that wrote into the block. */
enum { INC_UNUSED, INC_RUNNING, INC_ENDED, INC_DEAD, INC_REAPING, INC_REAPED };
static const char *const inc_state_names[] = {"not started", "running",      "ended",
                                              "dead",        "being reaped", "reaped"};
#define TRANSIT   ((uint64_t)1 << 63)
#define SEQ_MASK  ((uint64_t)0xffffffffffffu)
#define SUPER_INC MAX_INCARNATIONS /* the supervisor's name in the ledger */

/* A ring entry's life, each step one store of its word st (the position in
 * the ring << 3 | the state) by the process at that end of the ring: the
 * producer writes the entry PENDING, gives the block, marks the entry READY
 * and moves the tail past it; the consumer marks it TAKING, takes the block
 * and moves the head past it, then verifies and frees the block. A process
 * killed between two steps leaves the entry at its end of the ring saying
 * what may have happened, and the supervisor finishes or undoes that before
 * it reaps (resolve_producer(), resolve_consumer()). */
enum { ES_EMPTY, ES_PENDING, ES_READY, ES_TAKING, ES_DROPPED };
static const char *const entry_state_names[] = {"empty",   "pending", "ready", "taking",
                                                "dropped", "?",       "?",     "?"};

struct pentry {
    atomic_uint_fast64_t st;
    uint64_t off, tag; /* the block's offset in the region, its stamp's tag */
};

struct pring {
    _Alignas(64) atomic_uint_fast64_t head;
    _Alignas(64) atomic_uint_fast64_t tail;
    atomic_uint done; /* the producer ended with the run */
    struct pentry e[RING];
};

struct control {
    atomic_uint stop, gate;
    atomic_uint_fast64_t violations_seen;
    uint64_t first_off; /* block 0's offset in the region */
    struct pring rings[MAX_PROCESSES / 2];
    _Atomic unsigned char inc_state[MAX_INCARNATIONS + 1];
    struct worker workers[MAX_PROCESSES];
    atomic_uint_fast64_t ledger[]; /* one per block */
};

static struct control *ctl;
static int pool_fd = -1;
static unsigned char *region; /* this process's mapping of the pool */
static size_t region_bytes;
static struct am_onesize_shared handle; /* this process's */
static pid_t supervisor_pid;
static unsigned incarnations; /* started so far; supervisor only */

/* What the supervisor counts and folds in from incarnations that are over. */
static struct {
    uint64_t kills, deaths, started, reaps, reclaimed, recoveries;
    uint64_t gives, takes, taken_after_giver_died, reused_after_reap, timeouts;
    uint64_t gifts_published, gifts_undone, takes_undone, takes_finished;
    uint64_t reconciles, reconciles_exact, drained, in_transit_end, reaped_at_end;
    bool out_of_incarnations;
    unsigned naddrs;
    uintptr_t addrs[1024]; /* distinct addresses the pool was mapped at */
    struct {
        uint64_t ops, failed, violations;
    } per[P_COUNT];
    struct wait_counts wait;
    unsigned wait_workers; /* incarnations that ran the wait pattern */
} sup;

/* The supervisor's watch on each slot's progress. */
static struct {
    uint64_t seen;
    double quiet;
    bool reported;
} pwatch[MAX_PROCESSES];

static unsigned inc_of(uint64_t v)
{
    return (unsigned)((v & ~TRANSIT) >> 48);
}

static uint64_t holder(unsigned inc)
{
    return tag_of(inc, 0);
}

static unsigned state_of(unsigned inc)
{
    const unsigned s = inc <= MAX_INCARNATIONS ? atomic_load(&ctl->inc_state[inc]) : INC_UNUSED;
    return s <= INC_REAPED ? s : INC_UNUSED;
}

static void set_state(unsigned inc, unsigned s)
{
    atomic_store(&ctl->inc_state[inc], (unsigned char)s);
}

/* The index of a block of this process's mapping that in_pool() accepted. */
static size_t index_of(const void *p)
{
    return (size_t)(((uintptr_t)p - first_block) / bsize);
}

static const char *describe(uint64_t v, char *buf, size_t n)
{
    if (v == 0)
        snprintf(buf, n, "free");
    else if (v & TRANSIT)
        snprintf(buf, n, "in transit, given by incarnation %u as seq %" PRIu64 " (%s)", inc_of(v),
                 v & SEQ_MASK, inc_state_names[state_of(inc_of(v))]);
    else
        snprintf(buf, n, "held by incarnation %u (%s)", inc_of(v), inc_state_names[state_of(inc_of(v))]);
    return buf;
}

/* A block the pool just gave this process (taken: by a take of the gift
 * with stamp tag): its ledger entry becomes this incarnation's. */
static void ledger_claim(struct worker *w, const void *p, bool taken, uint64_t tag)
{
    const uint64_t old = atomic_exchange(&ctl->ledger[index_of(p)], holder(w->id));
    char what[160];
    if (taken) {
        if (old != (TRANSIT | tag))
            violation(w, p,
                      "took the gift of incarnation %u seq %" PRIu64
                      ", which the ledger says is %s: two owners",
                      inc_of(tag), tag & SEQ_MASK, describe(old, what, sizeof what));
        return;
    }
    if (old == 0)
        return;
    if (!(old & TRANSIT) && inc_of(old) != w->id) {
        const unsigned s = state_of(inc_of(old));
        if (s == INC_REAPING || s == INC_REAPED) {
            w->reused_after_reap++; /* its owner was killed, and the reaper gave it back */
            return;
        }
    }
    violation(w, p, "the pool handed out a block the ledger says is %s: two owners",
              describe(old, what, sizeof what));
}

/* A block this process lets go: its ledger entry becomes now (0: free;
 * TRANSIT | tag: given). */
static void ledger_release(struct worker *w, const void *p, uint64_t now)
{
    const uint64_t old = atomic_exchange(&ctl->ledger[index_of(p)], now);
    char what[160];
    if (old != holder(w->id))
        violation(w, p, "lets go of a block the ledger says is %s, not held by this incarnation: two owners",
                  describe(old, what, sizeof what));
}

/* A pool call, and what it changes in the process's model, the ledger and
 * the rings, happen between op_begin() and op_end(). The supervisor closes
 * the gate to reconcile while no process is between the two (see
 * p_reconcile()): a process says it is busy before it looks at the gate,
 * and the supervisor closes the gate before it looks at who is busy (all
 * sequentially consistent), so one of the two always sees the other. */
static void op_begin(struct worker *w)
{
    for (;;) {
        atomic_store(&w->pmodel, (uint64_t)w->held << 1 | 1);
        if (atomic_load(&ctl->gate) == 0)
            return;
        atomic_store(&w->pmodel, (uint64_t)w->held << 1);
        while (atomic_load(&ctl->gate) != 0) {
            const struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

static void op_end(struct worker *w)
{
    atomic_store(&w->pmodel, (uint64_t)w->held << 1);
}

static void *p_get_block(struct worker *w)
{
    const size_t size = (size_t)(rnd(w) % (bsize + 1));
    op_begin(w);
    errno = 0;
    void *p = am_onesize_shared_allocate(&handle, size);
    const int err = errno;
    const bool ok = p != NULL && in_pool(w, p);
    if (ok) {
        ledger_claim(w, p, false, 0);
        w->held++;
    }
    op_end(w);
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    if (p == NULL) {
        w->c.failed++;
        if (err != ENOMEM)
            violation(w, NULL, "am_onesize_shared_allocate(%zu) failed with %s", size, strerror(err));
    }
    return ok ? p : NULL;
}

static void p_put_block(struct worker *w, void *p)
{
    op_begin(w);
    ledger_release(w, p, 0);
    const int err = am_onesize_shared_free(&handle, p);
    w->held -= err == 0;
    op_end(w);
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    if (err != 0)
        violation(w, p, "am_onesize_shared_free failed with %s", strerror(-err));
    else
        atomic_fetch_add_explicit(&w->c.pairs, 1, memory_order_relaxed);
}

static void *p_wait_block(struct worker *w)
{
    const size_t size = (size_t)(rnd(w) % (bsize + 1));
    op_begin(w);
    const uint64_t t0 = mono_ns(), dl = t0 + opt.deadline_ms * 1000000u;
    const struct timespec deadline = timespec_of(dl);
    atomic_store(&w->in_wait_until, dl);
    errno = 0;
    void *p = am_onesize_shared_allocate_wait(&handle, size, &deadline);
    const int err = errno;
    const uint64_t t1 = mono_ns();
    const bool ok = p != NULL && in_pool(w, p);
    if (ok) {
        ledger_claim(w, p, false, 0);
        w->held++;
    }
    op_end(w);
    atomic_store(&w->in_wait_until, 0);
    atomic_fetch_add_explicit(&w->c.ops, 1, memory_order_relaxed);
    if (judge_wait(w, p, err, size, t0, dl, t1) == NULL)
        return NULL;
    return ok ? p : NULL;
}

/* Handoff between processes: blocks go through a ring of offsets in the
 * control area, given with am_onesize_shared_give() and taken with
 * am_onesize_shared_take(). */
static void p_producer(struct worker *w)
{
    struct pring *q = &ctl->rings[w->pring];
    uint64_t seq = 0;
    while (running(w)) {
        void *p = get_block(w, 0);
        if (p == NULL) {
            sched_yield();
            continue;
        }
        stamp(p, w->id, ++seq);
        const uint64_t t = atomic_load(&q->tail);
        while (t - atomic_load(&q->head) >= RING && running(w))
            sched_yield();
        uint64_t off = 0, given = 0;
        /* The ring is judged once: a consumer may make room at any moment. */
        const bool full = t - atomic_load(&q->head) >= RING;
        if (full || am_onesize_shared_offset(&handle, p, &off) != 0) {
            if (!full)
                violation(w, p, "am_onesize_shared_offset refused a block the pool handed out");
            verify(w, p, w->id, seq); /* stopping with a full ring: keep it */
            put_block(w, p);
            continue;
        }
        const uint64_t tag = tag_of(w->id, seq);
        struct pentry *e = &q->e[t % RING];
        op_begin(w);
        e->off = off;
        e->tag = tag;
        atomic_store(&e->st, t << 3 | ES_PENDING);
        ledger_release(w, p, TRANSIT | tag);
        const int err = am_onesize_shared_give(&handle, p, &given);
        if (err == 0) {
            w->gives++;
            atomic_store(&e->st, t << 3 | ES_READY);
            w->held--;
            atomic_store(&q->tail, t + 1);
        } else {
            atomic_store(&e->st, t << 3 | ES_DROPPED);
            atomic_store(&ctl->ledger[index_of(p)], holder(w->id)); /* still this one's */
        }
        op_end(w);
        if (err != 0) {
            violation(w, p, "am_onesize_shared_give failed with %s, and its giver (this process) is alive",
                      strerror(-err));
            put_block(w, p);
            continue;
        }
        if (given != off)
            violation(w, p,
                      "am_onesize_shared_give gave offset %" PRIu64
                      ", am_onesize_shared_offset said %" PRIu64,
                      given, off);
        atomic_fetch_add_explicit(&w->c.pairs, 1, memory_order_relaxed);
    }
    atomic_store(&q->done, 1);
}

static void p_consumer(struct worker *w)
{
    struct pring *q = &ctl->rings[w->cring];
    bool draining = false;
    uint64_t since = 0;
    for (;;) {
        const uint64_t h = atomic_load(&q->head), t = atomic_load(&q->tail);
        if (h == t) {
            if (atomic_load(&q->done) && h == atomic_load(&q->tail))
                break;
            draining = false;
            since = 0;
            sched_yield();
            continue;
        }
        /* Let gifts pile up (half the ring, or for 1 ms) before taking them
         * all, so that a producer killed leaves some in transit. */
        if (!draining) {
            const uint64_t now = mono_ns();
            since = since ? since : now;
            if (t - h < RING / 2 && now - since < 1000000u && !atomic_load(stop)) {
                sched_yield();
                continue;
            }
            draining = true;
        }
        struct pentry *e = &q->e[h % RING];
        const uint64_t st = atomic_load(&e->st), off = e->off, tag = e->tag;
        op_begin(w);
        if (st != (h << 3 | ES_READY)) {
            atomic_store(&q->head, h + 1);
            op_end(w);
            violation(w, NULL,
                      "ring entry %" PRIu64 ", below the tail, is %s for position %" PRIu64 ", not ready", h,
                      entry_state_names[st & 7], st >> 3);
            continue;
        }
        atomic_store(&e->st, h << 3 | ES_TAKING);
        errno = 0;
        void *p = am_onesize_shared_take(&handle, off);
        const int err = errno;
        const bool ok = p != NULL && in_pool(w, p);
        if (ok) {
            ledger_claim(w, p, true, tag);
            w->held++;
            w->takes++;
        }
        atomic_store(&q->head, h + 1);
        op_end(w);
        const unsigned giver = inc_of(tag);
        if (p == NULL) {
            /* Never excused: the supervisor settles the gifts of a giver
             * killed in the middle (resolve_producer()) before any take. */
            violation(w, NULL,
                      "am_onesize_shared_take(%" PRIu64 "), the gift of incarnation %u (%s) seq %" PRIu64
                      ", failed with %s",
                      off, giver, inc_state_names[state_of(giver)], tag & SEQ_MASK, strerror(err));
            continue;
        }
        if (!ok)
            continue;
        if (state_of(giver) >= INC_DEAD)
            w->taken_after_giver_died++;
        verify(w, p, giver, tag & SEQ_MASK);
        put_block(w, p);
    }
}

/* A worker process: map the pool, attach, run the pattern, detach. */
static _Noreturn void process_main(struct worker *w)
{
#if defined(__linux__)
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the supervisor */
#endif
    if (getppid() != supervisor_pid)
        _exit(4);
    signal(SIGINT, SIG_IGN); /* Ctrl-C reaches the whole process group: the supervisor stops the run */
    signal(SIGTERM, SIG_IGN);
    /* Its own mapping, made while the supervisor's (inherited) is still
     * there, so at another address, and moved by 0 to 63 pages within a
     * reservation, so mostly at another address than other incarnations'
     * too (their reservations tend to land at the same place). */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), shift = page * (w->id % 64);
    unsigned char *room = mmap(NULL, region_bytes + 64 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *mine = room == MAP_FAILED ? MAP_FAILED
                                             : mmap(room + shift, region_bytes, PROT_READ | PROT_WRITE,
                                                    MAP_SHARED | MAP_FIXED, pool_fd, 0);
    if (mine == MAP_FAILED) {
        violation(w, NULL, "mmap of the pool's memfd failed: %s", strerror(errno));
        _exit(3);
    }
    if (shift != 0)
        munmap(room, shift);
    munmap(mine + region_bytes, 64 * page - shift);
    munmap(region, region_bytes); /* the supervisor's address: never used here */
    region = mine;
    first_block = (uintptr_t)region + ctl->first_off;
    w->map_addr = (uintptr_t)region;
    op_begin(w);
    int err = am_onesize_shared_attach(&handle, region, region_bytes);
    if (err == 0)
        atomic_store(&w->attached, 1);
    op_end(w);
    if (err != 0) {
        violation(w, NULL, "am_onesize_shared_attach failed with %s", strerror(-err));
        _exit(3);
    }
    switch (w->role) {
    case P_LIFO:
        run_lifo(w);
        break;
    case P_BURST:
        run_burst(w);
        break;
    case P_RANDOM:
        run_random(w, false); /* no margin allocation in a shared pool */
        break;
    case P_WAIT:
        run_wait(w);
        break;
    case P_HANDOFF:
        if (w->pring >= 0)
            p_producer(w);
        else
            p_consumer(w);
        break;
    }
    op_begin(w);
    if (w->held != 0)
        violation(w, NULL, "holds %zu blocks at its end", w->held);
    err = am_onesize_shared_detach(&handle);
    atomic_store(&w->attached, 0);
    op_end(w);
    if (err != 0)
        violation(w, NULL, "am_onesize_shared_detach failed with %s", strerror(-err));
    _exit(0);
}

/* The shared pool, holding exactly --blocks blocks, and the control area. */
static void make_shared_pool(struct worker *sw)
{
    (void)plan_blocks(); /* the block size and alignment expected */
    region_bytes = am_onesize_shared_size(opt.blocks, opt.block_size, opt.alignment);
    size_t ledger_bytes, ctl_bytes;
    if (region_bytes == 0 || __builtin_mul_overflow(opt.blocks, sizeof ctl->ledger[0], &ledger_bytes) ||
        __builtin_add_overflow(ledger_bytes, sizeof *ctl, &ctl_bytes))
        bad_option("--blocks %zu of %zu bytes do not fit in memory", opt.blocks, bsize);
    ctl = mmap(NULL, ctl_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pool_fd = memfd_create("amonesize-stress", MFD_CLOEXEC);
    if (ctl == MAP_FAILED || pool_fd < 0 || ftruncate(pool_fd, (off_t)region_bytes) != 0 ||
        (region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, pool_fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "amonesize-stress: shared memory of %zu + %zu bytes: %s\n", region_bytes, ctl_bytes,
                strerror(errno));
        exit(1);
    }
    stop = &ctl->stop;
    violations_seen = &ctl->violations_seen;
    workers = ctl->workers;
    nworkers = opt.processes;
    int err = am_onesize_shared_create(region, region_bytes, opt.block_size, opt.alignment);
    if (err == 0)
        err = am_onesize_shared_attach(&handle, region, region_bytes);
    if (err != 0) {
        fprintf(stderr,
                "VIOLATION: am_onesize_shared_create or _attach over %zu bytes for %zu blocks of %zu: %s\n",
                region_bytes, opt.blocks, bsize, strerror(-err));
        exit(1);
    }
    struct am_onesize_stats st;
    am_onesize_shared_get_stats(&handle, &st, NULL);
    nblocks = st.nblocks;
    if (nblocks != opt.blocks || st.block_size != bsize) {
        fprintf(stderr,
                "VIOLATION: in am_onesize_shared_size(%zu, %zu, %zu) bytes the library laid out %zu blocks "
                "of %zu "
                "bytes, not %zu of %zu\n",
                opt.blocks, opt.block_size, opt.alignment, nblocks, st.block_size, opt.blocks, bsize);
        exit(1);
    }
    /* Block 0 is the first a fresh pool hands out (never-used blocks are
     * carved in order); every block must lie within nblocks blocks of it. */
    void *b = am_onesize_shared_allocate(&handle, 1);
    uint64_t off = 0;
    if (b == NULL || am_onesize_shared_offset(&handle, b, &off) != 0 ||
        off != (uintptr_t)b - (uintptr_t)region || (uintptr_t)b % unit != 0 ||
        off + nblocks * bsize > region_bytes || am_onesize_shared_free(&handle, b) != 0) {
        fprintf(stderr,
                "VIOLATION: the first block of a fresh shared pool, %p at offset %" PRIu64 " of %zu bytes, "
                "is not the start of %zu blocks of %zu aligned to %zu\n",
                b, off, region_bytes, nblocks, bsize, unit);
        exit(1);
    }
    ctl->first_off = off;
    first_block = (uintptr_t)b;
    sw->map_addr = (uintptr_t)region;
    set_state(SUPER_INC, INC_RUNNING);
}

/* Roles stay with their slot: handoff slots in pairs with a ring; in mixed,
 * the others take lifo, burst, random and wait in turn, a replacement the
 * next of its predecessor. */
static void assign_process_roles(void)
{
    unsigned r = 0;
    for (unsigned i = 0; i < nworkers; i++) {
        workers[i].slot = i + 1;
        workers[i].pring = workers[i].cring = -1;
    }
    for (unsigned i = 0; i + 1 < nworkers; i += 2) {
        const bool pair =
            opt.pattern == P_HANDOFF || (opt.pattern == P_MIXED && nworkers >= 3 && i + 2 == nworkers);
        if (pair) {
            workers[i].pring = workers[i + 1].cring = (int)r++;
        } else if (opt.pattern == P_MIXED && nworkers >= 3 && i + 3 == nworkers) {
            workers[i + 1].pring = workers[i + 2].cring = (int)r++; /* an odd count: the last two */
            break;
        }
    }
}

static int process_role(unsigned i, unsigned generation)
{
    static const int cycle[] = {P_LIFO, P_BURST, P_RANDOM, P_WAIT};
    if (workers[i].pring >= 0 || workers[i].cring >= 0)
        return P_HANDOFF;
    if (opt.pattern == P_HANDOFF)
        return P_LIFO; /* an odd one out */
    if (opt.pattern != P_MIXED)
        return (int)opt.pattern;
    return cycle[(i + generation) % 4];
}

static void note_address(uintptr_t a)
{
    for (unsigned i = 0; i < sup.naddrs; i++)
        if (sup.addrs[i] == a)
            return;
    if (a != 0 && sup.naddrs < sizeof sup.addrs / sizeof sup.addrs[0])
        sup.addrs[sup.naddrs++] = a;
}

/* An incarnation is over: its counts join the totals. */
static void fold(struct worker *w)
{
    sup.per[w->role].ops += atomic_load(&w->c.ops);
    sup.per[w->role].failed += w->c.failed;
    sup.per[w->role].violations += w->c.violations;
    add_wait(&sup.wait, &w->wc);
    sup.timeouts += atomic_load(&w->timeouts);
    sup.gives += w->gives;
    sup.takes += w->takes;
    sup.taken_after_giver_died += w->taken_after_giver_died;
    sup.reused_after_reap += w->reused_after_reap;
    note_address(w->map_addr);
}

/* Start a new incarnation in slot i; false if none may be started. */
static bool start_worker(struct worker *sw, unsigned i)
{
    struct worker *w = &workers[i];
    if (incarnations + 1 >= MAX_INCARNATIONS) {
        sup.out_of_incarnations = true;
        return false;
    }
    const unsigned inc = ++incarnations;
    /* a replacement goes on with its predecessor's share of --ops */
    w->ops_before = w->id != 0 ? w->ops_before + atomic_load(&w->c.ops) - w->c.failed : 0;
    w->generation += w->id != 0;
    w->id = inc;
    w->role = process_role(i, w->generation);
    w->rng = opt.seed ^ mix(inc);
    atomic_store(&w->c.ops, 0);
    atomic_store(&w->c.pairs, 0);
    w->c.failed = w->c.violations = 0;
    w->wc = (struct wait_counts){0};
    atomic_store(&w->timeouts, 0);
    atomic_store(&w->in_wait_until, 0);
    w->held = 0;
    atomic_store(&w->pmodel, 0);
    atomic_store(&w->attached, 0);
    w->map_addr = 0;
    w->gives = w->takes = w->taken_after_giver_died = w->reused_after_reap = 0;
    pwatch[i].seen = 0;
    pwatch[i].quiet = 0;
    pwatch[i].reported = false;
    sup.wait_workers += w->role == P_WAIT;
    set_state(inc, INC_RUNNING);
    fflush(stdout); /* nothing buffered for the child to print again */
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0)
        process_main(w);
    if (pid < 0) {
        violation(sw, NULL, "fork failed: %s", strerror(errno));
        set_state(inc, INC_ENDED);
        return false;
    }
    w->pid = pid;
    sup.started++;
    return true;
}

/* The supervisor's heartbeat, which on_tick() checks every second: when it
 * last went on (CLOCK_MONOTONIC ns) and what it was about to do then. A
 * supervisor that does not go on for run_stall_limit() is stuck in a call
 * of the pool: the pool hangs. */
static atomic_uint_fast64_t beat_ns;
static const char *_Atomic doing = "";
static uint64_t hang_ns, watchdog_ns;

static void beat(const char *what)
{
    atomic_store(&doing, what);
    atomic_store(&beat_ns, mono_ns());
}

static void put_str(char *buf, size_t cap, size_t *n, const char *s)
{
    while (*s != '\0' && *n < cap)
        buf[(*n)++] = *s++;
}

static void put_u64(char *buf, size_t cap, size_t *n, uint64_t v)
{
    char digits[24];
    size_t k = 0;
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (k > 0 && *n < cap)
        buf[(*n)++] = digits[--k];
}

/* SIGALRM, every second with --processes: a hang, or the watchdog's time.
 * Only async-signal-safe calls; every worker is killed, then the
 * supervisor exits with 1 (no summary: the pool cannot be trusted). */
static void on_tick(int sig)
{
    (void)sig;
    const uint64_t now = mono_ns(), since = now - atomic_load(&beat_ns);
    if (since < hang_ns && now < watchdog_ns)
        return;
    char msg[1024];
    size_t n = 0;
    if (since >= hang_ns) {
        put_str(msg, sizeof msg, &n, "VIOLATION: the pool hangs: the supervisor has been in ");
        put_str(msg, sizeof msg, &n, atomic_load(&doing));
        put_str(msg, sizeof msg, &n, " for ");
        put_u64(msg, sizeof msg, &n, since / 1000000000u);
        put_str(msg, sizeof msg, &n, " s; inside a pool call then:");
        for (unsigned i = 0; i < nworkers; i++)
            if (workers[i].pid > 0 && (atomic_load(&workers[i].pmodel) & 1)) {
                put_str(msg, sizeof msg, &n, " process ");
                put_u64(msg, sizeof msg, &n, i + 1);
                put_str(msg, sizeof msg, &n, " (incarnation ");
                put_u64(msg, sizeof msg, &n, workers[i].id);
                put_str(msg, sizeof msg, &n, ", ");
                put_str(msg, sizeof msg, &n, pattern_names[workers[i].role]);
                put_str(msg, sizeof msg, &n, ")");
            }
        put_str(msg, sizeof msg, &n, "; killed so far: ");
        put_u64(msg, sizeof msg, &n, sup.kills);
        put_str(msg, sizeof msg, &n, "\n");
    } else {
        put_str(msg, sizeof msg, &n,
                "VIOLATION: watchdog: the run did not finish in time (deadlock or livelock)\n");
    }
    if (write(STDERR_FILENO, msg, n) < 0)
        n = 0;
    for (unsigned i = 0; i < nworkers; i++)
        if (workers[i].pid > 0)
            kill(workers[i].pid, SIGKILL);
    _exit(1);
}

/* Whether the block at off is in transit (-EALREADY) or held by some handle
 * (-EPERM), asked of the pool without changing anything: a give by the
 * supervisor, which holds no block, can only be refused. */
static int probe(struct worker *sw, uint64_t off)
{
    void *p = am_onesize_shared_pointer(&handle, off);
    if (p == NULL)
        return -EINVAL;
    const int r = am_onesize_shared_give(&handle, p, NULL);
    if (r == 0)
        violation(sw, p, "am_onesize_shared_give accepted a block from the supervisor, which holds none");
    return r;
}

/* The producer of q, incarnation inc, is dead: settle the entry at the tail,
 * which it may have been writing. */
static void resolve_producer(struct worker *sw, struct pring *q, unsigned inc)
{
    const uint64_t t = atomic_load(&q->tail);
    struct pentry *e = &q->e[t % RING];
    const uint64_t st = atomic_load(&e->st);
    if (st >> 3 != t || ((st & 7) != ES_READY && (st & 7) != ES_PENDING))
        return; /* nothing begun at the tail */
    const int r = (st & 7) == ES_READY ? -EALREADY : probe(sw, e->off);
    if (r == -EALREADY) { /* the give was made: the gift stays, for the consumer */
        atomic_store(&e->st, t << 3 | ES_READY);
        atomic_store(&q->tail, t + 1);
        sup.gifts_published++;
    } else if (r == -EPERM) { /* it was not: the block is the dead one's, reaped next */
        void *p = am_onesize_shared_pointer(&handle, e->off);
        uint64_t was = TRANSIT | e->tag;
        char what[160];
        if (!atomic_compare_exchange_strong(&ctl->ledger[index_of(p)], &was, holder(inc)) &&
            was != holder(inc))
            violation(sw, p, "a block being given by dead incarnation %u is %s in the ledger", inc,
                      describe(was, what, sizeof what));
        atomic_store(&e->st, t << 3 | ES_DROPPED);
        sup.gifts_undone++;
    } else {
        violation(sw, NULL,
                  "the block at offset %" PRIu64 ", being given by dead incarnation %u: probing it gave %s",
                  e->off, inc, strerror(-r));
    }
}

/* The consumer of q, incarnation inc, is dead: settle the entry at the head,
 * which it may have been taking. */
static void resolve_consumer(struct worker *sw, struct pring *q, unsigned inc)
{
    const uint64_t h = atomic_load(&q->head);
    struct pentry *e = &q->e[h % RING];
    if (atomic_load(&e->st) != (h << 3 | ES_TAKING))
        return;
    const int r = probe(sw, e->off);
    if (r == -EALREADY) { /* not taken: the next consumer takes it */
        atomic_store(&e->st, h << 3 | ES_READY);
        sup.takes_undone++;
    } else if (r == -EPERM) { /* taken: the dead one's, reaped next */
        void *p = am_onesize_shared_pointer(&handle, e->off);
        uint64_t was = TRANSIT | e->tag;
        char what[160];
        if (!atomic_compare_exchange_strong(&ctl->ledger[index_of(p)], &was, holder(inc)) &&
            was != holder(inc))
            violation(sw, p, "a block being taken by dead incarnation %u is %s in the ledger", inc,
                      describe(was, what, sizeof what));
        atomic_store(&q->head, h + 1);
        sup.takes_finished++;
    } else {
        violation(sw, NULL,
                  "the block at offset %" PRIu64 ", being taken by dead incarnation %u: probing it gave %s",
                  e->off, inc, strerror(-r));
    }
}

static void describe_status(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "exit status %d", WEXITSTATUS(status));
}

/* The process of slot i is over (waited for): killed (by the supervisor),
 * or ended by itself. A process that ended cleanly returned everything and
 * detached; any other is dead: its ring entries are settled and its blocks
 * reaped, and what came back must be what it held. */
static void worker_over(struct worker *sw, unsigned i, int status, bool killed)
{
    struct worker *w = &workers[i];
    const unsigned inc = w->id;
    const long pid = (long)w->pid;
    char how[96];
    describe_status(status, how, sizeof how);
    w->pid = 0;
    if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        set_state(inc, INC_ENDED);
        if (!atomic_load(stop) && opt.ops == 0)
            violation(sw, NULL, "process %u (incarnation %u, pid %ld, %s) ended before the run did", i + 1,
                      inc, pid, pattern_names[w->role]);
        if (atomic_load(&w->pmodel) != 0 || atomic_load(&w->attached))
            violation(sw, NULL, "process %u (incarnation %u, pid %ld) ended holding %" PRIu64 " blocks%s",
                      i + 1, inc, pid, (uint64_t)(atomic_load(&w->pmodel) >> 1),
                      atomic_load(&w->attached) ? ", attached" : "");
        fold(w);
        return;
    }
    set_state(inc, INC_DEAD);
    if (!killed) {
        sup.deaths++;
        violation(sw, NULL, "process %u (incarnation %u, pid %ld, %s) died: %s", i + 1, inc, pid,
                  pattern_names[w->role], how);
    }
    if (w->pring >= 0)
        resolve_producer(sw, &ctl->rings[w->pring], inc);
    if (w->cring >= 0)
        resolve_consumer(sw, &ctl->rings[w->cring], inc);
    /* In a pool call when it died, it may have changed the pool by one
     * block its model does not show (see op_begin()). */
    const uint64_t m = atomic_load(&w->pmodel), held = m >> 1, busy = m & 1;
    if (!opt.broken_reap) {
        set_state(inc, INC_REAPING);
        const int n = am_onesize_shared_reap(&handle);
        set_state(inc, INC_REAPED);
        sup.reaps++;
        if (n < 0)
            violation(sw, NULL, "am_onesize_shared_reap failed with %s", strerror(-n));
        else if ((sup.reclaimed += (uint64_t)n, (uint64_t)n + busy < held || (uint64_t)n > held + busy))
            violation(
                sw, NULL,
                "reaping after process %u (incarnation %u, pid %ld, %s) was %s brought back %d blocks; it "
                "held %" PRIu64 "%s",
                i + 1, inc, pid, pattern_names[w->role], how, n, held,
                busy ? ", and was inside a pool call" : "");
    }
    fold(w);
}

/* Wait for whatever worker processes ended (block: wait for at least one),
 * and replace those that died while the run goes on. */
static void collect(struct worker *sw)
{
    for (;;) {
        int status;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (unsigned i = 0; i < nworkers; i++)
            if (workers[i].pid == pid) {
                worker_over(sw, i, status, false);
                if (!atomic_load(stop) && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                    start_worker(sw, i);
                break;
            }
    }
}

static void kill_one(struct worker *sw)
{
    unsigned live[MAX_PROCESSES], n = 0;
    for (unsigned i = 0; i < nworkers; i++)
        if (workers[i].pid > 0 && state_of(workers[i].id) == INC_RUNNING)
            live[n++] = i;
    if (n == 0 || incarnations + 1 >= MAX_INCARNATIONS) {
        sup.out_of_incarnations |= n != 0;
        return;
    }
    const unsigned i = live[rnd(sw) % n];
    const pid_t pid = workers[i].pid;
    int status = 0;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* it may have ended by itself just before (--ops) */
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    sup.kills += killed;
    worker_over(sw, i, status, killed);
    if (killed)
        start_worker(sw, i);
}

/* Close the gate, wait (up to 20 ms) until no process is inside a pool
 * call, and reconcile at that instant: the pool's blocks in use with those
 * the processes hold plus the gifts in the rings, its blocks in transit
 * with those gifts, its owners with the processes attached (and the
 * supervisor); am_onesize_shared_check() must pass. A process still inside
 * a call (waiting in am_onesize_shared_allocate_wait()) makes each count
 * uncertain by one. */
static void p_reconcile(struct worker *sw)
{
    atomic_store(&ctl->gate, 1);
    const uint64_t until = mono_ns() + 20000000u;
    uint64_t busy;
    for (;;) {
        busy = 0;
        for (unsigned i = 0; i < nworkers; i++)
            if (workers[i].pid > 0)
                busy += atomic_load(&workers[i].pmodel) & 1;
        if (busy == 0 || mono_ns() >= until)
            break;
        const struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    uint64_t held = 0, attached = 0, ready = 0, odd = 0, odd_st = 0, odd_pos = 0;
    for (unsigned i = 0; i < nworkers; i++)
        if (workers[i].pid > 0) {
            held += atomic_load(&workers[i].pmodel) >> 1;
            attached += atomic_load(&workers[i].attached);
        }
    for (unsigned r = 0; r < nworkers / 2; r++) {
        struct pring *q = &ctl->rings[r];
        for (uint64_t pos = atomic_load(&q->head), t = atomic_load(&q->tail); pos < t; pos++) {
            const uint64_t st = atomic_load(&q->e[pos % RING].st);
            if (st == (pos << 3 | ES_READY)) {
                ready++;
            } else {
                odd++;
                odd_st = st;
                odd_pos = pos;
            }
        }
    }
    struct am_onesize_stats st;
    struct am_onesize_shared_stats ss;
    const int err = am_onesize_shared_get_stats(&handle, &st, &ss), bad = am_onesize_shared_check(&handle);
    atomic_store(&ctl->gate, 0);
    sup.reconciles++;
    sup.reconciles_exact += busy == 0;
    sup.recoveries = ss.recoveries;
    if (err != 0 || bad != 0) {
        violation(sw, NULL, "am_onesize_shared_get_stats: %s; am_onesize_shared_check: %s", strerror(-err),
                  strerror(-bad));
        return;
    }
    const uint64_t inuse = st.nblocks - st.nfree, expect = held + ready;
    if (inuse + busy < expect || inuse > expect + busy || ss.in_transit + busy < ready ||
        ss.in_transit > ready + busy || ss.owners + busy < 1 + attached || ss.owners > 1 + attached + busy)
        violation(sw, NULL,
                  "counts do not reconcile: the pool has %" PRIu64
                  " blocks in use, %zu in transit, %zu owners; the "
                  "processes hold %" PRIu64 ", the rings have %" PRIu64 " gifts, %" PRIu64
                  " processes are attached (+ the supervisor); %" PRIu64 " were inside a pool call",
                  inuse, ss.in_transit, ss.owners, held, ready, attached, busy);
    if (busy == 0 && odd != 0)
        violation(sw, NULL,
                  "%" PRIu64 " ring entries below a tail are not ready, one %s for position %" PRIu64
                  " at %" PRIu64,
                  odd, entry_state_names[odd_st & 7], odd_st >> 3, odd_pos);
    if (ss.reclaimed != sup.reclaimed)
        violation(sw, NULL,
                  "the pool counts %" PRIu64
                  " blocks reclaimed, the supervisor's reaps brought back %" PRIu64,
                  ss.reclaimed, sup.reclaimed);
    if (ss.recoveries > sup.kills + sup.deaths)
        violation(sw, NULL, "%" PRIu64 " recoveries of the lock, but only %" PRIu64 " processes died",
                  ss.recoveries, sup.kills + sup.deaths);
    if (st.nfree_min > st.nfree || st.nfree > st.nblocks || st.rejected_double || st.rejected_interior ||
        st.rejected_outside || st.rejected_never_allocated || st.corruptions || st.oversize_requests)
        violation(sw, NULL,
                  "stats: nfree_min %zu nfree %zu; rejected frees %" PRIu64 " double, %" PRIu64
                  " other; corruptions %" PRIu64 "; oversize requests %" PRIu64,
                  st.nfree_min, st.nfree, st.rejected_double,
                  st.rejected_interior + st.rejected_outside + st.rejected_never_allocated, st.corruptions,
                  st.oversize_requests);
}

/* The supervisor's progress watch, every loop: a live process that completes
 * no allocate+free pair (and has no timeout) for run_stall_limit() of the
 * supervisor's running time made no progress; a wait still inside its call
 * STUCK_S past its deadline and the tolerance is stuck. gap: the running
 * time since the last look, at most 0.5 s. True when one is seen. */
static bool p_watch(struct worker *sw, double gap)
{
    bool stalled = false;
    const uint64_t now = mono_ns(), stuck_ns = (uint64_t)((tolerance_s + STUCK_S) * 1e9);
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (w->pid <= 0 || pwatch[i].reported)
            continue;
        const uint64_t until = atomic_load(&w->in_wait_until);
        if (until != 0 && now > until + stuck_ns) {
            violation(
                sw, NULL,
                "stuck: process %u (incarnation %u, pid %ld) still inside am_onesize_shared_allocate_wait "
                "%.3f s past its deadline (tolerance %" PRIu64 " ms)",
                i + 1, w->id, (long)w->pid, (double)(now - until) / 1e9, opt.tolerance_ms);
            pwatch[i].reported = stalled = true;
            continue;
        }
        const uint64_t seen = atomic_load(&w->c.pairs) + atomic_load(&w->timeouts);
        if (seen != pwatch[i].seen) {
            pwatch[i].seen = seen;
            pwatch[i].quiet = 0;
        } else if ((pwatch[i].quiet += gap) >= run_stall_limit()) {
            struct am_onesize_stats st;
            am_onesize_shared_get_stats(&handle, &st, NULL);
            violation(
                sw, NULL,
                "no progress: process %u (incarnation %u, pid %ld, %s) completed no allocate+free pair%s for "
                "%.2f s of running time, after %" PRIu64 "; %" PRIu64 " failed allocations; then %zu of %zu "
                "blocks were free and it held %" PRIu64,
                i + 1, w->id, (long)w->pid, pattern_names[w->role],
                w->role == P_WAIT ? " and had no timeout" : "", pwatch[i].quiet, seen, w->c.failed, st.nfree,
                nblocks, (uint64_t)(atomic_load(&w->pmodel) >> 1));
            pwatch[i].reported = stalled = true;
        }
    }
    return stalled;
}

/* After every worker process is over: reap, take what is left in the rings,
 * and account for every block. */
static void p_final_checks(struct worker *sw, struct am_onesize_stats *st, struct am_onesize_shared_stats *ss,
                           int *check_end)
{
    end_of_run_violations();
    if (!opt.broken_reap) {
        const int n = am_onesize_shared_reap(&handle);
        sup.reaps++;
        sup.reaped_at_end = n > 0 ? (uint64_t)n : 0;
        if (n < 0)
            violation(sw, NULL, "am_onesize_shared_reap failed with %s", strerror(-n));
        else if (n != 0)
            violation(sw, NULL,
                      "the final reap brought back %d blocks: every process had ended or been reaped", n);
        sup.reclaimed += sup.reaped_at_end;
    }
    am_onesize_shared_get_stats(&handle, st, ss);
    sup.in_transit_end = ss->in_transit;
    for (unsigned r = 0; r < nworkers / 2; r++) {
        struct pring *q = &ctl->rings[r];
        const uint64_t t = atomic_load(&q->tail);
        for (uint64_t pos = atomic_load(&q->head); pos < t; pos++) {
            const struct pentry *e = &q->e[pos % RING];
            if (atomic_load(&e->st) != (pos << 3 | ES_READY)) {
                violation(sw, NULL, "at the end ring entry %" PRIu64 " is %s, not ready", pos,
                          entry_state_names[atomic_load(&e->st) & 7]);
                continue;
            }
            void *p = am_onesize_shared_take(&handle, e->off);
            if (p == NULL || !in_pool(sw, p)) {
                violation(sw, p, "at the end the gift at offset %" PRIu64 " cannot be taken: %s", e->off,
                          strerror(errno));
                continue;
            }
            sup.drained++;
            ledger_claim(sw, p, true, e->tag);
            verify(sw, p, inc_of(e->tag), e->tag & SEQ_MASK);
            ledger_release(sw, p, 0);
            if (am_onesize_shared_free(&handle, p) != 0)
                violation(sw, p, "at the end a drained gift cannot be freed");
        }
        atomic_store(&q->head, t);
    }
    if (sup.drained != sup.in_transit_end)
        violation(sw, NULL, "at the end the pool had %" PRIu64 " blocks in transit, the rings %" PRIu64,
                  sup.in_transit_end, sup.drained);
    am_onesize_shared_get_stats(&handle, st, ss);
    *check_end = am_onesize_shared_check(&handle);
    sup.recoveries = ss->recoveries;
    if (st->nfree != nblocks)
        violation(sw, NULL, "at the end nfree is %zu, not nblocks %zu: blocks were lost", st->nfree, nblocks);
    if (st->allocations != st->frees)
        violation(sw, NULL, "%" PRIu64 " allocations but %" PRIu64 " frees", st->allocations, st->frees);
    if (ss->in_transit != 0 || ss->owners != 1)
        violation(sw, NULL,
                  "at the end %zu blocks are in transit and %zu handles attached (expected the supervisor's)",
                  ss->in_transit, ss->owners);
    if (*check_end != 0)
        violation(sw, NULL, "am_onesize_shared_check at the end: %s", strerror(-*check_end));
    if (ss->reclaimed != sup.reclaimed)
        violation(sw, NULL,
                  "the pool counts %" PRIu64
                  " blocks reclaimed, the supervisor's reaps brought back %" PRIu64,
                  ss->reclaimed, sup.reclaimed);
    if (ss->recoveries > sup.kills + sup.deaths)
        violation(sw, NULL, "%" PRIu64 " recoveries of the lock, but only %" PRIu64 " processes died",
                  ss->recoveries, sup.kills + sup.deaths);
    if (st->rejected_double || st->rejected_interior || st->rejected_outside ||
        st->rejected_never_allocated || st->corruptions)
        violation(
            sw, NULL, "stats: rejected frees %" PRIu64 " double, %" PRIu64 " other; corruptions %" PRIu64,
            st->rejected_double, st->rejected_interior + st->rejected_outside + st->rejected_never_allocated,
            st->corruptions);
    /* A killed process's timeouts in the pool may have missed its count. */
    if (st->timeouts < sup.timeouts || st->timeouts > sup.timeouts + sup.kills + sup.deaths)
        violation(sw, NULL,
                  "the pool counts %" PRIu64 " timeouts, the processes saw %" PRIu64 " (%" PRIu64 " killed)",
                  st->timeouts, sup.timeouts, sup.kills);
    /* Every block in the ledger is free, or was held by a killed process
     * and reaped. */
    char what[160];
    for (size_t i = 0; i < nblocks; i++) {
        const uint64_t v = atomic_load(&ctl->ledger[i]);
        if (v != 0 && ((v & TRANSIT) || state_of(inc_of(v)) != INC_REAPED))
            violation(sw, NULL, "at the end block %zu is %s in the ledger", i,
                      describe(v, what, sizeof what));
    }
    note_address(sw->map_addr);
}

static void p_report(struct worker *sw, double elapsed, int interrupted, const struct am_onesize_stats *st,
                     const struct am_onesize_shared_stats *ss, int check_end)
{
    uint64_t ops = 0, failed = 0, violations = sw->c.violations;
    for (int k = 0; k < P_COUNT; k++) {
        ops += sup.per[k].ops;
        failed += sup.per[k].failed;
        violations += sup.per[k].violations;
    }
    const bool ok = violations == 0;
    const char *signame = interrupted == SIGINT ? "SIGINT" : "SIGTERM";
    const struct wait_counts *wt = &sup.wait;
    const double worst_late = wt->late_block > wt->late_timeout ? wt->late_block : wt->late_timeout;
    if (opt.json) {
        printf("{\"version\": \"%s\", \"mode\": \"processes\", \"seed\": \"%" PRIu64 "\", \"threads\": null, "
               "\"processes\": %u, \"pattern\": \"%s\", \"lock\": \"shared\", \"cache\": 0, \"blocks\": %zu, "
               "\"block_size\": %zu, \"alignment\": %zu, \"seconds\": %.3f, \"patterns\": {",
               AM_ONESIZE_VERSION, opt.seed, opt.processes, pattern_names[opt.pattern], nblocks, bsize, unit,
               elapsed);
        bool first = true;
        for (int k = 0; k < P_COUNT; k++) {
            if (sup.per[k].ops == 0)
                continue;
            printf("%s\"%s\": {\"ops\": %" PRIu64 ", \"ops_per_s\": %.0f, \"failed_allocations\": %" PRIu64
                   ", \"violations\": %" PRIu64 "}",
                   first ? "" : ", ", pattern_names[k], sup.per[k].ops, (double)sup.per[k].ops / elapsed,
                   sup.per[k].failed, sup.per[k].violations);
            first = false;
        }
        printf("}, ");
        if (sup.wait_workers == 0)
            printf("\"wait\": null, ");
        else
            printf("\"wait\": {\"threads\": %u, \"deadline_ms\": %" PRIu64 ", \"hold_us\": %" PRIu64
                   ", \"tolerance_ms\": %" PRIu64 ", \"calls\": %" PRIu64 ", \"waits\": %" PRIu64
                   ", \"timeouts\": %" PRIu64 ", \"longest_wait_ms\": %.3f, \"late_blocks\": %" PRIu64
                   ", \"worst_lateness_ms\": %.3f, \"worst_timeout_lateness_ms\": %.3f, "
                   "\"earliest_timeout_ms\": %.3f}, ",
                   sup.wait_workers, opt.deadline_ms, opt.hold_us, opt.tolerance_ms, wt->calls, st->waits,
                   wt->timeouts, ms_of(wt->longest), wt->late_blocks, ms_of(worst_late),
                   ms_of(wt->late_timeout), ms_of(wt->early_timeout));
        printf("\"total\": {\"ops\": %" PRIu64 ", \"ops_per_s\": %.0f, \"failed_allocations\": %" PRIu64
               ", \"violations\": %" PRIu64 "}, \"reconciles\": %" PRIu64 ", \"nblocks\": %zu, "
               "\"nfree_end\": %zu, \"nfree_min\": %zu, \"allocations\": %" PRIu64 ", \"frees\": %" PRIu64
               ", \"iterated_at_end\": null, \"interrupted\": %s%s%s, \"hardened\": null, ",
               ops, (double)ops / elapsed, failed, violations, sup.reconciles, nblocks, st->nfree,
               st->nfree_min, st->allocations, st->frees, interrupted ? "\"" : "",
               interrupted ? signame : "null", interrupted ? "\"" : "");
        printf("\"shared\": {\"kill_every\": ");
        if (opt.kill_every > 0)
            printf("%g", opt.kill_every);
        else
            printf("null");
        printf(
            ", \"kills\": %" PRIu64 ", \"deaths\": %" PRIu64 ", \"started\": %" PRIu64
            ", \"distinct_addresses\": %u, \"recoveries\": %" PRIu64 ", \"reaps\": %" PRIu64
            ", \"reclaimed\": %" PRIu64 ", \"reused_after_reap\": %" PRIu64 ", \"gives\": %" PRIu64
            ", \"takes\": %" PRIu64 ", \"taken_after_giver_died\": %" PRIu64 ", \"gifts_published\": %" PRIu64
            ", \"gifts_undone\": %" PRIu64 ", \"takes_undone\": %" PRIu64 ", \"takes_finished\": %" PRIu64
            ", \"reconciles_exact\": %" PRIu64 ", \"in_transit_end\": %" PRIu64 ", \"drained_end\": %" PRIu64
            ", \"in_transit_after\": %zu, \"owners_end\": %zu, \"check_end\": %d, \"reaped_at_end\": %" PRIu64
            "}, \"ok\": %s}\n",
            sup.kills, sup.deaths, sup.started, sup.naddrs, sup.recoveries, sup.reaps, sup.reclaimed,
            sup.reused_after_reap, sup.gives, sup.takes, sup.taken_after_giver_died, sup.gifts_published,
            sup.gifts_undone, sup.takes_undone, sup.takes_finished, sup.reconciles_exact, sup.in_transit_end,
            sup.drained, ss->in_transit, ss->owners, check_end, sup.reaped_at_end, ok ? "true" : "false");
        return;
    }
    if (opt.quiet)
        return;
    if (interrupted)
        printf("\ninterrupted by %s after %.3f s: the processes stopped, what ran is verified below\n",
               signame, elapsed);
    printf("\n%-10s %14s %12s %14s %11s\n", "pattern", "operations", "M ops/s", "failed allocs",
           "violations");
    for (int k = 0; k < P_COUNT; k++)
        if (sup.per[k].ops != 0)
            printf("%-10s %14" PRIu64 " %12.2f %14" PRIu64 " %11" PRIu64 "\n", pattern_names[k],
                   sup.per[k].ops, (double)sup.per[k].ops / elapsed / 1e6, sup.per[k].failed,
                   sup.per[k].violations);
    printf("%-10s %14" PRIu64 " %12.2f %14" PRIu64 " %11" PRIu64 "\n", "total", ops,
           (double)ops / elapsed / 1e6, failed, violations);
    if (sup.wait_workers != 0)
        printf("\nwait: %" PRIu64 " calls of am_onesize_shared_allocate_wait, %" PRIu64 " waited, %" PRIu64
               " timed out (deadline %" PRIu64
               " ms); longest wait %.3f ms, at worst %.3f ms late (tolerance %" PRIu64 " ms)%s\n",
               wt->calls, st->waits, wt->timeouts, opt.deadline_ms, ms_of(wt->longest), ms_of(worst_late),
               opt.tolerance_ms, wt->early_timeout > 0 ? ", some timeouts BEFORE the deadline" : "");
    printf("\nprocesses: %" PRIu64
           " started (the pool mapped at %u distinct addresses, the supervisor's included), "
           "%" PRIu64 " killed, %" PRIu64 " died otherwise%s\n",
           sup.started, sup.naddrs, sup.kills, sup.deaths,
           sup.out_of_incarnations ? "; no more kills: out of incarnation numbers" : "");
    printf("lock: %" PRIu64
           " recoveries (a process killed inside the critical section, the pool repaired by the "
           "next locker)\n",
           sup.recoveries);
    printf("reaping: %" PRIu64 " reaps brought back %" PRIu64 " blocks; %" PRIu64
           " were handed out again after their owner was reaped%s\n",
           sup.reaps, sup.reclaimed, sup.reused_after_reap, opt.broken_reap ? " (BROKEN: no reap)" : "");
    printf("handoff: %" PRIu64 " gives, %" PRIu64 " takes, %" PRIu64
           " taken after their giver was killed; at kills "
           "%" PRIu64 " gifts published, %" PRIu64 " undone, %" PRIu64 " takes undone, %" PRIu64
           " finished\n",
           sup.gives, sup.takes, sup.taken_after_giver_died, sup.gifts_published, sup.gifts_undone,
           sup.takes_undone, sup.takes_finished);
    printf("%" PRIu64 " reconciliations of the pool's counts with the processes' (%" PRIu64
           " with every process outside the pool)\n",
           sup.reconciles, sup.reconciles_exact);
    printf("end: %zu of %zu blocks free (low-water mark %zu), %" PRIu64 " in transit (%" PRIu64
           " drained from the rings), %zu owner, am_onesize_shared_check %d, %" PRIu64
           " allocations = %" PRIu64 " frees\n",
           st->nfree, nblocks, st->nfree_min, sup.in_transit_end, sup.drained, ss->owners, check_end,
           st->allocations, st->frees);
    printf("%s\n", ok ? "PASS: no violation" : "FAIL: violations seen (details above)");
}

static int run_processes(void)
{
    struct worker sw = {.id = SUPER_INC, .role = ROLE_SUPER};
    sw.rng = opt.seed ^ mix(0);
    supervisor_pid = getpid();
    make_shared_pool(&sw);
    assign_process_roles();
    if (!opt.quiet && !opt.json) {
        printf("amonesize-stress %s: %u processes sharing a memfd pool, pattern %s, %zu blocks of %zu bytes, "
               "%s, "
               "seed %" PRIu64 "\n",
               AM_ONESIZE_VERSION, opt.processes, pattern_names[opt.pattern], nblocks, bsize,
               opt.ops ? "ops per process" : "timed", opt.seed);
        if (opt.kill_every > 0)
            printf("  a random worker is killed (SIGKILL) and replaced every %g s%s\n", opt.kill_every,
                   opt.broken_reap ? "; BROKEN: the supervisor never reaps" : "");
        if (opt.pattern == P_WAIT || opt.pattern == P_MIXED)
            printf("  wait: deadline %" PRIu64 " ms, holding blocks up to %" PRIu64 " us, tolerance %" PRIu64
                   " ms (%s)\n",
                   opt.deadline_ms, opt.hold_us, opt.tolerance_ms, opt.tolerance_why);
    }
    fflush(stdout);
    hang_ns = (uint64_t)(run_stall_limit() * 1e9);
    watchdog_ns =
        mono_ns() + (uint64_t)((opt.ops ? 600 : opt.seconds * 3 + 60) + 4 * run_stall_limit()) * 1000000000u;
    beat("starting the workers");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    const struct itimerval tick = {{1, 0}, {1, 0}};
    if (sigaction(SIGALRM, &sa, NULL) != 0 || setitimer(ITIMER_REAL, &tick, NULL) != 0) {
        fprintf(stderr, "amonesize-stress: the watchdog's timer: %s\n", strerror(errno));
        return 1;
    }
    const bool tty = isatty(STDERR_FILENO) && !opt.quiet && !opt.json;
    const double t0 = now_s();
    for (unsigned i = 0; i < nworkers; i++)
        start_worker(&sw, i);
    double next_kill = t0 + opt.kill_every, next_check = t0 + 0.1, next_line = t0 + 1, last = t0;
    uint64_t last_ops = 0;
    int interrupted = 0;
    for (;;) {
        const double t = now_s();
        beat("its loop");
        if (stop_signal != 0) {
            interrupted = stop_signal;
            signal(SIGINT, SIG_DFL); /* a second signal of either kind kills */
            signal(SIGTERM, SIG_DFL);
            break;
        }
        if (opt.ops == 0 && t - t0 >= opt.seconds)
            break;
        beat("collecting ended processes (am_onesize_shared_reap)");
        collect(&sw);
        unsigned live = 0;
        for (unsigned i = 0; i < nworkers; i++)
            live += workers[i].pid > 0;
        if (live == 0)
            break; /* --ops: all done */
        if (opt.kill_every > 0 && t >= next_kill) {
            beat("killing a worker, then am_onesize_shared_reap and a reconciliation");
            kill_one(&sw);
            p_reconcile(&sw); /* what the reap brought back, what stays in transit */
            next_kill = next_kill + opt.kill_every > t ? next_kill + opt.kill_every : t + opt.kill_every;
        }
        if (t >= next_check) {
            beat("am_onesize_shared_reap and a reconciliation (am_onesize_shared_get_stats, _check)");
            if (!opt.broken_reap) {
                const int n = am_onesize_shared_reap(&handle);
                sup.reaps++;
                if (n != 0)
                    violation(&sw, NULL,
                              "a reap brought back %d blocks of processes the supervisor did not know dead",
                              n);
                sup.reclaimed += n > 0 ? (uint64_t)n : 0;
            }
            p_reconcile(&sw);
            next_check = t + 0.1;
        }
        beat("watching progress (am_onesize_shared_get_stats)");
        if (p_watch(&sw, t - last < 0.5 ? t - last : 0.5))
            break;
        last = t;
        if (tty && t >= next_line) {
            uint64_t ops = 0;
            for (int k = 0; k < P_COUNT; k++)
                ops += sup.per[k].ops;
            for (unsigned i = 0; i < nworkers; i++)
                ops += workers[i].pid > 0 ? atomic_load(&workers[i].c.ops) : 0;
            fprintf(stderr, "\r[%5.1f/%.0f s] %8.2f M ops/s  kills %" PRIu64 "  recoveries %" PRIu64 "   ",
                    t - t0, opt.ops ? 0.0 : opt.seconds, (double)(ops > last_ops ? ops - last_ops : 0) / 1e6,
                    sup.kills, sup.recoveries);
            last_ops = ops;
            next_line += 1;
        }
        const struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    /* The end: every process returns what it holds and detaches; one that
     * does not within the limit is killed, and that is a violation. */
    atomic_store(stop, 1);
    const double limit = now_s() + run_stall_limit();
    for (;;) {
        beat("waiting for the processes to end (am_onesize_shared_reap)");
        collect(&sw);
        unsigned live = 0;
        for (unsigned i = 0; i < nworkers; i++)
            live += workers[i].pid > 0;
        if (live == 0)
            break;
        if (now_s() >= limit) {
            for (unsigned i = 0; i < nworkers; i++) {
                if (workers[i].pid <= 0)
                    continue;
                int status = 0;
                const pid_t pid = workers[i].pid;
                violation(&sw, NULL,
                          "process %u (incarnation %u, pid %ld, %s) did not end %.1f s after the run did",
                          i + 1, workers[i].id, (long)pid, pattern_names[workers[i].role], run_stall_limit());
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                    ;
                worker_over(&sw, i, status, true);
            }
            break;
        }
        const struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    const double elapsed = now_s() - t0;
    if (tty)
        fputs("\r\033[K", stderr);
    struct am_onesize_stats st;
    struct am_onesize_shared_stats ss;
    int check_end;
    beat("the final checks (am_onesize_shared_reap, _take, _free, _get_stats, _check)");
    p_final_checks(&sw, &st, &ss, &check_end);
    const struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    p_report(&sw, elapsed, interrupted, &st, &ss, check_end);
    uint64_t violations = sw.c.violations;
    for (int k = 0; k < P_COUNT; k++)
        violations += sup.per[k].violations;
    am_onesize_shared_detach(&handle);
    return violations == 0 ? 0 : 1;
}

static int run_threads(void)
{
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
    if (!opt.quiet && !opt.json && opt.hardened)
        printf("  hardened: a state bitmap of %zu bytes and AM_ONESIZE_CHECK_FREED%s\n", state_bytes,
               opt.broken_free_write ? "; BROKEN: a block is written once after it was freed" : "");
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
            atomic_store(stop, 1);
            break;
        }
        if ((opt.ops == 0 && t - t0 >= opt.seconds) || atomic_load(&finished) == nbusy ||
            watch_progress(t - t0)) {
            atomic_store(stop, 1);
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
        printf("{\"version\": \"%s\", \"mode\": \"threads\", \"seed\": \"%" PRIu64
               "\", \"threads\": %u, \"pattern\": \"%s\", "
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
               ", \"iterated_at_end\": %zu, \"interrupted\": %s%s%s, ",
               ops, (double)ops / elapsed, failed, violations, reconciles, nblocks, st.nfree, st.nfree_min,
               st.allocations, st.frees, visited_end, interrupted ? "\"" : "", interrupted ? signame : "null",
               interrupted ? "\"" : "");
        if (opt.hardened)
            printf("\"hardened\": {\"state_bytes\": %zu, \"check_freed\": true, \"freed_writes\": %" PRIu64
                   ", \"retired\": %zu}, ",
                   state_bytes, st.freed_writes, st.retired);
        else
            printf("\"hardened\": null, ");
        printf("\"processes\": null, \"shared\": null, \"ok\": %s}\n", ok ? "true" : "false");
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
        if (opt.hardened)
            printf("hardened: %" PRIu64 " writes into freed blocks found, %zu blocks retired\n",
                   st.freed_writes, st.retired);
        printf("%s\n", ok ? "PASS: no violation" : "FAIL: violations seen (details above)");
    }
    am_onesize_dtor(&pool);
    if (can_wait && !opt.spin)
        am_onesize_pthread_destroy(&wait_sync);
    munmap(map_mem, map_bytes);
    free(workers);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    catch_stop_signals();
    return opt.processes ? run_processes() : run_threads();
}
