/* SPDX-License-Identifier: MIT */
/* Tests of pools shared between processes (amonesize_shared.h): processes
 * made with fork() that map one memfd at different addresses, children
 * killed with SIGKILL while holding the lock and while holding blocks.
 * cmocka runs in the parent only: children report through exit statuses
 * and pipes. */
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amonesize_shared.h"
#include "helpers.h"
#include "testing.h"

enum { NB = 64, BS = 128 };

static int fd = -1;
static size_t bytes;
static unsigned char *mem; /* the parent's mapping */

/* A fresh region, mapped once in the parent. */
static int setup(void **state)
{
    (void)state;
    bytes = am_onesize_shared_size(NB, BS, 0);
    fd = memfd_create("amonesize-test", 0);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0)
        return -1;
    mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        return -1;
    return am_onesize_shared_create(mem, bytes, BS, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    munmap(mem, bytes);
    close(fd);
    return 0;
}

/* Shared pools rely on the kernel's robust futex lists, which qemu-user
 * lacks (set_robust_list fails with ENOSYS there; forked children also
 * hang in it at times): the tests between processes are skipped then. */
static bool robust_futexes(void)
{
#if defined(SYS_get_robust_list)
    void *head;
    size_t len;
    return syscall(SYS_get_robust_list, 0, &head, &len) == 0;
#else
    return false;
#endif
}

/* Run fn in a child (its own mapping, at another address); its exit
 * status: 0 if fn returned 0. Skips the test where processes cannot share
 * a pool safely. */
static pid_t spawn(int (*fn)(void *arg), void *arg)
{
    if (!robust_futexes()) {
        fprintf(stderr, "no robust futex lists here (qemu-user?): the test between processes is skipped\n");
        skip();
    }
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a second mapping first, so the child's is at another address */
        void *other = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        (void)other;
        _exit(fn(arg));
    }
    return pid;
}

static int status_of(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void attach_ok(struct am_onesize_shared *h)
{
    assert_int_equal(am_onesize_shared_attach(h, mem, bytes), 0);
}

static struct am_onesize_stats stats(const struct am_onesize_shared *h, struct am_onesize_shared_stats *ss)
{
    struct am_onesize_stats st;
    assert_int_equal(am_onesize_shared_get_stats(h, &st, ss), 0);
    return st;
}

/* ---- creation and attachment ------------------------------------------- */

static void test_shared_size_and_create_reject_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(am_onesize_shared_size(0, BS, 0), 0);
    assert_int_equal(am_onesize_shared_size(NB, 0, 0), 0);
    assert_int_equal(am_onesize_shared_size(NB, BS, 3), 0);
    assert_int_equal(am_onesize_shared_size(SIZE_MAX, BS, 0), 0);
    assert_true(am_onesize_shared_size(NB, BS, 0) >= NB * BS);
    static alignas(64) unsigned char small[64];
    assert_int_equal(am_onesize_shared_create(NULL, bytes, BS, 0), -EINVAL);
    assert_int_equal(am_onesize_shared_create(mem + 1, bytes - 1, BS, 0), -EINVAL); /* misaligned */
    assert_int_equal(am_onesize_shared_create(mem, bytes, 0, 0), -EINVAL);
    assert_int_equal(am_onesize_shared_create(mem, bytes, BS, 12), -EINVAL);
    assert_int_equal(am_onesize_shared_create(small, sizeof small, BS, 0), -EINVAL);
    /* "region + size past the end of the address space" (it ran for ever:
     * found by a program written from the header) */
    assert_int_equal(am_onesize_shared_create(mem, SIZE_MAX, BS, 0), -EINVAL);
}

/* "as many blocks as fit": in a large region of small blocks the layout's
 * table and padding leave a count well below size / block_size, which
 * create finds exactly (n fit, n + 1 would not). */
