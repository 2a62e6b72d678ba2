/* SPDX-License-Identifier: MIT */
/* A bounded pipeline: producers take message blocks from a small pool and
 * wait when it is empty (back-pressure), consumers give them back. The
 * pool's mutex and condition variable come from the pthread adapter. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, also under -std=c11 */
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <time.h>

#include <amonesize.h>
#include <amonesize_pthread.h>

enum { BLOCKS = 8, MESSAGES = 10000, PRODUCERS = 2 };

struct msg {
    int producer, seq;
};

static alignas(64) unsigned char memory[BLOCKS * 64];
static struct am_onesize pool;
static struct am_onesize_pthread sync_;

/* A queue of messages between the threads (any queue would do). */
static struct msg *queue[BLOCKS];
static int head, tail, count;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
    const int id = (int)(size_t)arg;
    for (int i = 0; i < MESSAGES; i++) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 5;
        struct msg *m = am_onesize_allocate_wait(&pool, sizeof *m, &deadline); /* waits while full */
        if (m == NULL) {
            perror("am_onesize_allocate_wait");
            return (void *)1;
        }
        m->producer = id;
        m->seq = i;
        pthread_mutex_lock(&qlock);
        queue[tail] = m; /* at most BLOCKS messages exist: the queue never overflows */
        tail = (tail + 1) % BLOCKS;
        count++;
        pthread_cond_signal(&qcond);
        pthread_mutex_unlock(&qlock);
    }
    return NULL;
}

int main(void)
{
    struct am_onesize_cfg cfg = {.pool = {memory, sizeof memory}, .block_size = 64}; /* BLOCKS blocks */
    if (am_onesize_pthread_init(&sync_) != 0 || am_onesize_pthread_set_sync(&cfg, &sync_) != 0 ||
        am_onesize_ctor(&pool, &cfg) != 0)
        return 1;
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, (void *)(size_t)i);
    long sum = 0;
    for (int n = 0; n < PRODUCERS * MESSAGES; n++) { /* the consumer */
        pthread_mutex_lock(&qlock);
        while (count == 0)
            pthread_cond_wait(&qcond, &qlock);
        struct msg *m = queue[head];
        head = (head + 1) % BLOCKS;
        count--;
        pthread_mutex_unlock(&qlock);
        sum += m->seq;
        am_onesize_free(&pool, m); /* wakes a waiting producer */
    }
    int failed = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failed |= r != NULL;
    }
    struct am_onesize_stats st;
    am_onesize_get_stats(&pool, &st);
    printf("%d messages through %zu blocks: %llu allocations waited, %zu blocks free at the end\n",
           PRODUCERS * MESSAGES, st.nblocks, (unsigned long long)st.waits, st.nfree);
    am_onesize_dtor(&pool);
    am_onesize_pthread_destroy(&sync_);
    return !failed && sum == (long)PRODUCERS * MESSAGES * (MESSAGES - 1) / 2 && st.nfree == BLOCKS ? 0 : 1;
}
