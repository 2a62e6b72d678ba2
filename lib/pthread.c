/* The pthread critical-section adapter; see amonesize_pthread.h. */
#include "amonesize_pthread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pthread_private.h"

/* A pool's critical section lasts tens of nanoseconds, far less than a
 * futex sleep and wake-up: spin on trylock a little before blocking, as
 * glibc's adaptive mutexes do, whatever kind of mutex the caller made. */
int am_mutex_lock(pthread_mutex_t *mutex)
{
    for (int i = 0; i < AM_MUTEX_SPINS; i++) {
        const int err = pthread_mutex_trylock(mutex);
        if (err != EBUSY)
            return err;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    return pthread_mutex_lock(mutex);
}

void am_mutex_failed(const char *what, int err)
{
    fprintf(stderr, "amonesize: %s failed: %s; the mutex is broken, aborting\n", what, strerror(err));
    abort();
}

void am_onesize_pthread_enter(void *mutex)
{
    const int err = am_mutex_lock((pthread_mutex_t *)mutex);
    if (err != 0)
        am_mutex_failed("pthread_mutex_lock", err);
}

void am_onesize_pthread_exit(void *mutex)
{
    const int err = pthread_mutex_unlock((pthread_mutex_t *)mutex);
    if (err != 0)
        am_mutex_failed("pthread_mutex_unlock", err);
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
