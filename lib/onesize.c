/* The onesize allocator. The model and the contract are in amonesize.h. */
#include "amonesize.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define AM_HAVE_GETRANDOM 1
#endif
#endif

#include "internal.h"
#include "track.h"
#if defined(AM_HAVE_PTHREAD)
#include "amonesize_pthread.h"
#include "pthread_private.h"
#endif

/* The inline fast paths of the header get their one external definition
 * here (C99 6.7.4: a declaration without `inline` makes this TU emit it). */
#if AM_ONESIZE_HAS_INLINE
extern void *am_onesize_allocate(struct am_onesize *os, size_t size);
extern int am_onesize_free(struct am_onesize *os, const void *ptr);
extern void *am_onesize_impl_pop(struct am_onesize *os, struct am_onesize_freelist *fl, size_t size);
extern int am_onesize_impl_push(struct am_onesize *os, struct am_onesize_freelist *fl, const void *ptr);
extern uintptr_t am_onesize_impl_index(const struct am_onesize *os, uintptr_t *p);
#endif

_Static_assert(sizeof(uintptr_t) == sizeof(void *), "a block link is stored as a uintptr_t");
_Static_assert((sizeof(uintptr_t) & (sizeof(uintptr_t) - 1)) == 0, "word size is a power of two");

#define WORD_BITS (sizeof(uintptr_t) * CHAR_BIT)
#define MIN_BLOCK (2 * sizeof(uintptr_t)) /* a free block's link and check word */
#define KEY_TOP   ((uintptr_t)1 << (WORD_BITS - 1))

/* Indices into os->rejected[], in the order of struct am_onesize_stats. */
enum { REJ_OUTSIDE, REJ_INTERIOR, REJ_NEVER, REJ_DOUBLE };

/* ---- small helpers ------------------------------------------------------ */

static bool is_constructed(const struct am_onesize *os)
{
    return os != NULL && os->nblocks != 0;
}

/* With the library's own pthread adapter, lock the mutex directly: the
 * indirect call and the adapter's frame cost as much as the work inside. */
static void lock(const struct am_onesize *os)
{
#if defined(AM_HAVE_PTHREAD)
    if (os->crit_enter == am_onesize_pthread_enter) {
        const int err = am_mutex_lock((pthread_mutex_t *)os->crit_ctx);
        if (err != 0)
            am_mutex_failed("pthread_mutex_lock", err);
        return;
    }
#endif
    if (os->crit_enter != NULL)
        os->crit_enter(os->crit_ctx);
}

static void unlock(const struct am_onesize *os)
{
#if defined(AM_HAVE_PTHREAD)
    if (os->crit_exit == am_onesize_pthread_exit) {
        const int err = pthread_mutex_unlock((pthread_mutex_t *)os->crit_ctx);
        if (err != 0)
            am_mutex_failed("pthread_mutex_unlock", err);
        return;
    }
#endif
    if (os->crit_exit != NULL)
        os->crit_exit(os->crit_ctx);
}

/* The fast fields are the state only for an unlocked, untracked pool; they
 * stay zero otherwise so the inline paths always give up. */
static struct am_onesize_freelist *freelist(struct am_onesize *os)
{
    return os->mode == 0 ? &os->fast : &os->slow;
}

static const struct am_onesize_freelist *freelist_c(const struct am_onesize *os)
{
    return os->mode == 0 ? &os->fast : &os->slow;
}

static size_t nfree_of(const struct am_onesize *os)
{
    return os->nfree_min + os->budget;
}

/* Blocks on the free list (the others free ones were never handed out). */
static size_t listlen_of(const struct am_onesize *os)
{
    return nfree_of(os) - (os->nblocks - freelist_c(os)->ncarved);
}

static uintptr_t base_of(const struct am_onesize *os)
{
    return 0 - os->neg_base;
}

static unsigned char *block_at(const struct am_onesize *os, size_t idx)
{
    return (unsigned char *)(base_of(os) + idx * os->block_size);
}

