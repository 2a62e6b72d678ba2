/* The pthread critical-section adapter; see amonesize_pthread.h. */
#include "amonesize_pthread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pthread_private.h"

void am_mutex_failed(const char *what, int err)
{
    fprintf(stderr, "amonesize: %s failed: %s; the mutex is broken, aborting\n", what, strerror(err));
    abort();
}

void am_onesize_pthread_enter(void *mutex)
{
    const int err = pthread_mutex_lock((pthread_mutex_t *)mutex);
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
