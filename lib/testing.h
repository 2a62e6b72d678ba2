/* SPDX-License-Identifier: MIT */
/* Test hooks: only in the internal and sanitizer twins of the library
 * (built with -DAM_ONESIZE_TESTING, never installed). White-box tests and
 * the fuzzer use these instead of reading private fields, so that the
 * representation stays the engine's alone. */
#ifndef AMONESIZE_TESTING_H
#define AMONESIZE_TESTING_H

#include <stdint.h>

#include "amonesize.h"

/* Write the free pattern into blk, with link as its link: caller data that
 * looks exactly like a free block. */
void am_test_forge_free_pattern(const struct am_onesize *os, void *blk, uintptr_t link);
/* Write what a block parked in a cache carries. */
void am_test_forge_parked(const struct am_onesize *os, void *blk);
/* The pool's key (changes at free_all). */
uintptr_t am_test_key(const struct am_onesize *os);

#if defined(AM_TEST_HAVE_PTHREAD) || defined(AM_HAVE_PTHREAD)
struct am_onesize_shared;
/* Die (SIGKILL) inside a shared pool's critical section, at a stage of an
 * allocation: 0 right after locking, 1 with the next block's owner written,
 * 2 with that block off the free list too. */
void am_test_shared_die_in_allocate(struct am_onesize_shared *h, int stage);
#endif

#endif