static void test_shared_create_fits_as_many_blocks_as_fit(void **state)
{
    (void)state;
    const size_t big = (size_t)256 << 20;
    unsigned char *r =
        mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        skip();
    const size_t sizes[] = {16, 24, 100};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        assert_int_equal(am_onesize_shared_create(r, big - k * 4096, sizes[k], 0), 0);
        struct am_onesize_shared h;
        assert_int_equal(am_onesize_shared_attach(&h, r, big - k * 4096), 0);
        const size_t n = stats(&h, NULL).nfree;
        assert_true(am_onesize_shared_size(n, sizes[k], 0) <= big - k * 4096);
        assert_true(am_onesize_shared_size(n + 1, sizes[k], 0) > big - k * 4096);
        assert_int_equal(am_onesize_shared_detach(&h), 0);
    }
    munmap(r, big);
}

static void test_shared_attach_validates_the_region(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    assert_int_equal(am_onesize_shared_attach(NULL, mem, bytes), -EINVAL);
    assert_int_equal(am_onesize_shared_attach(&h, NULL, bytes), -EINVAL);
    assert_int_equal(am_onesize_shared_attach(&h, mem, bytes - 1), -EINVAL); /* smaller than laid out */
    static alignas(64) unsigned char junk[8192];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(am_onesize_shared_attach(&h, junk, sizeof junk), -EINVAL); /* not a region */
    uint32_t *version = (uint32_t *)(void *)(mem + 8);
    const uint32_t v = *version;
    *version = v + 1;
    assert_int_equal(am_onesize_shared_attach(&h, mem, bytes), -EPROTONOSUPPORT);
    *version = v;
    attach_ok(&h);
    struct am_onesize_shared again;
    assert_int_equal(am_onesize_shared_attach(&again, mem, bytes), -EALREADY); /* twice in a process */
    assert_null(am_onesize_shared_allocate(&again, 1));                        /* zeroed: harmless */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
    assert_int_equal(am_onesize_shared_detach(&h), -EINVAL);
    /* "*h is zeroed on every error, also when it was this process's
     * attached handle (-EALREADY): that attachment is then lost" */
    attach_ok(&h);
    assert_int_equal(am_onesize_shared_attach(&h, mem, bytes), -EALREADY);
    assert_null(am_onesize_shared_allocate(&h, 1));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(am_onesize_shared_detach(&h), -EINVAL);
    assert_int_equal(am_onesize_shared_attach(&again, mem, bytes), -EALREADY);
}

/* ---- one process: the core's contract and its misuse -------------------- */

