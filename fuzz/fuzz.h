/* SPDX-License-Identifier: MIT */
/* What the files of the fuzzer share: the input reader, the reference model
 * of a pool and its caches, the environment (critical-section and error
 * callbacks that check how the library uses them), and the operations.
 *
 * The model predicts every result the headers specify exactly. Where the
 * headers leave a choice to the library (which block a refill takes, which
 * blocks a flush puts where, whether a write into a cached block is seen),
 * it keeps the set of allowed states instead (a block may be "in the pool
 * or in cache 2") and narrows it from what the library reports afterwards
 * (counts, am_onesize_check, a walk with am_onesize_iterate_over_allocated).
 * Whatever is allowed, it always checks that no block has two owners, that
 * every pointer handed out is a block start, and that counts add up. */
#ifndef FUZZ_H
#define FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amonesize.h"
#include "amonesize_cache.h"
#include "testing.h"

#if defined(AM_HAVE_PTHREAD)
#include <pthread.h>

#include "amonesize_pthread.h"
#endif

#define BUF_BYTES  65536
#define MAX_BLOCKS (BUF_BYTES / 16)
#define NCACHES    4
#define MAX_BULK   80

#include "input.h"

/* ---- the model ------------------------------------------------------------ */

enum bstate {
    B_NEVER, /* not handed out since ctor or free_all */
    B_HELD,  /* handed out to a caller */
    B_FREE,  /* back in the pool, in a cache, or orphaned in a cache's memory */
    B_LOST,  /* damaged and taken out of service until free_all */
};

/* Where a free block may be: a set, usually of one. */
#define LOC_POOL     1u
#define LOC_CACHE(i) (2u << (i))
#define LOC_ORPHAN   (2u << NCACHES) /* held by a cache that was initialised again */

enum forge { F_NONE, F_FREE, F_PARKED };

struct mblock {
    uint8_t st;     /* enum bstate */
    uint8_t loc;    /* B_FREE: LOC_* bits */
    uint8_t fill;   /* B_HELD: the byte its owner filled it with */
    uint8_t forged; /* B_HELD: enum forge, what the owner wrote into its first two words */
    bool dirty;     /* B_HELD: its first two words are not the fill (forged, or a rejected bulk free) */
    bool on_list;   /* B_FREE in the pool: surely on its free list (freed to the pool, not flushed) */
    uint32_t since; /* B_FREE: when it got where it is (pool or cache), from m.clock */
    bool below_d;   /* B_FREE: may be on the list below the damaged block (stuck there) */
    bool spoiled;   /* B_FREE on the pool's list: its fill written (AM_ONESIZE_CHECK_FREED) */
    /* B_FREE in two places at once (pool and a cache): the since it has if
     * it turns out to be in the cache (alt_is_cache) or in the pool. */
    bool alt_is_cache;
    uint32_t alt_since;
};

enum mode {
    M_EXACT,   /* no damage anywhere */
    M_DAMAGED, /* one block, m.d, was written after it was freed */
    M_LAWLESS, /* ... and then freed again: documented as undetected, anything but a crash goes */
};

enum dwhere { D_LIST, D_DEPOT, D_DEPOT_OR_HEALED, D_CACHE };

struct model {
    bool live;    /* the pool is constructed */
    bool tracked; /* a memory debugger (ASan) watches: caches pass everything to the pool */
    bool waitable, custom_lock, custom_wait, pthread_lock, on_error;
    bool state; /* the hardened mode's state bitmap (cfg.state): caches pass everything to the pool */
    bool fill;  /* AM_ONESIZE_CHECK_FREED */
    uintptr_t base;
    size_t bs, n;
    size_t ncarved, ncarved_max, nfree_min;
    size_t pool_free; /* free blocks in the pool that were handed out before (list and depot) */
    size_t orphans, lost;
    size_t retired;     /* blocks taken out of service since free_all (stats.retired) */
    bool carve_unknown; /* a refill carved blocks while the model was lawless */
    uint32_t clock;
    enum mode mode;
    size_t d;                   /* M_DAMAGED: the damaged block */
    unsigned dwords;            /* which of its two words were written (bit 0: link, bit 1: check word) */
    enum dwhere dwhere;         /* where it is, as far as damage goes */
    bool dreached;              /* D_LIST: an allocation met it (EFAULT) */
    struct am_onesize_stats st; /* the counters the header defines, as the model counts them */
    uint64_t pool_retires;      /* BUG_RETIRE_IS_ALLOCATION: how much stats.allocations may exceed */
    uint8_t next_fill;
    /* Blocks freed to the pool, in order: the top entry still surely on the
     * list is the most recently freed one. Stale entries are skipped. */
    size_t stack[MAX_BLOCKS * 2];
    uint32_t stack_since[MAX_BLOCKS * 2];
    size_t nstack;
    struct mblock b[MAX_BLOCKS];
};
extern struct model m;

enum cstate { C_UNINIT, C_BAD, C_BOUND };

struct mcache {
    enum cstate st;
    size_t cap, batch, n; /* n: blocks it holds, as the model counts them */
    long top;             /* the block it must hand out next (last freed into it), or -1 */
    bool lib_stale;       /* its key may be older than the pool's (free_all, ctor, dtor since) */
    bool lib_holds;       /* BUG_STALE_CACHE_INLINE: ... and its array holds blocks from before */
    bool carved_high;     /* BUG_FLUSH_KEEPS_CARVED: flushed since, not refilled */
};
extern struct mcache mc[NCACHES];
extern struct am_onesize_cache caches[NCACHES];
extern struct am_onesize pool;

