/* SPDX-License-Identifier: MIT */
/* Test hooks; see testing.h. */
#include "internal.h"

#include "testing.h"

void am_test_forge_free_pattern(const struct am_onesize *os, void *blk, uintptr_t link)
{
    uintptr_t w[2];
    am_onesize_impl_pattern(os->key, am_onesize_impl_pos(os, blk, eflags(os)), link, w);
    AM_ONESIZE_COPY(blk, w);
}

void am_test_forge_parked(const struct am_onesize *os, void *blk)
{
    am_onesize_impl_park(os, os->key, am_onesize_impl_park_mark(os->key), blk);
}

uintptr_t am_test_key(const struct am_onesize *os)
{
    return os->key;
}
