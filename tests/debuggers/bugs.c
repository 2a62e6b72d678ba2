/* SPDX-License-Identifier: MIT */
/* Programs that misuse pool blocks on purpose, one bug per run, so that the
 * test suite can prove Valgrind and AddressSanitizer see inside the pool.
 * usage: bugs clean|uaf-write|uaf-read|uninit-read|leak
 *        bugs clean-rejected-bulk|clean-reconstruct|clean-after-damage
 * Each bug must be reported by the debugger in question; the clean-* runs
 * must not be: they are correct programs that once made a debugger report
 * something false or abort. */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amonesize.h"
#if defined(AM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#endif

static alignas(64) unsigned char memory[32 * 64];
static struct am_onesize pool;
static volatile unsigned char sink;
static void *volatile keep; /* the only reference to a block, when needed */

static unsigned char *get(void)
{
    unsigned char *p = am_onesize_allocate(&pool, 64);
    if (p == NULL) {
        fprintf(stderr, "allocate failed\n");
        _Exit(3);
    }
    return p;
}

/* A rejected bulk free leaves the caller's data in the blocks as it was,
 * beyond their first two words, and defined. */
static int clean_rejected_bulk(void)
{
    unsigned char *a = get(), *b = get();
    memset(a, 'a', 64);
    memset(b, 'b', 64);
    void *batch[3] = {a, b, a + 8}; /* the interior pointer fails the batch */
    if (am_onesize_free_bulk(&pool, batch, 3) != 3)
        return 3;
    if (a[20] != 'a' || b[40] != 'b') /* a decision on the caller's data */
        return 3;
    am_onesize_free(&pool, a);
    am_onesize_free(&pool, b);
    am_onesize_dtor(&pool);
    return 0;
}

/* A pool constructed again over the memory of one never destroyed, with
 * blocks still allocated: legal without a debugger, so with one too. */
static int clean_reconstruct(const struct am_onesize_cfg *cfg)
{
    unsigned char *a = get();
    memset(a, 1, 64);
    keep = get();
    if (am_onesize_ctor(&pool, cfg) != 0)
        return 3;
    unsigned char *b = get();
    memset(b, 2, 64);
    am_onesize_free(&pool, b);
    am_onesize_dtor(&pool);
    keep = NULL;
    return 0;
}

/* Damage found in the free list, then free_all and dtor: no block is
 * reported as lost. */
static int clean_after_damage(void)
{
    unsigned char *a = get(), *b = get();
    keep = get();
    am_onesize_free(&pool, a);
    am_onesize_free(&pool, b);
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(b, 8);
#endif
    *(volatile unsigned char *)b ^= 0x40; /* the damage, behind memcheck's back */
#if defined(AM_HAVE_VALGRIND)
    VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(b, 8);
#endif
    if (am_onesize_allocate(&pool, 1) != NULL || am_onesize_check(&pool) != -EFAULT)
        return 3;
    am_onesize_free_all(&pool);
    keep = NULL; /* reclaimed: not a leak */
    (void)get();
    am_onesize_dtor(&pool);
    return 0;
}

int main(int argc, char **argv)
{
    const char *bug = argc > 1 ? argv[1] : "clean";
    /* Like any real program, have some heap in use: memcheck 3.19 skips the
     * leak check of pool blocks when no malloc'ed block is live at exit. */
    printf("committing: %s\n", bug);
    struct am_onesize_cfg cfg = {.pool = {memory, sizeof memory}, .block_size = 64, .alignment = 64};
    if (am_onesize_ctor(&pool, &cfg) != 0)
        return 3;

    if (strcmp(bug, "clean-rejected-bulk") == 0)
        return clean_rejected_bulk();
    if (strcmp(bug, "clean-reconstruct") == 0)
        return clean_reconstruct(&cfg);
    if (strcmp(bug, "clean-after-damage") == 0)
        return clean_after_damage();

    /* Some honest traffic first, so that free-list links are in play. */
    unsigned char *a = get(), *b = get(), *c = get();
    memset(a, 1, 64);
    memset(b, 2, 64);
    memset(c, 3, 64);
    am_onesize_free(&pool, b);

    if (strcmp(bug, "uaf-write") == 0) {
        am_onesize_free(&pool, a);
        a[40] = 7; /* write into a freed block */
    } else if (strcmp(bug, "uaf-read") == 0) {
        am_onesize_free(&pool, c);
        sink = c[20]; /* read from a freed block */
    } else if (strcmp(bug, "uninit-read") == 0) {
        unsigned char *d = get(); /* b again: its old contents are gone */
        if (d[30] == 2)           /* a decision on memory never written */
            sink = 1;
    } else if (strcmp(bug, "leak") == 0) {
        keep = get();
        keep = NULL; /* the last reference to a block is dropped */
        am_onesize_free(&pool, a);
        am_onesize_free(&pool, c);
        return 0; /* exit with the block still allocated and unreachable */
    } else if (strcmp(bug, "clean") != 0) {
        fprintf(stderr, "unknown bug '%s'\n", bug);
        return 3;
    }

    if (strcmp(bug, "clean") == 0) {
        unsigned char *d = get();
        memset(d, 4, 64);
        sink = (unsigned char)(a[0] + c[63] + d[10]);
        am_onesize_free(&pool, d);
        am_onesize_free(&pool, a);
        am_onesize_free(&pool, c);
        keep = get();
        am_onesize_free_all(&pool);
    }
    am_onesize_dtor(&pool);
    return 0;
}