/* The pattern of a free block: link ^ check ^ address == key. A handed-out
 * block has its check word cleared, and user pointers have the top bit
 * clear, so a block only matches if someone wrote the secret into it. */
static bool looks_free(const struct am_onesize *os, const void *blk, const uintptr_t w[2])
{
    return (w[0] ^ w[1] ^ (uintptr_t)blk) == os->key;
}

static void report(const struct am_onesize *os, int err, const void *ptr)
{
    if (os->on_error != NULL)
        os->on_error(os->on_error_ctx, err, ptr);
}

static uintptr_t mix64(uint64_t x)
{
    /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return (uintptr_t)x;
}

/* A key per pool, unpredictable enough that program data never matches the
 * free pattern by accident. Not a cryptographic secret. */
static uintptr_t make_key(const void *os, const void *pool)
{
    static atomic_uint_fast64_t counter;
    uint64_t x = (uint64_t)(uintptr_t)os ^ ((uint64_t)(uintptr_t)pool << 17);
    x ^= (uint64_t)atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15u;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        x ^= (uint64_t)ts.tv_nsec * 0xd6e8feb86659fd93u ^ (uint64_t)ts.tv_sec;
#if defined(AM_HAVE_GETRANDOM)
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        x ^= r;
#endif
    return mix64(x) | KEY_TOP;
}

/* Modular inverse of an odd number modulo 2^WORD_BITS (Newton's iteration:
 * each step doubles the number of correct low bits, 3 bits to start). */
static uintptr_t inverse_of_odd(uintptr_t d)
{
    uintptr_t x = d;
    for (int i = 0; i < 6; i++)
        x *= 2 - d * x;
    return x;
}

/* ---- the one pointer-validity predicate --------------------------------- */

enum verdict { FREEABLE, OUTSIDE, INTERIOR, NEVER, STALE };

/* Where ptr stands: a handed-out block (FREEABLE, *idx set), or why not. */
static enum verdict classify(const struct am_onesize *os, const void *ptr, size_t *idx)
{
    const uintptr_t p = (uintptr_t)ptr;
    const uintptr_t off = p - base_of(os);
    if (p < base_of(os) || off / os->block_size >= os->nblocks)
        return OUTSIDE;
    if (off % os->block_size != 0)
        return INTERIOR;
    *idx = off / os->block_size;
    if (*idx >= freelist_c(os)->ncarved)
        return *idx < os->ncarved_max ? STALE : NEVER;
    return FREEABLE;
}

/* Is blk on the free list? 1 yes, 0 no, -1 the list is damaged (a link out
 * of the carved blocks, a block without the free pattern, or too long). */
static int find_in_list(const struct am_onesize *os, const void *blk, size_t limit)
{
    const void *cur = freelist_c(os)->head;
    if (limit > os->nblocks) /* counts damaged (e.g. by a broken lock): still end */
        limit = os->nblocks;
    for (size_t i = 0; i < limit && cur != NULL; i++) {
        size_t idx;
        if (cur == blk)
            return 1;
        if (classify(os, cur, &idx) != FREEABLE)
            return -1;
        uintptr_t w[2];
        peek_words(os, cur, w);
        if (!looks_free(os, cur, w))
            return -1;
        cur = (const void *)w[0];
    }
    return cur == NULL ? 0 : -1;
}

/* Does the free list hold exactly listlen intact blocks, ending in NULL? */
static bool list_is_intact(const struct am_onesize *os)
{
    const size_t listlen = listlen_of(os);
    const void *cur = freelist_c(os)->head;
    if (listlen > os->nblocks)
        return false;
    for (size_t i = 0; i < listlen; i++) {
        size_t idx;
        uintptr_t w[2];
        if (cur == NULL || classify(os, cur, &idx) != FREEABLE)
            return false;
        peek_words(os, cur, w);
        if (!looks_free(os, cur, w))
            return false;
        cur = (const void *)w[0];
    }
    return cur == NULL;
}

