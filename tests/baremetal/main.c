/* SPDX-License-Identifier: MIT */
/* The core on a Cortex-M4 (qemu mps2-an386): construct a pool, allocate to
 * exhaustion, have misuse rejected (a double free, an interior pointer, a
 * block never handed out, a pointer outside the pool, an oversize request),
 * free_all, and check every count. A second pool's critical section masks
 * interrupts, as firmware would. Every core entry point is called once at
 * least, so the link keeps the whole core (run.sh measures it).
 * Prints one result line and returns the verdict, which startup.c hands to
 * qemu through semihosting. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>

#include "amonesize.h"

enum { BLOCK = 24, NBLOCKS = 16 };

static alignas(8) unsigned char memory[NBLOCKS * 24];
static alignas(8) unsigned char memory2[4 * 32];
static struct am_onesize pool, pool2;

static unsigned checks, failures;
static const char *first_failure;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        checks++;                                                                                            \
        if (!(cond)) {                                                                                       \
            failures++;                                                                                      \
            if (first_failure == NULL)                                                                       \
                first_failure = #cond;                                                                       \
            printf("baremetal: check failed, line %d: %s\n", __LINE__, #cond);                               \
        }                                                                                                    \
    } while (0)

struct errors {
    unsigned n;
    int last;
};

static void on_error(void *ctx, int err, const void *ptr)
{
    struct errors *e = ctx;
    (void)ptr;
    e->n++;
    e->last = err;
}

static void count_block(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)block, (void)size;
    ++*(size_t *)ctx;
}

/* Interrupts masked for the critical section (PRIMASK), nesting counted. */
struct irq_lock {
    unsigned depth, entries;
    uint32_t saved;
};

static void irq_enter(void *ctx)
{
    struct irq_lock *l = ctx;
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    l->saved = primask;
    l->depth++;
    l->entries++;
}

static void irq_exit(void *ctx)
{
    struct irq_lock *l = ctx;
    l->depth--;
    __asm__ volatile("msr primask, %0" : : "r"(l->saved) : "memory");
}

static void core_pool(void)
{
    struct errors errs = {0, 0};
    struct am_onesize_cfg cfg = {
        .pool = {memory, sizeof memory},
        .block_size = BLOCK,
        .on_error = on_error,
        .on_error_ctx = &errs,
    };
    CHECK(am_onesize_ctor(&pool, &cfg) == 0);
    CHECK(am_onesize_get_block_size(&pool) == BLOCK);
    CHECK(am_onesize_get_nblocks(&pool) == NBLOCKS);
    CHECK(am_onesize_get_nfree(&pool) == NBLOCKS);
    CHECK(am_onesize_check(&pool) == 0);

    /* A block never handed out (lazy carving: the second one) is rejected. */
    void *first = am_onesize_allocate(&pool, BLOCK);
    CHECK(first != NULL);
    CHECK(am_onesize_free(&pool, (unsigned char *)first + BLOCK) == -EINVAL);
    CHECK(am_onesize_free(&pool, first) == 0);

    /* To exhaustion: every block once, then ENOMEM. */
    void *blocks[NBLOCKS];
    size_t n = 0;
    for (;;) {
        errno = 0;
        void *p = am_onesize_allocate(&pool, 1);
        if (p == NULL)
            break;
        CHECK(n < NBLOCKS);
        if (n < NBLOCKS)
            blocks[n++] = p;
    }
    CHECK(errno == ENOMEM);
    CHECK(n == NBLOCKS);
    CHECK(am_onesize_get_nfree(&pool) == 0);
    CHECK(am_onesize_get_nfree_min(&pool) == 0);
    size_t seen = 0;
    CHECK(am_onesize_iterate_over_allocated(&pool, 0, count_block, &seen) == NBLOCKS);
    CHECK(seen == NBLOCKS);

    /* Misuse: rejected, counted, reported, nothing changed. */
    CHECK(am_onesize_free(&pool, blocks[3]) == 0);
    CHECK(am_onesize_free(&pool, blocks[3]) == -EALREADY);
    CHECK(am_onesize_free(&pool, (unsigned char *)blocks[4] + 1) == -EINVAL);
    CHECK(am_onesize_free(&pool, memory2) == -EINVAL);
    errno = 0;
    CHECK(am_onesize_allocate(&pool, BLOCK + 1) == NULL);
    CHECK(errno == EINVAL);
    CHECK(am_onesize_get_nfree(&pool) == 1);
    CHECK(errs.n == 5); /* never handed out, double, interior, outside, oversize */

    /* A margin keeps a reserve: one block free is not more than 1. */
    errno = 0;
    CHECK(am_onesize_allocate_x(&pool, 1, 1) == NULL);
    CHECK(errno == ENOMEM);
    void *again = am_onesize_allocate_x(&pool, 1, 0);
    CHECK(again == blocks[3]);

    struct am_onesize_stats st;
    CHECK(am_onesize_get_stats(&pool, &st) == 0);
    CHECK(st.allocations == NBLOCKS + 2);
    CHECK(st.frees == 2);
    CHECK(st.rejected_double == 1);
    CHECK(st.rejected_interior == 1);
    CHECK(st.rejected_never_allocated == 1);
    CHECK(st.rejected_outside == 1);
    CHECK(st.oversize_requests == 1);
    CHECK(st.failed_allocations == 2);
    CHECK(st.corruptions == 0);
    CHECK(st.nfree == 0 && st.nblocks == NBLOCKS && st.block_size == BLOCK);
    CHECK(am_onesize_check(&pool) == 0);

    /* free_all: every block back; an old pointer is then a double free. */
    am_onesize_free_all(&pool);
    CHECK(am_onesize_get_nfree(&pool) == NBLOCKS);
    CHECK(am_onesize_get_nfree_min(&pool) == 0);
    CHECK(am_onesize_free(&pool, blocks[0]) == -EALREADY);
    seen = 0;
    CHECK(am_onesize_iterate_over_allocated(&pool, 0, count_block, &seen) == 0);
    CHECK(am_onesize_check(&pool) == 0);
    am_onesize_dtor(&pool);
    CHECK(am_onesize_get_nblocks(&pool) == 0);
    CHECK(am_onesize_free(&pool, blocks[0]) == -EINVAL);
}

static void locked_pool(void)
{
    struct irq_lock lock = {0, 0, 0};
    struct am_onesize_cfg cfg = {
        .pool = {memory2, sizeof memory2},
        .block_size = 32,
        .crit_enter = irq_enter,
        .crit_exit = irq_exit,
        .crit_ctx = &lock,
    };
    CHECK(am_onesize_ctor(&pool2, &cfg) == 0);
    void *a = am_onesize_allocate(&pool2, 32), *b = am_onesize_allocate(&pool2, 32);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(am_onesize_free(&pool2, a) == 0);
    CHECK(am_onesize_free(&pool2, a) == -EALREADY);
    CHECK(am_onesize_get_nfree(&pool2) == 3);
    am_onesize_free_all(&pool2);
    CHECK(am_onesize_check(&pool2) == 0);
    CHECK(lock.entries > 0);
    CHECK(lock.depth == 0);
    am_onesize_dtor(&pool2);
}

int main(void)
{
    core_pool();
    locked_pool();
    if (failures != 0) {
        printf("baremetal: FAIL: %u of %u checks failed, first: %s\n", failures, checks, first_failure);
        return 1;
    }
    printf("baremetal: PASS: %u checks on a Cortex-M4: %d-byte blocks, exhaustion, 5 kinds of misuse "
           "rejected, free_all, counts\n",
           checks, BLOCK);
    return 0;
}
