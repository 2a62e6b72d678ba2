/* SPDX-License-Identifier: MIT */
/* amonesize-bench: onesize against the allocators users would pick instead,
 * side by side in one process, interleaved (A B C A B C ...) so that machine
 * drift hits all alike; medians of repetitions with min-max.
 *
 * Each row measures what it names. No third-party allocator is linked in:
 * Debian's mimalloc, jemalloc and tcmalloc export malloc and free (mimalloc
 * and tcmalloc even __libc_malloc), so linking one replaces glibc's for the
 * whole process. Each is loaded with dlopen(RTLD_LOCAL), which keeps its
 * symbols out of the global scope, and called through its own entry points
 * (mi_malloc, jemalloc's own malloc, tc_malloc); the glibc row calls malloc
 * and free. At start-up dladdr() finds the file behind every function each
 * row calls, and a row whose functions are not in the file it names is
 * refused: never measured, never printed. --standalone and --crosscheck compare each
 * competitor with a minimal loop in a fresh process that loads nothing else.
 *
 * Every allocator's loops are generated from its own allocate/free
 * expressions. The benchmark checks its own work: every block returned is
 * written and must come back, pools must end full. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amonesize.h"
#include "amonesize_cache.h"
#include "amonesize_pthread.h"
#include "amonesize_shared.h"

#if defined(HAVE_VALGRIND_H)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#define RUNNING_ON_VALGRIND 0
#endif

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

enum { BURST = 1000, MAX_THREADS = 64, RING = 1024, KEEP_DEFAULT = 4, MAX_KEEP = 16, MAX_SIZES = 8 };
enum { MAX_SIZE = 4096 }; /* --sizes: the threaded cases map 65 024 blocks per pool */

/* What the standalone loop writes to each block before freeing it (--touch):
 * by default its first byte, as a program would. */
enum touch { TOUCH_BYTE, TOUCH_WORD, TOUCH_NONE };
static const char *const touch_names[] = {"byte", "word", "none"};

static struct {
    enum touch touch;
    bool touch_given; /* --touch was given (else --crosscheck writes nothing, as the benchmark's loop) */
    bool quick, csv_only;
    int reps;
    int keep; /* blocks each single-thread case keeps allocated: see KEEP_BEGIN */
    unsigned threads;
    const char *filter, *csv;
    size_t sizes[MAX_SIZES]; /* block sizes from --sizes; nsizes 0: each mode's default */
    int nsizes;
    FILE *csvf;
    bool tty;
} cfg;

static int failures; /* self-checks that failed: a broken allocator cannot win */