/* Index of a block (>= nblocks for anything that is not a block start). */
static size_t index_of(const struct am_onesize *os, const void *blk)
{
    uintptr_t p = (uintptr_t)blk;
    return (size_t)am_onesize_impl_index(os, &p);
}

enum { RADIX_BITS = 6, RADIX = 1 << RADIX_BITS };

/* Sort the (intact) free list by address in place: an LSD radix sort of the
 * block indices on the list's own links, O(listlen) per 6 bits of index, with
 * 1 KiB of stack. Each block's check word keeps its original successor, so
 * unsort_free_list() can restore the LIFO order. Returns the sorted head;
 * blocks are linked through word 0. */
static unsigned char *sort_free_list(struct am_onesize *os)
{
    unsigned char *head = freelist(os)->head;
    const size_t listlen = listlen_of(os); /* checked by list_is_intact() */
    size_t n = 0;
    for (unsigned char *cur = head; cur != NULL && n < listlen; n++) {
        uintptr_t w[2];
        peek_words(os, cur, w);
        w[1] = w[0]; /* remember the LIFO successor */
        poke_words(os, cur, w);
        cur = (unsigned char *)w[0];
    }
    const size_t top = freelist(os)->ncarved;
    for (unsigned shift = 0; shift < WORD_BITS && (top - 1) >> shift != 0; shift += RADIX_BITS) {
        unsigned char *first[RADIX] = {0}, *last[RADIX] = {0};
        n = 0;
        for (unsigned char *cur = head; cur != NULL && n < listlen; n++) {
            uintptr_t w[2];
            peek_words(os, cur, w);
            const size_t digit = (index_of(os, cur) >> shift) & (RADIX - 1);
            if (last[digit] != NULL) {
                uintptr_t lw[2];
                peek_words(os, last[digit], lw);
                lw[0] = (uintptr_t)cur;
                poke_words(os, last[digit], lw);
            } else {
                first[digit] = cur;
            }
            last[digit] = cur;
            cur = (unsigned char *)w[0];
        }
        head = NULL;
        unsigned char *tail = NULL;
        for (size_t d = 0; d < RADIX; d++) {
            if (first[d] == NULL)
                continue;
            if (tail != NULL) {
                uintptr_t tw[2];
                peek_words(os, tail, tw);
                tw[0] = (uintptr_t)first[d];
                poke_words(os, tail, tw);
            } else {
                head = first[d];
            }
            tail = last[d];
        }
        if (tail != NULL) {
            uintptr_t tw[2];
            peek_words(os, tail, tw);
            tw[0] = 0;
            poke_words(os, tail, tw);
        }
    }
    return head;
}

/* Undo sort_free_list(): relink every block to its LIFO successor and
 * rewrite its check word. */
static void unsort_free_list(struct am_onesize *os, unsigned char *sorted)
{
    for (size_t n = 0; sorted != NULL && n < os->nblocks; n++) {
        uintptr_t w[2];
        peek_words(os, sorted, w);
        unsigned char *next_sorted = (unsigned char *)w[0];
        w[0] = w[1];
        w[1] = w[0] ^ (uintptr_t)sorted ^ os->key;
        poke_words(os, sorted, w);
        sorted = next_sorted;
    }
}

/* Call cb for up to num (0: all) allocated blocks in address order; the
 * count, or SIZE_MAX if the free list is damaged (then nothing is visited).
 * Only free blocks are read: allocated ones belong to their owners, who may
 * be writing them right now. The free list is sorted by address, the
 * carved blocks are walked beside it, and the list is put back in LIFO
 * order. */
static size_t walk_allocated(struct am_onesize *os, size_t num, am_onesize_iterate_fn cb, void *ctx)
{
    if (!list_is_intact(os))
        return SIZE_MAX;
    size_t visited = 0;
    unsigned char *const sorted = sort_free_list(os);
    unsigned char *cur = sorted;
    const size_t ncarved = freelist(os)->ncarved;
    for (size_t i = 0; i < ncarved && (num == 0 || visited < num); i++) {
        unsigned char *b = block_at(os, i);
        if (b == cur) {
            uintptr_t w[2];
            peek_words(os, cur, w);
            cur = (unsigned char *)w[0];
            continue;
        }
        cb(ctx, visited++, b, os->block_size);
    }
    unsort_free_list(os, sorted);
    return visited;
}

