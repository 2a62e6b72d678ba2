/* libamonesize: a ready-made critical section over a pthread mutex.
 *
 *     static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
 *     struct am_onesize_cfg cfg = {.pool = {buf, sizeof buf}, .block_size = 64};
 *     am_onesize_pthread_set_crit(&cfg, &mutex);
 *     am_onesize_ctor(&pool, &cfg);
 *
 * The mutex must outlive the pool and must not be locked by the caller
 * around pool calls (the callbacks are not re-entrant; a recursive mutex is
 * not needed and not recommended).
 */
#ifndef AMONESIZE_PTHREAD_H
#define AMONESIZE_PTHREAD_H

#include <pthread.h>

#include "amonesize.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Critical-section callbacks for a pthread_mutex_t * passed as crit_ctx.
 *
 * am_onesize_pthread_enter() first tries pthread_mutex_trylock() a hundred
 * times with a pause between tries, then blocks in pthread_mutex_lock(): a
 * pool's critical section lasts tens of nanoseconds, much less than a futex
 * sleep and wake-up (glibc's PTHREAD_MUTEX_ADAPTIVE_NP does the same, for
 * mutexes made that way). Any kind of mutex works; a recursive one is not
 * needed.
 *
 * A void callback cannot return an error. pthread_mutex_lock() and
 * pthread_mutex_unlock() only fail on a mutex that is not initialised, was
 * destroyed, or (error-checking mutexes) is not owned: the process is
 * already broken, so these print one line naming the error to stderr and
 * call abort(). That is the only place the library prints or aborts.
 */
AM_API void am_onesize_pthread_enter(void *mutex);
AM_API void am_onesize_pthread_exit(void *mutex);

/**
 * Set cfg->crit_enter, cfg->crit_exit and cfg->crit_ctx to use mutex.
 * Leaves the other fields alone.
 * @retval 0 success; -EINVAL iff cfg or mutex is NULL (cfg is then untouched).
 */
AM_API int am_onesize_pthread_set_crit(struct am_onesize_cfg *cfg, pthread_mutex_t *mutex);

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_PTHREAD_H */
