/* SPDX-License-Identifier: MIT */
/* Pools shared between processes; the contract is in amonesize_shared.h.
 *
 * The region holds a header (below), a table with the owner of each block,
 * and the blocks. The header holds the pool itself, a struct am_onesize
 * whose links are offsets from the region's start (engine flag E_OFFSET),
 * so that only two of its fields depend on where a process maps the
 * region: the base address of block 0 and the origin of offsets. Whoever
 * holds the mutex sets those two for itself (fix_for()) and then runs the
 * library's ordinary locked code on the pool.
 *
 * Every operation is made of stores that leave the pool consistent at any
 * instant a process may be killed, or repairable from what is in the
 * region alone (recover()): a block's owner is written before the store
 * that commits it leaves the free list (pop), and cleared after the store
 * that commits it back (link); counts are recomputed from the list. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdalign.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* Waiting across processes: on Linux a futex on a word of the region, a
 * wake-up sequence. A process killed while it sleeps there leaves nothing
 * behind (a process-shared condition variable is left expecting it back, and
 * the next broadcast hangs). musl's compiler wrapper has no kernel headers,
 * so the operations (the kernel's ABI) are spelled here. Elsewhere the
 * region has a condition variable, with that weakness. */
#if defined(__linux__) && defined(SYS_futex)
#define AM_SHARED_FUTEX      1
#define AM_FUTEX_WAKE        1
#define AM_FUTEX_WAIT_BITSET 9 /* an absolute CLOCK_MONOTONIC deadline */
#define AM_FUTEX_MATCH_ANY   0xffffffffu
#else
#define AM_SHARED_FUTEX 0
#endif

#include "amonesize_shared.h"
#include "lock.h"

#define MAGIC   0x7a6973656e6f6d61ull /* "amonesiz" */
#define VERSION 1u

enum { NOBODY = 0, IN_TRANSIT = 0xffff }; /* owners[] values besides slots 1.. */
_Static_assert(AM_ONESIZE_SHARED_MAX_OWNERS < IN_TRANSIT, "owner slots fit a uint16_t below IN_TRANSIT");

struct slot {
    pid_t pid;       /* 0: free */
    uint32_t asleep; /* of its threads, how many wait (in pool.waiters) */
};

struct header {
    uint64_t magic;
    uint32_t version;
    uint32_t abi;         /* sizeof(struct header): same word size, same pthread ABI */
    uint64_t region_size; /* what create laid out */
    uint64_t owners_off;  /* uint16_t owners[nblocks], from the region's start */
    uint64_t blocks_off;  /* block 0 */
    uint64_t nblocks, block_size;
    uint64_t recoveries, reclaimed;
    uint64_t in_transit;
    pthread_mutex_t mutex; /* process-shared, robust */
#if AM_SHARED_FUTEX
    uint32_t wake_seq; /* the futex: moved by every wake-up */
#else
    pthread_cond_t cond; /* process-shared, CLOCK_MONOTONIC */
#endif
    struct slot slots[AM_ONESIZE_SHARED_MAX_OWNERS];
    struct am_onesize pool;
};

static struct header *hdr_of(const struct am_onesize_shared *h)
{
    return (struct header *)(void *)h->region;
}

static uint16_t *owners_of(const struct am_onesize_shared *h)
{
    return (uint16_t *)(void *)(h->region + hdr_of(h)->owners_off);
}

static bool is_attached(const struct am_onesize_shared *h)
{
    return h != NULL && h->region != NULL && h->slot != 0;
}

/* The pool's two per-process fields, for the process holding the lock; and
 * the notify callback (an address in this process) for frees that wake
 * waiters. */