/* Under memcheck, every allocated block is released before the pool forgets
 * it (free_all, dtor); otherwise it would be reported as leaked. */
static void untrack_one(void *ctx, size_t index, void *block, size_t size)
{
    (void)index, (void)size;
    track_free((const struct am_onesize *)ctx, block);
}

static void untrack_allocated(struct am_onesize *os)
{
    if (os->mode & (AM_MODE_VALGRIND | AM_MODE_ASAN))
        (void)walk_allocated(os, 0, untrack_one, os);
}

/* ---- the operations, with the lock held --------------------------------- */

/* The common case of a locked pool (or of an unlocked one whose inline path
 * gave up), without memory-debugger tracking: the inline paths' work, under
 * the lock. Anything unusual is left to take()/check_freeable(). */
static bool is_tracked(const struct am_onesize *os)
{
    return (os->mode & (AM_MODE_VALGRIND | AM_MODE_ASAN)) != 0;
}

static void *pop_plain(struct am_onesize *os)
{
    struct am_onesize_freelist *fl = freelist(os);
    unsigned char *b = (unsigned char *)fl->head;
    if (b == NULL)
        return NULL;
    am_word *w = (am_word *)(void *)b;
    if (!looks_free(os, b, (const uintptr_t[2]){w[0], w[1]}))
        return NULL; /* take() reports the damage */
    fl->head = (void *)w[0];
    w[1] = 0;
    os->epoch++;
    if (os->budget != 0)
        os->budget--;
    else
        os->nfree_min--;
    os->nallocs++;
    return b;
}

static bool push_plain(struct am_onesize *os, const void *ptr)
{
    struct am_onesize_freelist *fl = freelist(os);
    if (index_of(os, ptr) >= fl->ncarved)
        return false;
    am_word *w = (am_word *)(uintptr_t)ptr;
    if (looks_free(os, ptr, (const uintptr_t[2]){w[0], w[1]}))
        return false; /* a double free, most likely: check_freeable() decides */
    const uintptr_t next = (uintptr_t)fl->head;
    w[0] = next;
    w[1] = next ^ (uintptr_t)ptr ^ os->key;
    fl->head = (void *)(uintptr_t)ptr;
    os->budget++;
    os->epoch++;
    return true;
}

/* Hand out one block; nfree > 0. Returns 0 or EFAULT (damaged free list). */
static int take(struct am_onesize *os, void **out)
{
    struct am_onesize_freelist *fl = freelist(os);
    unsigned char *b = (unsigned char *)fl->head;
    if (b != NULL) {
        uintptr_t w[2];
        peek_words(os, b, w);
        if (!looks_free(os, b, w))
            return EFAULT;
        fl->head = (void *)w[0];
    } else {
        if (fl->ncarved >= os->nblocks) /* nfree > 0 says this cannot be */
            return EFAULT;
        b = block_at(os, fl->ncarved++);
        if (fl->ncarved > os->ncarved_max)
            os->ncarved_max = fl->ncarved;
    }
    /* Clear both words: the block no longer looks free, and no stale link is
     * left for a leak checker to mistake for a reference. */
    const uintptr_t cleared[2] = {0, 0};
    poke_words(os, b, cleared);
    track_alloc(os, b);
    os->epoch++;
    if (os->budget != 0)
        os->budget--;
    else
        os->nfree_min--;
    os->nallocs++;
    *out = b;
    return 0;
}

static void give_back(struct am_onesize *os, void *blk)
{
    struct am_onesize_freelist *fl = freelist(os);
    const uintptr_t next = (uintptr_t)fl->head;
    const uintptr_t w[2] = {next, next ^ (uintptr_t)blk ^ os->key};
    track_free(os, blk);
    poke_words(os, blk, w);
    fl->head = blk;
    os->budget++;
    os->epoch++;
}

