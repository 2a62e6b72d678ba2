/* SPDX-License-Identifier: MIT */
/* Programs that misuse pool blocks on purpose, one bug per run, so that the
 * test suite can prove Valgrind and AddressSanitizer see inside the pool.
 * usage: bugs clean|uaf-write|uaf-read|uninit-read|leak
 * Each bug must be reported by the debugger in question; `clean` must not. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amonesize.h"

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

int main(int argc, char **argv)
{
    const char *bug = argc > 1 ? argv[1] : "clean";
    /* Like any real program, have some heap in use: memcheck 3.19 skips the
     * leak check of pool blocks when no malloc'ed block is live at exit. */
    printf("committing: %s\n", bug);
    struct am_onesize_cfg cfg = {.pool = {memory, sizeof memory}, .block_size = 64, .alignment = 64};
    if (am_onesize_ctor(&pool, &cfg) != 0)
        return 3;

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
