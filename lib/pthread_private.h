/* Private: shared by pthread.c and onesize.c. */
#ifndef AMONESIZE_PTHREAD_PRIVATE_H
#define AMONESIZE_PTHREAD_PRIVATE_H

/* A mutex operation failed: the process is broken. Prints one line, aborts. */
__attribute__((noreturn)) void am_mutex_failed(const char *what, int err);

#endif
