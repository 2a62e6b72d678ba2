/* SPDX-License-Identifier: MIT */
/* The per-pool key of the free pattern, from whatever entropy the platform
 * has. Hosted (Linux): getrandom() and the monotonic clock, mixed with the
 * pool's addresses and a process-wide counter. Freestanding (bare metal):
 * only the addresses, the counter and, if the build defines
 * AM_ONESIZE_ENTROPY() (an expression of integer type, e.g. a hardware RNG
 * or a cycle counter), that. Not a cryptographic secret either way: the key
 * only has to make the pattern something program data does not match by
 * accident and a program cannot learn without reading freed blocks. Without
 * AM_ONESIZE_ENTROPY a freestanding build's keys are predictable from the
 * addresses and the order of construction, so a deliberate forgery is
 * easier; accidental matches stay as unlikely. */
#include "internal.h"

#if defined(__STDC_HOSTED__) && __STDC_HOSTED__ == 1 && defined(__linux__)
#include <sys/random.h>
#include <time.h>
#define HAVE_OS_ENTROPY 1
#endif

#define KEY_TOP ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

uintptr_t am_new_key(const void *os, const void *pool)
{
    /* A word-sized counter: native atomics everywhere, also on Cortex-M. */
    static uintptr_t counter;
    uint64_t x = (uint64_t)(uintptr_t)os ^ ((uint64_t)(uintptr_t)pool << 17);
    x ^= (uint64_t)__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15u;
#if defined(HAVE_OS_ENTROPY)
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        x ^= (uint64_t)ts.tv_nsec * 0xd6e8feb86659fd93u ^ (uint64_t)ts.tv_sec;
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        x ^= r;
#endif
#if defined(AM_ONESIZE_ENTROPY)
    x ^= (uint64_t)(AM_ONESIZE_ENTROPY()) * 0xd1342543de82ef95u;
#endif
    uintptr_t key = (uintptr_t)mix64(x);
    if (sizeof key < sizeof x)
        key ^= (uintptr_t)(mix64(x) >> 32);
    return key | KEY_TOP;
}
