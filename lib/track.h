/* SPDX-License-Identifier: MIT */
/* Private: what the library tells memory debuggers (lib/track.c).
 *
 * Under Valgrind memcheck (mode AM_MODE_VALGRIND) free and never-used blocks
 * are NOACCESS and handed-out blocks are malloc-like blocks (undefined until
 * written, reported as leaks if lost). Malloc-like blocks rather than a
 * Valgrind mempool: memcheck 3.19 leak-checks mempool chunks only while some
 * malloc'ed block is live at exit. With an AddressSanitizer runtime in the
 * process (AM_MODE_ASAN) free and never-used blocks are poisoned.
 *
 * The engine (amonesize/inline.h) reads and writes a tracked pool's blocks
 * only through am_track_get() and am_track_set(), and reports hand-outs and
 * frees through am_track_alloc() and am_track_free(); for every other pool
 * it compiles to plain loads and stores and these are never called. They
 * have external linkage because the engine's inline functions do. */
#ifndef AMONESIZE_TRACK_H
#define AMONESIZE_TRACK_H

#include <stddef.h>
#include <stdint.h>

struct am_onesize;

/* Read a block's two words without changing what a debugger believes about
 * them (free blocks stay NOACCESS, undefined bytes stay undefined). */
void am_track_get(const struct am_onesize *os, const void *blk, uintptr_t w[2]);
/* Write a block's two words, keeping its accessibility as it was. */
void am_track_set(const struct am_onesize *os, void *blk, const uintptr_t w[2]);
/* Write one of them (0: the link, 1: the check word), likewise. */
void am_track_set_word(const struct am_onesize *os, void *blk, unsigned i, uintptr_t v);
/* The block is handed out / given back. */
void am_track_alloc(const struct am_onesize *os, void *blk);
void am_track_free(const struct am_onesize *os, void *blk);

/* Which debuggers watch the process: AM_MODE_VALGRIND and AM_MODE_ASAN
 * bits. Asked once per ctor. */
unsigned am_track_detect(void);
/* A pool comes to life over [start, start + bytes): nothing in it may be
 * touched by the program. Under memcheck, a pool constructed earlier over
 * any of that memory and never destroyed is forgotten first (its blocks
 * released), so that its blocks cannot overlap the new ones. */
void am_track_create(const struct am_onesize *os, void *start, size_t bytes);
/* The pool ends: its memory is the caller's, addressable, contents
 * unspecified. */
void am_track_destroy(const struct am_onesize *os, void *start, size_t bytes);
/* As am_track_destroy(), and the memory's contents count as defined: for
 * memory other processes write (a shared pool), which no debugger of this
 * process sees written. */
void am_track_forget(const struct am_onesize *os, void *start, size_t bytes);
/* Is this block handed out, as far as the debugger knows? (memcheck: it
 * is addressable). Used to release blocks whatever the free list holds. */
int am_track_is_handed_out(const struct am_onesize *os, const void *blk);

/* The hardened mode's fill of a freed block under a memory debugger
 * (lib/hardened.c), called by the engine like the hooks above. */
void am_fill(const struct am_onesize *os, void *blk);

#endif /* AMONESIZE_TRACK_H */
