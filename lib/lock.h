/* SPDX-License-Identifier: MIT */
/* Private: the critical section of a pool, and waiting inside it.
 *
 * Every function of the library that enters the critical section leaves it
 * before returning, in the same function; errors found inside are reported
 * (errno, on_error) after it is left.
 *
 * With the library's own pthread adapter (mode AM_MODE_PTHREAD) the mutex is
 * locked directly: one trylock, which is all an uncontended lock costs, and
 * only when that fails the adapter's spin-then-block path. That saves the
 * indirect call and the adapter's frame, which cost as much as the pool's
 * own work. Any other callbacks are called as given. */
#ifndef AMONESIZE_LOCK_H
#define AMONESIZE_LOCK_H

#include "internal.h"

#if defined(AM_HAVE_PTHREAD)
#include <pthread.h>

#include "amonesize_pthread.h"

/* lib/pthread.c: lock, spinning briefly, then blocking; abort on an error
 * (the mutex is broken: the process is already lost). */
void am_mutex_lock_slow(pthread_mutex_t *mutex);
__attribute__((noreturn, cold)) void am_mutex_failed(const char *what, int err);
/* lib/pthread.c: the adapter's wait and notify on a struct
 * am_onesize_pthread. */
int am_pthread_wait(void *sync, const struct timespec *deadline);
void am_pthread_notify(void *sync);
#endif

static inline void lock(const struct am_onesize *os)
{
#if defined(AM_HAVE_PTHREAD)
    if (os->mode & AM_MODE_PTHREAD) {
        /* crit_ctx is the mutex, or a struct am_onesize_pthread whose first
         * member is the mutex: the same address either way. */
        pthread_mutex_t *m = (pthread_mutex_t *)os->crit_ctx;
        if (AM_ONESIZE_LIKELY(pthread_mutex_trylock(m) == 0))
            return;
        am_mutex_lock_slow(m);
        return;
    }
#endif
    if (os->mode & AM_MODE_LOCKED)
        os->crit_enter(os->crit_ctx);
}

static inline void unlock(const struct am_onesize *os)
{
#if defined(AM_HAVE_PTHREAD)
    if (os->mode & AM_MODE_PTHREAD) {
        const int err = pthread_mutex_unlock((pthread_mutex_t *)os->crit_ctx);
        if (err != 0)
            am_mutex_failed("pthread_mutex_unlock", err);
        return;
    }
#endif
    if (os->mode & AM_MODE_LOCKED)
        os->crit_exit(os->crit_ctx);
}

/* Blocks became free: wake the waiters, if there are any. Locked. */
static inline void notify(const struct am_onesize *os)
{
    if (AM_ONESIZE_LIKELY(os->waiters == 0))
        return;
    os->crit_notify(os->crit_ctx);
}

/* Wait for notify() or the deadline; 0 or ETIMEDOUT. Locked before and
 * after (the callback leaves the critical section while it sleeps). */
static inline int wait_for_block(const struct am_onesize *os, const struct timespec *deadline)
{
    return os->crit_wait(os->crit_ctx, deadline);
}

#endif /* AMONESIZE_LOCK_H */
