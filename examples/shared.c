/* SPDX-License-Identifier: MIT */
/* Two processes and one pool: a producer and a consumer pass messages
 * through a ring kept in the same region as the pool, by the blocks'
 * offsets (each process maps the region at its own address). If either
 * dies, the other can reap what it held. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <amonesize_shared.h>

enum { BLOCKS = 16, SIZE = 256, RING = 16, MESSAGES = 1000 };

/* The ring, at the start of the mapping; the pool follows. */
struct ring {
    _Atomic uint64_t slot[RING]; /* a block's offset + 1, or 0 */
    _Atomic unsigned head, tail;
};

static size_t pool_bytes, bytes;
static int fd;

static struct ring *map(unsigned char **pool)
{
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return NULL;
    *pool = m + 4096; /* the pool's region, page-aligned */
    return (struct ring *)(void *)m;
}

static int producer(void)
{
    unsigned char *region;
    struct ring *ring = map(&region);
    struct am_onesize_shared h;
    if (ring == NULL || am_onesize_shared_attach(&h, region, pool_bytes) != 0)
        return 1;
    for (unsigned i = 0; i < MESSAGES; i++) {
        char *m = am_onesize_shared_allocate_wait(&h, SIZE, NULL); /* waits for the consumer */
        uint64_t off;
        if (m == NULL)
            return 2;
        snprintf(m, SIZE, "message %u from process %d", i, (int)getpid());
        if (am_onesize_shared_give(&h, m, &off) != 0) /* in transit: no longer ours */
            return 3;
        while (atomic_load(&ring->tail) - atomic_load(&ring->head) == RING)
            usleep(10); /* the ring is full */
        atomic_store(&ring->slot[atomic_load(&ring->tail) % RING], off + 1);
        atomic_fetch_add(&ring->tail, 1);
    }
    return am_onesize_shared_detach(&h) == 0 ? 0 : 4;
}

int main(void)
{
    pool_bytes = am_onesize_shared_size(BLOCKS, SIZE, 0);
    bytes = 4096 + pool_bytes;
    fd = memfd_create("amonesize-example", 0);
    unsigned char *region;
    struct ring *ring;
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0 || (ring = map(&region)) == NULL ||
        am_onesize_shared_create(region, pool_bytes, SIZE, 0) != 0)
        return 1;
    const pid_t pid = fork();
    if (pid == 0)
        _exit(producer());
    struct am_onesize_shared h; /* the consumer: this process */
    if (am_onesize_shared_attach(&h, region, pool_bytes) != 0)
        return 1;
    unsigned received = 0;
    while (received < MESSAGES) {
        const unsigned head = atomic_load(&ring->head);
        const uint64_t v = atomic_load(&ring->slot[head % RING]);
        if (head == atomic_load(&ring->tail) || v == 0) {
            usleep(10);
            continue;
        }
        atomic_store(&ring->slot[head % RING], 0);
        atomic_fetch_add(&ring->head, 1);
        char *m = am_onesize_shared_take(&h, v - 1); /* ours now */
        if (m == NULL || strncmp(m, "message ", 8) != 0)
            return 1;
        am_onesize_shared_free(&h, m);
        received++;
    }
    int status;
    waitpid(pid, &status, 0);
    struct am_onesize_stats st;
    am_onesize_shared_get_stats(&h, &st, NULL);
    printf("%u messages through %zu shared blocks, %zu free at the end\n", received, st.nblocks, st.nfree);
    am_onesize_shared_detach(&h);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && st.nfree == st.nblocks ? 0 : 1;
}
