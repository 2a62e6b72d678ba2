/* Private: what the allocator tells memory debuggers, and how it touches the
 * two words it keeps in a free block.
 *
 * Every access of the library to block memory goes through peek_words() and
 * poke_words(); every change of a block's state goes through track_*(). Under
 * memcheck (mode AM_MODE_VALGRIND) free and never-used blocks are NOACCESS
 * and handed-out blocks are malloc-like blocks (undefined until written,
 * reported as leaks if lost). Malloc-like blocks rather than a Valgrind
 * mempool: memcheck 3.19 leak-checks mempool chunks only while some malloc'ed
 * block is live at exit, which after glibc's exit-time cleanup is often none.
 * With an
 * AddressSanitizer runtime in the process (mode AM_MODE_ASAN) free and
 * never-used blocks are poisoned. Otherwise all of this compiles to plain
 * loads and stores. */
#ifndef AMONESIZE_TRACK_H
#define AMONESIZE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "amonesize.h"

enum {
    AM_MODE_LOCKED = AM_ONESIZE_PRIV_LOCKED, /* critical-section callbacks set */
    AM_MODE_VALGRIND = 2u,                   /* running under Valgrind */
    AM_MODE_ASAN = 4u,                       /* an AddressSanitizer runtime is loaded */
};

#if defined(AM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
/* Running under memcheck, not just any Valgrind tool: only memcheck answers
 * GET_VBITS (others return the default 0), and only memcheck needs telling.
 * Under callgrind a pool keeps its fast paths, so instruction counts are
 * those of a normal run. */
static inline int am_on_memcheck(void)
{
    unsigned char probe = 0, vbits = 0;
    return RUNNING_ON_VALGRIND != 0 && VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1;
}
#define AM_ON_VALGRIND() am_on_memcheck()
#else
#define AM_ON_VALGRIND() 0
#endif

/* The ASan interface, referenced weakly: resolved only when the process has
 * the runtime (the application or this library built with
 * -fsanitize=address), NULL otherwise. */
void __asan_poison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));

#define AM_HAVE_ASAN_RUNTIME() (__asan_poison_memory_region != NULL && __asan_unpoison_memory_region != NULL)

#if defined(__clang__) || defined(__GNUC__)
#define AM_NO_ASAN __attribute__((no_sanitize_address))
#else
#define AM_NO_ASAN
#endif

typedef uintptr_t __attribute__((may_alias)) am_word;

/* Read a block's two words without changing what a debugger believes about
 * them (free blocks stay NOACCESS, undefined bytes stay undefined). */
static AM_NO_ASAN inline void peek_words(const struct am_onesize *os, const void *blk, uintptr_t w[2])
{
    const am_word *p = (const am_word *)blk;
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND) {
        unsigned char vbits[2 * sizeof(uintptr_t)];
        unsigned r = VALGRIND_GET_VBITS(blk, vbits, sizeof vbits);
        (void)VALGRIND_MAKE_MEM_DEFINED(blk, sizeof vbits);
        w[0] = p[0];
        w[1] = p[1];
        if (r == 1)
            (void)VALGRIND_SET_VBITS(blk, vbits, sizeof vbits);
        else
            (void)VALGRIND_MAKE_MEM_NOACCESS(blk, sizeof vbits);
        return;
    }
#endif
    (void)os;
    w[0] = p[0];
    w[1] = p[1];
}

/* Write a block's two words; the block is free or never used, so it stays
 * inaccessible to the program. */
static AM_NO_ASAN inline void poke_words(const struct am_onesize *os, void *blk, const uintptr_t w[2])
{
    am_word *p = (am_word *)blk;
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND) {
        (void)VALGRIND_MAKE_MEM_UNDEFINED(blk, 2 * sizeof(uintptr_t));
        p[0] = w[0];
        p[1] = w[1];
        (void)VALGRIND_MAKE_MEM_NOACCESS(blk, 2 * sizeof(uintptr_t));
        return;
    }
#endif
    (void)os;
    p[0] = w[0];
    p[1] = w[1];
}

/* A pool comes to life: nothing in it may be touched by the program. */
static inline void track_create(const struct am_onesize *os, void *start, size_t bytes)
{
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND)
        (void)VALGRIND_MAKE_MEM_NOACCESS(start, bytes);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_poison_memory_region(start, bytes);
}

/* The pool ends: its memory is the caller's, addressable, contents
 * unspecified. */
static inline void track_destroy(const struct am_onesize *os, void *start, size_t bytes)
{
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND)
        (void)VALGRIND_MAKE_MEM_UNDEFINED(start, bytes);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_unpoison_memory_region(start, bytes);
}

static inline void track_alloc(const struct am_onesize *os, void *blk)
{
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND)
        VALGRIND_MALLOCLIKE_BLOCK(blk, os->block_size, 0, 0);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_unpoison_memory_region(blk, os->block_size);
}

static inline void track_free(const struct am_onesize *os, void *blk)
{
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND)
        VALGRIND_FREELIKE_BLOCK(blk, 0);
#endif
    if (os->mode & AM_MODE_ASAN)
        __asan_poison_memory_region(blk, os->block_size);
}

#endif /* AMONESIZE_TRACK_H */