/* Geometry. */
void *block(size_t i);
bool block_index(const void *p, size_t *i);
bool in_pool_span(uintptr_t p);
size_t model_nfree(void);
size_t model_cached(void);
const char *describe(size_t i);

/* Block life. */
void give_to_owner(size_t i);
void verify_held(size_t i);
void pool_handed_out(void *p, const char *what);
void pool_took_back(size_t i);
bool surely_on_list_above(uint32_t since, size_t except);
void free_in_cache(size_t i, size_t c);
void flush_model(size_t c, size_t k);
void refill_model(size_t c, size_t taken, void *handed, const char *what);
void cache_handed_out(size_t c, void *p);
void lose_damaged(void);
void lawless(const char *why);
void drop_caches_model(void);

/* Classification of a free for the pool's exact path. */
enum verdict {
    V_OK,
    V_EINVAL_OUT,
    V_EINVAL_IN,
    V_EINVAL_NEVER,
    V_EALREADY,
    V_EFAULT,
    V_EALREADY_OR_EFAULT,
    V_EINVAL_NEVER_OR_EALREADY, /* after a lawless refill, how far blocks were carved is not known */
};
enum verdict free_verdict(const void *p, bool via_cache);
int verdict_errno(enum verdict v);
bool verdict_allows(enum verdict v, int r);
void expect_report(int err, const void *p);
void count_verdict(enum verdict v, int err, const void *p);

/* Damage. */
bool damage_in_pool(void);
bool damage_in_cache(size_t c);
/* Caches pass every call to the pool: under a memory debugger, or with a
 * state bitmap (amonesize_cache.h). */
bool caches_pass(void);
/* AM_ONESIZE_CHECK_FREED: blocks on the pool's list whose fill was written. */
size_t spoiled_count(void);
/* After an allocation call: the blocks it retired for a written fill, as
 * stats.freed_writes says, taken out of service in the model (the spoiled
 * blocks nearest the top of the list), each expected in on_error. */
size_t retire_spoiled_now(const char *what);
/* The call stopped with EFAULT at a fifth spoiled block (amonesize.h). */
bool fill_fault(size_t retired);

/* After every operation. */
void resolve_locations(void);
void after_op(void);
void model_reset(void);
void model_construct(uintptr_t base, size_t bs, size_t n, bool tracked);

/* ---- environment ---------------------------------------------------------- */

struct report {
    int err;
    const void *ptr;
};
#define ANY_PTR ((const void *)~(uintptr_t)0)

void rep_clear(void);
/* Remove the first observed report matching err and ptr (ANY_PTR: any);
 * false if there is none. */
bool rep_pop(int err, const void *ptr);
size_t rep_count(void);
const struct report *rep_at(size_t k);

extern int depth, enters, notifies, wait_calls;
extern bool in_error, in_wait;
/* What the "other thread" does inside crit_wait: 0 nothing, 1 free
 * wait_block to the pool, 2 flush cache wait_cache. */
extern int wait_action;
extern size_t wait_block, wait_cache;

void crit_enter(void *ctx);
void crit_exit(void *ctx);
int crit_wait(void *ctx, const struct timespec *deadline);
void crit_notify(void *ctx);
void on_error(void *ctx, int err, const void *ptr);
extern int lock_ctx;
#if defined(AM_HAVE_PTHREAD)
extern pthread_mutex_t fuzz_mutex;
extern struct am_onesize_pthread fuzz_sync;
void pthread_setup(void);
#endif
void check_unlocked(void);

/* Block memory, also where a memory debugger has it poisoned. */
void peek_words(const void *blk, uintptr_t w[2]);
void poke_words(void *blk, const uintptr_t w[2]);
unsigned char peek_byte(const void *p);
void poke_byte(void *p, unsigned char v);

struct am_onesize_stats stats_now(void);

/* ---- operations ----------------------------------------------------------- */

/* What allocate, allocate_x, allocate_wait (when it does not wait; waiting:
 * it would wait again after retiring blocks, with a past deadline) and a
 * cache passing a call to the pool return. */
void expect_pool_allocation(void *p, int err, size_t size, size_t margin, bool waiting, const char *what);
void op_ctor(void);
void op_dtor(void);
void op_allocate(void);
void op_allocate_x(void);
void op_allocate_wait(void);
void op_free_held(void);
void op_free_block(void);
void op_free_bad(void);
void op_allocate_bulk(void);
void op_free_bulk(void);
void op_free_all(void);
void op_iterate(void);
void op_forge(void);
void op_damage(void);
void op_misc(void);
void op_verify(void);
void op_cache_init(void);
void op_cache_allocate(void);
void op_cache_free_held(void);
void op_cache_free_block(void);
void op_cache_free_bad(void);
void op_cache_flush(void);

/* A pointer for misuse: mostly not a block start of the pool (outside,
 * interior, another pool's, random), sometimes NULL or a block start. */
void *bad_pointer(void);
void foreign_setup(void);
void foreign_teardown(void);
/* A held block chosen by the input, or SIZE_MAX. */
size_t pick_held(void);
/* Any block index. */
size_t pick_block(void);

#endif /* FUZZ_H */