/* 0 if ptr may be freed; else the negative errno, counted. */
static int check_freeable(struct am_onesize *os, const void *ptr)
{
    size_t idx = 0;
    switch (classify(os, ptr, &idx)) {
    case OUTSIDE:
        os->rejected[REJ_OUTSIDE]++;
        return -EINVAL;
    case INTERIOR:
        os->rejected[REJ_INTERIOR]++;
        return -EINVAL;
    case NEVER:
        os->rejected[REJ_NEVER]++;
        return -EINVAL;
    case STALE:
        os->rejected[REJ_DOUBLE]++;
        return -EALREADY;
    case FREEABLE:
        break;
    }
    uintptr_t w[2];
    peek_words(os, ptr, w);
    if (looks_free(os, ptr, w)) {
        switch (find_in_list(os, ptr, listlen_of(os))) {
        case 1:
            os->rejected[REJ_DOUBLE]++;
            return -EALREADY;
        case -1:
            os->corruptions++;
            return -EFAULT;
        default:
            break; /* the caller's data matched the pattern: a real block */
        }
    }
    return 0;
}

/* ---- public functions, in header order ---------------------------------- */

int am_onesize_ctor(struct am_onesize *os, const struct am_onesize_cfg *cfg)
{
    if (os == NULL)
        return -EINVAL;
    memset(os, 0, sizeof *os);
    if (cfg == NULL || cfg->pool.ptr == NULL || cfg->pool.size == 0 || cfg->block_size == 0)
        return -EINVAL;
    if ((cfg->crit_enter == NULL) != (cfg->crit_exit == NULL))
        return -EINVAL;
    size_t align = cfg->alignment != 0 ? cfg->alignment : alignof(max_align_t);
    if ((align & (align - 1)) != 0)
        return -EINVAL;

    uintptr_t start = (uintptr_t)cfg->pool.ptr, end, aligned, bsize;
    if (__builtin_add_overflow(start, cfg->pool.size, &end))
        return -EINVAL;
    bsize = cfg->block_size < MIN_BLOCK ? MIN_BLOCK : cfg->block_size;
    /* Blocks start and end on the alignment, and at least on a word so that
     * the links in free blocks are aligned. */
    const size_t unit = align > alignof(uintptr_t) ? align : alignof(uintptr_t);
    if (__builtin_add_overflow(bsize, unit - 1, &bsize))
        return -EINVAL;
    bsize &= ~(uintptr_t)(unit - 1);
    if (__builtin_add_overflow(start, unit - 1, &aligned))
        return -EINVAL;
    aligned &= ~(uintptr_t)(unit - 1);
    if (aligned >= end || (end - aligned) / bsize == 0)
        return -EINVAL;

    struct am_onesize o = {0};
    o.neg_base = 0 - aligned;
    o.block_size = bsize;
    o.nblocks = (end - aligned) / bsize;
    o.shift = (unsigned)__builtin_ctzll((unsigned long long)bsize);
    o.inv = inverse_of_odd(bsize >> o.shift);
    o.key = make_key(os, cfg->pool.ptr);
    o.nfree_min = o.nblocks;
    o.crit_enter = cfg->crit_enter;
    o.crit_exit = cfg->crit_exit;
    o.crit_ctx = cfg->crit_ctx;
    o.on_error = cfg->on_error;
    o.on_error_ctx = cfg->on_error_ctx;
    if (cfg->crit_enter != NULL)
        o.mode |= AM_MODE_LOCKED;
    if (AM_ON_VALGRIND())
        o.mode |= AM_MODE_VALGRIND;
    if (AM_HAVE_ASAN_RUNTIME())
        o.mode |= AM_MODE_ASAN;
    *os = o;
    track_create(os, block_at(os, 0), os->nblocks * os->block_size);
    return 0;
}