static void fail(const char *what, const char *name)
{
    fprintf(stderr, "BENCH CHECK FAILED: %s: %s\n", name, what);
    failures++;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the competitors, loaded privately ---------------------------------- */

/* The files each row's functions must come from: names separated by '|', a
 * trailing '*' for any version. */
#if defined(__GLIBC__)
#define LIBC_SO    "libc.so.6"
#define PTHREAD_SO "libc.so.6|libpthread.so.0" /* glibc before 2.34 kept it apart */
#else
#define LIBC_SO    "libc.so|libc.musl-*|ld-musl-*"
#define PTHREAD_SO LIBC_SO
#endif
#define ONESIZE_SO  "libamonesize.so.*"
#define MIMALLOC_SO "libmimalloc.so.2"
#define JEMALLOC_SO "libjemalloc.so.2"
#define TCMALLOC_SO "libtcmalloc_minimal.so.4"
#define SELF_EXE    NULL /* this executable */

/* Their entry points, from dlsym(); NULL while not loaded. jemalloc's are its
 * malloc and free, looked up in its own handle (dlsym() searches the library
 * before its dependencies; the start-up check confirms where they are):
 * jemalloc 5.3's mallocx and dallocx skip the fast paths its malloc and free
 * take (186 against 68 instructions per lifo pair here), and programs that
 * use jemalloc call malloc and free. */
static void *(*mi_malloc_fn)(size_t);
static void (*mi_free_fn)(void *);
static void *(*je_malloc_fn)(size_t);
static void (*je_free_fn)(void *);
static void *(*tc_malloc_fn)(size_t);
static void (*tc_free_fn)(void *);

static struct competitor {
    const char *name, *soname, *alloc_sym, *free_sym;
    void *alloc_slot, *free_slot; /* the function pointers above, set from dlsym() */
    bool loaded;
    char why[256]; /* why not, when not loaded */
} competitors[] = {
    {"mimalloc", MIMALLOC_SO, "mi_malloc", "mi_free", &mi_malloc_fn, &mi_free_fn, false, ""},
    {"jemalloc", JEMALLOC_SO, "malloc", "free", &je_malloc_fn, &je_free_fn, false, ""},
    {"tcmalloc", TCMALLOC_SO, "tc_malloc", "tc_free", &tc_malloc_fn, &tc_free_fn, false, ""},
};
#define NCOMPETITORS (sizeof competitors / sizeof competitors[0])

/* dlsym() returns a void * and the slot holds a function pointer: POSIX
 * makes the two interchangeable, ISO C has no conversion, memcpy does it. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function and object pointers differ in size");

/* RTLD_LOCAL: the library's malloc and free stay out of the global scope, so
 * the rest of the process (glibc's row included) never binds to them. A
 * library that cannot be loaded is "not found", not an error. */
static void load_competitor(struct competitor *c)
{
    if (c->loaded)
        return;
    void *h = dlopen(c->soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(c->why, sizeof c->why, "%s", e != NULL ? e : c->soname);
        return;
    }
    void *a = dlsym(h, c->alloc_sym), *f = dlsym(h, c->free_sym);
    if (a == NULL || f == NULL) {
        snprintf(c->why, sizeof c->why, "%s has no %s", c->soname, a == NULL ? c->alloc_sym : c->free_sym);
        dlclose(h);
        return;
    }
    memcpy(c->alloc_slot, &a, sizeof a);
    memcpy(c->free_slot, &f, sizeof f);
    c->loaded = true; /* never closed: its blocks and threads' heaps outlive every case */
}

static struct competitor *competitor_named(const char *name)
{
    for (size_t i = 0; i < NCOMPETITORS; i++)
        if (strcmp(competitors[i].name, name) == 0)
            return &competitors[i];
    return NULL;
}

/* jemalloc's thread-local storage uses the initial-exec model (2.6 KB), which
 * dlopen() can only place in the surplus glibc reserves at start-up: 512
 * bytes unless the glibc.rtld.optional_static_tls tunable says otherwise.
 * So the benchmark executes itself again, once, with a larger surplus. The
 * marker variable stops a second round and lets the children of --callgrind
 * and --standalone, which inherit both, start directly. Not under Valgrind:
 * the new image would run outside it. If this fails, jemalloc is "not found"
 * with dlopen()'s reason. */
static void reserve_static_tls(char **argv)
{
    static const char tunable[] = "glibc.rtld.optional_static_tls=16384";
    if (getenv("AMONESIZE_BENCH_TLS") != NULL || RUNNING_ON_VALGRIND)
        return;
    setenv("AMONESIZE_BENCH_TLS", "1", 1);
    const char *old = getenv("GLIBC_TUNABLES");
    if (old != NULL && strstr(old, "optional_static_tls") != NULL)
        return; /* the user's choice */
    char buf[1024];
    const int n =
        snprintf(buf, sizeof buf, "%s%s%s", old != NULL ? old : "", old != NULL && *old ? ":" : "", tunable);
    if (n < 0 || (size_t)n >= sizeof buf)
        return;
    setenv("GLIBC_TUNABLES", buf, 1);
    execv("/proc/self/exe", argv);
}

/* ---- onesize pools ------------------------------------------------------ */

/* One pool per onesize row. The private ones share one mapping (the state
 * bitmaps of the hardened ones after the pools); the shared one has a
 * MAP_SHARED mapping of its own, as processes sharing it would. */
static struct am_onesize os_plain, os_mutex, os_spin, os_sync, os_state, os_check, os_hard;
static struct am_onesize_pthread os_sync_obj; /* os_sync's mutex and condition variable */
static struct am_onesize_shared os_shared;    /* this process's handle on the shared pool */
/* Each thread's cache in front of the mutex pool ("onesize+cache"). */
static _Thread_local struct am_onesize_cache tl_cache;

static void cache_begin(void)
{
    if (am_onesize_cache_init(&tl_cache, &os_mutex, 0) != 0)
        fail("am_onesize_cache_init", "onesize+cache");
}

static void cache_end(void)
{
    am_onesize_cache_flush(&tl_cache);
}
static pthread_mutex_t os_mtx = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag os_spinlock = ATOMIC_FLAG_INIT;
static unsigned char *pool_mem, *shared_mem;
static size_t pool_mem_bytes, shared_mem_bytes;

static void spin_enter(void *ctx)
{
    (void)ctx;
    while (atomic_flag_test_and_set_explicit(&os_spinlock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void spin_exit(void *ctx)
{
    (void)ctx;
    atomic_flag_clear_explicit(&os_spinlock, memory_order_release);
}

enum pool_lock { LOCK_NONE, LOCK_MUTEX, LOCK_SPIN, LOCK_SYNC };

/* The private pools: how each is made. */
static const struct pool_spec {
    struct am_onesize *os;
    const char *name;
    enum pool_lock lock;
    bool state;     /* a state bitmap (cfg.state) */
    unsigned flags; /* cfg.flags */
} pool_specs[] = {
    {&os_plain, "onesize", LOCK_NONE, false, 0},
    {&os_mutex, "onesize+mutex", LOCK_MUTEX, false, 0},
    {&os_spin, "onesize+spin", LOCK_SPIN, false, 0},
    {&os_sync, "onesize+sync", LOCK_SYNC, false, 0},
    {&os_state, "onesize+state", LOCK_NONE, true, 0},
    {&os_check, "onesize+check-freed", LOCK_NONE, false, AM_ONESIZE_CHECK_FREED},
    {&os_hard, "onesize+hardened", LOCK_NONE, true, AM_ONESIZE_CHECK_FREED},
};
#define NPOOLS (sizeof pool_specs / sizeof pool_specs[0])

static void *map_or_die(size_t bytes, int flags)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* Every onesize pool, nblocks blocks of bsize bytes each. */
static void pools_make(size_t bsize, size_t nblocks)
{
    const size_t each = (bsize < 16 ? 16 : bsize) * nblocks + 64;
    const size_t state = (AM_ONESIZE_STATE_SIZE(each, bsize) + 63) & ~(size_t)63;
    if (each / nblocks < bsize || SIZE_MAX / NPOOLS - state < each) {
        fprintf(stderr, "amonesize-bench: %zu blocks of %zu bytes do not fit in the address space\n", nblocks,
                bsize);
        exit(1);
    }
    pool_mem_bytes = NPOOLS * (each + state);
    pool_mem = map_or_die(pool_mem_bytes, MAP_PRIVATE);
    if (am_onesize_pthread_init(&os_sync_obj) != 0)
        exit(1);
    for (size_t i = 0; i < NPOOLS; i++) {
        const struct pool_spec *s = &pool_specs[i];
        struct am_onesize_cfg c = {.pool = {pool_mem + i * each, each}, .block_size = bsize, .alignment = 16};
        if (s->state)
            c.state = (struct am_blk){pool_mem + NPOOLS * each + i * state, state};
        c.flags = s->flags;
        if (s->lock == LOCK_MUTEX)
            am_onesize_pthread_set_crit(&c, &os_mtx);
        else if (s->lock == LOCK_SYNC)
            am_onesize_pthread_set_sync(&c, &os_sync_obj);
        else if (s->lock == LOCK_SPIN) {
            c.crit_enter = spin_enter;
            c.crit_exit = spin_exit;
        }
        if (am_onesize_ctor(s->os, &c) != 0) {
            fprintf(stderr, "amonesize-bench: %s: am_onesize_ctor failed\n", s->name);
            exit(1);
        }
    }
    /* The shared pool: laid out in the region, then attached by this process
     * like any other that maps it. */
    shared_mem_bytes = am_onesize_shared_size(nblocks, bsize, 16);
    if (shared_mem_bytes == 0)
        exit(1);
    shared_mem = map_or_die(shared_mem_bytes, MAP_SHARED);
    int err = am_onesize_shared_create(shared_mem, shared_mem_bytes, bsize, 16);
    if (err == 0)
        err = am_onesize_shared_attach(&os_shared, shared_mem, shared_mem_bytes);
    if (err != 0) {
        fprintf(stderr, "amonesize-bench: onesize+shared: %s\n", strerror(-err));
        exit(1);
    }
    cache_begin(); /* the main thread's, for single-thread cases */
}

/* Whether a pool's counters say every block came back and nothing was
 * rejected, damaged or retired (and that they were read: a pool has blocks). */
static bool stats_clean(const struct am_onesize_stats *st)
{
    return st->nblocks != 0 && st->nfree == st->nblocks &&
           st->allocations == st->frees + st->freed_by_free_all && !st->rejected_double &&
           !st->rejected_interior && !st->rejected_outside && !st->rejected_never_allocated &&
           !st->corruptions && !st->retired && !st->freed_writes;
}

static void pools_drop(void)
{
    cache_end();
    for (size_t i = 0; i < NPOOLS; i++) {
        struct am_onesize_stats st;
        am_onesize_get_stats(pool_specs[i].os, &st);
        if (!stats_clean(&st) || am_onesize_check(pool_specs[i].os) != 0)
            fail("pool not full at the end, misuse counted, or its check failed", pool_specs[i].name);
        am_onesize_dtor(pool_specs[i].os);
    }
    am_onesize_pthread_destroy(&os_sync_obj);
    struct am_onesize_stats st;
    struct am_onesize_shared_stats sst;
    if (am_onesize_shared_get_stats(&os_shared, &st, &sst) != 0 || !stats_clean(&st) || sst.owners != 1 ||
        sst.in_transit != 0 || sst.recoveries != 0 || sst.reclaimed != 0 ||
        am_onesize_shared_check(&os_shared) != 0)
        fail("pool not full at the end, misuse counted, or its check failed", "onesize+shared");
    am_onesize_shared_detach(&os_shared);
    munmap(shared_mem, shared_mem_bytes);
    munmap(pool_mem, pool_mem_bytes);
}

/* A bare free list, no checks, behind the same kind of mutex: the floor the
 * "onesize+mutex" target is measured against. */
static void *bare_head;
static pthread_mutex_t bare_mtx = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *bare_mem;
static size_t bare_next, bare_n, bare_bsize;

static void bare_make(size_t bsize, size_t nblocks)
{
    bare_bsize = bsize < 16 ? 16 : (bsize + 15) & ~(size_t)15;
    bare_n = nblocks;
    bare_next = 0;
    bare_head = NULL;
    bare_mem = mmap(NULL, bare_bsize * nblocks, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (bare_mem == MAP_FAILED)
        exit(1);
}

static void bare_drop(void)
{
    munmap(bare_mem, bare_bsize * bare_n);
}

static inline void *bare_alloc(void)
{
    void *p = bare_head;
    if (p != NULL)
        bare_head = *(void **)p;
    else if (bare_next < bare_n)
        p = bare_mem + bare_bsize * bare_next++;
    return p;
}

static inline void bare_free(void *p)
{
    *(void **)p = bare_head;
    bare_head = p;
}

static inline void *bare_mutex_alloc(void)
{
    pthread_mutex_lock(&bare_mtx);
    void *p = bare_alloc();
    pthread_mutex_unlock(&bare_mtx);
    return p;
}

static inline void bare_mutex_free(void *p)
{
    pthread_mutex_lock(&bare_mtx);
    bare_free(p);
    pthread_mutex_unlock(&bare_mtx);
}

/* The same bare list, locked through the pthread adapter's callbacks called
 * through pointers, as onesize calls them: what the callback interface
 * itself costs. */
static void (*volatile bare_enter)(void *) = am_onesize_pthread_enter;
static void (*volatile bare_exit)(void *) = am_onesize_pthread_exit;

static inline void *bare_cb_alloc(void)
{
    void (*enter)(void *) = bare_enter, (*leave)(void *) = bare_exit;
    enter(&bare_mtx);
    void *p = bare_alloc();
    leave(&bare_mtx);
    return p;
}

static inline void bare_cb_free(void *p)
{
    void (*enter)(void *) = bare_enter, (*leave)(void *) = bare_exit;
    enter(&bare_mtx);
    bare_free(p);
    leave(&bare_mtx);
}

/* No allocator at all: each thread cycles through its own slice of a static
 * array. The floor of every pattern: the loop, the ring and the traffic of
 * block lines between cores, with nothing allocated. */
static alignas(64) unsigned char floor_mem[2][8192 * 64];
static _Thread_local unsigned floor_next, floor_slice;
static atomic_uint floor_slices;

static inline void *floor_alloc(void)
{
    if (floor_next == 0)
        floor_slice = atomic_fetch_add(&floor_slices, 1) % 2;
    return floor_mem[floor_slice] + 64 * (floor_next++ % 8192);
}

/* ---- the allocators, as expressions ------------------------------------- */

static size_t cur_size; /* the request size of the case being run */

/* The third-party allocators are called through their dlsym() pointer,
 * copied into a const local before the loop: one indirect call through a
 * register, which is what the call to a linked allocator costs too (a call to
 * its PLT entry, which jumps through the GOT). */
#define MIMALLOC_FNS                                                                                         \
    void *(*const alloc_fn)(size_t) = mi_malloc_fn;                                                          \
    void (*const free_fn)(void *) = mi_free_fn;                                                              \
    (void)alloc_fn;                                                                                          \
    (void)free_fn
#define JEMALLOC_FNS                                                                                         \
    void *(*const alloc_fn)(size_t) = je_malloc_fn;                                                          \
    void (*const free_fn)(void *) = je_free_fn;                                                              \
    (void)alloc_fn;                                                                                          \
    (void)free_fn
#define TCMALLOC_FNS                                                                                         \
    void *(*const alloc_fn)(size_t) = tc_malloc_fn;                                                          \
    void (*const free_fn)(void *) = tc_free_fn;                                                              \
    (void)alloc_fn;                                                                                          \
    (void)free_fn
#define NO_FNS (void)0

/* What each row calls, for the start-up check: FN for a function called by
 * name, PTR for one called through a pointer; each with the file it must
 * come from. The inline fast paths run in this executable: what they call
 * out of line must be the library's. */
#if AM_ONESIZE_HAS_INLINE
#define ONESIZE_CALLS FN(am_onesize_impl_allocate, ONESIZE_SO) FN(am_onesize_impl_free, ONESIZE_SO)
#define LOCKED_CALLS                                                                                         \
    ONESIZE_CALLS FN(am_onesize_impl_allocate_in, ONESIZE_SO) FN(am_onesize_impl_free_in, ONESIZE_SO)        \
        FN(am_onesize_impl_failed, ONESIZE_SO) FN(am_onesize_impl_report, ONESIZE_SO)
#define CACHE_CALLS FN(am_onesize_impl_cache_allocate, ONESIZE_SO) FN(am_onesize_impl_cache_free, ONESIZE_SO)
#else
#define ONESIZE_CALLS FN(am_onesize_allocate, ONESIZE_SO) FN(am_onesize_free, ONESIZE_SO)
#define LOCKED_CALLS  ONESIZE_CALLS
#define CACHE_CALLS   FN(am_onesize_cache_allocate, ONESIZE_SO) FN(am_onesize_cache_free, ONESIZE_SO)
#endif
/* The callbacks am_onesize_pthread_set_crit() and am_onesize_pthread_set_sync()
 * install, as pools_make() uses them (crit_notify runs only while a thread
 * waits, which no case does; it is checked all the same). */
static struct am_onesize_cfg adapter_cfg, sync_cfg;
#define ADAPTER_CALLS                                                                                        \
    PTR("crit_enter (pthread adapter)", adapter_cfg.crit_enter, ONESIZE_SO)                                  \
    PTR("crit_exit (pthread adapter)", adapter_cfg.crit_exit, ONESIZE_SO)
#define SYNC_CALLS                                                                                           \
    PTR("crit_enter (pthread sync)", sync_cfg.crit_enter, ONESIZE_SO)                                        \
    PTR("crit_exit (pthread sync)", sync_cfg.crit_exit, ONESIZE_SO)                                          \
    PTR("crit_notify (pthread sync)", sync_cfg.crit_notify, ONESIZE_SO)

/* Each allocator: name, thread-safe, local declarations, allocate
 * expression, free statement, the functions it calls. The hardened pools
 * (state bitmap, checked fill, both) are unlocked, for one thread. The
 * shared pool's handle may be used by every thread of the process that
 * attached it (<amonesize_shared.h>), so it runs the threaded cases too. */
#define ALLOCATORS(X)                                                                                        \
    X(onesize, 0, NO_FNS, am_onesize_allocate(&os_plain, cur_size), am_onesize_free(&os_plain, p),           \
      ONESIZE_CALLS)                                                                                         \
    X(onesize_state, 0, NO_FNS, am_onesize_allocate(&os_state, cur_size), am_onesize_free(&os_state, p),     \
      ONESIZE_CALLS)                                                                                         \
    X(onesize_check_freed, 0, NO_FNS, am_onesize_allocate(&os_check, cur_size),                              \
      am_onesize_free(&os_check, p), ONESIZE_CALLS)                                                          \
    X(onesize_hardened, 0, NO_FNS, am_onesize_allocate(&os_hard, cur_size), am_onesize_free(&os_hard, p),    \
      ONESIZE_CALLS)                                                                                         \
    X(onesize_cache, 1, NO_FNS, am_onesize_cache_allocate(&tl_cache, cur_size),                              \
      am_onesize_cache_free(&tl_cache, p), CACHE_CALLS)                                                      \
    X(onesize_mutex, 1, NO_FNS, am_onesize_allocate(&os_mutex, cur_size), am_onesize_free(&os_mutex, p),     \
      LOCKED_CALLS ADAPTER_CALLS)                                                                            \
    X(onesize_sync, 1, NO_FNS, am_onesize_allocate(&os_sync, cur_size), am_onesize_free(&os_sync, p),        \
      LOCKED_CALLS SYNC_CALLS)                                                                               \
    X(onesize_shared, 1, NO_FNS, am_onesize_shared_allocate(&os_shared, cur_size),                           \
      am_onesize_shared_free(&os_shared, p),                                                                 \
      FN(am_onesize_shared_allocate, ONESIZE_SO) FN(am_onesize_shared_free, ONESIZE_SO))                     \
    X(onesize_spin, 1, NO_FNS, am_onesize_allocate(&os_spin, cur_size), am_onesize_free(&os_spin, p),        \
      LOCKED_CALLS FN(spin_enter, SELF_EXE) FN(spin_exit, SELF_EXE))                                         \
    X(bare_list, 0, NO_FNS, bare_alloc(), bare_free(p), )                                                    \
    X(bare_list_mutex, 1, NO_FNS, bare_mutex_alloc(), bare_mutex_free(p),                                    \
      FN(pthread_mutex_lock, PTHREAD_SO) FN(pthread_mutex_unlock, PTHREAD_SO))                               \
    X(bare_list_callbacks, 1, NO_FNS, bare_cb_alloc(), bare_cb_free(p),                                      \
      PTR("bare_enter (pthread adapter)", bare_enter, ONESIZE_SO)                                            \
          PTR("bare_exit (pthread adapter)", bare_exit, ONESIZE_SO))                                         \
    X(glibc, 1, NO_FNS, malloc(cur_size), free(p), FN(malloc, LIBC_SO) FN(free, LIBC_SO))                    \
    X(none, 1, NO_FNS, floor_alloc(), (void)p, )                                                             \
    X(mimalloc, 1, MIMALLOC_FNS, alloc_fn(cur_size), free_fn(p),                                             \
      PTR("mi_malloc", mi_malloc_fn, MIMALLOC_SO) PTR("mi_free", mi_free_fn, MIMALLOC_SO))                   \
    X(jemalloc, 1, JEMALLOC_FNS, alloc_fn(cur_size), free_fn(p),                                             \
      PTR("malloc (jemalloc's)", je_malloc_fn, JEMALLOC_SO)                                                  \
          PTR("free (jemalloc's)", je_free_fn, JEMALLOC_SO))                                                 \
    X(tcmalloc, 1, TCMALLOC_FNS, alloc_fn(cur_size), free_fn(p),                                             \
      PTR("tc_malloc", tc_malloc_fn, TCMALLOC_SO) PTR("tc_free", tc_free_fn, TCMALLOC_SO))

/* Threaded cases share these. Each thread times itself: with as many
 * threads as cores, the main thread may not run again until they are done. */
static pthread_barrier_t barrier;
static _Atomic double t_first_start, t_last_end;

static void thread_started(void)
{
    double t = now_ns(), cur = atomic_load(&t_first_start);
    while ((cur == 0 || t < cur) && !atomic_compare_exchange_weak(&t_first_start, &cur, t))
        ;
}

static void thread_begin(const char *name)
{
    if (strcmp(name, "onesize_cache") == 0)
        cache_begin();
}

static void thread_end(const char *name)
{
    if (strcmp(name, "onesize_cache") == 0)
        cache_end();
}

static void thread_ended(void)
{
    double t = now_ns(), cur = atomic_load(&t_last_end);
    while (t > cur && !atomic_compare_exchange_weak(&t_last_end, &cur, t))
        ;
}
static size_t thread_iters;
static atomic_int thread_failures;

struct ring {
    _Alignas(64) atomic_size_t head;
    _Alignas(64) atomic_size_t tail;
    _Alignas(64) void *slot[RING];
};
static struct ring ring;

/* Applications always have other blocks live. A single-thread loop that frees
 * the only block it holds leaves some allocators in a state no application
 * sees: mimalloc's page empties on every free and it runs its page-retire
 * path each time (107 instructions per lifo pair here, against about 45 with
 * one other block live on the page). So every single-thread case (lifo,
 * burst, scale, the --callgrind loop and the --standalone loop, for every
 * row alike) first allocates cfg.keep blocks (--keep, KEEP_DEFAULT) from the
 * allocator it measures, outside the measured loop, and frees them after it.
 * The threaded cases keep nothing: each thread's loop is as in 0.1. */
#define KEEP_BEGIN(name, ALLOC)                                                                              \
    unsigned char *keep[MAX_KEEP];                                                                           \
    for (int k = 0; k < cfg.keep; k++) {                                                                     \
        keep[k] = ALLOC;                                                                                     \
        if (keep[k] == NULL)                                                                                 \
            fail("could not allocate the blocks kept live", name);                                           \
        ESCAPE(keep[k]);                                                                                     \
    }
#define KEEP_END(FREE)                                                                                       \
    for (int k = 0; k < cfg.keep; k++) {                                                                     \
        unsigned char *p = keep[k];                                                                          \
        if (p != NULL)                                                                                       \
            FREE;                                                                                            \
    }

#define DEFINE_LOOPS(name, safe, PREP, ALLOC, FREE, CALLS)                                                   \
    static double lifo_##name(size_t iters)                                                                  \
    {                                                                                                        \
        PREP;                                                                                                \
        KEEP_BEGIN(#name, ALLOC);                                                                            \
        size_t bad = 0;                                                                                      \
        const double t0 = now_ns();                                                                          \
        for (size_t i = 0; i < iters; i++) {                                                                 \
            unsigned char *p = ALLOC;                                                                        \
            bad += p == NULL;                                                                                \
            ESCAPE(p);                                                                                       \
            FREE;                                                                                            \
        }                                                                                                    \
        const double t = now_ns() - t0;                                                                      \
        KEEP_END(FREE);                                                                                      \
        if (bad)                                                                                             \
            fail("allocation failed in lifo", #name);                                                        \
        return t / (double)iters;                                                                            \
    }                                                                                                        \
    static void callgrind_##name(size_t iters)                                                               \
    {                                                                                                        \
        PREP;                                                                                                \
        KEEP_BEGIN(#name, ALLOC);                                                                            \
        for (size_t i = 0; i < 1000; i++) { /* warm up outside the count */                                  \
            unsigned char *p = ALLOC;                                                                        \
            ESCAPE(p);                                                                                       \
            FREE;                                                                                            \
        }                                                                                                    \
        CALLGRIND_START_INSTRUMENTATION;                                                                     \
        CALLGRIND_TOGGLE_COLLECT;                                                                            \
        for (size_t i = 0; i < iters; i++) {                                                                 \
            unsigned char *p = ALLOC;                                                                        \
            ESCAPE(p);                                                                                       \
            FREE;                                                                                            \
        }                                                                                                    \
        CALLGRIND_TOGGLE_COLLECT;                                                                            \
        CALLGRIND_STOP_INSTRUMENTATION;                                                                      \
        KEEP_END(FREE);                                                                                      \
    }                                                                                                        \
    static double burst_##name(size_t rounds, const uint32_t *order)                                         \
    {                                                                                                        \
        PREP;                                                                                                \
        static unsigned char *held[BURST];                                                                   \
        KEEP_BEGIN(#name, ALLOC);                                                                            \
        size_t bad = 0;                                                                                      \
        const double t0 = now_ns();                                                                          \
        for (size_t r = 0; r < rounds; r++) {                                                                \
            for (size_t i = 0; i < BURST; i++) {                                                             \
                unsigned char *p = ALLOC;                                                                    \
                bad += p == NULL;                                                                            \
                held[i] = p;                                                                                 \
                ESCAPE(p);                                                                                   \
            }                                                                                                \
            for (size_t i = 0; i < BURST; i++) {                                                             \
                unsigned char *p = held[order != NULL ? order[i] : BURST - 1 - i];                           \
                FREE;                                                                                        \
            }                                                                                                \
        }                                                                                                    \
        const double t = now_ns() - t0;                                                                      \
        KEEP_END(FREE);                                                                                      \
        if (bad)                                                                                             \
            fail("allocation failed in burst", #name);                                                       \
        return t / (double)(rounds * BURST);                                                                 \
    }                                                                                                        \
    static void *contended_thread_##name(void *arg)                                                          \
    {                                                                                                        \
        PREP;                                                                                                \
        (void)arg;                                                                                           \
        size_t bad = 0;                                                                                      \
        thread_begin(#name);                                                                                 \
        pthread_barrier_wait(&barrier);                                                                      \
        thread_started();                                                                                    \
        for (size_t i = 0; i < thread_iters; i++) {                                                          \
            unsigned char *p = ALLOC;                                                                        \
            if (p == NULL) {                                                                                 \
                bad++;                                                                                       \
                continue;                                                                                    \
            }                                                                                                \
            p[0] = (unsigned char)i;                                                                         \
            ESCAPE(p);                                                                                       \
            FREE;                                                                                            \
        }                                                                                                    \
        thread_end(#name);                                                                                   \
        thread_ended();                                                                                      \
        atomic_fetch_add(&thread_failures, (int)bad);                                                        \
        return NULL;                                                                                         \
    }                                                                                                        \
    static void *producer_##name(void *arg)                                                                  \
    {                                                                                                        \
        PREP;                                                                                                \
        (void)arg;                                                                                           \
        size_t bad = 0;                                                                                      \
        thread_begin(#name);                                                                                 \
        pthread_barrier_wait(&barrier);                                                                      \
        thread_started();                                                                                    \
        for (size_t i = 0; i < thread_iters; i++) {                                                          \
            unsigned char *p = ALLOC;                                                                        \
            while (p == NULL) { /* all blocks in the ring: wait for the consumer */                          \
                sched_yield();                                                                               \
                p = ALLOC;                                                                                   \
            }                                                                                                \
            p[0] = (unsigned char)i;                                                                         \
            const size_t t = atomic_load_explicit(&ring.tail, memory_order_relaxed);                         \
            while (t - atomic_load_explicit(&ring.head, memory_order_acquire) == RING)                       \
                ;                                                                                            \
            ring.slot[t % RING] = p;                                                                         \
            atomic_store_explicit(&ring.tail, t + 1, memory_order_release);                                  \
        }                                                                                                    \
        thread_end(#name);                                                                                   \
        thread_ended();                                                                                      \
        atomic_fetch_add(&thread_failures, (int)bad);                                                        \
        return NULL;                                                                                         \
    }                                                                                                        \
    static void *consumer_##name(void *arg)                                                                  \
    {                                                                                                        \
        PREP;                                                                                                \
        (void)arg;                                                                                           \
        size_t bad = 0;                                                                                      \
        thread_begin(#name);                                                                                 \
        pthread_barrier_wait(&barrier);                                                                      \
        thread_started();                                                                                    \
        for (size_t i = 0; i < thread_iters; i++) {                                                          \
            const size_t h = atomic_load_explicit(&ring.head, memory_order_relaxed);                         \
            while (atomic_load_explicit(&ring.tail, memory_order_acquire) == h)                              \
                ;                                                                                            \
            unsigned char *p = ring.slot[h % RING];                                                          \
            atomic_store_explicit(&ring.head, h + 1, memory_order_release);                                  \
            bad += p[0] != (unsigned char)i;                                                                 \
            FREE;                                                                                            \
        }                                                                                                    \
        thread_end(#name);                                                                                   \
        thread_ended();                                                                                      \
        atomic_fetch_add(&thread_failures, (int)bad);                                                        \
        return NULL;                                                                                         \
    }

ALLOCATORS(DEFINE_LOOPS)

/* ---- what each row calls, and where that lives --------------------------- */

/* Any function, for dladdr(): ISO C converts between function pointer types,
 * and memcpy from there to the void * dladdr() takes. */
typedef void (*any_fn)(void);

static void *code_addr(any_fn f)
{
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

struct call {
    const char *label; /* the function, as the row calls it */
    void *addr;        /* where the call goes; NULL while its library is not loaded */
    const char *file;  /* the file it must be in (see LIBC_SO), SELF_EXE for this executable */
};
enum { MAX_CALLS = 10 };

/* A function called by name resolves, in this position-independent executable
 * (bench/meson.build asks for one), to its address as the process binds it:
 * the GOT entry the dynamic linker filled, not a PLT stub. Each row's list
 * ends with an empty entry, so that a row without calls has one too. */
#define FN(f, where)         {#f, code_addr((any_fn)(f)), where},
#define PTR(label, f, where) {label, code_addr((any_fn)(f)), where},
#define DEFINE_CALLS(name, safe, PREP, ALLOC, FREE, CALLS)                                                   \
    static size_t calls_##name(struct call *c)                                                               \
    {                                                                                                        \
        const struct call list[] = {CALLS{NULL, NULL, NULL}};                                                \
        _Static_assert(sizeof list / sizeof list[0] <= MAX_CALLS + 1, "raise MAX_CALLS");                    \
        memcpy(c, list, sizeof list);                                                                        \
        return sizeof list / sizeof list[0] - 1;                                                             \
    }
ALLOCATORS(DEFINE_CALLS)

struct allocator {
    const char *name;
    bool thread_safe;
    size_t (*calls)(struct call *);
    double (*lifo)(size_t);
    void (*callgrind)(size_t);
    double (*burst)(size_t, const uint32_t *);
    void *(*contended)(void *);
    void *(*producer)(void *);
    void *(*consumer)(void *);
};

#define TABLE_ROW(name, safe, PREP, ALLOC, FREE, CALLS)                                                      \
    {#name,                                                                                                  \
     safe,                                                                                                   \
     calls_##name,                                                                                           \
     lifo_##name,                                                                                            \
     callgrind_##name,                                                                                       \
     burst_##name,                                                                                           \
     contended_thread_##name,                                                                                \
     producer_##name,                                                                                        \
     consumer_##name},
static const struct allocator allocators[] = {ALLOCATORS(TABLE_ROW)};
#define NALLOC (sizeof allocators / sizeof allocators[0])

/* "onesize_mutex" -> "onesize+mutex", "bare_list_mutex" -> "bare-list+mutex",
 * "onesize_check_freed" -> "onesize+check-freed": an underscore is a '+',
 * except inside the two-word names below. */
static const char *display(const char *name)
{
    static const char *const hyphenated[] = {"bare_list", "check_freed"};
    static char buf[64];
    snprintf(buf, sizeof buf, "%s", name);
    for (size_t h = 0; h < sizeof hyphenated / sizeof hyphenated[0]; h++)
        for (char *s = strstr(buf, hyphenated[h]); s != NULL; s = strstr(s + 1, hyphenated[h]))
            s[strcspn(hyphenated[h], "_")] = '-';
    for (char *c = buf; *c; c++)
        if (*c == '_')
            *c = '+';
    return buf;
}

static const struct allocator *allocator_named(const char *name)
{
    for (size_t i = 0; i < NALLOC; i++)
        if (strcmp(allocators[i].name, name) == 0)
            return &allocators[i];
    return NULL;
}

/* ---- verifying each row -------------------------------------------------- */

enum row_state { ROW_OK, ROW_NOT_FOUND, ROW_REFUSED };
static enum row_state row_state[NALLOC];
static void *self_base;          /* where this executable is mapped */
static char self_path[PATH_MAX]; /* and its file */

static void find_self(void)
{
    Dl_info info = {0};
    if (dladdr(code_addr((any_fn)find_self), &info) != 0)
        self_base = info.dli_fbase;
    const ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0)
        self_path[n] = '\0';
    else
        snprintf(self_path, sizeof self_path, "%s", info.dli_fname != NULL ? info.dli_fname : "?");
}

/* Whether the file at path is one of want's names ('|'-separated, a trailing
 * '*' matching any rest). */
static bool file_is(const char *path, const char *want)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    for (const char *w = want; *w != '\0';) {
        const size_t n = strcspn(w, "|");
        if (n > 0 &&
            (w[n - 1] == '*' ? strncmp(base, w, n - 1) == 0 : strlen(base) == n && strncmp(base, w, n) == 0))
            return true;
        w += n + (w[n] == '|');
    }
    return false;
}

/* The file the code at addr belongs to, as the dynamic linker maps it; *ok
 * says whether it is the one the call must be in. */
static const char *resolve(const struct call *c, bool *ok)
{
    Dl_info info;
    if (dladdr(c->addr, &info) == 0 || info.dli_fname == NULL) {
        *ok = false;
        return "no loaded object";
    }
    const bool in_self = info.dli_fbase == self_base;
    const char *file = in_self ? self_path : info.dli_fname;
    *ok = c->file == SELF_EXE ? in_self : !in_self && file_is(file, c->file);
    return file;
}

/* Why a row's library is not loaded. */
static const char *why_not_found(const struct call *c)
{
    for (size_t i = 0; i < NCOMPETITORS; i++)
        if (c->file != NULL && strcmp(c->file, competitors[i].soname) == 0)
            return competitors[i].why;
    return "not loaded";
}

/* A row whose functions are not all in the files it names is refused, and
 * says so on stderr; one whose library could not be loaded is not found. */
static enum row_state verify_row(size_t i, bool say)
{
    struct call c[MAX_CALLS + 1];
    const size_t n = allocators[i].calls(c);
    for (size_t k = 0; k < n; k++)
        if (c[k].addr == NULL)
            return ROW_NOT_FOUND;
    enum row_state st = ROW_OK;
    for (size_t k = 0; k < n; k++) {
        bool ok;
        const char *file = resolve(&c[k], &ok);
        if (!ok) {
            if (say)
                fprintf(stderr, "REFUSED: %s: %s resolves to %s, not %s\n", display(allocators[i].name),
                        c[k].label, file, c[k].file != SELF_EXE ? c[k].file : "this executable");
            st = ROW_REFUSED;
        }
    }
    return st;
}

static void verify_rows(bool say)
{
    am_onesize_pthread_set_crit(&adapter_cfg, &os_mtx);
    am_onesize_pthread_set_sync(&sync_cfg, &os_sync_obj);
    for (size_t i = 0; i < NALLOC; i++)
        row_state[i] = verify_row(i, say);
}

static bool row_ok(const struct allocator *a)
{
    return row_state[a - allocators] == ROW_OK;
}

/* --list: every row, each function it calls and the file that resolves to.
 * Nonzero if a row that could be loaded is refused. */
static int list_rows(void)
{
    int refused = 0;
    printf("\nrows: each function a row calls and the file it resolves to\n");
    for (size_t i = 0; i < NALLOC; i++) {
        struct call c[MAX_CALLS + 1];
        const size_t n = allocators[i].calls(c);
        const char *name = allocators[i].name;
        if (row_state[i] == ROW_NOT_FOUND) {
            printf("  %-20s not found: %s\n", display(name), why_not_found(&c[0]));
            continue;
        }
        refused += row_state[i] == ROW_REFUSED;
        printf("  %-20s %s\n", display(name),
               row_state[i] == ROW_OK
                   ? (n == 0 ? "verified (no calls: inline in this executable)" : "verified")
                   : "REFUSED");
        for (size_t k = 0; k < n; k++) {
            bool ok;
            const char *file = resolve(&c[k], &ok);
            printf("      %-32s %s%s%s\n", c[k].label, file, ok ? "" : "  <- must be ",
                   ok                      ? ""
                   : c[k].file != SELF_EXE ? c[k].file
                                           : "this executable");
        }
    }
    return refused ? 1 : 0;
}

/* ---- running cases ------------------------------------------------------ */

enum { MAX_REPS = 31 };

struct result {
    double v[MAX_REPS];
    int n;
};

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(struct result *r, double *lo, double *hi)
{
    double s[MAX_REPS];
    memcpy(s, r->v, sizeof(double) * (size_t)r->n);
    qsort(s, (size_t)r->n, sizeof s[0], cmp_double);
    *lo = s[0];
    *hi = s[r->n - 1];
    return r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
}

static double run_threads(const struct allocator *a, bool handoff, unsigned nthreads, size_t iters)
{
    pthread_t t[MAX_THREADS];
    thread_iters = iters;
    atomic_store(&thread_failures, 0);
    atomic_store(&ring.head, 0);
    atomic_store(&ring.tail, 0);
    const unsigned n = handoff ? 2 : nthreads;
    atomic_store(&t_first_start, 0.0);
    atomic_store(&t_last_end, 0.0);
    pthread_barrier_init(&barrier, NULL, n);
    for (unsigned i = 0; i < n; i++)
        pthread_create(&t[i], NULL, handoff ? (i == 0 ? a->producer : a->consumer) : a->contended, NULL);
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    const double el = atomic_load(&t_last_end) - atomic_load(&t_first_start);
    pthread_barrier_destroy(&barrier);
    if (atomic_load(&thread_failures) != 0)
        fail(handoff ? "handoff lost or corrupted blocks" : "allocation failed under contention", a->name);
    /* ns per allocate+free pair, for all threads together (throughput) */
    return el / (double)(iters * (handoff ? 1 : nthreads));
}

static bool wanted(const char *pattern, const char *alloc, size_t size)
{
    if (cfg.filter == NULL)
        return true;
    char key[128];
    snprintf(key, sizeof key, "%s/%s/%zu", pattern, display(alloc), size);
    return strstr(key, cfg.filter) != NULL;
}

static void progress(const char *what)
{
    if (cfg.tty)
        fprintf(stderr, "\r\033[K%s", what);
}

static void table(const char *title, const char *pattern, size_t size, const struct allocator *const *as,
                  struct result *res, size_t n)
{
    double med[NALLOC + 8], lo, hi, glibc = 0, onesize = 0;
    for (size_t i = 0; i < n; i++) {
        med[i] = median(&res[i], &lo, &hi);
        if (strcmp(as[i]->name, "glibc") == 0)
            glibc = med[i];
        if (strcmp(as[i]->name, "onesize") == 0 ||
            (onesize == 0 && strcmp(as[i]->name, "onesize_mutex") == 0))
            onesize = med[i];
    }
    printf("\n%s, %zu-byte blocks (ns per allocate+free pair, median of %d; lower is better)\n", title, size,
           res[0].n);
    printf("  %-20s %9s %19s %9s %10s\n", "allocator", "median", "min-max", "vs glibc", "vs onesize");
    for (size_t i = 0; i < n; i++) {
        median(&res[i], &lo, &hi);
        char range[40], vg[16] = "-", vo[16] = "-";
        snprintf(range, sizeof range, "%.2f-%.2f", lo, hi);
        if (glibc > 0)
            snprintf(vg, sizeof vg, "%.2fx", glibc / med[i]);
        if (onesize > 0)
            snprintf(vo, sizeof vo, "%.2fx", onesize / med[i]);
        printf("  %-20s %9.2f %19s %9s %10s\n", display(as[i]->name), med[i], range, vg, vo);
        if (cfg.csvf)
            for (int r = 0; r < res[i].n; r++)
                fprintf(cfg.csvf, "%s,%s,%zu,%d,%.3f\n", pattern, display(as[i]->name), size, r, res[i].v[r]);
    }
    fflush(stdout);
}

static void shuffle(uint32_t *order, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        const size_t j = (size_t)((seed >> 33) % i);
        const uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* One pattern at one size: interleaved repetitions over all allocators. */
static void run_case(const char *pattern, size_t size)
{
    const struct allocator *as[NALLOC];
    size_t n = 0;
    const bool threaded = strcmp(pattern, "contended") == 0 || strcmp(pattern, "handoff") == 0;
    for (size_t i = 0; i < NALLOC; i++)
        if (row_ok(&allocators[i]) && (!threaded || allocators[i].thread_safe) &&
            wanted(pattern, allocators[i].name, size))
            as[n++] = &allocators[i];
    if (n == 0)
        return;
    cur_size = size;
    const size_t q = cfg.quick ? 10 : 1;
    const size_t nblocks = threaded ? (size_t)BURST * MAX_THREADS + RING : 4 * BURST;
    pools_make(size, nblocks);
    bare_make(size, nblocks);
    static uint32_t order[BURST];
    shuffle(order, BURST, 42);
    struct result res[NALLOC];
    memset(res, 0, sizeof res);
    const char *titles[] = {"lifo", "burst-reverse", "burst-shuffled"};
    for (int variant = 0; variant < (strcmp(pattern, "burst") == 0 ? 2 : 1); variant++) {
        memset(res, 0, sizeof res);
        for (int rep = 0; rep < cfg.reps; rep++) {
            for (size_t i = 0; i < n; i++) {
                char what[96];
                /* A long name is cut short: the line is only progress. */
                if (snprintf(what, sizeof what, "%s %zu B: %s, repetition %d of %d", pattern, size,
                             display(as[i]->name), rep + 1, cfg.reps) < 0)
                    what[0] = '\0';
                progress(what);
                double v;
                if (strcmp(pattern, "lifo") == 0)
                    v = as[i]->lifo(2000000 / q);
                else if (strcmp(pattern, "burst") == 0)
                    v = as[i]->burst(2000 / q, variant ? order : NULL);
                else if (strcmp(pattern, "contended") == 0)
                    v = run_threads(as[i], false, cfg.threads, 1000000 / q);
                else
                    v = run_threads(as[i], true, 2, 1000000 / q);
                res[i].v[res[i].n++] = v;
            }
        }
        progress("");
        char title[64];
        if (strcmp(pattern, "burst") == 0)
            snprintf(title, sizeof title, "%s", titles[1 + variant]);
        else if (strcmp(pattern, "contended") == 0)
            snprintf(title, sizeof title, "contended, %u threads", cfg.threads);
        else if (strcmp(pattern, "handoff") == 0)
            snprintf(title, sizeof title, "handoff, producer -> consumer");
        else
            snprintf(title, sizeof title, "%s", pattern);
        table(title, strcmp(pattern, "burst") == 0 ? titles[1 + variant] : pattern, size, as, res, n);
    }
    pools_drop();
    bare_drop();
}

/* Pool size must not matter: lifo and burst with 1e3, 1e5 and 1e7 blocks. */
static void run_scale(void)
{
    /* Every pool the benchmark has is made at the largest size: ten million
     * 64-byte blocks each do not fit in a 32-bit address space, a million do. */
    const bool wide = sizeof(void *) >= 8;
    const size_t sizes[] = {1000, 100000, wide ? 10000000 : 1000000};
    const size_t bsize = 64, q = cfg.quick ? 10 : 1;
    if (!row_ok(&allocators[0]) || !wanted("scale", "onesize", bsize))
        return;
    printf("\nscale: onesize, 64-byte blocks, ns per pair by pool size (median of %d)\n", cfg.reps);
    printf("  %-10s %14s %14s %14s %12s\n", "pattern", "1 000", "100 000", wide ? "10 000 000" : "1 000 000",
           wide ? "1e7 / 1e3" : "1e6 / 1e3");
    for (int pat = 0; pat < 2; pat++) {
        struct result res[3];
        memset(res, 0, sizeof res);
        for (int rep = 0; rep < cfg.reps; rep++) {
            for (int s = 0; s < 3; s++) {
                char what[80];
                snprintf(what, sizeof what, "scale %s, %zu blocks, repetition %d", pat ? "burst" : "lifo",
                         sizes[s], rep + 1);
                progress(what);
                cur_size = bsize;
                /* The blocks kept live come on top: a burst of 1 000 still
                 * fits in the pool of 1 000. */
                const size_t nblocks = sizes[s] + (size_t)cfg.keep;
                pools_make(bsize, nblocks);
                bare_make(bsize, 1);
                /* hand out and return every block first, so the whole pool
                 * is carved and on the free list */
                if (!cfg.quick || sizes[s] <= 100000) {
                    for (size_t i = 0; i < nblocks; i++)
                        if (am_onesize_allocate(&os_plain, 1) == NULL)
                            fail("pool smaller than its capacity", "scale");
                    am_onesize_free_all(&os_plain);
                }
                res[s].v[res[s].n++] =
                    pat ? allocators[0].burst(2000 / q, NULL) : allocators[0].lifo(2000000 / q);
                pools_drop();
                bare_drop();
            }
        }
        progress("");
        double m[3], lo, hi;
        for (int s = 0; s < 3; s++)
            m[s] = median(&res[s], &lo, &hi);
        printf("  %-10s %14.2f %14.2f %14.2f %11.2fx\n", pat ? "burst" : "lifo", m[0], m[1], m[2],
               m[2] / m[0]);
        if (cfg.csvf)
            for (int s = 0; s < 3; s++)
                for (int r = 0; r < res[s].n; r++)
                    fprintf(cfg.csvf, "scale-%s-%zu,onesize,%zu,%d,%.3f\n", pat ? "burst" : "lifo", sizes[s],
                            bsize, r, res[s].v[r]);
    }
}

/* ---- child processes ----------------------------------------------------- */

enum { EXIT_NOT_FOUND = 3 }; /* a child's competitor could not be loaded */

/* Runs argv in a child process, its standard output collected in out (NUL
 * terminated, cut at outlen - 1 bytes); its standard error is ours. Returns
 * its exit status, or -1 if it could not run or was killed. */
static int run_child(char *const argv[], char *out, size_t outlen)
{
    int fds[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0)
        return -1;
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) { /* read to the end, so that the child never blocks on a full pipe */
        char buf[512];
        const ssize_t k = read(fds[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        const size_t room = outlen - 1 - len, take = (size_t)k < room ? (size_t)k : room;
        memcpy(out + len, buf, take);
        len += take;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- instruction counts under callgrind --------------------------------- */

static void empty_loop(size_t iters)
{
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_TOGGLE_COLLECT;
    for (size_t i = 0; i < iters; i++) {
        unsigned char *p = (unsigned char *)&iters + (i & 1);
        ESCAPE(p);
    }
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_STOP_INSTRUMENTATION;
}

/* Instructions callgrind counts in one child: this executable run again with
 * mode (--callgrind-case or --standalone-child) and name, instrumentation
 * and collection on only between the client requests around its measured
 * loop. Valgrind's own messages go to /dev/null; the child's stderr is ours.
 * -1 if it failed; *status is its exit status. */
static long long callgrind_count(const char *mode, const char *name, size_t iters, size_t size, int *status)
{
    char out[] = "/tmp/amonesize-bench-cg-XXXXXX";
    int fd = mkstemp(out);
    *status = -1;
    if (fd < 0)
        return -1;
    close(fd);
    char outopt[64], itersarg[32], keeparg[16], touch[16], sizearg[24], sink[4096];
    snprintf(outopt, sizeof outopt, "--callgrind-out-file=%s", out);
    snprintf(itersarg, sizeof itersarg, "%zu", iters);
    snprintf(sizearg, sizeof sizearg, "%zu", size);
    snprintf(keeparg, sizeof keeparg, "%d", cfg.keep);
    snprintf(touch, sizeof touch, "%s", touch_names[cfg.touch]);
    char *argv[] = {"valgrind",
                    "--tool=callgrind",
                    "--collect-atstart=no",
                    "--instr-atstart=no",
                    "--log-file=/dev/null",
                    outopt,
                    self_path,
                    (char *)mode,
                    (char *)name,
                    "--iterations",
                    itersarg,
                    "--reps",
                    "1",
                    "--keep",
                    keeparg,
                    "--touch",
                    touch,
                    "--sizes",
                    sizearg,
                    NULL};
    *status = run_child(argv, sink, sizeof sink);
    long long total = -1;
    FILE *f = fopen(out, "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            long long v;
            if (sscanf(line, "totals: %lld", &v) == 1 || sscanf(line, "summary: %lld", &v) == 1)
                total = v;
        }
        fclose(f);
    }
    unlink(out);
    return *status == 0 ? total : -1;
}

/* --callgrind: every row at each block size of --sizes (default 64 bytes),
 * one column per size. */
static int run_callgrind(void)
{
    const size_t iters = 100000;
    int status;
    const long long empty = callgrind_count("--callgrind-case", "empty", iters, 64, &status);
    if (empty < 0) {
        fprintf(stderr,
                "amonesize-bench: could not run valgrind --tool=callgrind (is valgrind installed?)\n");
        return 1;
    }
    static const size_t default_size = 64;
    const size_t *sizes = cfg.nsizes != 0 ? cfg.sizes : &default_size;
    const int nsizes = cfg.nsizes != 0 ? cfg.nsizes : 1;
    char which[64] = "";
    for (int s = 0; s < nsizes; s++)
        snprintf(which + strlen(which), sizeof which - strlen(which), "%s%zu",
                 s == 0            ? ""
                 : s == nsizes - 1 ? " and "
                                   : ", ",
                 sizes[s]);
    printf("instructions per allocate+free pair, single-thread lifo, %s-byte blocks\n"
           "(valgrind --tool=callgrind, collection on the measured loop only, %zu pairs,\n"
           " the loop itself (%.2f instructions per iteration) subtracted; calls included)\n\n",
           which, iters, (double)empty / (double)iters);
    printf("  %-20s", "allocator");
    for (int s = 0; s < nsizes; s++) {
        char head[24];
        snprintf(head, sizeof head, "%zu B", sizes[s]);
        printf(" %10s", head);
    }
    printf("\n");
    for (size_t i = 0; i < NALLOC; i++) {
        bool any = false;
        for (int s = 0; s < nsizes; s++)
            any |= row_ok(&allocators[i]) && wanted("lifo", allocators[i].name, sizes[s]);
        if (!any)
            continue;
        printf("  %-20s", display(allocators[i].name));
        for (int s = 0; s < nsizes; s++) {
            if (!wanted("lifo", allocators[i].name, sizes[s])) {
                printf(" %10s", "-");
                continue;
            }
            const long long n =
                callgrind_count("--callgrind-case", allocators[i].name, iters, sizes[s], &status);
            const double per = (double)(n - empty) / (double)iters;
            if (n < 0)
                printf(" %10s", "failed");
            else
                printf(" %10.1f", per);
            if (cfg.csvf && n >= 0)
                fprintf(cfg.csvf, "callgrind-lifo,%s,%zu,0,%.2f\n", display(allocators[i].name), sizes[s],
                        per);
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}

/* The child of --callgrind: every competitor loaded, as in the benchmark. */
static int callgrind_case(const char *name, size_t iters)
{
    const struct allocator *a = allocator_named(name);
    if (a != NULL && !row_ok(a)) {
        verify_row((size_t)(a - allocators), true);
        return 1;
    }
    /* The block size: the first of --sizes, else 64 bytes. */
    cur_size = cfg.nsizes != 0 ? cfg.sizes[0] : 64;
    pools_make(cur_size, 4 * BURST);
    bare_make(cur_size, 4 * BURST);
    if (strcmp(name, "empty") == 0)
        empty_loop(iters);
    else if (a != NULL)
        a->callgrind(iters);
    pools_drop();
    bare_drop();
    return (a != NULL || strcmp(name, "empty") == 0) && failures == 0 ? 0 : 1;
}

/* ---- the standalone loop ------------------------------------------------- */

/* The cross-check of the generated loops: a minimal loop written out by hand
 * (allocate 64 bytes, write one byte, free) in a fresh process, this
 * executable run again with --standalone-child, that loads no allocator but
 * the one named. Like the benchmark's loops, it first allocates --keep blocks
 * and holds them until the end (see KEEP_BEGIN), so both measure the
 * allocator with other blocks live and --crosscheck compares like with like.
 * Warmed up like the benchmark's callgrind loop; timing and collection on the
 * measured loop only. */
static const char *const standalone_names[] = {"glibc", "mimalloc", "jemalloc", "tcmalloc", "onesize"};
#define NSTANDALONE (sizeof standalone_names / sizeof standalone_names[0])

static bool is_standalone_name(const char *name)
{
    for (size_t i = 0; i < NSTANDALONE; i++)
        if (strcmp(standalone_names[i], name) == 0)
            return true;
    return false;
}

#define TOUCH_BYTE_STMT(p, i) ((p)[0] = (unsigned char)(i))
#define TOUCH_WORD_STMT(p, i)                                                                                \
    do {                                                                                                     \
        const uintptr_t w_ = (uintptr_t)(i);                                                                 \
        memcpy((p), &w_, sizeof w_);                                                                         \
    } while (0)
#define TOUCH_NONE_STMT(p, i) ((void)(p), (void)(i))

/* The warm-up and the measured repetitions, with one way of touching the
 * block compiled in (no test inside the loop). */
#define STANDALONE_REPS(ALLOC, FREE, TOUCH)                                                                  \
    do {                                                                                                     \
        for (size_t i = 0; i < 1000; i++) {                                                                  \
            unsigned char *p = ALLOC;                                                                        \
            TOUCH(p, i);                                                                                     \
            ESCAPE(p);                                                                                       \
            FREE;                                                                                            \
        }                                                                                                    \
        for (int r = 0; r < reps; r++) {                                                                     \
            const double t0 = now_ns();                                                                      \
            CALLGRIND_START_INSTRUMENTATION;                                                                 \
            CALLGRIND_TOGGLE_COLLECT;                                                                        \
            for (size_t i = 0; i < iters; i++) {                                                             \
                unsigned char *p = ALLOC;                                                                    \
                TOUCH(p, i);                                                                                 \
                ESCAPE(p);                                                                                   \
                FREE;                                                                                        \
            }                                                                                                \
            CALLGRIND_TOGGLE_COLLECT;                                                                        \
            CALLGRIND_STOP_INSTRUMENTATION;                                                                  \
            printf("%.4f\n", (now_ns() - t0) / (double)iters);                                               \
        }                                                                                                    \
    } while (0)

/* The kept blocks (see KEEP_BEGIN) are allocated before the warm-up and
 * freed after the last repetition, as in the benchmark's loops. */
#define STANDALONE_LOOP(PREP, ALLOC, FREE)                                                                   \
    do {                                                                                                     \
        PREP;                                                                                                \
        unsigned char *live[MAX_KEEP];                                                                       \
        for (size_t i = 0; i < (size_t)cfg.keep; i++) {                                                      \
            live[i] = ALLOC;                                                                                 \
            if (live[i] == NULL)                                                                             \
                return 1;                                                                                    \
            live[i][0] = (unsigned char)i;                                                                   \
        }                                                                                                    \
        switch (cfg.touch) {                                                                                 \
        case TOUCH_BYTE:                                                                                     \
            STANDALONE_REPS(ALLOC, FREE, TOUCH_BYTE_STMT);                                                   \
            break;                                                                                           \
        case TOUCH_WORD:                                                                                     \
            STANDALONE_REPS(ALLOC, FREE, TOUCH_WORD_STMT);                                                   \
            break;                                                                                           \
        case TOUCH_NONE:                                                                                     \
            STANDALONE_REPS(ALLOC, FREE, TOUCH_NONE_STMT);                                                   \
            break;                                                                                           \
        }                                                                                                    \
        for (size_t i = 0; i < (size_t)cfg.keep; i++) {                                                      \
            unsigned char *p = live[i];                                                                      \
            FREE;                                                                                            \
        }                                                                                                    \
    } while (0)

/* Prints ns per pair, one line per repetition; EXIT_NOT_FOUND (and why, on
 * stdout) if the allocator cannot be loaded, 1 if its row is refused. */
static int standalone_child(const char *name, size_t iters, int reps)
{
    static alignas(16) unsigned char bytes[16];
    if (strcmp(name, "empty") == 0) {
        STANDALONE_LOOP(NO_FNS, bytes + 8 * (i & 1), (void)p);
        return 0;
    }
    struct competitor *comp = competitor_named(name);
    if (comp != NULL) {
        load_competitor(comp);
        if (!comp->loaded) {
            printf("%s\n", comp->why);
            return EXIT_NOT_FOUND;
        }
    }
    const struct allocator *a = allocator_named(name);
    if (a == NULL || !is_standalone_name(name))
        return 2;
    if (verify_row((size_t)(a - allocators), true) != ROW_OK)
        return 1;
    if (strcmp(name, "glibc") == 0) {
        STANDALONE_LOOP(NO_FNS, malloc(64), free(p));
    } else if (strcmp(name, "mimalloc") == 0) {
        STANDALONE_LOOP(MIMALLOC_FNS, alloc_fn(64), free_fn(p));
    } else if (strcmp(name, "jemalloc") == 0) {
        STANDALONE_LOOP(JEMALLOC_FNS, alloc_fn(64), free_fn(p));
    } else if (strcmp(name, "tcmalloc") == 0) {
        STANDALONE_LOOP(TCMALLOC_FNS, alloc_fn(64), free_fn(p));
    } else {
        static alignas(64) unsigned char mem[64 * (MAX_KEEP + 64)];
        static struct am_onesize pool;
        const struct am_onesize_cfg c = {.pool = {mem, sizeof mem}, .block_size = 64, .alignment = 16};
        if (am_onesize_ctor(&pool, &c) != 0)
            return 1;
        STANDALONE_LOOP(NO_FNS, am_onesize_allocate(&pool, 64), am_onesize_free(&pool, p));
        am_onesize_dtor(&pool);
    }
    return 0;
}

/* Median ns per pair of the standalone loop: 0 and why when not found, -1 if
 * it failed. */
static double standalone_ns(const char *name, size_t iters, int reps, char *why, size_t whylen)
{
    char itersarg[32], repsarg[16], keeparg[16], touch[16], out[4096];
    snprintf(itersarg, sizeof itersarg, "%zu", iters);
    snprintf(repsarg, sizeof repsarg, "%d", reps);
    snprintf(keeparg, sizeof keeparg, "%d", cfg.keep);
    snprintf(touch, sizeof touch, "%s", touch_names[cfg.touch]);
    char *argv[] = {self_path,    "--standalone-child",
                    (char *)name, "--iterations",
                    itersarg,     "--reps",
                    repsarg,      "--keep",
                    keeparg,      "--touch",
                    touch,        NULL};
    const int status = run_child(argv, out, sizeof out);
    if (status == EXIT_NOT_FOUND) {
        size_t n = strcspn(out, "\n");
        n = n < whylen ? n : whylen - 1;
        memcpy(why, out, n);
        why[n] = '\0';
        return 0;
    }
    struct result r = {.n = 0};
    for (char *s = out; status == 0 && *s != '\0' && r.n < MAX_REPS;
         s += strcspn(s, "\n") + (s[strcspn(s, "\n")] != '\0'))
        r.v[r.n++] = strtod(s, NULL);
    if (status != 0 || r.n == 0)
        return -1;
    double lo, hi;
    return median(&r, &lo, &hi);
}

/* Instructions per pair of the standalone loop, net of the standalone empty
 * loop; 0 when not found, -1 if it failed. */
static double standalone_instr(const char *name, size_t iters, long long empty)
{
    int status;
    const long long n = callgrind_count("--standalone-child", name, iters, 64, &status);
    if (status == EXIT_NOT_FOUND)
        return 0;
    return n < 0 ? -1 : (double)(n - empty) / (double)iters;
}

static int run_standalone(const char *name, bool callgrind, size_t iters)
{
    char why[256] = "";
    if (callgrind) {
        int status;
        const long long empty = callgrind_count("--standalone-child", "empty", iters, 64, &status);
        if (empty < 0) {
            fprintf(stderr,
                    "amonesize-bench: could not run valgrind --tool=callgrind (is valgrind installed?)\n");
            return 1;
        }
        const double v = standalone_instr(name, iters, empty);
        if (v == 0) {
            printf("standalone %s: not found\n", name);
            return 0;
        }
        if (v < 0)
            return 1;
        printf(
            "standalone %s: %.1f instructions per allocate+free pair (callgrind, %zu pairs, the loop's own "
            "%.2f per iteration subtracted)\n",
            name, v, iters, (double)empty / (double)iters);
        return 0;
    }
    const int reps = cfg.reps != 0 ? cfg.reps : 5;
    const double v = standalone_ns(name, iters, reps, why, sizeof why);
    if (v == 0) {
        printf("standalone %s: not found: %s\n", name, why);
        return 0;
    }
    if (v < 0)
        return 1;
    printf("standalone %s: %.2f ns per allocate+free pair (median of %d, %zu pairs each, in a fresh process "
           "that loads no other allocator)\n",
           name, v, reps, iters);
    return 0;
}

/* The benchmark's own lifo loop, timed in this process (every competitor
 * loaded), 64-byte blocks: median ns per pair. */
static double bench_lifo_ns(const struct allocator *a, size_t iters, int reps)
{
    struct result r = {.n = 0};
    cur_size = 64;
    pools_make(64, 4 * BURST);
    bare_make(64, 4 * BURST);
    while (r.n < reps)
        r.v[r.n++] = a->lifo(iters);
    pools_drop();
    bare_drop();
    double lo, hi;
    return median(&r, &lo, &hi);
}

/* --crosscheck: for each competitor, the benchmark's lifo loop against the
 * standalone loop, in instructions (the deterministic figure, flagged when
 * more than 20% apart) and in time. Nonzero if a row is flagged or refused. */
static int run_crosscheck(void)
{
    const size_t iters = 100000, titers = 2000000;
    const int reps = cfg.reps;
    int status, flagged = 0;
    /* The same loop on both sides: the benchmark's writes nothing into a
     * block, so neither does the standalone one unless --touch says so
     * (what a write costs each allocator is --standalone --touch's table). */
    if (!cfg.touch_given)
        cfg.touch = TOUCH_NONE;
    const long long bempty = callgrind_count("--callgrind-case", "empty", iters, 64, &status);
    const long long sempty = callgrind_count("--standalone-child", "empty", iters, 64, &status);
    if (bempty < 0 || sempty < 0) {
        fprintf(stderr,
                "amonesize-bench: could not run valgrind --tool=callgrind (is valgrind installed?)\n");
        return 1;
    }
    printf("cross-check, single-thread lifo, 64-byte blocks: the benchmark's loop (every competitor loaded)\n"
           "against a minimal loop of its own in a fresh process that loads no other allocator.\n"
           "Both keep %d other block(s) live; the standalone loop writes the block's %s before freeing it.\n"
           "Instructions per allocate+free pair under callgrind (%zu pairs), each loop's own subtracted\n"
           "(benchmark %.2f, standalone %.2f per iteration); ns per pair, median of %d x %zu pairs,\n"
           "the two loops interleaved. Instructions more than 20%% apart fail the cross-check; times\n"
           "more than 20%% apart are marked, not failed (they move with the machine's load).\n\n",
           cfg.keep,
           cfg.touch == TOUCH_BYTE   ? "first byte"
           : cfg.touch == TOUCH_WORD ? "first word"
                                     : "nothing",
           iters, (double)bempty / (double)iters, (double)sempty / (double)iters, reps, titers);
    printf("  %-10s %10s %10s %7s   %10s %10s %7s\n", "", "bench", "standalone", "", "bench", "standalone",
           "");
    printf("  %-10s %10s %10s %7s   %10s %10s %7s\n", "allocator", "instr", "instr", "ratio", "ns", "ns",
           "ratio");
    for (size_t k = 0; k < NSTANDALONE; k++) {
        const char *name = standalone_names[k];
        const struct allocator *a = allocator_named(name);
        const enum row_state st = row_state[a - allocators];
        if (st != ROW_OK) {
            const struct competitor *comp = competitor_named(name);
            if (st == ROW_REFUSED)
                flagged++;
            printf("  %-10s %s%s\n", name, st == ROW_REFUSED ? "REFUSED (see stderr)" : "not found: ",
                   st == ROW_REFUSED || comp == NULL ? "" : comp->why);
            continue;
        }
        const long long b = callgrind_count("--callgrind-case", name, iters, 64, &status);
        const double bi = b < 0 ? -1 : (double)(b - bempty) / (double)iters;
        const double si = standalone_instr(name, iters, sempty);
        /* Timed in turns, one repetition each, so that the machine's load
         * changes both alike. */
        char why[256] = "";
        struct result br = {.n = 0}, sr = {.n = 0};
        double sn = 1;
        for (int r = 0; r < reps && sn > 0; r++) {
            br.v[br.n++] = bench_lifo_ns(a, titers, 1);
            sn = standalone_ns(name, titers, 1, why, sizeof why);
            sr.v[sr.n++] = sn;
        }
        double lo, hi;
        const double bn = median(&br, &lo, &hi);
        if (sn > 0)
            sn = median(&sr, &lo, &hi);
        if (bi < 0 || si <= 0 || sn <= 0) {
            printf("  %-10s failed (bench %.1f, standalone %.1f instructions; %s)\n", name, bi, si, why);
            flagged++;
            continue;
        }
        const double dev = (bi - si) / si;
        const double tdev = (bn - sn) / sn;
        const bool off = dev > 0.2 || dev < -0.2;
        const bool toff = tdev > 0.2 || tdev < -0.2;
        flagged += off;
        printf("  %-10s %10.1f %10.1f %6.2fx   %10.2f %10.2f %6.2fx%s%s\n", name, bi, si, bi / si, bn, sn,
               bn / sn, off ? "   <- instructions more than 20% apart" : "",
               toff ? "   <- time more than 20% apart" : "");
        fflush(stdout);
    }
    if (failures != 0)
        flagged++;
    printf("\n%s\n", flagged ? "cross-check FAILED: see the rows marked above"
                             : "cross-check passed: every available competitor within 20% in instructions");
    return flagged ? 1 : 0;
}

/* ---- main --------------------------------------------------------------- */

/* Whether --filter names this allocator in full, as its allocator field
 * ("lifo/glibc/64", "/glibc/", "glibc"): a refused row requested that way
 * makes the exit status nonzero. */
static bool filter_names(const char *alloc)
{
    const size_t n = strlen(alloc);
    if (cfg.filter == NULL)
        return false;
    for (const char *s = strstr(cfg.filter, alloc); s != NULL; s = strstr(s + 1, alloc))
        if ((s == cfg.filter || s[-1] == '/') && (s[n] == '\0' || s[n] == '/'))
            return true;
    return false;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: amonesize-bench [--quick] [--reps N] [--threads N] [--filter TEXT] [--csv FILE]\n"
        "                       [--sizes LIST] [--callgrind] [--list] [--standalone NAME] [--crosscheck]\n"
        "                       [--keep N] [--touch byte|word|none]\n"
        "  --quick       a run under 10 s (fewer iterations and repetitions)\n"
        "  --reps N      repetitions per case (default 7, quick 5; at least 5 for medians)\n"
        "  --threads N   threads for 'contended' (default: online CPUs)\n"
        "  --filter T    only cases whose 'pattern/allocator/size' contains T,\n"
        "                e.g. --filter lifo/ or --filter /64\n"
        "  --csv FILE    raw numbers: pattern,allocator,size,repetition,ns_per_pair\n"
        "  --sizes LIST  block sizes, e.g. 16,64,256 (the default; --quick: 64; --callgrind: 64)\n"
        "  --callgrind   instructions per allocate+free pair under callgrind, instead of timings\n"
        "  --list        every row, each function it calls and the file that resolves to;\n"
        "                exit status 1 if a row that could be loaded is refused\n"
        "  --standalone NAME  a minimal loop calling only NAME (glibc, mimalloc, jemalloc,\n"
        "                tcmalloc, onesize) in a fresh process: ns per pair, or with\n"
        "                --callgrind instructions per pair\n"
        "  --crosscheck  each competitor's instructions per pair in the benchmark against\n"
        "                --standalone; exit status 1 if any differ by more than 20%%\n"
        "  --keep N      blocks every single-thread case (lifo, burst, scale, --callgrind and\n"
        "                the --standalone loop alike) allocates before its measured loop and\n"
        "                frees after it, so that no allocator is measured with nothing else\n"
        "                live (mimalloc would retire its page on every free); default %d,\n"
        "                0 to measure that degenerate state; at most %d\n"
        "  --touch W     what the --standalone loop writes to each block before freeing it:\n"
        "                its first byte (default), its first word, or nothing; --crosscheck\n"
        "                writes nothing, as the benchmark's own loop, unless --touch is given\n"
        "A row whose functions do not resolve to the library it names is refused (REFUSED on\n"
        "stderr) and never printed; the exit status is 1 if --filter names a refused row.\n",
        KEEP_DEFAULT, MAX_KEEP);
}

int main(int argc, char **argv)
{
    enum {
        O_QUICK = 256,
        O_REPS,
        O_THREADS,
        O_FILTER,
        O_CSV,
        O_CALLGRIND,
        O_CASE,
        O_ITERS,
        O_LIST,
        O_STANDALONE,
        O_STANDALONE_CHILD,
        O_CROSSCHECK,
        O_KEEP,
        O_TOUCH,
        O_SIZES,
        O_HELP
    };
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, O_QUICK},
        {"reps", required_argument, NULL, O_REPS},
        {"threads", required_argument, NULL, O_THREADS},
        {"filter", required_argument, NULL, O_FILTER},
        {"csv", required_argument, NULL, O_CSV},
        {"callgrind", no_argument, NULL, O_CALLGRIND},
        {"callgrind-case", required_argument, NULL, O_CASE},
        {"iterations", required_argument, NULL, O_ITERS},
        {"list", no_argument, NULL, O_LIST},
        {"standalone", required_argument, NULL, O_STANDALONE},
        {"standalone-child", required_argument, NULL, O_STANDALONE_CHILD},
        {"crosscheck", no_argument, NULL, O_CROSSCHECK},
        {"keep", required_argument, NULL, O_KEEP},
        {"touch", required_argument, NULL, O_TOUCH},
        {"sizes", required_argument, NULL, O_SIZES},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    reserve_static_tls(argv);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.threads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (unsigned)ncpu;
    cfg.reps = 0;
    cfg.keep = KEEP_DEFAULT;
    bool callgrind = false, list = false, crosscheck = false;
    const char *one_case = NULL, *standalone = NULL, *child = NULL;
    size_t iters = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_QUICK:
            cfg.quick = true;
            break;
        case O_REPS:
            cfg.reps = atoi(optarg);
            if (cfg.reps < 1 || cfg.reps > MAX_REPS) {
                fprintf(stderr, "amonesize-bench: --reps must be 1..%d\n", MAX_REPS);
                return 2;
            }
            break;
        case O_THREADS:
            cfg.threads = (unsigned)atoi(optarg);
            if (cfg.threads < 1 || cfg.threads > MAX_THREADS) {
                fprintf(stderr, "amonesize-bench: --threads must be 1..%d\n", MAX_THREADS);
                return 2;
            }
            break;
        case O_FILTER:
            cfg.filter = optarg;
            break;
        case O_CSV:
            cfg.csv = optarg;
            break;
        case O_CALLGRIND:
            callgrind = true;
            break;
        case O_CASE:
            one_case = optarg;
            break;
        case O_ITERS:
            iters = (size_t)strtoull(optarg, NULL, 10);
            if (iters == 0) {
                fprintf(stderr, "amonesize-bench: --iterations must be at least 1\n");
                return 2;
            }
            break;
        case O_LIST:
            list = true;
            break;
        case O_STANDALONE:
        case O_STANDALONE_CHILD:
            if (!is_standalone_name(optarg) && !(c == O_STANDALONE_CHILD && strcmp(optarg, "empty") == 0)) {
                fprintf(
                    stderr,
                    "amonesize-bench: --standalone takes glibc, mimalloc, jemalloc, tcmalloc or onesize\n");
                return 2;
            }
            *(c == O_STANDALONE ? &standalone : &child) = optarg;
            break;
        case O_CROSSCHECK:
            crosscheck = true;
            break;
        case O_KEEP: {
            char *end;
            const long k = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || k < 0 || k > MAX_KEEP) {
                fprintf(stderr, "amonesize-bench: --keep must be 0..%d\n", MAX_KEEP);
                return 2;
            }
            cfg.keep = (int)k;
            break;
        }
        case O_TOUCH: {
            size_t t = 0;
            while (t < sizeof touch_names / sizeof touch_names[0] && strcmp(touch_names[t], optarg) != 0)
                t++;
            if (t == sizeof touch_names / sizeof touch_names[0]) {
                fprintf(stderr, "amonesize-bench: --touch takes byte, word or none\n");
                return 2;
            }
            cfg.touch = (enum touch)t;
            cfg.touch_given = true;
            break;
        }
        case O_SIZES: {
            cfg.nsizes = 0;
            for (const char *s = optarg;;) {
                char *end;
                errno = 0;
                const unsigned long long v = strtoull(s, &end, 10);
                if (end == s || errno != 0 || v < 1 || v > MAX_SIZE || cfg.nsizes == MAX_SIZES ||
                    (*end != ',' && *end != '\0')) {
                    fprintf(stderr,
                            "amonesize-bench: --sizes takes up to %d sizes of 1..%d bytes, e.g. 16,64,256\n",
                            MAX_SIZES, MAX_SIZE);
                    return 2;
                }
                cfg.sizes[cfg.nsizes++] = (size_t)v;
                if (*end == '\0')
                    break;
                s = end + 1;
            }
            break;
        }
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    find_self();
    /* Children that must load nothing else come first. */
    if (child != NULL)
        return standalone_child(child, iters != 0 ? iters : 100000, cfg.reps != 0 ? cfg.reps : 1);
    if (standalone != NULL)
        return run_standalone(standalone, callgrind, iters != 0 ? iters : callgrind ? 100000 : 2000000);
    for (size_t i = 0; i < NCOMPETITORS; i++)
        load_competitor(&competitors[i]);
    verify_rows(one_case == NULL);
    if (one_case != NULL)
        return callgrind_case(one_case, iters != 0 ? iters : 100000);
    if (cfg.reps == 0)
        cfg.reps = cfg.quick ? 5 : 7;
    cfg.tty = isatty(STDERR_FILENO);
    if (cfg.csv != NULL && (cfg.csvf = fopen(cfg.csv, "w")) == NULL) {
        fprintf(stderr, "amonesize-bench: %s: %s\n", cfg.csv, strerror(errno));
        return 2;
    }
    if (cfg.csvf)
        fprintf(cfg.csvf, "pattern,allocator,size,repetition,ns_per_pair\n");

    bool refused_named = false;
    printf("amonesize-bench %s: allocators:", AM_ONESIZE_VERSION);
    for (size_t i = 0; i < NALLOC; i++)
        if (row_state[i] == ROW_OK)
            printf(" %s", display(allocators[i].name));
    printf("\n");
    for (size_t i = 0; i < NCOMPETITORS; i++)
        if (!competitors[i].loaded)
            printf("  %s: not found (%s)\n", competitors[i].name, competitors[i].why);
    for (size_t i = 0; i < NALLOC; i++)
        if (row_state[i] == ROW_REFUSED) {
            printf("  %s: refused, its functions are not where it says (see stderr)\n",
                   display(allocators[i].name));
            refused_named |= filter_names(display(allocators[i].name));
        }
    if (list)
        return list_rows();
    fflush(stdout);
    if (crosscheck)
        return run_crosscheck();
    if (callgrind) {
        const int r = run_callgrind();
        return r != 0 ? r : refused_named ? 1 : 0;
    }

    static const size_t all_sizes[] = {16, 64, 256}, quick_sizes[] = {64};
    const size_t *sizes = cfg.nsizes != 0 ? cfg.sizes : cfg.quick ? quick_sizes : all_sizes;
    const int nsizes = cfg.nsizes != 0 ? cfg.nsizes : cfg.quick ? 1 : 3;
    const char *patterns[] = {"lifo", "burst", "contended", "handoff"};
    for (size_t p = 0; p < 4; p++)
        for (int s = 0; s < nsizes; s++)
            run_case(patterns[p], sizes[s]);
    run_scale();
    if (cfg.csvf)
        fclose(cfg.csvf);
    if (failures != 0) {
        fprintf(stderr, "amonesize-bench: %d self-check(s) failed: the figures above are not valid\n",
                failures);
        return 1;
    }
    printf("\nall self-checks passed (every block returned, pools full at the end)\n");
    return refused_named ? 1 : 0;
}
