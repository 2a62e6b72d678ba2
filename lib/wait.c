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
        /* Wait while nothing is free. The waiter count tells every path that
         * gives blocks back to notify; it changes only inside the critical
         * section, which crit_wait leaves and enters again atomically, so a
         * block given back after the check below always wakes this thread. */
        bool waited = false;
        do {
            err = 0;
            while (nfree_of(os) == 0) {
                if (has_passed(deadline)) { /* a deadline already past: no wait */
                    os->counts[CNT_TIMEOUTS]++;
                    err = ETIMEDOUT;
                    break;
                }
                if (!waited)
                    os->counts[CNT_WAITS]++;
                waited = true;
                os->waiters++;
                const int r = wait_for_block(os, deadline);
                os->waiters--;
                if (r == ETIMEDOUT && nfree_of(os) == 0) {
                    os->counts[CNT_TIMEOUTS]++;
                    err = ETIMEDOUT;
                    break;
                }
            }
            if (err == 0)
                err = am_take_one(os, &blk, &retired);
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