void am_onesize_dtor(struct am_onesize *os)
{
    if (!is_constructed(os))
        return;
    untrack_allocated(os);
    track_destroy(os, block_at(os, 0), os->nblocks * os->block_size);
    memset(os, 0, sizeof *os);
}

/* The allocation, with the lock held: 0 or the errno value, counted. */
static int allocate_locked(struct am_onesize *os, size_t size, size_t margin, void **blk)
{
    if (size > os->block_size) {
        os->oversize++;
        return EINVAL;
    }
    if (margin == 0 && !is_tracked(os) && (*blk = pop_plain(os)) != NULL)
        return 0;
    if (nfree_of(os) <= margin) {
        os->failed++;
        return ENOMEM;
    }
    const int err = take(os, blk);
    if (err != 0)
        os->corruptions++;
    return err;
}

/* After the lock is released: report a misuse and set errno. */
static void *allocate_result(const struct am_onesize *os, int err, void *blk)
{
    if (err == 0)
        return blk;
    if (err != ENOMEM)
        report(os, err, NULL);
    errno = err;
    return NULL;
}

void *am_onesize_impl_allocate(struct am_onesize *os, size_t size, size_t margin)
{
    if (!is_constructed(os)) {
        errno = EINVAL;
        return NULL;
    }
    void *blk = NULL;
    lock(os);
    const int err = allocate_locked(os, size, margin, &blk);
    unlock(os);
    return allocate_result(os, err, blk);
}

void *am_onesize_impl_allocate_locked(struct am_onesize *os, size_t size)
{
    void *blk = NULL;
    const int err = allocate_locked(os, size, 0, &blk);
    unlock(os);
    return allocate_result(os, err, blk);
}

void *am_onesize_allocate_x(struct am_onesize *os, size_t size, size_t margin)
{
    return am_onesize_impl_allocate(os, size, margin);
}

/* The free, with the lock held: 0 or the negative errno value, counted. */
static int free_locked(struct am_onesize *os, const void *ptr)
{
    if (!is_tracked(os) && push_plain(os, ptr))
        return 0;
    const int err = check_freeable(os, ptr);
    if (err == 0)
        give_back(os, (void *)(uintptr_t)ptr);
    return err;
}

int am_onesize_impl_free(struct am_onesize *os, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (!is_constructed(os))
        return -EINVAL;
    lock(os);
    const int err = free_locked(os, ptr);
    unlock(os);
    if (err != 0)
        report(os, -err, ptr);
    return err;
}

int am_onesize_impl_free_locked(struct am_onesize *os, const void *ptr)
{
    const int err = free_locked(os, ptr);
    unlock(os);
    if (err != 0)
        report(os, -err, ptr);
    return err;
}

void am_onesize_free_all(struct am_onesize *os)
{
    if (!is_constructed(os))
        return;
    lock(os);
    struct am_onesize_freelist *fl = freelist(os);
    os->freed_by_free_all += os->nblocks - nfree_of(os);
    untrack_allocated(os);
    fl->head = NULL;
    fl->ncarved = 0;
    os->budget = os->nblocks - os->nfree_min;
    os->epoch++;
    unlock(os);
}

size_t am_onesize_iterate_over_allocated(struct am_onesize *os, size_t num, am_onesize_iterate_fn cb,
                                         void *ctx)
{
    if (!is_constructed(os) || cb == NULL) {
        errno = EINVAL;
        return 0;
    }
    lock(os);
    size_t visited = walk_allocated(os, num, cb, ctx);
    const bool damaged = visited == SIZE_MAX;
    if (damaged)
        os->corruptions++;
    unlock(os);
    if (damaged) {
        report(os, EFAULT, NULL);
        errno = EFAULT;
        return 0;
    }
    return visited;
}

void am_reject_double(struct am_onesize *os, const void *ptr)
{
    lock(os);
    os->rejected[REJ_DOUBLE]++;
    unlock(os);
    report(os, EALREADY, ptr);
}

/* Up to n blocks one at a time with the lock held; it is released here,
 * then a damaged list is reported and errno set if fewer than n. */
