/* SPDX-License-Identifier: MIT */
/**
 * @internal
 * The machinery behind <amonesize.h>: the layout of struct am_onesize, the
 * free-list engine, and the inline fast paths built from it. Nothing here is
 * API. It is in an installed header only because the fast paths are inline
 * in the caller's code, so everything they touch is ABI: the layout below
 * (pinned by the static assertions at the end) and every am_onesize_impl_*
 * function, exported from the library under their own version node and
 * checked with abidiff (tests/abi). Changing either means a new version
 * node for them and, for the layout, a new soname.
 *
 * The engine is the one owner of the free-block representation:
 *  - what a free block holds: two words, the encoded link to the next free
 *    block and a check word, link ^ check ^ position == key
 *    (am_onesize_impl_is_free_pattern);
 *  - what a link is: am_onesize_impl_pos() and am_onesize_impl_at() convert
 *    between a block and the word that refers to it (today its address: a
 *    different encoding changes only those two functions);
 *  - the one pointer-validity predicate, am_onesize_impl_index();
 *  - pop, push and link, and how the counters move (am_onesize_impl_took,
 *    am_onesize_impl_gave).
 * The inline fast paths and every path in the library call these same
 * functions; a flags argument, a constant at each call site, says which
 * extra work a caller needs (AM_ONESIZE_E_*). Outside the library the
 * memory-debugger hooks do not exist, and the flags that would call them
 * are never passed.
 */
#ifndef AMONESIZE_INLINE_H
#define AMONESIZE_INLINE_H

#ifndef AMONESIZE_H
#error "include <amonesize.h>, not <amonesize/inline.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layout ------------------------------------------------------------- */

/** @internal The free list and the counters that move with it. */
struct am_onesize_list {
    uint64_t nallocs; /* blocks handed out (to callers and to caches); first,
                         so that no 32-bit ABI pads before it */
    uintptr_t head;   /* link to the most recently freed block; 0: none */
    size_t ncarved;   /* blocks [0, ncarved) handed out since ctor or free_all */
    size_t inuse;     /* blocks not free: nblocks - nfree */
    size_t inuse_max; /* its high-water mark: nblocks - nfree_min */
};

/* struct am_onesize.path: which way the inline paths go. */
#define AM_ONESIZE_PRIV_PLAIN   0u /* unlocked: the fast list */
#define AM_ONESIZE_PRIV_LOCKED  1u /* locked through callbacks: the slow list between them */
#define AM_ONESIZE_PRIV_LIBRARY 2u /* everything through the library (e.g. a memory debugger) */
#define AM_ONESIZE_PRIV_STATE   3u /* unlocked with a state bitmap: the slow list, keeping the bits */

#define AM_ONESIZE_PRIV_DEPOT   32 /* blocks caches give back, kept apart for caches */
#define AM_ONESIZE_PRIV_NCOUNTS 13 /* event counters, see lib/internal.h */

/** @internal A pool; see amonesize.h. */
struct am_onesize {
    /* Read by the inline fast paths: the state of an unlocked pool with no
     * debugger and no hardening. All zero for every other pool, so the
     * inline paths give up without testing the mode. */
    struct am_onesize_list fast;
    /* Geometry and key: set by ctor (the key again by free_all). */
    uintptr_t neg_base; /* minus the address of block 0: not a pointer to
                           it, so a leak checker does not take the pool
                           descriptor for a reference to that block */
    uintptr_t inv;      /* modular inverse of the odd part of block_size */
    unsigned shift;     /* block_size = odd part << shift */
    unsigned path;      /* AM_ONESIZE_PRIV_PLAIN, _LOCKED or _LIBRARY */
    size_t block_size;  /* effective block size */
    uintptr_t key;      /* per-pool random key of the free pattern; read
                           atomically by caches (free_all changes it) */
    /* Used only by the library. */
    struct am_onesize_list slow; /* the state of every other pool */
    unsigned mode;               /* AM_MODE_* bits (lib/internal.h); 0 iff path is PLAIN */
    size_t nblocks;
    size_t ncarved_max; /* largest ncarved since construction */
    size_t cached;      /* blocks held by caches */
    size_t retired;     /* blocks taken out of service until free_all */
    size_t waiters;     /* threads waiting in am_onesize_allocate_wait */
    void (*crit_enter)(void *);
    void (*crit_exit)(void *);
    int (*crit_wait)(void *, const struct timespec *);
    void (*crit_notify)(void *);
    void *crit_ctx;
    am_onesize_error_fn on_error;
    void *on_error_ctx;
    unsigned char *state; /* hardened mode: one bit per block, 1 = handed out */
    uintptr_t origin;     /* what link 0 is relative to (0: addresses) */
    size_t ndepot;        /* blocks in depot[] */
    uint64_t counts[AM_ONESIZE_PRIV_NCOUNTS];
    void *depot[AM_ONESIZE_PRIV_DEPOT];
};