static void test_shared_allocate_free_and_misuse(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    void *all[NB];
    for (size_t i = 0; i < NB; i++) {
        all[i] = am_onesize_shared_allocate(&h, BS);
        assert_non_null(all[i]);
        memset(all[i], (int)i, BS);
    }
    errno = 0;
    assert_null(am_onesize_shared_allocate(&h, 1));
    assert_int_equal(errno, ENOMEM);
    assert_null(am_onesize_shared_allocate(&h, BS + 1));
    assert_int_equal(errno, EINVAL);
    unsigned char *a = all[3];
    static alignas(64) unsigned char elsewhere[BS];
    assert_int_equal(am_onesize_shared_free(&h, a + 1), -EINVAL);     /* interior */
    assert_int_equal(am_onesize_shared_free(&h, elsewhere), -EINVAL); /* another region */
    assert_int_equal(am_onesize_shared_free(&h, NULL), 0);
    assert_int_equal(am_onesize_shared_free(&h, a), 0);
    assert_int_equal(am_onesize_shared_free(&h, a), -EALREADY); /* double free */
    assert_int_equal(am_onesize_shared_check(&h), 0);
    struct am_onesize_stats st = stats(&h, NULL);
    assert_int_equal(st.nfree, 1);
    assert_int_equal(st.rejected_double, 1);
    assert_int_equal(st.rejected_interior + st.rejected_outside, 2);
    for (size_t i = 0; i < NB; i++)
        if (all[i] != a)
            assert_int_equal(am_onesize_shared_free(&h, all[i]), 0);
    assert_int_equal(stats(&h, NULL).nfree, NB);
    assert_int_equal(am_onesize_shared_free(&h, all[9]), -EALREADY); /* every block free */
    assert_int_equal(am_onesize_shared_check(&h), 0);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

static void test_shared_offsets_are_validated(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    unsigned char *b = am_onesize_shared_allocate(&h, 1);
    uint64_t off = 0;
    assert_int_equal(am_onesize_shared_offset(&h, b, &off), 0);
    assert_ptr_equal(am_onesize_shared_pointer(&h, off), b);
    assert_int_equal(am_onesize_shared_offset(&h, b + 1, &off), -EINVAL);
    assert_int_equal(am_onesize_shared_offset(&h, mem, &off), -EINVAL); /* the header */
    assert_int_equal(am_onesize_shared_offset(&h, b, NULL), -EINVAL);
    static const uint64_t bad[] = {0, 1, 8, UINT64_MAX, UINT64_MAX / 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(am_onesize_shared_pointer(&h, bad[i]));
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(am_onesize_shared_offset(&h, b, &off), 0);
    assert_null(am_onesize_shared_pointer(&h, off + 1)); /* inside the block */
    assert_null(am_onesize_shared_pointer(&h, bytes));   /* past the region */
    assert_int_equal(am_onesize_shared_free(&h, b), 0);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* ---- between processes -------------------------------------------------- */

struct pass {
    int pipe[2];
};

/* The child allocates a block in its own mapping, stamps it, gives it, and
 * writes its offset (and its mapping's address) to the parent. */
static int child_gives(void *arg)
{
    struct pass *p = arg;
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct am_onesize_shared h;
    if (m == MAP_FAILED || am_onesize_shared_attach(&h, m, bytes) != 0)
        return 1;
    unsigned char *b = am_onesize_shared_allocate(&h, BS);
    uint64_t msg[2];
    if (b == NULL || am_onesize_shared_give(&h, b, &msg[0]) != 0)
        return 2;
    memset(b, 0xc3, BS);
    msg[1] = (uint64_t)(uintptr_t)m;
    if (write(p->pipe[1], msg, sizeof msg) != (ssize_t)sizeof msg)
        return 3;
    return am_onesize_shared_detach(&h) == 0 ? 0 : 4; /* a block in transit is not its own */
}

static void test_shared_block_passes_between_processes_at_other_addresses(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    struct pass p;
    assert_int_equal(pipe(p.pipe), 0);
    const pid_t pid = spawn(child_gives, &p);
    uint64_t msg[2];
    assert_int_equal(read(p.pipe[0], msg, sizeof msg), (ssize_t)sizeof msg);
    assert_int_equal(status_of(pid), 0);
    close(p.pipe[0]);
    close(p.pipe[1]);
    assert_true(msg[1] != (uint64_t)(uintptr_t)mem); /* mapped elsewhere there */
    struct am_onesize_shared_stats ss;
    assert_int_equal(stats(&h, &ss).nfree, NB - 1);
    assert_int_equal(ss.in_transit, 1);
    unsigned char *b = am_onesize_shared_take(&h, msg[0]);
    assert_non_null(b);
    for (size_t i = 0; i < BS; i++)
        assert_int_equal(b[i], 0xc3);
    assert_null(am_onesize_shared_take(&h, msg[0])); /* taken already */
    assert_int_equal(errno, EALREADY);
    assert_int_equal(am_onesize_shared_check(&h), 0);
    assert_int_equal(am_onesize_shared_free(&h, b), 0);
    assert_int_equal(stats(&h, &ss).nfree, NB);
    assert_int_equal(ss.in_transit, 0);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* A child holds blocks and is killed: reclaim brings them back. */
static int child_holds(void *arg)
{
    struct pass *p = arg;
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct am_onesize_shared h;
    if (m == MAP_FAILED || am_onesize_shared_attach(&h, m, bytes) != 0)
        return 1;
    for (int i = 0; i < 5; i++)
        if (am_onesize_shared_allocate(&h, 1) == NULL)
            return 2;
    void *given = am_onesize_shared_allocate(&h, 1);
    uint64_t off;
    if (given == NULL || am_onesize_shared_give(&h, given, &off) != 0)
        return 3;
    if (write(p->pipe[1], &off, sizeof off) != (ssize_t)sizeof off)
        return 4;
    pause(); /* until killed */
    return 5;
}

static void test_shared_blocks_of_a_killed_process_are_reclaimed(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    void *mine = am_onesize_shared_allocate(&h, 1);
    struct pass p;
    assert_int_equal(pipe(p.pipe), 0);
    const pid_t pid = spawn(child_holds, &p);
    uint64_t off;
    assert_int_equal(read(p.pipe[0], &off, sizeof off), (ssize_t)sizeof off);
    close(p.pipe[0]);
    close(p.pipe[1]);
    struct am_onesize_shared_stats ss;
    assert_int_equal(stats(&h, &ss).nfree, NB - 7);
    assert_int_equal(ss.owners, 2);
    assert_int_equal(am_onesize_shared_reclaim(&h, pid), -EBUSY); /* alive */
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(status_of(pid), 128 + SIGKILL);
    assert_int_equal(am_onesize_shared_reclaim(&h, pid), 5); /* not the one in transit */
    assert_int_equal(am_onesize_shared_reclaim(&h, pid), -ESRCH);
    assert_int_equal(stats(&h, &ss).nfree, NB - 2);
    assert_int_equal(ss.reclaimed, 5);
    assert_int_equal(ss.owners, 1);
    assert_int_equal(am_onesize_shared_check(&h), 0);
    void *taken = am_onesize_shared_take(&h, off); /* the dead one's gift survives */
    assert_non_null(taken);
    assert_int_equal(am_onesize_shared_free(&h, taken), 0);
    assert_int_equal(am_onesize_shared_free(&h, mine), 0);
    assert_int_equal(stats(&h, NULL).nfree, NB);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* Killed inside the critical section, at each stage of an allocation: the
 * next process to lock repairs the pool; nothing is lost once reaped. */
static int child_dies_in_allocate(void *arg)
{
    const int stage = *(const int *)arg;
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct am_onesize_shared h;
    if (m == MAP_FAILED || am_onesize_shared_attach(&h, m, bytes) != 0)
        return 1;
    (void)am_onesize_shared_allocate(&h, 1); /* one block held when it dies */
    am_test_shared_die_in_allocate(&h, stage);
    return 2;
}

static void test_shared_process_killed_holding_the_lock(void **state)
{
    (void)state;
    for (int stage = 0; stage <= 2; stage++) {
        struct am_onesize_shared h;
        attach_ok(&h);
        void *a = am_onesize_shared_allocate(&h, 1), *b = am_onesize_shared_allocate(&h, 1);
        assert_int_equal(am_onesize_shared_free(&h, a), 0);
        assert_int_equal(am_onesize_shared_free(&h, b), 0); /* a list to take from */
        struct am_onesize_shared_stats ss;
        (void)stats(&h, &ss);
        const uint64_t recoveries = ss.recoveries;
        const pid_t pid = spawn(child_dies_in_allocate, &stage);
        assert_int_equal(status_of(pid), 128 + SIGKILL);
        /* the next call finds the lock of a dead owner: repaired, goes on */
        void *c = am_onesize_shared_allocate(&h, 1);
        assert_non_null(c);
        (void)stats(&h, &ss);
        assert_int_equal(ss.recoveries, recoveries + 1);
        assert_int_equal(am_onesize_shared_check(&h), 0);
        assert_true(am_onesize_shared_reap(&h) >= 1); /* the block it held, maybe two */
        assert_int_equal(am_onesize_shared_free(&h, c), 0);
        assert_int_equal(stats(&h, NULL).nfree, NB);
        assert_int_equal(am_onesize_shared_check(&h), 0);
        assert_int_equal(am_onesize_shared_detach(&h), 0);
    }
}

/* A waiter in one process is woken by a free in another. */
static int child_waits(void *arg)
{
    (void)arg;
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct am_onesize_shared h;
    if (m == MAP_FAILED || am_onesize_shared_attach(&h, m, bytes) != 0)
        return 1;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 60;
    void *b = am_onesize_shared_allocate_wait(&h, 1, &dl);
    if (b == NULL)
        return 2;
    return am_onesize_shared_free(&h, b) == 0 && am_onesize_shared_detach(&h) == 0 ? 0 : 3;
}

static void test_shared_wait_across_processes(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    void *all[NB];
    for (size_t i = 0; i < NB; i++)
        all[i] = am_onesize_shared_allocate(&h, 1);
    struct timespec past = {0, 0};
    errno = 0;
    assert_null(am_onesize_shared_allocate_wait(&h, 1, &past));
    assert_int_equal(errno, ETIMEDOUT);
    const struct timespec bad = {0, 1000000000};
    assert_null(am_onesize_shared_allocate_wait(&h, 1, &bad));
    assert_int_equal(errno, EINVAL);
    const pid_t pid = spawn(child_waits, NULL);
    for (int i = 0; i < 100000 && stats(&h, NULL).waits < 1; i++)
        usleep(100);
    assert_int_equal(am_onesize_shared_free(&h, all[0]), 0);
    assert_int_equal(status_of(pid), 0);
    for (size_t i = 1; i < NB; i++)
        assert_int_equal(am_onesize_shared_free(&h, all[i]), 0);
    assert_int_equal(stats(&h, NULL).nfree, NB);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* A process killed while it waits strands nobody: a free in another process
 * still wakes the other waiters (a process-shared condition variable hangs
 * the next broadcast here, waiting for the dead waiter), and reaping the
 * dead one leaves the pool whole. */
static void test_shared_waiter_killed_while_waiting(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    void *all[NB];
    for (size_t i = 0; i < NB; i++)
        all[i] = am_onesize_shared_allocate(&h, 1);
    pid_t pid[3];
    for (int k = 0; k < 3; k++) {
        pid[k] = spawn(child_waits, NULL);
        for (int i = 0; i < 100000 && stats(&h, NULL).waits < (uint64_t)k + 1; i++)
            usleep(100);
        assert_int_equal(stats(&h, NULL).waits, k + 1);
    }
    usleep(20000); /* the last one asleep too, most likely */
    assert_int_equal(kill(pid[1], SIGKILL), 0);
    assert_int_equal(status_of(pid[1]), 128 + SIGKILL);
    assert_int_equal(am_onesize_shared_free(&h, all[0]), 0);
    assert_int_equal(am_onesize_shared_free(&h, all[1]), 0);
    assert_int_equal(status_of(pid[0]), 0);
    assert_int_equal(status_of(pid[2]), 0);
    /* Later rounds of waiting and waking, the dead one not reaped yet. */
    all[0] = am_onesize_shared_allocate(&h, 1);
    all[1] = am_onesize_shared_allocate(&h, 1);
    for (uint64_t k = 4; k <= 6; k++) {
        const pid_t later = spawn(child_waits, NULL);
        for (int i = 0; i < 100000 && stats(&h, NULL).waits < k; i++)
            usleep(100);
        assert_int_equal(stats(&h, NULL).waits, k);
        usleep(5000);
        assert_int_equal(am_onesize_shared_free(&h, all[0]), 0);
        assert_int_equal(status_of(later), 0);
        all[0] = am_onesize_shared_allocate(&h, 1);
    }
    assert_int_equal(am_onesize_shared_free(&h, all[0]), 0);
    assert_int_equal(am_onesize_shared_free(&h, all[1]), 0);
    assert_int_equal(am_onesize_shared_reap(&h), 0); /* it held nothing */
    struct am_onesize_shared_stats ss;
    assert_int_equal(stats(&h, &ss).nfree, 2);
    assert_int_equal(ss.owners, 1);
    assert_int_equal(am_onesize_shared_check(&h), 0);
    for (size_t i = 2; i < NB; i++)
        assert_int_equal(am_onesize_shared_free(&h, all[i]), 0);
    assert_int_equal(stats(&h, NULL).nfree, NB);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* Giving and freeing blocks held by another handle is refused. */
static int child_tries_others_block(void *arg)
{
    const uint64_t off = *(const uint64_t *)arg;
    unsigned char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct am_onesize_shared h;
    if (m == MAP_FAILED || am_onesize_shared_attach(&h, m, bytes) != 0)
        return 1;
    void *b = am_onesize_shared_pointer(&h, off);
    if (b == NULL)
        return 2;
    if (am_onesize_shared_free(&h, b) != -EPERM || am_onesize_shared_give(&h, b, NULL) != -EPERM)
        return 3;
    if (am_onesize_shared_take(&h, off) != NULL || errno != EALREADY)
        return 4;
    return am_onesize_shared_detach(&h) == 0 ? 0 : 5;
}

static void test_shared_blocks_of_other_handles_are_refused(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    void *b = am_onesize_shared_allocate(&h, 1);
    uint64_t off;
    assert_int_equal(am_onesize_shared_offset(&h, b, &off), 0);
    assert_int_equal(status_of(spawn(child_tries_others_block, &off)), 0);
    assert_int_equal(am_onesize_shared_give(&h, b, NULL), 0);
    assert_int_equal(am_onesize_shared_give(&h, b, NULL), -EALREADY);
    assert_int_equal(am_onesize_shared_free(&h, b), 0); /* a block in transit: anyone may free it */
    assert_int_equal(am_onesize_shared_check(&h), 0);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

/* "-ESRCH (no handle of pid is attached)": a pid of 0 or below is nobody's
 * handle (found by fuzz/fuzz_shared.c: it was -EINVAL, which the header
 * gives only to a handle not attached). */
static void test_shared_reclaim_of_pid_zero_or_negative_is_esrch(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    assert_int_equal(am_onesize_shared_reclaim(&h, 0), -ESRCH);
    assert_int_equal(am_onesize_shared_reclaim(&h, -1), -ESRCH);
    assert_int_equal(am_onesize_shared_reclaim(&h, -getpid()), -ESRCH);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
    assert_int_equal(am_onesize_shared_reclaim(&h, 0), -EINVAL); /* h not attached */
}

/* "Bytes a region needs for nblocks blocks ... at alignment ...; the region
 * must start at an address aligned to alignof(max_align_t)": so much, at
 * such an address, holds that many blocks, each aligned (found by
 * fuzz/fuzz_shared.c: for an alignment above max_align_t's, create failed
 * with -EINVAL unless the region happened to be aligned to it). */
static void test_shared_size_holds_its_blocks_at_any_region_address(void **state)
{
    (void)state;
    static const size_t aligns[] = {32, 64, 256, 4096};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        const size_t size = am_onesize_shared_size(4, 100, aligns[k]);
        assert_int_not_equal(size, 0);
        unsigned char *map =
            mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(map != MAP_FAILED);
        for (size_t at = alignof(max_align_t); at < 4096; at += 1008) {
            assert_int_equal(am_onesize_shared_create(map + at, size, 100, aligns[k]), 0);
            struct am_onesize_shared h;
            assert_int_equal(am_onesize_shared_attach(&h, map + at, size), 0);
            assert_int_equal(stats(&h, NULL).nblocks, 4);
            for (int i = 0; i < 4; i++) {
                void *b = am_onesize_shared_allocate(&h, 100);
                assert_non_null(b);
                assert_int_equal((uintptr_t)b % aligns[k], 0);
                assert_true((unsigned char *)b + 100 <= map + at + size);
            }
            assert_int_equal(am_onesize_shared_check(&h), 0);
            assert_int_equal(am_onesize_shared_detach(&h), 0);
        }
        munmap(map, size + 4096);
    }
}

/* "reclaimed: blocks taken back from dead owners": a detach gives its
 * blocks back, but its process is alive (found by fuzz/fuzz_shared.c: the
 * blocks a detach gave back were counted). */
static void test_shared_detach_counts_no_reclaim(void **state)
{
    (void)state;
    struct am_onesize_shared h;
    attach_ok(&h);
    assert_non_null(am_onesize_shared_allocate(&h, 1));
    assert_non_null(am_onesize_shared_allocate(&h, 1));
    assert_int_equal(am_onesize_shared_detach(&h), 0);
    attach_ok(&h);
    struct am_onesize_shared_stats ss;
    const struct am_onesize_stats st = stats(&h, &ss);
    assert_int_equal(st.nfree, NB); /* "every block this handle holds goes back to the pool" */
    assert_int_equal(st.frees, 2);
    assert_int_equal(ss.reclaimed, 0);
    assert_int_equal(am_onesize_shared_detach(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_size_and_create_reject_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_create_fits_as_many_blocks_as_fit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_attach_validates_the_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_allocate_free_and_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_offsets_are_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_block_passes_between_processes_at_other_addresses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_blocks_of_a_killed_process_are_reclaimed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_process_killed_holding_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_wait_across_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_waiter_killed_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_blocks_of_other_handles_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_reclaim_of_pid_zero_or_negative_is_esrch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_size_holds_its_blocks_at_any_region_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_detach_counts_no_reclaim, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