static size_t take_many_and_unlock(struct am_onesize *os, void **out, size_t n)
{
    size_t got = 0;
    int err = 0;
    while (got < n && (err = allocate_locked(os, 0, 0, &out[got])) == 0)
        got++;
    unlock(os);
    if (err == EFAULT)
        report(os, err, NULL);
    if (got < n)
        errno = err;
    return got;
}

size_t am_onesize_allocate_bulk(struct am_onesize *os, void **out, size_t n)
{
    if (!is_constructed(os) || (out == NULL && n > 0)) {
        errno = EINVAL;
        return 0;
    }
    lock(os);
    return take_many_and_unlock(os, out, n);
}

/* Undo the last give_back(): the head goes back to being allocated. */
static void take_back(struct am_onesize *os)
{
    struct am_onesize_freelist *fl = freelist(os);
    unsigned char *b = (unsigned char *)fl->head;
    uintptr_t w[2];
    peek_words(os, b, w);
    fl->head = (void *)w[0];
    w[0] = w[1] = 0;
    poke_words(os, b, w);
    track_alloc(os, b);
    os->budget--;
    os->epoch++;
}

int am_onesize_free_bulk(struct am_onesize *os, void *const *blocks, size_t n)
{
    if (!is_constructed(os) || (blocks == NULL && n > 0) || n > INT_MAX)
        return -EINVAL;
    size_t done = 0, pushed = 0;
    int err = 0;
    lock(os);
    for (; done < n; done++) {
        if (blocks[done] == NULL)
            continue;
        if ((err = free_locked(os, blocks[done])) != 0)
            break;
        pushed++;
    }
    if (err != 0) /* all or nothing: the pushed blocks are on top of the list */
        while (pushed-- > 0)
            take_back(os);
    unlock(os);
    if (err == 0)
        return 0;
    report(os, -err, blocks[done]);
    errno = -err;
    return (int)done + 1;
}

/* ---- batches for caches: O(1) under the lock ----------------------------- */

size_t am_chain_refill(struct am_onesize *os, void **out, size_t n, void **chain)
{
    *chain = NULL;
    if (n == 0)
        return 0;
    lock(os);
    struct am_onesize_freelist *fl = freelist(os);
    struct am_onesize_chain *top = os->nchains > 0 ? &os->chains[os->nchains - 1] : NULL;
    if (os->mode == AM_MODE_LOCKED && top != NULL && os->chain_epoch == os->epoch && top->head == fl->head &&
        top->n == n) {
        const am_word *tw = (const am_word *)top->tail;
        if (looks_free(os, top->tail, (const uintptr_t[2]){tw[0], tw[1]})) {
            /* Detach the whole batch: one block read, nothing written. */
            *chain = top->head;
            fl->head = (void *)tw[0];
            const size_t from_budget = os->budget < n ? os->budget : n;
            os->budget -= from_budget;
            os->nfree_min -= n - from_budget;
            os->nallocs += n;
            os->nchains--;
            unlock(os);
            return n;
        }
    }
    return take_many_and_unlock(os, out, n); /* not a whole batch on top */
}

void am_count_corruption(struct am_onesize *os)
{
    lock(os);
    os->corruptions++;
    unlock(os);
    report(os, EFAULT, NULL);
}