static void shared_notify(void *ctx)
{
    struct header *r = ctx;
#if AM_SHARED_FUTEX
    __atomic_fetch_add(&r->wake_seq, 1, __ATOMIC_RELEASE);
    (void)syscall(SYS_futex, &r->wake_seq, AM_FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
    (void)pthread_cond_broadcast(&r->cond);
#endif
}

static void fix_for(const struct am_onesize_shared *h)
{
    struct am_onesize *os = &hdr_of(h)->pool;
    if (os->origin == (uintptr_t)h->region && os->crit_notify == shared_notify)
        return; /* set by this process (or one mapping at the same address) */
    os->neg_base = 0 - (uintptr_t)(h->region + hdr_of(h)->blocks_off);
    os->origin = (uintptr_t)h->region;
    os->crit_notify = shared_notify;
    os->crit_ctx = hdr_of(h);
    os->on_error = NULL;
}

/* A process died holding the lock, maybe halfway through an operation.
 * The free list is intact (links are committed whole) unless damaged
 * otherwise; its blocks are free whatever their owner entry says; counts
 * follow from it. */
static void recover(const struct am_onesize_shared *h)
{
    struct am_onesize *os = &hdr_of(h)->pool;
    struct am_onesize_list *fl = &os->slow;
    uint16_t *owners = owners_of(h);
    size_t listed = 0;
    uintptr_t cur = fl->head;
    for (; cur != 0 && listed < os->nblocks; listed++) {
        uintptr_t p = (uintptr_t)am_onesize_impl_at(os, cur, AM_ONESIZE_E_OFFSET), w[2];
        const uintptr_t idx = am_onesize_impl_index(os, &p);
        if (idx >= fl->ncarved)
            break; /* damage: allocation will report it */
        owners[idx] = NOBODY;
        AM_ONESIZE_GET(os, (void *)p, w, 0);
        if (!am_onesize_impl_is_free_pattern(os->key, cur, w))
            break;
        cur = w[0];
    }
    for (size_t i = fl->ncarved; i < os->nblocks; i++)
        owners[i] = NOBODY;
    /* The count of blocks in transit follows from the table: a process
     * killed between a give, take or free and its count's update left it
     * one off. */
    uint64_t transit = 0;
    for (size_t i = 0; i < fl->ncarved; i++)
        transit += owners[i] == IN_TRANSIT;
    hdr_of(h)->in_transit = transit;
    if (cur == 0) { /* the whole list seen: the counts follow exactly */
        fl->inuse = fl->ncarved - listed;
        if (fl->inuse > fl->inuse_max)
            fl->inuse_max = fl->inuse;
        if (fl->ncarved > os->ncarved_max)
            os->ncarved_max = fl->ncarved;
    }
    hdr_of(h)->recoveries++;
}

/* Enter the region's critical section: 0 or -ENOTRECOVERABLE. */
static int enter(const struct am_onesize_shared *h)
{
    struct header *r = hdr_of(h);
    int err = pthread_mutex_lock(&r->mutex);
    if (err == EOWNERDEAD) {
        fix_for(h);
        recover(h);
        err = pthread_mutex_consistent(&r->mutex);
    }
    if (err != 0)
        return -ENOTRECOVERABLE;
    fix_for(h);
    return 0;
}

static void leave(const struct am_onesize_shared *h)
{
    (void)pthread_mutex_unlock(&hdr_of(h)->mutex);
}

/* The index of a block start of the region, or nblocks for anything else. */
static size_t index_in(const struct am_onesize_shared *h, const void *blk)
{
    uintptr_t p = (uintptr_t)blk;
    const uintptr_t idx = am_onesize_impl_index(&h->geometry, &p);
    return idx < h->geometry.nblocks ? (size_t)idx : h->geometry.nblocks;
}

/* The unit blocks are aligned to, for an alignment already checked. */
static size_t unit_of(size_t alignment)
{
    const size_t align = alignment != 0 ? alignment : alignof(max_align_t);
    return align > alignof(uintptr_t) ? align : alignof(uintptr_t);
}

/* Layout: the header, the owner table, then the blocks at their alignment. */
static bool layout(size_t nblocks, size_t block_size, size_t alignment, size_t *owners_off,
                   size_t *blocks_off, size_t *eff_bs, size_t *total)
{
    const size_t align = alignment != 0 ? alignment : alignof(max_align_t);
    if (nblocks == 0 || block_size == 0 || (align & (align - 1)) != 0)
        return false;
    const size_t unit = unit_of(alignment);
    size_t bs = block_size < 2 * sizeof(uintptr_t) ? 2 * sizeof(uintptr_t) : block_size, table, blocks;
    if (__builtin_add_overflow(bs, unit - 1, &bs))
        return false;
    bs &= ~(unit - 1);
    *owners_off = (sizeof(struct header) + 15) & ~(size_t)15;
    if (__builtin_mul_overflow(nblocks, sizeof(uint16_t), &table) ||
        __builtin_add_overflow(*owners_off, table, blocks_off))
        return false;
    /* The region is only known to be aligned to max_align_t: for a larger
     * unit, room for the worst padding up to the first aligned address
     * (create puts block 0 there, at or before this offset). */
    const size_t known = unit < alignof(max_align_t) ? unit : alignof(max_align_t);
    if (__builtin_add_overflow(*blocks_off, known - 1, blocks_off))
        return false;
    *blocks_off &= ~(known - 1);
    if (__builtin_add_overflow(*blocks_off, unit - known, blocks_off))
        return false;
    if (__builtin_mul_overflow(nblocks, bs, &blocks) || __builtin_add_overflow(*blocks_off, blocks, total))
        return false;
    *eff_bs = bs;
    return true;
}

size_t am_onesize_shared_size(size_t nblocks, size_t block_size, size_t alignment)
{
    size_t owners_off, blocks_off, bs, total;
    return layout(nblocks, block_size, alignment, &owners_off, &blocks_off, &bs, &total) ? total : 0;
}

int am_onesize_shared_create(void *region, size_t size, size_t block_size, size_t alignment)
{
    uintptr_t end;
    if (region == NULL || (uintptr_t)region % alignof(max_align_t) != 0 || block_size == 0 ||
        __builtin_add_overflow((uintptr_t)region, size, &end))
        return -EINVAL;
    /* As many blocks as fit: the largest n whose layout does, found by
     * bisection (a layout grows with n), in O(log size) steps whatever the
     * size claimed. */
    size_t owners_off, blocks_off, bs, total;
    if (!layout(1, block_size, alignment, &owners_off, &blocks_off, &bs, &total) || total > size)
        return -EINVAL;
    size_t n = 1, above = (size - blocks_off) / bs + 1; /* n fits; above does not */
    while (above - n > 1) {
        const size_t mid = n + (above - n) / 2;
        if (layout(mid, block_size, alignment, &owners_off, &blocks_off, &bs, &total) && total <= size)
            n = mid;
        else
            above = mid;
    }
    (void)layout(n, block_size, alignment, &owners_off, &blocks_off, &bs, &total);

    struct header *r = region;
    memset(r, 0, sizeof *r);
    pthread_mutexattr_t ma;
    int err = pthread_mutexattr_init(&ma);
    if (err == 0) {
        if ((err = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED)) == 0 &&
            (err = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)) == 0)
            err = pthread_mutex_init(&r->mutex, &ma);
        pthread_mutexattr_destroy(&ma);
    }
    if (err != 0)
        return -err;
