/* SPDX-License-Identifier: MIT */
/* The whole core API in one program: a pool of 64-byte blocks in a static
 * array, allocation, free, misuse answered with errors, diagnostics. */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include <amonesize.h>

struct msg {
    int id;
    char text[52];
};

static alignas(64) unsigned char memory[100 * 64]; /* exactly 100 blocks */

static void show(void *ctx, size_t index, void *block, size_t size)
{
    (void)ctx, (void)size;
    printf("  allocated #%zu: id %d\n", index, ((struct msg *)block)->id);
}

int main(void)
{
    struct am_onesize pool;
    struct am_onesize_cfg cfg = {
        .pool = {memory, sizeof memory},
        .block_size = sizeof(struct msg),
        .alignment = 64,
    };
    int err = am_onesize_ctor(&pool, &cfg);
    if (err != 0) {
        fprintf(stderr, "ctor: %s\n", strerror(-err));
        return 1;
    }
    printf("%zu blocks of %zu bytes\n", am_onesize_get_nblocks(&pool), am_onesize_get_block_size(&pool));

    struct msg *m[3];
    for (int i = 0; i < 3; i++) {
        m[i] = am_onesize_allocate(&pool, sizeof *m[i]);
        if (m[i] == NULL) {
            fprintf(stderr, "allocate: %s\n", strerror(errno));
            return 1;
        }
        m[i]->id = i;
        snprintf(m[i]->text, sizeof m[i]->text, "message %d", i);
    }
    am_onesize_iterate_over_allocated(&pool, 0, show, NULL);

    if (am_onesize_free(&pool, m[1]) != 0)
        return 1;
    err = am_onesize_free(&pool, m[1]); /* a bug: caught, nothing changes */
    printf("double free: %s\n", strerror(-err));
    err = am_onesize_free(&pool, (char *)m[0] + 1);
    printf("interior pointer: %s\n", strerror(-err));
    if (am_onesize_allocate(&pool, 1000) == NULL)
        printf("oversize request: %s\n", strerror(errno));

    /* a reserve: only succeeds while more than 10 blocks are free */
    struct msg *urgent = am_onesize_allocate_x(&pool, sizeof *urgent, 10);
    printf("margin allocation: %s\n", urgent != NULL ? "ok" : strerror(errno));

    struct am_onesize_stats st;
    am_onesize_get_stats(&pool, &st);
    printf("free %zu (lowest %zu), allocations %llu, frees %llu, double frees caught %llu\n", st.nfree,
           st.nfree_min, (unsigned long long)st.allocations, (unsigned long long)st.frees,
           (unsigned long long)st.rejected_double);

    am_onesize_free_all(&pool);
    printf("after free_all: %zu free\n", am_onesize_get_nfree(&pool));
    return am_onesize_get_nfree(&pool) == am_onesize_get_nblocks(&pool) ? 0 : 1;
}
