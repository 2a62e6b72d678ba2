/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 the libamonesize authors */
/**
 * libamonesize: a pool shared between processes.
 *
 * One call lays out a pool inside caller-provided memory that several
 * processes map (an mmap of a memfd, of shm_open, of a file): the blocks,
 * the pool's state, a process-shared robust mutex, a futex word for
 * waiters, and a table saying which process holds each block. The region is all the
 * state there is. Each process attaches to it at whatever address its
 * mapping got and gets a small local handle; every link and reference kept
 * in the region is an offset, so different addresses just work.
 *
 *     // one process, once:
 *     size_t bytes = am_onesize_shared_size(1024, 256, 0);
 *     int fd = memfd_create("pool", 0); ftruncate(fd, bytes);
 *     void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *     am_onesize_shared_create(mem, bytes, 256, 0);
 *     // every process (after fork, or after mapping the fd it was sent):
 *     struct am_onesize_shared h;
 *     am_onesize_shared_attach(&h, mem, bytes);
 *     void *b = am_onesize_shared_allocate(&h, 200);
 *     uint64_t off;
 *     am_onesize_shared_give(&h, b, &off);        // b travels by its offset
 *     void *same = am_onesize_shared_take(&h2, off);  // in the other process
 *     am_onesize_shared_free(&h2, same);
 *
 * Ownership. Every block is free, held by one attached handle (the one that
 * allocated or took it), or in transit (given, not yet taken). A process
 * that dies (or detaches) never leaves the others hung or short of
 * blocks: when a process dies holding the lock, the next one to lock
 * verifies the pool, repairs what the dead one left half-done, and goes
 * on (the "recoveries" statistic); the blocks a dead process held are
 * given back by am_onesize_shared_reclaim() or am_onesize_shared_reap().
 * Blocks in transit belong to no process and are never reclaimed: whoever
 * takes them owns them. A block is freed by whoever holds it (or, for a
 * block in transit, by anyone).
 *
 * Misuse is answered with an error and changes nothing, as in
 * <amonesize.h>: a free of a pointer outside the region or inside a block,
 * of a block never handed out, a double free, a bad offset, a region that
 * is not one or not of this version, a second attach from one process.
 * Processes sharing a region must run the same library ABI (same word
 * size); attach checks it.
 *
 * Trusted, not checked (docs/shared.md, "What a shared pool trusts"):
 * owners are told apart by process ID, so every process attached to a
 * region must share one PID namespace, a child made by fork() must not
 * use its parent's handle (it would act as its parent), and a dead
 * owner's PID reused before it was reaped keeps the new process from
 * attaching and the dead one's blocks from being reclaimed while the new
 * one lives. A handle attach never wrote may crash any call (zero it
 * first). After attach the region's header and tables are trusted: a
 * write into them (rather than into a block one holds) may make the pool
 * hand a block out twice or crash a process, as a write into a private
 * pool's struct am_onesize would.
 *
 * Locking: every function enters the region's mutex at most once (except
 * am_onesize_shared_allocate_wait(), which waits inside it) and leaves it
 * before returning. Memory debuggers are not told about shared pools.
 * A handle belongs to the process that attached it (a child made by
 * fork() attaches on its own), and may be used by every thread of that
 * process at once.
 */
#ifndef AMONESIZE_SHARED_H
#define AMONESIZE_SHARED_H

#include <sys/types.h>

#include "amonesize.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Processes attached to one region at once, at most. */
#define AM_ONESIZE_SHARED_MAX_OWNERS 256

/** A process's handle on a shared pool. Every field is private. */
struct am_onesize_shared {
    unsigned char *region; /* where this process maps it */
    size_t size;
    unsigned slot;              /* this handle's owner slot, from 1; 0: not attached */
    pid_t pid;                  /* the process that attached */
    struct am_onesize geometry; /* the pool as this process sees it: only
                                   the geometry is used, for offsets */
};

/** What a shared pool counts besides struct am_onesize_stats. */
struct am_onesize_shared_stats {
    size_t owners;       /**< handles attached now */
    size_t in_transit;   /**< blocks given and not yet taken */
    uint64_t recoveries; /**< times a process died holding the lock and the
                              next locker repaired the pool */
    uint64_t reclaimed;  /**< blocks taken back from dead owners */
};

/**
 * Bytes a region needs for nblocks blocks of block_size bytes at alignment
 * (0: alignof(max_align_t)), header and tables included; the region must
 * start at an address aligned to alignof(max_align_t) (mmap's are).
 * @return the size, or 0 if an argument is 0 or invalid (alignment not a
 *         power of two) or the size would overflow.
 * No lock. O(1).
 */
AM_ONESIZE_API size_t am_onesize_shared_size(size_t nblocks, size_t block_size, size_t alignment);

/**
 * Lay out a new shared pool in [region, region + size): as many blocks as
 * fit. The region's previous contents are ignored; it must not be in use.
 * Call it once, in one process, before any attach.
 * @retval 0        success.
 * @retval -EINVAL  region NULL or not aligned to alignof(max_align_t),
 *                  region + size past the end of the address space,
 *                  block_size 0, alignment neither 0 nor a power of two, or
 *                  the region too small for one block.
 * @retval -errno   the mutex could not be initialised.
 * Locking: none. Complexity: O(log size) to find how many blocks fit, and
 * O(blocks) to zero the block table.
 */
AM_ONESIZE_API int am_onesize_shared_create(void *region, size_t size, size_t block_size, size_t alignment);

