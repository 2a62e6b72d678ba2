/* SPDX-License-Identifier: MIT */
/* The fuzzer's environment: the callbacks it gives the library
 * (each checks the rules the header sets for it), what on_error was told,
 * and access to free block memory that a memory debugger has poisoned. */
#include "fuzz.h"

#include <time.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#include <sanitizer/asan_interface.h>
#endif
#endif

/* ---- what on_error was told ----------------------------------------------- */

static struct report reports[256];
static size_t nreports;

void rep_clear(void)
{
    nreports = 0;
}

bool rep_pop(int err, const void *ptr)
{
    for (size_t k = 0; k < nreports; k++) {
        if (reports[k].err == err && (ptr == ANY_PTR || reports[k].ptr == ptr)) {
            memmove(&reports[k], &reports[k + 1], (nreports - k - 1) * sizeof reports[0]);
            nreports--;
            return true;
        }
    }
    return false;
}

size_t rep_count(void)
{
    return nreports;
}

const struct report *rep_at(size_t k)
{
    return &reports[k];
}

void on_error(void *ctx, int err, const void *ptr)
{
    CHECK(ctx == &lock_ctx, "on_error got ctx %p", ctx);
    CHECK(depth == 0, "on_error called inside the critical section");
    CHECK(!in_error, "on_error called from on_error");
    check_unlocked();
    in_error = true;
    CHECK(nreports < sizeof reports / sizeof reports[0], "too many reports in one operation");
    reports[nreports++] = (struct report){err, ptr};
    in_error = false;
}

/* ---- critical sections ---------------------------------------------------- */

int lock_ctx;
int depth, enters, notifies, wait_calls;
bool in_error, in_wait;
int wait_action;
size_t wait_block, wait_cache;

void crit_enter(void *ctx)
{
    CHECK(ctx == &lock_ctx, "crit_enter got ctx %p", ctx);
    CHECK(!in_error, "critical section entered while on_error runs");
    CHECK(depth == 0, "nested critical section");
    depth++;
    if (!in_wait)
        enters++;
}

void crit_exit(void *ctx)
{
    CHECK(ctx == &lock_ctx, "crit_exit got ctx %p", ctx);
    CHECK(depth == 1, "crit_exit without crit_enter");
    depth--;
}

void crit_notify(void *ctx)
{
    CHECK(ctx == &lock_ctx, "crit_notify got ctx %p", ctx);
    CHECK(depth == 1, "crit_notify outside the critical section");
    notifies++;
}

/* Called inside the critical section; leaves it "to sleep". Single-threaded,
 * the fuzzer plays the other thread here: while the waiter sleeps outside
 * the critical section, it gives a block back (a free or a cache flush),
 * which must notify; then the waiter is woken. With nothing to do it
 * sleeps until the deadline, which the fuzzer always sets in the past. */
int crit_wait(void *ctx, const struct timespec *deadline)
{
    CHECK(ctx == &lock_ctx, "crit_wait got ctx %p", ctx);
    CHECK(depth == 1, "crit_wait outside the critical section");
    CHECK(!in_wait, "crit_wait nested");
    wait_calls++;
    depth = 0;
    in_wait = true;
    int r = ETIMEDOUT;
    if (wait_action == 1) {
        const int f = am_onesize_free(&pool, block(wait_block));
        CHECK(f == 0, "the other thread's free of block %zu returned %d", wait_block, f);
        r = 0;
    } else if (wait_action == 2) {
        am_onesize_cache_flush(&caches[wait_cache]);
        r = 0;
    }
    CHECK(r == 0 || deadline != NULL, "the fuzzer waits without a deadline with nothing to wake it");
    wait_action = 0;
    in_wait = false;
    CHECK(depth == 0, "the other thread left the critical section held");
    depth = 1;
    return r;
}

#if defined(AM_HAVE_PTHREAD)
pthread_mutex_t fuzz_mutex = PTHREAD_MUTEX_INITIALIZER;
struct am_onesize_pthread fuzz_sync;

void pthread_setup(void)
{
    static bool done;
    if (!done) {
        CHECK(am_onesize_pthread_init(&fuzz_sync) == 0, "am_onesize_pthread_init");
        done = true;
    }
}
#endif

/* The pthread adapter's mutex is locked by the library directly: it must
 * be free whenever the library is not running. */
void check_unlocked(void)
{
#if defined(AM_HAVE_PTHREAD)
    if (!m.pthread_lock)
        return;
    pthread_mutex_t *mx = m.waitable ? &fuzz_sync.mutex : &fuzz_mutex;
    CHECK(pthread_mutex_trylock(mx) == 0, "the pool's mutex is held outside the library");
    pthread_mutex_unlock(mx);
#endif
}

/* ---- block memory --------------------------------------------------------- */

/* A free block's first two words, read or written as a stray pointer of the
 * program would (a use after free). Under ASan the block is poisoned: the
 * fuzzer unpoisons those words for the access and poisons them again, so
 * that the library sees exactly the write and ASan its own state. */
void peek_words(const void *blk, uintptr_t w[2])
{
#if defined(FUZZ_ASAN)
    const bool poisoned = __asan_region_is_poisoned((void *)(uintptr_t)blk, 2 * sizeof(uintptr_t)) != NULL;
    if (poisoned)
        ASAN_UNPOISON_MEMORY_REGION(blk, 2 * sizeof(uintptr_t));
#endif
    memcpy(w, blk, 2 * sizeof(uintptr_t));
#if defined(FUZZ_ASAN)
    if (poisoned)
        ASAN_POISON_MEMORY_REGION(blk, 2 * sizeof(uintptr_t));
#endif
}

void poke_words(void *blk, const uintptr_t w[2])
{
#if defined(FUZZ_ASAN)
    const bool poisoned = __asan_region_is_poisoned(blk, 2 * sizeof(uintptr_t)) != NULL;
    if (poisoned)
        ASAN_UNPOISON_MEMORY_REGION(blk, 2 * sizeof(uintptr_t));
#endif
    memcpy(blk, w, 2 * sizeof(uintptr_t));
#if defined(FUZZ_ASAN)
    if (poisoned)
        ASAN_POISON_MEMORY_REGION(blk, 2 * sizeof(uintptr_t));
#endif
}

/* One byte of a free block beyond its first two words, the same way (ASan
 * poisons in granules of 8 bytes: the granule around it). */
static unsigned char byte_access(unsigned char *p, int v)
{
#if defined(FUZZ_ASAN)
    void *g = (void *)((uintptr_t)p & ~(uintptr_t)7);
    const bool poisoned = __asan_region_is_poisoned(g, 8) != NULL;
    if (poisoned)
        ASAN_UNPOISON_MEMORY_REGION(g, 8);
#endif
    if (v >= 0)
        *(volatile unsigned char *)p = (unsigned char)v;
    const unsigned char r = *(volatile unsigned char *)p;
#if defined(FUZZ_ASAN)
    if (poisoned)
        ASAN_POISON_MEMORY_REGION(g, 8);
#endif
    return r;
}

unsigned char peek_byte(const void *p)
{
    return byte_access((unsigned char *)(uintptr_t)p, -1);
}

void poke_byte(void *p, unsigned char v)
{
    (void)byte_access(p, v);
}

struct am_onesize_stats stats_now(void)
{
    struct am_onesize_stats s;
    const int saved = enters;
    CHECK(am_onesize_get_stats(&pool, &s) == 0, "get_stats of a live pool");
    enters = saved;
    return s;
}
