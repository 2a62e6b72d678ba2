/* SPDX-License-Identifier: MIT */
/* Blocking allocation: am_onesize_allocate_wait(). Apart from the core so
 * that a freestanding build of the core needs no <time.h>. */
#include "internal.h"

#include <errno.h>
#include <time.h>

#include "lock.h"

static bool has_passed(const struct timespec *deadline)
{
    struct timespec now;
    if (deadline == NULL || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return false;
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int am_wait_free(struct am_onesize *os, const struct timespec *deadline, bool *waited,
                 int (*sleep)(void *ctx, const struct timespec *deadline), void *ctx)
{
    /* The waiter count changes only inside the critical section, which the
     * sleeper leaves and enters again atomically (a futex or a condition
     * variable), so a block given back after the check below always wakes
     * this thread. */
    while (nfree_of(os) == 0) {
        if (has_passed(deadline)) { /* a deadline already past: no wait */
            os->counts[CNT_TIMEOUTS]++;
            return ETIMEDOUT;
        }
        if (!*waited)
            os->counts[CNT_WAITS]++;
        *waited = true;
        os->waiters++;
        const int r = sleep(ctx, deadline);
        if (r != 0 && r != ETIMEDOUT)
            return r; /* the lock is not held: nothing more is touched */
        /* (A pool shared between processes: a detach by another thread
         * meanwhile cleared the count, misuse, but no count may wrap.) */
        os->waiters -= os->waiters != 0;
        if (r == ETIMEDOUT && nfree_of(os) == 0) {
            os->counts[CNT_TIMEOUTS]++;
            return ETIMEDOUT;
        }
    }
    return 0;
}

/* The pool's crit_wait as a sleeper for am_wait_free(): the callback keeps
 * the lock held, whatever it returns (ETIMEDOUT or, by contract, 0). */
static int crit_sleep(void *os, const struct timespec *deadline)
{
    return wait_for_block(os, deadline) == ETIMEDOUT ? ETIMEDOUT : 0;
}

void *am_onesize_allocate_wait(struct am_onesize *os, size_t size, const struct timespec *deadline)
{
    if (!is_constructed(os) ||
        (deadline != NULL && (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000))) {
        errno = EINVAL;
        return NULL;
    }
    if (!(os->mode & AM_MODE_WAIT)) {
        errno = ENOTSUP;
        return NULL;
    }
    void *blk = NULL;
    int err = 0;
    struct am_retired retired = {.n = 0};
    lock(os);
    if (size > os->block_size) {
        os->counts[CNT_OVERSIZE]++;
        err = EINVAL;
    } else {
        bool waited = false;
        do {
            err = am_wait_free(os, deadline, &waited, crit_sleep, os);
            if (err == 0)
                err = am_take_one(os, 0, &blk, &retired);
        } while (err == ENOMEM); /* what was free was retired: wait again */
    }
    unlock(os);
    am_report_retired(os, &retired);
    if (err == ETIMEDOUT) {
        errno = err;
        return NULL;
    }
    return err == 0 ? blk : am_onesize_impl_failed(os, err);
}
