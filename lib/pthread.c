/* SPDX-License-Identifier: MIT */
/* The pthread adapter; see amonesize_pthread.h. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"

/* How many trylock attempts before pthread_mutex_lock() blocks. */
enum { SPINS = 100 };

void am_mutex_failed(const char *what, int err)
{
    fprintf(stderr, "amonesize: %s failed: %s; the mutex is broken, aborting\n", what, strerror(err));
    abort();
}

/* A pool's critical section lasts tens of nanoseconds, far less than a
 * futex sleep and wake-up: spin on trylock a little before blocking, as
 * glibc's adaptive mutexes do, whatever kind of mutex the caller made. */
void am_mutex_lock_slow(pthread_mutex_t *mutex)
{
    int err = EBUSY;
    for (int i = 0; i < SPINS && err == EBUSY; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
        err = pthread_mutex_trylock(mutex);
    }
    if (err == EBUSY)
        err = pthread_mutex_lock(mutex);
    if (err != 0)
        am_mutex_failed("pthread_mutex_lock", err);
}

void am_onesize_pthread_enter(void *mutex)
{
    pthread_mutex_t *m = (pthread_mutex_t *)mutex;
    if (pthread_mutex_trylock(m) != 0)
        am_mutex_lock_slow(m);
}

void am_onesize_pthread_exit(void *mutex)
{
    const int err = pthread_mutex_unlock((pthread_mutex_t *)mutex);
    if (err != 0)
        am_mutex_failed("pthread_mutex_unlock", err);
}

int am_pthread_wait(void *sync, const struct timespec *deadline)
{
    struct am_onesize_pthread *s = (struct am_onesize_pthread *)sync;
    const int err = deadline != NULL ? pthread_cond_timedwait(&s->cond, &s->mutex, deadline)
                                     : pthread_cond_wait(&s->cond, &s->mutex);
    if (err == ETIMEDOUT)
        return ETIMEDOUT;
    if (err != 0)
        am_mutex_failed("pthread_cond_wait", err);
    return 0;
}

void am_pthread_notify(void *sync)
{
    const int err = pthread_cond_broadcast(&((struct am_onesize_pthread *)sync)->cond);
    if (err != 0)
        am_mutex_failed("pthread_cond_broadcast", err);
}

int am_onesize_pthread_set_crit(struct am_onesize_cfg *cfg, pthread_mutex_t *mutex)
{
    if (cfg == NULL || mutex == NULL)
        return -EINVAL;
    cfg->crit_enter = am_onesize_pthread_enter;
    cfg->crit_exit = am_onesize_pthread_exit;
    cfg->crit_ctx = mutex;
    return 0;
}

int am_onesize_pthread_init(struct am_onesize_pthread *sync)
{
    if (sync == NULL)
        return -EINVAL;
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int err = pthread_mutexattr_init(&ma);
    if (err != 0)
        return -err;
    err = pthread_mutex_init(&sync->mutex, &ma);
    pthread_mutexattr_destroy(&ma);
    if (err != 0)
        return -err;
    if ((err = pthread_condattr_init(&ca)) == 0) {
        err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&sync->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (err != 0) {
        pthread_mutex_destroy(&sync->mutex);
        return -err;
    }
    return 0;
}

void am_onesize_pthread_destroy(struct am_onesize_pthread *sync)
{
    if (sync == NULL)
        return;
    pthread_cond_destroy(&sync->cond);
    pthread_mutex_destroy(&sync->mutex);
}

int am_onesize_pthread_set_sync(struct am_onesize_cfg *cfg, struct am_onesize_pthread *sync)
{
    if (cfg == NULL || sync == NULL)
        return -EINVAL;
    cfg->crit_enter = am_onesize_pthread_enter;
    cfg->crit_exit = am_onesize_pthread_exit;
    cfg->crit_wait = am_pthread_wait;
    cfg->crit_notify = am_pthread_notify;
    cfg->crit_ctx = sync; /* its first member is the mutex */
    return 0;
}