#if !AM_SHARED_FUTEX
    pthread_condattr_t ca;
    if ((err = pthread_condattr_init(&ca)) == 0) {
        if ((err = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED)) == 0 &&
            (err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
            err = pthread_cond_init(&r->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (err != 0) {
        pthread_mutex_destroy(&r->mutex);
        return -err;
    }
#endif
    memset((unsigned char *)region + owners_off, 0, n * sizeof(uint16_t));
    /* Block 0 at the first address aligned to the unit after
     * the table, within what layout() allowed for. */
    const size_t unit = unit_of(alignment), tables_end = owners_off + n * sizeof(uint16_t);
    blocks_off = (((uintptr_t)region + tables_end + unit - 1) & ~(uintptr_t)(unit - 1)) - (uintptr_t)region;

    /* The pool: an ordinary one over the blocks, then made shared. */
    struct am_onesize_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pool.ptr = (unsigned char *)region + blocks_off;
    cfg.pool.size = n * bs;
    cfg.block_size = bs;
    cfg.alignment = alignment;
    if (am_onesize_ctor(&r->pool, &cfg) != 0 || r->pool.nblocks != n) {
#if !AM_SHARED_FUTEX
        pthread_cond_destroy(&r->cond);
#endif
        pthread_mutex_destroy(&r->mutex);
        return -EINVAL;
    }
    /* No memory debugger is told: each process has its own view of it. */
    am_track_forget(&r->pool, cfg.pool.ptr, cfg.pool.size);
    if (r->pool.mode == 0) { /* a plain pool kept its state on the fast list */
        r->pool.slow = r->pool.fast;
        r->pool.fast = (struct am_onesize_list){0};
    }
    r->pool.mode = AM_MODE_SHARED;
    r->pool.path = AM_ONESIZE_PRIV_LIBRARY;
    r->region_size = total;
    r->owners_off = owners_off;
    r->blocks_off = blocks_off;
    r->nblocks = n;
    r->block_size = bs;
    r->version = VERSION;
    r->abi = (uint32_t)sizeof(struct header);
    __atomic_store_n(&r->magic, MAGIC, __ATOMIC_RELEASE); /* last: the region is one now */
    return 0;
}

/* Is pid gone? (An existing process we may not signal is alive.) */
static bool is_dead(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Give back every block slot holds, and free the slot; locked. Only the
 * blocks of a dead owner count as reclaimed (not a detach's). */
static size_t reclaim_slot(const struct am_onesize_shared *h, unsigned slot, bool dead)
{
    struct header *r = hdr_of(h);
    struct am_onesize *os = &r->pool;
    uint16_t *owners = owners_of(h);
    size_t n = 0;
    for (size_t i = 0; i < os->slow.ncarved; i++)
        if (owners[i] == slot) {
            am_onesize_impl_link(os, &os->slow, block_at(os, i), AM_ONESIZE_E_OFFSET);
            owners[i] = NOBODY; /* after the link committed it */
            n++;
        }
    /* A process killed while some of its threads waited: they wait no more. */
    os->waiters -= r->slots[slot - 1].asleep <= os->waiters ? r->slots[slot - 1].asleep : os->waiters;
    r->slots[slot - 1].asleep = 0;
    r->slots[slot - 1].pid = 0;
    if (dead)
        r->reclaimed += n;
    if (n != 0)
        notify(os);
    return n;
}

int am_onesize_shared_attach(struct am_onesize_shared *h, void *region, size_t size)
{
    if (h == NULL)
        return -EINVAL;
    memset(h, 0, sizeof *h);
    const struct header *r = region;
    if (r == NULL || (uintptr_t)region % alignof(max_align_t) != 0 || size < sizeof *r ||
        __atomic_load_n(&r->magic, __ATOMIC_ACQUIRE) != MAGIC)
        return -EINVAL;
    if (r->version != VERSION || r->abi != sizeof(struct header))
        return -EPROTONOSUPPORT;
    /* The layout must hold together, overflow-free, inside size. */
    uint64_t table, blocks, end;
    if (r->nblocks == 0 || r->block_size < 2 * sizeof(uintptr_t) || r->region_size > size ||
        r->owners_off < sizeof *r || __builtin_mul_overflow(r->nblocks, 2u, &table) ||
        __builtin_add_overflow(r->owners_off, table, &end) || r->blocks_off < end ||
        r->blocks_off % sizeof(uintptr_t) != 0 ||
        __builtin_mul_overflow(r->nblocks, r->block_size, &blocks) ||
        __builtin_add_overflow(r->blocks_off, blocks, &end) || end > r->region_size ||
        r->pool.nblocks != r->nblocks || r->pool.block_size != r->block_size ||
        r->pool.mode != AM_MODE_SHARED || r->pool.slow.ncarved > r->nblocks)
        return -EINVAL;
    h->region = region;
    h->size = size;
    h->pid = getpid();
    h->geometry = r->pool; /* its geometry, for this process's offsets */
    h->geometry.neg_base = 0 - (uintptr_t)(h->region + r->blocks_off);
    h->geometry.origin = (uintptr_t)region;
    if (enter(h) != 0) {
        memset(h, 0, sizeof *h);
        return -ENOTRECOVERABLE;
    }
    struct header *w = hdr_of(h);
    unsigned free_slot = 0;
    int err = 0;
    for (unsigned i = 0; i < AM_ONESIZE_SHARED_MAX_OWNERS && err == 0; i++) {
        if (w->slots[i].pid == h->pid)
            err = -EALREADY;
        else if (w->slots[i].pid == 0 && free_slot == 0)
            free_slot = i + 1;
    }
    if (err == 0 && free_slot == 0) /* full: make room from the dead */
        for (unsigned i = 0; i < AM_ONESIZE_SHARED_MAX_OWNERS; i++)
            if (is_dead(w->slots[i].pid)) {
                (void)reclaim_slot(h, i + 1, true);
                free_slot = free_slot != 0 ? free_slot : i + 1;
            }
    if (err == 0 && free_slot == 0)
        err = -EUSERS;
    if (err == 0) {
        w->slots[free_slot - 1].pid = h->pid;
        h->slot = free_slot;
    }
    leave(h);
    if (err != 0)
        memset(h, 0, sizeof *h);
    return err;
}

int am_onesize_shared_detach(struct am_onesize_shared *h)
{
    if (!is_attached(h))
        return -EINVAL;
    if (enter(h) == 0) {
        (void)reclaim_slot(h, h->slot, false);
        leave(h);
    }
    memset(h, 0, sizeof *h);
    return 0;
}

/* Allocate with the lock held: the owner is written before the block
 * leaves the free list (or is carved), and cleared if it did not. */
static int allocate_locked(const struct am_onesize_shared *h, size_t size, void **out)
{
    struct am_onesize *os = &hdr_of(h)->pool;
    struct am_onesize_list *fl = &os->slow;
    size_t next = os->nblocks;
    /* The common case: the engine's pop, the owner written first. */
    if (size <= os->block_size && fl->head != 0 && fl->inuse < fl->inuse_max) {
        uintptr_t p = (uintptr_t)am_onesize_impl_at(os, fl->head, AM_ONESIZE_E_OFFSET);
        const uintptr_t idx = am_onesize_impl_index(os, &p);
        if (idx < fl->ncarved) {
            owners_of(h)[idx] = (uint16_t)h->slot;
            void *b = am_onesize_impl_pop(os, fl, AM_ONESIZE_E_FAST | AM_ONESIZE_E_OFFSET);
            if (b != NULL) {
                *out = b;
                return 0;
            }
            owners_of(h)[idx] = NOBODY;
        }
    }
    if (size <= os->block_size && fl->inuse < os->nblocks) {
        if (fl->head != 0) {
            uintptr_t p = (uintptr_t)am_onesize_impl_at(os, fl->head, AM_ONESIZE_E_OFFSET);
            const uintptr_t idx = am_onesize_impl_index(os, &p);
            next = idx < fl->ncarved ? (size_t)idx : os->nblocks;
        } else {
            next = fl->ncarved;
        }
    }
    if (next < os->nblocks)
        owners_of(h)[next] = (uint16_t)h->slot;
    struct am_retired r = {.n = 0};
    const int err = am_allocate_locked(os, size, 0, out, &r);
    if (err != 0 && next < os->nblocks)
        owners_of(h)[next] = NOBODY;
    return err;
}

void *am_onesize_shared_allocate(struct am_onesize_shared *h, size_t size)
{
    if (!is_attached(h)) {
        errno = EINVAL;
        return NULL;
    }
    if (enter(h) != 0) {
        errno = ENOTRECOVERABLE;
        return NULL;
    }
    void *b = NULL;
    const int err = allocate_locked(h, size, &b);
    leave(h);
    if (err != 0)
        errno = err;
    return err == 0 ? b : NULL;
}

/* The sleeper for am_wait_free(): leave the critical section, sleep until a
 * wake-up or the deadline, enter again (repairing after a dead owner as
 * enter() does, and setting this process's fields): 0 or ETIMEDOUT, or
 * ENOTRECOVERABLE with the mutex not held. The slot counts its sleepers,
 * for a reap to take a dead process's out of the pool's count of waiters. */
static int sleep_in(void *ctx, const struct timespec *deadline)
{
    const struct am_onesize_shared *h = ctx;
    struct header *r = hdr_of(h);
    r->slots[h->slot - 1].asleep++;
#if AM_SHARED_FUTEX
    /* Read under the lock: a wake-up after leaving changes it, and the
     * futex then returns at once (nothing is lost). */
    const uint32_t seen = __atomic_load_n(&r->wake_seq, __ATOMIC_RELAXED);
    leave(h);
    const long w =
        syscall(SYS_futex, &r->wake_seq, AM_FUTEX_WAIT_BITSET, seen, deadline, NULL, AM_FUTEX_MATCH_ANY);
    const int timed_out = w != 0 && errno == ETIMEDOUT;
    if (enter(h) != 0)
        return ENOTRECOVERABLE;
#else
    int w = deadline != NULL ? pthread_cond_timedwait(&r->cond, &r->mutex, deadline)
                             : pthread_cond_wait(&r->cond, &r->mutex);
    if (w == EOWNERDEAD) { /* the lock came back from a dead process */
        fix_for(h);
        recover(h);
        w = pthread_mutex_consistent(&r->mutex) == 0 ? 0 : ENOTRECOVERABLE;
    }
    if (w == ENOTRECOVERABLE)
        return w;
    fix_for(h);
    const int timed_out = w == ETIMEDOUT;
#endif
    /* (A detach by another thread meanwhile cleared it: misuse, but no
     * count may wrap.) */
    r->slots[h->slot - 1].asleep -= r->slots[h->slot - 1].asleep != 0;
    return timed_out ? ETIMEDOUT : 0;
}

void *am_onesize_shared_allocate_wait(struct am_onesize_shared *h, size_t size,
                                      const struct timespec *deadline)
{
    if (!is_attached(h) || (deadline != NULL && (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000))) {
        errno = EINVAL;
        return NULL;
    }
    if (enter(h) != 0) {
        errno = ENOTRECOVERABLE;
        return NULL;
    }
    struct header *r = hdr_of(h);
    struct am_onesize *os = &r->pool;
    int err;
    if (size > os->block_size) {
        os->counts[CNT_OVERSIZE]++;
        err = EINVAL;
    } else {
        bool waited = false;
        err = am_wait_free(os, deadline, &waited, sleep_in, h);
        if (err == ENOTRECOVERABLE) {
            errno = err;
            return NULL; /* the mutex is not held */
        }
    }
    void *b = NULL;
    if (err == 0)
        err = allocate_locked(h, size, &b);
    leave(h);
    if (err != 0)
        errno = err;
    return err == 0 ? b : NULL;
}

int am_onesize_shared_free(struct am_onesize_shared *h, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (!is_attached(h))
        return -EINVAL;
    const size_t idx = index_in(h, ptr);
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    struct am_onesize *os = &hdr_of(h)->pool;
    uint16_t *owners = owners_of(h);
    int err;
    if (idx < os->slow.ncarved && owners[idx] != NOBODY && owners[idx] != h->slot &&
        owners[idx] != IN_TRANSIT) {
        err = -EPERM; /* another handle holds it */
    } else {
        const uint16_t was = idx < os->nblocks ? owners[idx] : NOBODY;
        if (idx < os->slow.ncarved &&
            am_onesize_impl_put(os, &os->slow, (void *)(uintptr_t)ptr, idx, AM_ONESIZE_E_OFFSET)) {
            notify(os);
            err = 0; /* the common case, the engine's push */
        } else {
            err = am_onesize_impl_free_in(os, ptr);
        }
        if (err == 0) {
            owners[idx] = NOBODY; /* after the link committed it */
            if (was == IN_TRANSIT)
                hdr_of(h)->in_transit--;
        }
    }
    leave(h);
    return err;
}

int am_onesize_shared_offset(const struct am_onesize_shared *h, const void *blk, uint64_t *off)
{
    if (!is_attached(h) || off == NULL || index_in(h, blk) >= h->geometry.nblocks)
        return -EINVAL;
    *off = (uint64_t)((uintptr_t)blk - (uintptr_t)h->region);
    return 0;
}

void *am_onesize_shared_pointer(const struct am_onesize_shared *h, uint64_t off)
{
    if (!is_attached(h) || off >= h->size) {
        errno = EINVAL;
        return NULL;
    }
    unsigned char *p = h->region + off;
    if (index_in(h, p) >= h->geometry.nblocks) {
        errno = EINVAL;
        return NULL;
    }
    return p;
}

int am_onesize_shared_give(struct am_onesize_shared *h, const void *blk, uint64_t *off)
{
    if (!is_attached(h))
        return -EINVAL;
    const size_t idx = index_in(h, blk);
    if (idx >= h->geometry.nblocks)
        return -EINVAL;
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    uint16_t *owners = owners_of(h);
    int err = 0;
    if (owners[idx] == NOBODY || owners[idx] == IN_TRANSIT || idx >= hdr_of(h)->pool.slow.ncarved)
        err = -EALREADY;
    else if (owners[idx] != h->slot)
        err = -EPERM;
    else {
        owners[idx] = IN_TRANSIT;
        hdr_of(h)->in_transit++;
    }
    leave(h);
    if (err == 0 && off != NULL)
        *off = (uint64_t)((uintptr_t)blk - (uintptr_t)h->region);
    return err;
}

void *am_onesize_shared_take(struct am_onesize_shared *h, uint64_t off)
{
    void *p = am_onesize_shared_pointer(h, off);
    if (p == NULL)
        return NULL;
    if (enter(h) != 0) {
        errno = ENOTRECOVERABLE;
        return NULL;
    }
    uint16_t *owners = owners_of(h);
    const size_t idx = index_in(h, p);
    const bool ok = owners[idx] == IN_TRANSIT;
    if (ok) {
        owners[idx] = (uint16_t)h->slot;
        hdr_of(h)->in_transit--;
    }
    leave(h);
    if (!ok) {
        errno = EALREADY;
        return NULL;
    }
    return p;
}

int am_onesize_shared_reclaim(struct am_onesize_shared *h, pid_t pid)
{
    if (!is_attached(h))
        return -EINVAL;
    if (pid <= 0)
        return -ESRCH; /* no handle has one (a free slot holds pid 0) */
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    int ret = -ESRCH;
    for (unsigned i = 0; i < AM_ONESIZE_SHARED_MAX_OWNERS; i++)
        if (hdr_of(h)->slots[i].pid == pid) {
            if (!is_dead(pid)) {
                ret = -EBUSY;
                break;
            }
            const size_t n = reclaim_slot(h, i + 1, true);
            ret = n > INT_MAX ? INT_MAX : (int)n;
            break;
        }
    leave(h);
    return ret;
}

int am_onesize_shared_reap(struct am_onesize_shared *h)
{
    if (!is_attached(h))
        return -EINVAL;
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    size_t n = 0;
    for (unsigned i = 0; i < AM_ONESIZE_SHARED_MAX_OWNERS; i++) {
        const pid_t pid = hdr_of(h)->slots[i].pid;
        if (pid != 0 && is_dead(pid))
            n += reclaim_slot(h, i + 1, true);
    }
    leave(h);
    return n > INT_MAX ? INT_MAX : (int)n;
}

int am_onesize_shared_get_stats(const struct am_onesize_shared *h, struct am_onesize_stats *out,
                                struct am_onesize_shared_stats *shared_out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (shared_out != NULL)
        memset(shared_out, 0, sizeof *shared_out);
    if (!is_attached(h))
        return -EINVAL;
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    const struct header *r = hdr_of(h);
    if (out != NULL)
        am_stats_locked(&r->pool, out);
    if (shared_out != NULL) {
        for (unsigned i = 0; i < AM_ONESIZE_SHARED_MAX_OWNERS; i++)
            shared_out->owners += r->slots[i].pid != 0;
        shared_out->in_transit = r->in_transit;
        shared_out->recoveries = r->recoveries;
        shared_out->reclaimed = r->reclaimed;
    }
    leave(h);
    return 0;
}

int am_onesize_shared_check(const struct am_onesize_shared *h)
{
    if (!is_attached(h))
        return -EINVAL;
    if (enter(h) != 0)
        return -ENOTRECOVERABLE;
    const struct header *r = hdr_of(h);
    const struct am_onesize *os = &r->pool;
    int err = am_check_locked(os);
    const uint16_t *owners = owners_of(h);
    size_t held = 0, transit = 0;
    for (size_t i = 0; i < os->nblocks && err == 0; i++) {
        const uint16_t o = owners[i];
        if (i >= os->slow.ncarved && o != NOBODY)
            err = -EFAULT; /* never handed out, yet held */
        else if (o == IN_TRANSIT)
            transit++;
        else if (o != NOBODY && (o > AM_ONESIZE_SHARED_MAX_OWNERS || r->slots[o - 1].pid == 0))
            err = -EFAULT; /* held by a slot nobody has */
        else
            held += o != NOBODY;
    }
    if (err == 0 && (held + transit != os->slow.inuse || transit != r->in_transit))
        err = -EFAULT;
    leave(h);
    return err;
}

#if defined(AM_ONESIZE_TESTING)
#include "testing.h"

/* Die inside the critical section, at a stage of an allocation: 0 right
 * after locking, 1 with the next block's owner written, 2 with the block
 * off the free list too (its counts and check word not yet updated). */
void am_test_shared_die_in_allocate(struct am_onesize_shared *h, int stage)
{
    if (enter(h) != 0)
        _exit(3);
    struct am_onesize *os = &hdr_of(h)->pool;
    struct am_onesize_list *fl = &os->slow;
    if (stage >= 1 && fl->head != 0) {
        uintptr_t p = (uintptr_t)am_onesize_impl_at(os, fl->head, AM_ONESIZE_E_OFFSET), w[2];
        const uintptr_t idx = am_onesize_impl_index(os, &p);
        owners_of(h)[idx] = (uint16_t)h->slot;
        if (stage >= 2) {
            AM_ONESIZE_GET(os, (void *)p, w, 0);
            fl->head = w[0];
        }
    }
    raise(SIGKILL);
}
#endif
