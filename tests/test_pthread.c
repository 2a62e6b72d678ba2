/* SPDX-License-Identifier: MIT */
/* Unit tests of the pthread adapter (amonesize_pthread.h). */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static alignas(64) unsigned char pool_buf[16 * 64];
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static int dummy_wait(void *ctx, const struct timespec *deadline)
{
    (void)ctx, (void)deadline;
    return 0;
}

static void dummy_notify(void *ctx)
{
    (void)ctx;
}

static void test_pthread_set_crit_fills_three_fields(void **state)
{
    (void)state;
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.block_size = 64;
    assert_int_equal(am_onesize_pthread_set_crit(NULL, &mutex), -EINVAL);
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, NULL), -EINVAL);
    assert_null(cfg.crit_enter); /* untouched on error */
    cfg.crit_wait = dummy_wait;  /* "leaves the other fields alone" */
    cfg.crit_notify = dummy_notify;
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, &mutex), 0);
    assert_true(cfg.crit_enter == am_onesize_pthread_enter);
    assert_true(cfg.crit_exit == am_onesize_pthread_exit);
    assert_ptr_equal(cfg.crit_ctx, &mutex);
    assert_int_equal(cfg.block_size, 64);
    assert_true(cfg.crit_wait == dummy_wait);
    assert_true(cfg.crit_notify == dummy_notify);
}

static void test_pthread_set_sync_fills_five_fields(void **state)
{
    (void)state;
    struct am_onesize_pthread sync;
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.block_size = 64;
    assert_int_equal(am_onesize_pthread_set_sync(NULL, &sync), -EINVAL);
    assert_int_equal(am_onesize_pthread_set_sync(&cfg, NULL), -EINVAL);
    assert_null(cfg.crit_enter); /* untouched on error */
    assert_null(cfg.crit_wait);
    assert_int_equal(am_onesize_pthread_set_sync(&cfg, &sync), 0);
    assert_true(cfg.crit_enter == am_onesize_pthread_enter);
    assert_true(cfg.crit_exit == am_onesize_pthread_exit);
    assert_non_null(cfg.crit_wait);
    assert_non_null(cfg.crit_notify);
    assert_ptr_equal(cfg.crit_ctx, &sync);
    assert_int_equal(cfg.block_size, 64);
}

static void test_pthread_init_and_destroy(void **state)
{
    (void)state;
    assert_int_equal(am_onesize_pthread_init(NULL), -EINVAL);
    am_onesize_pthread_destroy(NULL); /* nothing */
    struct am_onesize_pthread sync;
    memset(&sync, 0xa5, sizeof sync); /* any previous contents */
    assert_int_equal(am_onesize_pthread_init(&sync), 0);
    /* the mutex works, and is the struct's address (crit_ctx) */
    assert_int_equal(pthread_mutex_lock(&sync.mutex), 0);
    assert_int_equal(pthread_mutex_trylock((pthread_mutex_t *)(void *)&sync), EBUSY);
    assert_int_equal(pthread_mutex_unlock(&sync.mutex), 0);
    /* the condition variable runs on CLOCK_MONOTONIC: a deadline 50 ms
     * ahead on that clock times out after about 50 ms, not at once and not
     * hours later as it would against CLOCK_REALTIME */
    struct timespec t0, deadline, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    deadline = t0;
    deadline.tv_nsec += 50 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    assert_int_equal(pthread_mutex_lock(&sync.mutex), 0);
    int err;
    do
        err = pthread_cond_timedwait(&sync.cond, &sync.mutex, &deadline);
    while (err == 0);
    assert_int_equal(err, ETIMEDOUT);
    assert_int_equal(pthread_mutex_unlock(&sync.mutex), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 49.0);
    assert_true(ms < 10000.0);
    am_onesize_pthread_destroy(&sync);
}

/* A pool made with set_crit locks, works, and cannot wait. */
static void test_pthread_pool_with_set_crit_cannot_wait(void **state)
{
    (void)state;
    POOL(os) = {0};
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pool.ptr = pool_buf;
    cfg.pool.size = sizeof pool_buf;
    cfg.block_size = 64;
    assert_int_equal(am_onesize_pthread_set_crit(&cfg, &mutex), 0);
    ctor_ok(&os, &cfg);
    void *p = alloc_ok(&os, 1);
    errno = 0;
    assert_null(am_onesize_allocate_wait(&os, 1, NULL));
    assert_int_equal(errno, ENOTSUP);
    assert_int_equal(am_onesize_free(&os, p), 0);
    assert_int_equal(pthread_mutex_trylock(&mutex), 0); /* left unlocked */
    assert_int_equal(pthread_mutex_unlock(&mutex), 0);
}

/* "print one line naming the error to stderr and call abort()": unlocking an
 * error-checking mutex this thread does not hold fails with EPERM. */
static void test_pthread_exit_failure_aborts_with_a_message(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        pthread_mutexattr_t attr;
        pthread_mutex_t m;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
        pthread_mutex_init(&m, &attr);
        am_onesize_pthread_exit(&m); /* not locked: EPERM */
        _exit(0);                    /* must not get here */
    }
    close(fds[1]);
    static char msg[16384];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (strstr(msg, "ThreadSanitizer: unlock of an unlocked mutex") != NULL) {
        /* under ThreadSanitizer (halt_on_error) its own report of the bad
         * unlock comes first and ends the child */
        assert_true(WIFEXITED(status) ? WEXITSTATUS(status) != 0 : WTERMSIG(status) == SIGABRT);
        return;
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(msg, "amonesize: pthread_mutex_unlock failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pthread_set_crit_fills_three_fields),
        cmocka_unit_test(test_pthread_set_sync_fills_five_fields),
        cmocka_unit_test(test_pthread_init_and_destroy),
        cmocka_unit_test(test_pthread_pool_with_set_crit_cannot_wait),
        cmocka_unit_test(test_pthread_exit_failure_aborts_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