void am_chain_give(struct am_onesize *os, void **blocks, size_t n, size_t *deferred)
{
    /* Link the batch outside the lock. Blocks that look free already (a
     * double free, or data that matches the pattern) are left out, moved
     * to the front for the caller to free one by one through the exact
     * path. */
    if (os->mode != AM_MODE_LOCKED) { /* unlocked lists change without epochs */
        *deferred = n;
        return;
    }
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        am_word *w = (am_word *)blocks[i];
        if (index_of(os, blocks[i]) >= os->nblocks ||
            looks_free(os, blocks[i], (const uintptr_t[2]){w[0], w[1]})) {
            void *t = blocks[nd];
            blocks[nd++] = blocks[i];
            blocks[i] = t;
        }
    }
    *deferred = nd;
    void **chain = blocks + nd;
    const size_t k = n - nd;
    if (k == 0)
        return;
    for (size_t i = 0; i + 1 < k; i++) {
        am_word *w = (am_word *)chain[i];
        w[0] = (uintptr_t)chain[i + 1];
        w[1] = w[0] ^ (uintptr_t)chain[i] ^ os->key;
    }
    bool spliced = false;
    lock(os);
    struct am_onesize_freelist *fl = freelist(os);
    size_t i = 0;
    while (i < k && index_of(os, chain[i]) < fl->ncarved) /* no block touched */
        i++;
    if (i == k) {
        am_word *tw = (am_word *)chain[k - 1];
        tw[0] = (uintptr_t)fl->head;
        tw[1] = tw[0] ^ (uintptr_t)chain[k - 1] ^ os->key;
        fl->head = chain[0];
        os->budget += k;
        if (os->chain_epoch != os->epoch) {
            os->nchains = 0;
            os->chain_epoch = os->epoch;
        }
        if (os->nchains == AM_ONESIZE_PRIV_CHAINS) {
            memmove(os->chains, os->chains + 1, sizeof os->chains - sizeof os->chains[0]);
            os->nchains--;
        }
        os->chains[os->nchains++] = (struct am_onesize_chain){chain[0], chain[k - 1], k};
        spliced = true;
    }
    unlock(os);
    if (!spliced) /* a block never handed out: every block the exact way */
        *deferred = n;
}

size_t am_onesize_get_nfree(const struct am_onesize *os)
{
    if (!is_constructed(os))
        return 0;
    lock(os);
    const size_t n = nfree_of(os);
    unlock(os);
    return n;
}

size_t am_onesize_get_nfree_min(const struct am_onesize *os)
{
    if (!is_constructed(os))
        return 0;
    lock(os);
    const size_t n = os->nfree_min;
    unlock(os);
    return n;
}

size_t am_onesize_get_block_size(const struct am_onesize *os)
{
    return os != NULL ? os->block_size : 0;
}

size_t am_onesize_get_nblocks(const struct am_onesize *os)
{
    return os != NULL ? os->nblocks : 0;
}

int am_onesize_get_stats(const struct am_onesize *os, struct am_onesize_stats *out)
{
    if (os == NULL || out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (!is_constructed(os))
        return -EINVAL;
    lock(os);
    out->allocations = os->nallocs;
    out->freed_by_free_all = os->freed_by_free_all;
    out->failed_allocations = os->failed;
    out->oversize_requests = os->oversize;
    out->rejected_outside = os->rejected[REJ_OUTSIDE];
    out->rejected_interior = os->rejected[REJ_INTERIOR];
    out->rejected_never_allocated = os->rejected[REJ_NEVER];
    out->rejected_double = os->rejected[REJ_DOUBLE];
    out->corruptions = os->corruptions;
    out->nfree = nfree_of(os);
    out->nfree_min = os->nfree_min;
    out->nblocks = os->nblocks;
    out->block_size = os->block_size;
    unlock(os);
    /* Every block handed out is held, or came back one way or the other. */
    out->frees = out->allocations - out->freed_by_free_all - (out->nblocks - out->nfree);
    return 0;
}

int am_onesize_check(struct am_onesize *os)
{
    if (!is_constructed(os))
        return -EINVAL;
    int err = 0;
    lock(os);
    const struct am_onesize_freelist *fl = freelist(os);
    const size_t nfree = nfree_of(os);
    if (os->nfree_min > nfree || nfree > os->nblocks || fl->ncarved > os->ncarved_max ||
        os->ncarved_max > os->nblocks || os->nblocks - fl->ncarved > nfree)
        err = -EFAULT;
    else if (os->mode != 0 && (os->fast.head != NULL || os->fast.ncarved != 0))
        err = -EFAULT;
    else if (!list_is_intact(os))
        err = -EFAULT;
    unlock(os);
    return err;
}
