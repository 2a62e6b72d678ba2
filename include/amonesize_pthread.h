/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 the libamonesize authors */
/**
 * libamonesize: ready-made critical sections over pthreads.
 *
 * A mutex only (no am_onesize_allocate_wait()):
 *
 *     static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
 *     struct am_onesize_cfg cfg = {.pool = {buf, sizeof buf}, .block_size = 64};
 *     am_onesize_pthread_set_crit(&cfg, &mutex);
 *     am_onesize_ctor(&pool, &cfg);
 *
 * A mutex and a condition variable, for am_onesize_allocate_wait():
 *
 *     static struct am_onesize_pthread sync;
 *     am_onesize_pthread_init(&sync);
 *     am_onesize_pthread_set_sync(&cfg, &sync);
 *     am_onesize_ctor(&pool, &cfg);
 *     ...
 *     am_onesize_dtor(&pool);
 *     am_onesize_pthread_destroy(&sync);
 *
 * The mutex (or sync) must outlive the pool and must not be locked by the
 * caller around pool calls (the callbacks are not re-entrant; a recursive
 * mutex is not needed and not recommended). With either, the library locks
 * the mutex itself, directly: one pthread_mutex_trylock() when the mutex is
 * free, and only when it is taken a hundred more tries with a pause between
 * them before pthread_mutex_lock() blocks (a pool's critical section lasts
 * tens of nanoseconds, much less than a futex sleep and wake-up; glibc's
 * PTHREAD_MUTEX_ADAPTIVE_NP does the same).
 *
 * A void callback cannot return an error. The pthread functions used here
 * only fail on a mutex or condition variable that is not initialised, was
 * destroyed, or (error-checking mutexes) is not owned: the process is
 * already broken, so the library prints one line naming the error to stderr
 * and calls abort(). That is the only place the library prints or aborts.
 */
#ifndef AMONESIZE_PTHREAD_H
#define AMONESIZE_PTHREAD_H

#include <pthread.h>

#include "amonesize.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One pool's lock and condition variable. */
struct am_onesize_pthread {
    pthread_mutex_t mutex; /**< first: crit_ctx points to it too */
    pthread_cond_t cond;   /**< on CLOCK_MONOTONIC */
};

/**
 * Critical-section callbacks for a pthread_mutex_t * (or a struct
 * am_onesize_pthread *) passed as crit_ctx. Usually set with
 * am_onesize_pthread_set_crit() or am_onesize_pthread_set_sync().
 */
AM_ONESIZE_API void am_onesize_pthread_enter(void *mutex);
AM_ONESIZE_API void am_onesize_pthread_exit(void *mutex);

/**
 * Set cfg->crit_enter, cfg->crit_exit and cfg->crit_ctx to use mutex.
 * Leaves the other fields alone (crit_wait and crit_notify included, which
 * stay NULL in a zeroed cfg: am_onesize_allocate_wait() then answers
 * ENOTSUP).
 * @retval 0 success; -EINVAL iff cfg or mutex is NULL (cfg is then untouched).
 */
AM_ONESIZE_API int am_onesize_pthread_set_crit(struct am_onesize_cfg *cfg, pthread_mutex_t *mutex);

/**
 * Initialise sync: a default mutex, and a condition variable on
 * CLOCK_MONOTONIC (the clock of am_onesize_allocate_wait()'s deadlines).
 * @retval 0 success; -EINVAL if sync is NULL; else the negative errno of the
 *         pthread function that failed (nothing is left initialised).
 */
AM_ONESIZE_API int am_onesize_pthread_init(struct am_onesize_pthread *sync);

/** Destroy what am_onesize_pthread_init() made; after am_onesize_dtor()
 * of every pool using it. NULL: nothing. */
AM_ONESIZE_API void am_onesize_pthread_destroy(struct am_onesize_pthread *sync);

/**
 * Set cfg->crit_enter, crit_exit, crit_wait, crit_notify and crit_ctx to
 * use sync (initialised by am_onesize_pthread_init()). Leaves the other
 * fields alone.
 * @retval 0 success; -EINVAL iff cfg or sync is NULL (cfg is then untouched).
 */
AM_ONESIZE_API int am_onesize_pthread_set_sync(struct am_onesize_cfg *cfg, struct am_onesize_pthread *sync);

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_PTHREAD_H */
