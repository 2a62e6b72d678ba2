/* SPDX-License-Identifier: MIT */
/* One pool shared by threads through the pthread adapter: blocks allocated
 * in one thread and freed in another. */
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>

#include <amonesize.h>
#include <amonesize_pthread.h>

enum { NTHREADS = 4, ROUNDS = 100000 };

static alignas(64) unsigned char memory[256 * 64];
static struct am_onesize pool;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    long failures = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int *p = am_onesize_allocate(&pool, sizeof *p);
        if (p == NULL) {
            failures++;
            continue;
        }
        *p = i;
        if (*p != i || am_onesize_free(&pool, p) != 0)
            failures++;
    }
    *(long *)arg = failures;
    return NULL;
}

int main(void)
{
    struct am_onesize_cfg cfg = {.pool = {memory, sizeof memory}, .block_size = 64};
    if (am_onesize_pthread_set_crit(&cfg, &mutex) != 0 || am_onesize_ctor(&pool, &cfg) != 0)
        return 1;
    pthread_t t[NTHREADS];
    long failures[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, &failures[i]);
    long total = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        total += failures[i];
    }
    printf("%d threads x %d allocate+free: %ld failures, %zu of %zu blocks free, lowest %zu\n", NTHREADS,
           ROUNDS, total, am_onesize_get_nfree(&pool), am_onesize_get_nblocks(&pool),
           am_onesize_get_nfree_min(&pool));
    return total == 0 && am_onesize_get_nfree(&pool) == am_onesize_get_nblocks(&pool) ? 0 : 1;
}