/* ---- the engine --------------------------------------------------------- */

#if defined(__GNUC__)
/* Built for size (-Os), the engine's functions are left to the compiler,
 * which then calls one copy of each instead of inlining them everywhere. */
#if defined(__OPTIMIZE_SIZE__)
#define AM_ONESIZE_ALWAYS_INLINE
#else
#define AM_ONESIZE_ALWAYS_INLINE __attribute__((always_inline))
#endif
/* Hide where a value came from, emitting no instruction: given a constant
 * bogus pointer (the tests pass some on purpose), gcc 12 warns about the
 * loads through it that only happen for pool blocks, or crashes in its
 * value-range pass. The Linux kernel calls this OPTIMIZER_HIDE_VAR. */
#define AM_ONESIZE_HIDE_VAR(v) __asm__("" : "+r"(v))
#define AM_ONESIZE_COPY(d, s)  __builtin_memcpy((d), (s), sizeof(uintptr_t) * 2)
#define AM_ONESIZE_LIKELY(c)   __builtin_expect(!!(c), 1)
#else
#define AM_ONESIZE_ALWAYS_INLINE
#define AM_ONESIZE_HIDE_VAR(v) ((void)0)
#define AM_ONESIZE_COPY(d, s)  memcpy((d), (s), sizeof(uintptr_t) * 2)
#define AM_ONESIZE_LIKELY(c)   (c)
#endif

/* Flags: what a call site needs beyond the plain list. Constants at every
 * call site, so each use compiles to just the work it asks for. */
#define AM_ONESIZE_E_FAST   1u  /* inline fast path: give up at the low-water mark */
#define AM_ONESIZE_E_TRACK  2u  /* library only: tell a memory debugger */
#define AM_ONESIZE_E_KEEP   4u  /* library only: the caller tells the debugger later, and fills later */
#define AM_ONESIZE_E_STATE  8u  /* keep the hardened state bit of each block */
#define AM_ONESIZE_E_FILL   16u /* library only: fill a freed block beyond its two words */
#define AM_ONESIZE_E_RETIRE 32u /* library only: pop takes the block out of service, no hand-out */
#define AM_ONESIZE_E_OFFSET 64u /* library only: links are offsets (pools shared between processes) */

/* Reading and writing a block's two words. In the library, tracked pools
 * go through lib/track.h (whose hooks are defined before this header is
 * included); everywhere else these are plain copies. */
#if defined(AM_ONESIZE_LIBRARY)
#define AM_ONESIZE_GET(os, b, w, flags)                                                                      \
    (((flags)&AM_ONESIZE_E_TRACK) ? am_track_get((os), (b), (w)) : (void)AM_ONESIZE_COPY((w), (b)))
#define AM_ONESIZE_SET(os, b, w, flags)                                                                      \
    (((flags)&AM_ONESIZE_E_TRACK) ? am_track_set((os), (b), (w)) : (void)AM_ONESIZE_COPY((b), (w)))
#define AM_ONESIZE_SET_WORD(os, b, i, v, flags)                                                              \
    (((flags)&AM_ONESIZE_E_TRACK) ? am_track_set_word((os), (b), (i), (v))                                   \
                                  : am_onesize_impl_store((b), (i), (v)))