/**
 * Attach this process to a shared pool mapped at region.
 * @retval 0          success: *h is this process's handle.
 * @retval -EINVAL    h or region NULL, or region is not a shared pool (bad
 *                    magic, sizes or layout inconsistent, or larger than
 *                    size).
 * @retval -EPROTONOSUPPORT  a pool of another version or library ABI.
 * @retval -EALREADY  this process is attached to it already.
 * @retval -EUSERS    AM_ONESIZE_SHARED_MAX_OWNERS handles are attached (dead
 *                    ones are reaped first).
 * @retval -ENOTRECOVERABLE  the region's mutex cannot be used any more.
 * *h is zeroed on every error, also when it was this process's attached
 * handle (-EALREADY): that attachment is then lost until the process exits
 * and is reaped. Locking: once. O(1) (O(blocks) when owners have to be
 * reaped).
 */
AM_ONESIZE_API int am_onesize_shared_attach(struct am_onesize_shared *h, void *region, size_t size);

/**
 * Detach: every block this handle holds goes back to the pool, and the
 * handle's slot is free for another process. *h is zeroed.
 * @retval 0 success; -EINVAL h not attached. Locking: once. O(blocks).
 */
AM_ONESIZE_API int am_onesize_shared_detach(struct am_onesize_shared *h);

/**
 * Allocate a block, held by this handle: as am_onesize_allocate() (NULL
 * with errno ENOMEM, EINVAL, EFAULT), and EINVAL for a handle not attached,
 * ENOTRECOVERABLE for a mutex that cannot be used any more.
 * Locking: once. O(1).
 */
AM_ONESIZE_API void *am_onesize_shared_allocate(struct am_onesize_shared *h, size_t size);

/**
 * As am_onesize_allocate_wait(), across processes: waits (until deadline,
 * CLOCK_MONOTONIC, NULL: no limit) while no block is free; woken by frees,
 * reclaims and detaches in any process. A process killed while it waits
 * blocks no one: the others still wake.
 * @return the block, or NULL with errno as am_onesize_allocate_wait()
 *         (no ENOTSUP: shared pools can always wait).
 */
AM_ONESIZE_API void *am_onesize_shared_allocate_wait(struct am_onesize_shared *h, size_t size,
                                                     const struct timespec *deadline);

/**
 * Free a block held by this handle (or in transit). As am_onesize_free():
 * 0, -EINVAL (not a handed-out block of this region), -EALREADY (free
 * already), -EFAULT (damage), and -EPERM: the block is held by another
 * handle (that process frees it, or gives it).
 * Locking: once. O(1) (a double free walks the free list).
 */
AM_ONESIZE_API int am_onesize_shared_free(struct am_onesize_shared *h, const void *ptr);

/**
 * A block's offset from the region's start, the same in every process.
 * @retval 0 success; -EINVAL h not attached, off NULL, or blk not the start
 *         of a block of this region. No lock. O(1).
 */
AM_ONESIZE_API int am_onesize_shared_offset(const struct am_onesize_shared *h, const void *blk,
                                            uint64_t *off);

/**
 * The block at an offset, in this process. NULL with errno EINVAL if h is
 * not attached or off is not the offset of a block of this region (never a
 * wild pointer). Ownership does not change. No lock. O(1).
 */
AM_ONESIZE_API void *am_onesize_shared_pointer(const struct am_onesize_shared *h, uint64_t off);

/**
 * Hand a block this handle holds to whichever process takes it: the block
 * is in transit (held by no process, never reclaimed) until
 * am_onesize_shared_take(). *off receives its offset if off is not NULL.
 * @retval 0 success; -EINVAL not a block of this region (or h not
 *         attached); -EALREADY the block is free or in transit already;
 *         -EPERM it is held by another handle.
 * Locking: once. O(1).
 */
AM_ONESIZE_API int am_onesize_shared_give(struct am_onesize_shared *h, const void *blk, uint64_t *off);

/**
 * Take a block in transit, by its offset: this handle holds it now.
 * @return the block in this process, or NULL with errno: EINVAL (not the
 *         offset of a block of this region, or h not attached), EALREADY
 *         (the block is not in transit: free, or held).
 * Locking: once. O(1).
 */
AM_ONESIZE_API void *am_onesize_shared_take(struct am_onesize_shared *h, uint64_t off);

/**
 * Give back every block held by the handle of process pid, which must be
 * gone (kill(pid, 0) fails with ESRCH), and free its slot.
 * @return how many blocks came back (0 or more), or -EINVAL (h not
 *         attached), -ESRCH (no handle of pid is attached), -EBUSY (pid is
 *         alive: it is not reclaimed).
 * Locking: once. O(blocks).
 */
AM_ONESIZE_API int am_onesize_shared_reclaim(struct am_onesize_shared *h, pid_t pid);

/**
 * am_onesize_shared_reclaim() for every attached process that is gone.
 * @return how many blocks came back, or -EINVAL.
 * Locking: once. O(blocks x dead owners).
 */
AM_ONESIZE_API int am_onesize_shared_reap(struct am_onesize_shared *h);

/**
 * The pool's counters (as am_onesize_get_stats()) and the shared ones, at
 * one instant; either pointer may be NULL.
 * @retval 0 success; -EINVAL h not attached (outputs zeroed).
 * Locking: once. O(1).
 */
AM_ONESIZE_API int am_onesize_shared_get_stats(const struct am_onesize_shared *h,
                                               struct am_onesize_stats *out,
                                               struct am_onesize_shared_stats *shared_out);

/**
 * Check every invariant, as am_onesize_check(), and that the ownership
 * table agrees: free blocks held by nobody, as many blocks held or in
 * transit as are in use, owners attached.
 * @retval 0 all hold; -EFAULT something is damaged; -EINVAL h not attached.
 * Locking: once. O(blocks).
 */
AM_ONESIZE_API int am_onesize_shared_check(const struct am_onesize_shared *h);

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_SHARED_H */
