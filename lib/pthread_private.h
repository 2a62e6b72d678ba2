/* Private: shared by pthread.c and onesize.c. */
#ifndef AMONESIZE_PTHREAD_PRIVATE_H
#define AMONESIZE_PTHREAD_PRIVATE_H

#include <pthread.h>

/* How many trylock attempts before pthread_mutex_lock() blocks. */
#define AM_MUTEX_SPINS 100

/* pthread_mutex_lock(), spinning briefly first. */
int am_mutex_lock(pthread_mutex_t *mutex);

/* A mutex operation failed: the process is broken. Prints one line, aborts. */
__attribute__((noreturn)) void am_mutex_failed(const char *what, int err);

#endif