#define AM_ONESIZE_TRACK_ALLOC(os, b, flags)                                                                 \
    (((flags) & (AM_ONESIZE_E_TRACK | AM_ONESIZE_E_KEEP | AM_ONESIZE_E_RETIRE)) == AM_ONESIZE_E_TRACK        \
         ? am_track_alloc((os), (b))                                                                         \
         : (void)0)
#define AM_ONESIZE_FILL(os, b, flags)                                                                        \
    (((flags) & (AM_ONESIZE_E_FILL | AM_ONESIZE_E_KEEP)) != AM_ONESIZE_E_FILL ? (void)0                      \
     : ((flags)&AM_ONESIZE_E_TRACK)                                           ? am_fill((os), (b))           \
                                    : (void)am_onesize_impl_fill((os), (b), 1))
#define AM_ONESIZE_TRACK_FREE(os, b, flags)                                                                  \
    (((flags) & (AM_ONESIZE_E_TRACK | AM_ONESIZE_E_KEEP)) == AM_ONESIZE_E_TRACK ? am_track_free((os), (b))   \
                                                                                : (void)0)
#else
#define AM_ONESIZE_GET(os, b, w, flags) ((void)(os), (void)(flags), (void)AM_ONESIZE_COPY((w), (b)))
#define AM_ONESIZE_SET(os, b, w, flags) ((void)(os), (void)(flags), (void)AM_ONESIZE_COPY((b), (w)))
#define AM_ONESIZE_SET_WORD(os, b, i, v, flags)                                                              \
    ((void)(os), (void)(flags), am_onesize_impl_store((b), (i), (v)))
#define AM_ONESIZE_TRACK_ALLOC(os, b, flags) ((void)(os), (void)(b), (void)(flags))
#define AM_ONESIZE_TRACK_FREE(os, b, flags)  ((void)(os), (void)(b), (void)(flags))
#define AM_ONESIZE_FILL(os, b, flags)        ((void)(os), (void)(b), (void)(flags))
#endif

/* The hardened state bit: in the inline path of a pool with a state bitmap
 * too (path AM_ONESIZE_PRIV_STATE). */
#define AM_ONESIZE_STATE_IS_SET(os, i, flags)                                                                \
    (((flags)&AM_ONESIZE_E_STATE) ? am_onesize_impl_state((os), (i), -1) : 0)
#define AM_ONESIZE_STATE_SET(os, i, v, flags)                                                                \
    (((flags)&AM_ONESIZE_E_STATE) ? (void)am_onesize_impl_state((os), (i), (v)) : (void)0)

AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_store(void *b, unsigned i, uintptr_t v);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_state(const struct am_onesize *os, uintptr_t i, int v);
AM_ONESIZE_API AM_ONESIZE_INLINE uintptr_t am_onesize_impl_state_index(const struct am_onesize *os,
                                                                       const void *b, unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_fill(const struct am_onesize *os, void *b, int write);
AM_ONESIZE_API AM_ONESIZE_INLINE uintptr_t am_onesize_impl_pos(const struct am_onesize *os, const void *b,
                                                               unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE unsigned char *am_onesize_impl_at(const struct am_onesize *os, uintptr_t pos,
                                                                   unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_pattern(uintptr_t key, uintptr_t pos, uintptr_t link,
                                                              uintptr_t w[2]);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_is_free_pattern(uintptr_t key, uintptr_t pos,
                                                                     const uintptr_t w[2]);
AM_ONESIZE_API AM_ONESIZE_INLINE uintptr_t am_onesize_impl_park_mark(uintptr_t key);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_is_parked(uintptr_t key, uintptr_t mark, uintptr_t pos,
                                                               const uintptr_t w[2]);
AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_park(const struct am_onesize *os, uintptr_t key,
                                                           uintptr_t mark, void *b);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_unpark(const struct am_onesize *os, uintptr_t key,
                                                            uintptr_t mark, void *b);
AM_ONESIZE_API AM_ONESIZE_INLINE uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p);
AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_took(struct am_onesize_list *fl, size_t inuse, size_t n,
                                                           unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_gave(struct am_onesize_list *fl, size_t n);
AM_ONESIZE_API AM_ONESIZE_INLINE void *am_onesize_impl_pop(struct am_onesize *os, struct am_onesize_list *fl,
                                                           unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE void am_onesize_impl_link(struct am_onesize *os, struct am_onesize_list *fl,
                                                           void *b, unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_put(struct am_onesize *os, struct am_onesize_list *fl,
                                                         void *b, uintptr_t idx, unsigned flags);
AM_ONESIZE_API AM_ONESIZE_INLINE int am_onesize_impl_push(struct am_onesize *os, struct am_onesize_list *fl,
                                                          const void *ptr, unsigned flags);
/* The out-of-line halves of the public fast paths. The *_in ones run inside
 * the critical section the inline caller entered (they neither enter nor
 * leave it) and return 0 or an errno value (negative for free, as
 * am_onesize_free() returns it); the caller leaves the critical section,
 * then has the error reported (on_error, errno) by the library. */
AM_ONESIZE_API void *am_onesize_impl_allocate(struct am_onesize *os, size_t size);
AM_ONESIZE_API int am_onesize_impl_free(struct am_onesize *os, const void *ptr);
/** @internal What am_onesize_impl_allocate_in() returns (in two registers). */
struct am_onesize_impl_got {
    void *blk;
    int err;
};
AM_ONESIZE_API struct am_onesize_impl_got am_onesize_impl_allocate_in(struct am_onesize *os, size_t size);
AM_ONESIZE_API int am_onesize_impl_free_in(struct am_onesize *os, const void *ptr);
AM_ONESIZE_API void *am_onesize_impl_failed(const struct am_onesize *os, int err);
AM_ONESIZE_API void am_onesize_impl_report(const struct am_onesize *os, int err, const void *ptr);

#if AM_ONESIZE_HAS_INLINE

/* Store one word of a block (0: the link, 1: the check word). */
AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_store(void *b, unsigned i, uintptr_t v)
{
#if defined(__GNUC__)
    __builtin_memcpy((unsigned char *)b + i * sizeof v, &v, sizeof v);
#else
    memcpy((unsigned char *)b + i * sizeof v, &v, sizeof v);
#endif
}

/* The hardened mode's state bit of block i (1: handed out): read (v < 0)
 * or set to v. Used through the flag-gated hooks (E_STATE). */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_state(const struct am_onesize *os, uintptr_t i, int v)
{
    unsigned char *byte = os->state + i / 8;
    const unsigned char bit = (unsigned char)(1u << (i % 8));
    if (v < 0)
        return (*byte & bit) != 0;
    *byte = v ? (unsigned char)(*byte | bit) : (unsigned char)(*byte & ~bit);
    return v;
}

/* The index of block b when its state bit is kept (E_STATE), else 0: the
 * index is computed only for pools that need it. */
AM_ONESIZE_ALWAYS_INLINE inline uintptr_t am_onesize_impl_state_index(const struct am_onesize *os,
                                                                      const void *b, unsigned flags)
{
    uintptr_t p = (uintptr_t)b;
    return (flags & AM_ONESIZE_E_STATE) ? am_onesize_impl_index(os, &p) : 0;
}

/* The hardened mode's fill of a freed block beyond its two list words: a
 * word derived from the key, repeated. Write it, or (write == 0) say
 * whether it is intact. Library only (memory debuggers: lib/hardened.c). */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_fill(const struct am_onesize *os, void *b, int write)
{
    const uintptr_t f = ~((os->key << 7) | (os->key >> (sizeof(uintptr_t) * 8u - 7u)));
    uintptr_t *w = (uintptr_t *)b;
    const size_t n = os->block_size / sizeof(uintptr_t);
    uintptr_t diff = 0;
    for (size_t i = 2; i < n; i++) {
        if (write)
            w[i] = f;
        else
            diff |= w[i] ^ f;
    }
    return diff == 0;
}

/* A link: the word a free block (or the list head) holds to refer to a
 * block; 0 refers to no block. The block's address, or (E_OFFSET, pools
 * shared between processes that map them at different addresses) its offset
 * from the region's start, which no block has. */
AM_ONESIZE_ALWAYS_INLINE inline uintptr_t am_onesize_impl_pos(const struct am_onesize *os, const void *b,
                                                              unsigned flags)
{
    return (uintptr_t)b - ((flags & AM_ONESIZE_E_OFFSET) ? os->origin : 0);
}

AM_ONESIZE_ALWAYS_INLINE inline unsigned char *am_onesize_impl_at(const struct am_onesize *os, uintptr_t pos,
                                                                  unsigned flags)
{
    return (unsigned char *)(pos + ((flags & AM_ONESIZE_E_OFFSET) ? os->origin : 0));
}

AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_pattern(uintptr_t key, uintptr_t pos, uintptr_t link,
                                                             uintptr_t w[2])
{
    w[0] = link;
    w[1] = link ^ pos ^ key;
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_is_free_pattern(uintptr_t key, uintptr_t pos,
                                                                    const uintptr_t w[2])
{
    return (w[0] ^ w[1] ^ pos) == key;
}

/* A parked block (held by a per-thread cache, or kept in the pool's depot
 * for caches) carries the free pattern with the pool's park mark as its
 * link: odd, so never a link to a block (blocks are word-aligned), and
 * derived from the key, so that caller data can look parked only if it
 * holds both secrets. */
AM_ONESIZE_ALWAYS_INLINE inline uintptr_t am_onesize_impl_park_mark(uintptr_t key)
{
    return (((key << 21) | (key >> (sizeof key * 8u - 21u))) ^ (uintptr_t)0x5ca1ab1e0ddba11ull) | 1u;
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_is_parked(uintptr_t key, uintptr_t mark, uintptr_t pos,
                                                              const uintptr_t w[2])
{
    return w[0] == mark && am_onesize_impl_is_free_pattern(key, pos, w);
}

AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_park(const struct am_onesize *os, uintptr_t key,
                                                          uintptr_t mark, void *b)
{
    uintptr_t w[2];
    am_onesize_impl_pattern(key, am_onesize_impl_pos(os, b, 0), mark, w);
    /* Two word stores, the link hidden from the optimiser in between: gcc
     * would otherwise pack them through vector registers (three more
     * instructions). */
    am_onesize_impl_store(b, 1, w[1]);
    AM_ONESIZE_HIDE_VAR(w[0]);
    am_onesize_impl_store(b, 0, w[0]);
}

/* A parked block is handed out: 1 if it still carries its check word,
 * which is then cleared (the block no longer looks free or parked); 0 if
 * not (written while it was parked, parked under another key, or not
 * parked at all: never handed out then). The check word alone decides: it
 * equals mark ^ pos ^ key for no other link, and for no caller data that
 * was not written with the secrets. */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_unpark(const struct am_onesize *os, uintptr_t key,
                                                           uintptr_t mark, void *b)
{
    uintptr_t check;
#if defined(__GNUC__)
    __builtin_memcpy(&check, (unsigned char *)b + sizeof check, sizeof check);
#else
    memcpy(&check, (unsigned char *)b + sizeof check, sizeof check);
#endif
    if (check != (mark ^ am_onesize_impl_pos(os, b, 0) ^ key))
        return 0;
    am_onesize_impl_store(b, 1, 0);
    return 1;
}

/* The one pointer-validity predicate: the index of the block *p points to
 * the start of, or a number >= nblocks if it points anywhere else (outside
 * the pool, inside a block). (p - base) / block_size by multiplication with
 * the inverse of the odd part and a rotation by the power of two: exact for
 * multiples of the block size, larger than any block index for every other
 * offset (Granlund & Montgomery, 1994). *p is laundered for the caller. */
AM_ONESIZE_ALWAYS_INLINE inline uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p)
{
    AM_ONESIZE_HIDE_VAR(*p);
    const uintptr_t m = (*p + os->neg_base) * os->inv;
    return (m >> os->shift) | (m << ((0u - os->shift) & (sizeof m * 8u - 1u)));
}

/* n blocks left the free state (handed out); inuse is fl->inuse, read by
 * the caller before it wrote any block (so the compiler need not read it
 * again). The high-water mark follows, except with E_FAST, whose callers
 * have checked that it need not move. */
AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_took(struct am_onesize_list *fl, size_t inuse, size_t n,
                                                          unsigned flags)
{
    fl->inuse = inuse + n;
    if (!(flags & AM_ONESIZE_E_FAST) && inuse + n > fl->inuse_max)
        fl->inuse_max = inuse + n;
    if (!(flags & AM_ONESIZE_E_RETIRE))
        fl->nallocs += n;
}

/* n blocks became free again. */
AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_gave(struct am_onesize_list *fl, size_t n)
{
    fl->inuse -= n;
}

/* Take the first block off the list, or NULL if the list is empty, its
 * first block is damaged (it does not carry the free pattern, or its state
 * bit says handed out: the caller tells that case apart by a non-empty
 * list), or (E_FAST) nfree is at its low-water mark (the fast paths never
 * move the mark). The block's check word is cleared: it no longer looks
 * free. With E_RETIRE the block is out of service: not handed out (no
 * allocation counted, its state bit and the debuggers' view unchanged). */
AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_impl_pop(struct am_onesize *os, struct am_onesize_list *fl,
                                                          unsigned flags)
{
    const uintptr_t pos = fl->head;
    const size_t inuse = fl->inuse;
    if (pos == 0 || ((flags & AM_ONESIZE_E_FAST) && inuse >= fl->inuse_max))
        return 0;
    unsigned char *b = am_onesize_impl_at(os, pos, flags);
    uintptr_t w[2];
    AM_ONESIZE_GET(os, b, w, flags);
    /* E_STATE: the bit's byte and mask, found once, before any store. */
    unsigned char *sb = 0;
    unsigned char sm = 0;
    if (flags & AM_ONESIZE_E_STATE) {
        const uintptr_t i = am_onesize_impl_state_index(os, b, flags);
        sb = os->state + i / 8;
        sm = (unsigned char)(1u << (i % 8));
    }
    /* A parked block carries the free pattern with an odd link (the park
     * mark): one on the list was freed into a cache after the caller wrote
     * into it there. Damage, and its link is never followed. */
    if (!am_onesize_impl_is_free_pattern(os->key, pos, w) || (w[0] & 1u) ||
        ((flags & AM_ONESIZE_E_STATE) && (*sb & sm)))
        return 0;
    fl->head = w[0];
    AM_ONESIZE_SET_WORD(os, b, 1, 0, flags);
    am_onesize_impl_took(fl, inuse, 1, flags);
    if ((flags & AM_ONESIZE_E_STATE) && !(flags & AM_ONESIZE_E_RETIRE))
        *sb = (unsigned char)(*sb | sm);
    AM_ONESIZE_TRACK_ALLOC(os, b, flags);
    return b;
}

/* Put a block the caller has vouched for on the list. */
AM_ONESIZE_ALWAYS_INLINE inline void am_onesize_impl_link(struct am_onesize *os, struct am_onesize_list *fl,
                                                          void *b, unsigned flags)
{
    const uintptr_t pos = am_onesize_impl_pos(os, b, flags);
    uintptr_t w[2];
    am_onesize_impl_pattern(os->key, pos, fl->head, w);
    AM_ONESIZE_TRACK_FREE(os, b, flags);
    if (flags & AM_ONESIZE_E_OFFSET) {
        /* A pool shared between processes: the block is whole before the
         * head store commits it, for a process killed at any instant. */
        AM_ONESIZE_SET(os, b, w, flags);
        fl->head = pos;
    } else {
        /* The head store between the two word stores keeps gcc from
         * packing them through vector registers (three more instructions). */
        AM_ONESIZE_SET_WORD(os, b, 1, w[1], flags);
        fl->head = pos;
        AM_ONESIZE_SET_WORD(os, b, 0, w[0], flags);
    }
    am_onesize_impl_gave(fl, 1);
    AM_ONESIZE_STATE_SET(os, am_onesize_impl_state_index(os, b, flags), 0, flags);
    AM_ONESIZE_FILL(os, b, flags);
}

/* Free b, a block carved on this list, if the pool is not full (a free
 * into a full pool is a double free, whatever the block holds) and the
 * block is plainly handed out: (E_STATE) its bit says so, the exact judge
 * whatever the block holds, or else it does not carry the free pattern.
 * 1 if done, 0 if not (the library's exact path then decides). */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_put(struct am_onesize *os, struct am_onesize_list *fl,
                                                        void *b, uintptr_t idx, unsigned flags)
{
    /* The bit's byte and mask, found once, before any store. */
    unsigned char *sb = 0;
    unsigned char sm = 0;
    if (flags & AM_ONESIZE_E_STATE) {
        sb = os->state + idx / 8;
        sm = (unsigned char)(1u << (idx % 8));
        if (fl->inuse == 0 || !(*sb & sm))
            return 0;
    } else {
        uintptr_t w[2];
        AM_ONESIZE_GET(os, b, w, flags);
        if (am_onesize_impl_is_free_pattern(os->key, am_onesize_impl_pos(os, b, flags), w) || fl->inuse == 0)
            return 0;
    }
    am_onesize_impl_link(os, fl, b, flags & ~AM_ONESIZE_E_STATE);
    if (flags & AM_ONESIZE_E_STATE)
        *sb = (unsigned char)(*sb & ~sm);
    return 1;
}

/* Free a block if it is plainly a handed-out block of this list: the start
 * of a block carved since construction or free_all, not carrying the free
 * pattern. 1 if done; 0 for anything else (outside, interior, never handed
 * out, looks free), which the library's exact path then decides. */
AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_impl_push(struct am_onesize *os, struct am_onesize_list *fl,
                                                         const void *ptr, unsigned flags)
{
    uintptr_t p = (uintptr_t)ptr;
    const uintptr_t idx = am_onesize_impl_index(os, &p);
    return idx < fl->ncarved && am_onesize_impl_put(os, fl, (void *)p, idx, flags);
}

/* The public fast paths: the engine on the fast list of an unlocked pool;
 * with a state bitmap, on its slow list keeping the bits; for a pool
 * locked through callbacks, the same engine on its slow list
 * between crit_enter and crit_exit, both called here (the library's part of
 * an unusual case runs in between, inside the critical section, so each
 * call enters it once). Everything else (an empty list, the low-water mark,
 * a request too large, anything that is not plainly a handed-out block, a
 * memory debugger) is the library's. */
AM_ONESIZE_ALWAYS_INLINE inline void *am_onesize_allocate(struct am_onesize *os, size_t size)
{
    if (AM_ONESIZE_LIKELY(os != 0)) {
        const int fits = size <= os->block_size;
        if (AM_ONESIZE_LIKELY(fits)) {
            void *b = am_onesize_impl_pop(os, &os->fast, AM_ONESIZE_E_FAST);
            if (AM_ONESIZE_LIKELY(b != 0))
                return b;
        }
        if (os->path == AM_ONESIZE_PRIV_STATE && fits) {
            void *b = am_onesize_impl_pop(os, &os->slow, AM_ONESIZE_E_FAST | AM_ONESIZE_E_STATE);
            if (AM_ONESIZE_LIKELY(b != 0))
                return b;
        }
        if (os->path == AM_ONESIZE_PRIV_LOCKED) {
            os->crit_enter(os->crit_ctx);
            void *b = fits ? am_onesize_impl_pop(os, &os->slow, AM_ONESIZE_E_FAST) : 0;
            if (AM_ONESIZE_LIKELY(b != 0)) {
                os->crit_exit(os->crit_ctx);
                return b;
            }
            const struct am_onesize_impl_got got = am_onesize_impl_allocate_in(os, size);
            os->crit_exit(os->crit_ctx);
            return got.err == 0 ? got.blk : am_onesize_impl_failed(os, got.err);
        }
    }
    return am_onesize_impl_allocate(os, size);
}

AM_ONESIZE_ALWAYS_INLINE inline int am_onesize_free(struct am_onesize *os, const void *ptr)
{
    if (AM_ONESIZE_LIKELY(os != 0)) {
        uintptr_t p = (uintptr_t)ptr;
        const uintptr_t idx = am_onesize_impl_index(os, &p);
        if (AM_ONESIZE_LIKELY(idx < os->fast.ncarved &&
                              am_onesize_impl_put(os, &os->fast, (void *)p, idx, 0)))
            return 0;
        if (os->path == AM_ONESIZE_PRIV_STATE && idx < os->slow.ncarved &&
            am_onesize_impl_put(os, &os->slow, (void *)p, idx, AM_ONESIZE_E_STATE))
            return 0;
        if (os->path == AM_ONESIZE_PRIV_LOCKED && ptr != 0) {
            os->crit_enter(os->crit_ctx);
            if (AM_ONESIZE_LIKELY(idx < os->slow.ncarved &&
                                  am_onesize_impl_put(os, &os->slow, (void *)p, idx, 0))) {
                if (os->waiters != 0)
                    os->crit_notify(os->crit_ctx);
                os->crit_exit(os->crit_ctx);
                return 0;
            }
            const int err = am_onesize_impl_free_in(os, ptr);
            os->crit_exit(os->crit_ctx);
            if (err != 0)
                am_onesize_impl_report(os, -err, ptr);
            return err;
        }
    }
    return am_onesize_impl_free(os, ptr);
}

#endif /* AM_ONESIZE_HAS_INLINE */

/* What the inline code reads, pinned: a change here is an ABI change. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define AM_ONESIZE_STATIC_ASSERT(c, m) static_assert(c, m)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define AM_ONESIZE_STATIC_ASSERT(c, m) _Static_assert(c, m)
#else
/* C99 and C++98 have no static assertion: a false condition declares an
 * array of negative size, which every compiler rejects. */
#define AM_ONESIZE_STATIC_ASSERT(c, m) extern char am_onesize_static_assert[(c) ? 1 : -1]
#endif
AM_ONESIZE_STATIC_ASSERT(sizeof(uintptr_t) == sizeof(void *), "a link is stored in a uintptr_t");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, fast) == 0, "inline ABI: fast list first");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize_list, nallocs) == 0, "inline ABI: nallocs");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize_list, head) == 8, "inline ABI: list head");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize_list, ncarved) == 8 + sizeof(uintptr_t),
                         "inline ABI: ncarved");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize_list, inuse) == 8 + 2 * sizeof(uintptr_t),
                         "inline ABI: inuse");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize_list, inuse_max) == 8 + 3 * sizeof(uintptr_t),
                         "inline ABI: inuse_max");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, neg_base) == sizeof(struct am_onesize_list),
                         "inline ABI: geometry after the fast list");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, inv) ==
                             offsetof(struct am_onesize, neg_base) + sizeof(uintptr_t),
                         "inline ABI: inv");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, shift) ==
                             offsetof(struct am_onesize, inv) + sizeof(uintptr_t),
                         "inline ABI: shift");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, path) ==
                             offsetof(struct am_onesize, shift) + sizeof(unsigned),
                         "inline ABI: path");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, block_size) ==
                             offsetof(struct am_onesize, shift) + 2 * sizeof(unsigned),
                         "inline ABI: block_size");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, key) ==
                             offsetof(struct am_onesize, block_size) + sizeof(size_t),
                         "inline ABI: key");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, slow) ==
                             offsetof(struct am_onesize, key) + sizeof(uintptr_t),
                         "inline ABI: the slow list after the key");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, waiters) == offsetof(struct am_onesize, slow) +
                                                                     sizeof(struct am_onesize_list) +
                                                                     5 * sizeof(size_t),
                         "inline ABI: waiters");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, crit_enter) ==
                             offsetof(struct am_onesize, waiters) + sizeof(size_t),
                         "inline ABI: callbacks");
AM_ONESIZE_STATIC_ASSERT(offsetof(struct am_onesize, crit_ctx) ==
                             offsetof(struct am_onesize, crit_enter) + 4 * sizeof(void (*)(void)),
                         "inline ABI: crit_ctx after the four callbacks");

#ifdef __cplusplus
}
#endif

#endif /* AMONESIZE_INLINE_H */
