/* SPDX-License-Identifier: MIT */
/* What the library tells memory debuggers; see track.h. */
#include "internal.h"

#if defined(AM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

/* The ASan interface, referenced weakly: resolved only when the process has
 * the runtime (the application or this library built with
 * -fsanitize=address), NULL otherwise. */
void __asan_poison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));

#define WORDS_BYTES (2 * sizeof(uintptr_t))

#if defined(__clang__) || defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

#if defined(AM_HAVE_VALGRIND)
static bool on_memcheck(const struct am_onesize *os)
{
    return (os->mode & AM_MODE_VALGRIND) != 0;
}
#endif

/* Read (write == false) or write a block's two words. The block may be
 * poisoned or NOACCESS: these are the allocator's own accesses, not the
 * program's, so the debugger's view of the block is the same afterwards
 * (a free block stays NOACCESS, undefined bytes read stay undefined). */
static NO_ASAN void access_words(const struct am_onesize *os, void *blk, uintptr_t w[2], bool write)
{
    volatile uintptr_t *p = (volatile uintptr_t *)blk;
#if defined(AM_HAVE_VALGRIND)
    unsigned char vbits[WORDS_BYTES];
    unsigned r = 0;
    if (on_memcheck(os)) {
        r = VALGRIND_GET_VBITS(blk, vbits, sizeof vbits);
        (void)VALGRIND_MAKE_MEM_DEFINED(blk, sizeof vbits);
    }
#endif
    (void)os;
    if (write) {
        p[0] = w[0];
        p[1] = w[1];
    } else {
        w[0] = p[0];
        w[1] = p[1];
    }
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os)) {
        if (r != 1)
            (void)VALGRIND_MAKE_MEM_NOACCESS(blk, sizeof vbits);
        else if (!write)
            (void)VALGRIND_SET_VBITS(blk, vbits, sizeof vbits);
    }
#endif
}

void am_track_get(const struct am_onesize *os, const void *blk, uintptr_t w[2])
{
    access_words(os, (void *)(uintptr_t)blk, w, false);
}

void am_track_set(const struct am_onesize *os, void *blk, const uintptr_t w[2])
{
    uintptr_t v[2] = {w[0], w[1]};
    access_words(os, blk, v, true);
}

void am_track_set_word(const struct am_onesize *os, void *blk, unsigned i, uintptr_t v)
{
    uintptr_t w[2];
    am_track_get(os, blk, w);
    w[i] = v;
    am_track_set(os, blk, w);
}

void am_track_alloc(const struct am_onesize *os, void *blk)
{
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os))
        VALGRIND_MALLOCLIKE_BLOCK(blk, os->block_size, 0, 0);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_unpoison_memory_region(blk, os->block_size);
}

void am_track_free(const struct am_onesize *os, void *blk)
{
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os))
        VALGRIND_FREELIKE_BLOCK(blk, 0);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_poison_memory_region(blk, os->block_size);
}

unsigned am_track_detect(void)
{
    unsigned mode = 0;
#if defined(AM_HAVE_VALGRIND)
    /* Running under memcheck, not just any Valgrind tool: only memcheck
     * answers GET_VBITS (others return the default 0). Under callgrind a
     * pool keeps its fast paths, so instruction counts are a normal run's. */
    unsigned char probe = 0, vbits = 0;
    if (RUNNING_ON_VALGRIND != 0 && VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1)
        mode |= AM_MODE_VALGRIND;
#endif
    if (__asan_poison_memory_region != NULL && __asan_unpoison_memory_region != NULL)
        mode |= AM_MODE_ASAN;
    return mode;
}

int am_track_is_handed_out(const struct am_onesize *os, const void *blk)
{
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os)) {
        unsigned char vbits;
        return VALGRIND_GET_VBITS(blk, &vbits, 1) == 1; /* 3: not addressable */
    }
#endif
    (void)os, (void)blk;
    return 0;
}

#if defined(AM_HAVE_VALGRIND)
/* Pools constructed under memcheck and not yet destroyed. A pool built over
 * the memory of one that was never destroyed (legal without a debugger)
 * would hand out blocks overlapping the old pool's live malloc-like blocks,
 * which memcheck cannot survive: the old blocks are released first. Only
 * touched under memcheck; a full table only loses that protection. */
enum { REGISTRY = 256 };
static struct {
    uintptr_t start;
    size_t block_size, nblocks;
} registry[REGISTRY];
static unsigned char registry_lock;

static void registry_enter(void)
{
    while (__atomic_test_and_set(&registry_lock, __ATOMIC_ACQUIRE))
        ;
}

static void registry_exit(void)
{
    __atomic_clear(&registry_lock, __ATOMIC_RELEASE);
}

/* Release every handed-out block of entry i and forget it; locked. */
static void registry_drop(size_t i)
{
    for (size_t b = 0; b < registry[i].nblocks; b++) {
        unsigned char vbits;
        void *blk = (void *)(registry[i].start + b * registry[i].block_size);
        if (VALGRIND_GET_VBITS(blk, &vbits, 1) == 1)
            VALGRIND_FREELIKE_BLOCK(blk, 0);
    }
    registry[i].nblocks = 0;
}
#endif

void am_track_create(const struct am_onesize *os, void *start, size_t bytes)
{
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os)) {
        const uintptr_t lo = (uintptr_t)start, hi = lo + bytes;
        size_t room = REGISTRY;
        registry_enter();
        for (size_t i = 0; i < REGISTRY; i++) {
            const uintptr_t s = registry[i].start;
            if (registry[i].nblocks == 0) {
                room = room == REGISTRY ? i : room;
                continue;
            }
            if (s < hi && lo < s + registry[i].nblocks * registry[i].block_size) {
                registry_drop(i);
                room = room == REGISTRY ? i : room;
            }
        }
        if (room < REGISTRY) {
            registry[room].start = lo;
            registry[room].block_size = os->block_size;
            registry[room].nblocks = os->nblocks;
        }
        registry_exit();
        (void)VALGRIND_MAKE_MEM_NOACCESS(start, bytes);
    }
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_poison_memory_region(start, bytes);
}

void am_track_destroy(const struct am_onesize *os, void *start, size_t bytes)
{
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os)) {
        registry_enter();
        for (size_t i = 0; i < REGISTRY; i++)
            if (registry[i].nblocks != 0 && registry[i].start == (uintptr_t)start)
                registry[i].nblocks = 0;
        registry_exit();
        (void)VALGRIND_MAKE_MEM_UNDEFINED(start, bytes);
    }
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_unpoison_memory_region(start, bytes);
}

void am_track_forget(const struct am_onesize *os, void *start, size_t bytes)
{
    am_track_destroy(os, start, bytes);
#if defined(AM_HAVE_VALGRIND)
    if (on_memcheck(os))
        (void)VALGRIND_MAKE_MEM_DEFINED(start, bytes);
#endif
}
