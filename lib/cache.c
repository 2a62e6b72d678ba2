/* Per-thread caches; the contract is in amonesize_cache.h. */
#include "amonesize_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "track.h"

/* The inline fast paths get their one external definition here. */
#if AM_ONESIZE_HAS_INLINE
extern void *am_onesize_cache_allocate(struct am_onesize_cache *c, size_t size);
extern int am_onesize_cache_free(struct am_onesize_cache *c, const void *ptr);
#endif

/* Blocks in a cache carry, in their check word, the address XOR a tag
 * derived from the pool's secret key. A cached block looks free to the pool
 * only if its first word equals another secret, so practically never, and
 * then the pool's walk still decides exactly. */
#define CACHE_SALT ((uintptr_t)0x5ca1ab1e0ddba11u)

static uintptr_t tag_of(uintptr_t key)
{
    return ((key << 17) | (key >> (sizeof key * 8 - 17))) ^ CACHE_SALT;
}

typedef uintptr_t __attribute__((may_alias)) cache_word;

static uintptr_t get_check(const void *blk)
{
    return ((const cache_word *)blk)[1];
}

/* The pool's free pattern (see amonesize.h): link ^ check ^ address == key. */
static int looks_free(const struct am_onesize *os, const void *blk)
{
    const cache_word *w = (const cache_word *)blk;
    return (w[0] ^ w[1] ^ (uintptr_t)blk) == os->key;
}

static void set_check(void *blk, uintptr_t v)
{
    ((cache_word *)blk)[1] = v;
}

/* In the pool and on a block start (handed out or not: the pool decides). */
static int is_pool_block(const struct am_onesize *os, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    return am_onesize_impl_index(os, &p) < os->nblocks;
}

#define CACHE_MAGIC ((uintptr_t)0xc0ffee5ca1ab1e5u)

int am_onesize_cache_init(struct am_onesize_cache *c, struct am_onesize *os, size_t capacity)
{
    if (c == NULL)
        return -EINVAL;
    if (os == NULL || am_onesize_get_nblocks(os) == 0 || capacity > AM_ONESIZE_CACHE_MAX) {
        memset(c, 0, offsetof(struct am_onesize_cache, blocks));
        return -EINVAL;
    }
    const bool bypass = (os->mode & (AM_MODE_VALGRIND | AM_MODE_ASAN)) != 0;
    /* A cache that was initialised and still holds blocks: they would be
     * lost. (An uninitialised struct matches the magic only by accident.)
     * Under a memory debugger caches hold nothing, and reading a struct
     * that may be uninitialised would be reported: no check there. */
    if (!bypass && c->magic == ((uintptr_t)c ^ CACHE_MAGIC) && c->os != NULL && (c->n != 0 || c->nchain != 0))
        return -EBUSY;
    memset(c, 0, offsetof(struct am_onesize_cache, blocks));
    c->os = os;
    c->capacity = bypass ? 0 : capacity != 0 ? capacity : AM_ONESIZE_CACHE_DEFAULT;
    c->batch = c->capacity / 2 != 0 ? c->capacity / 2 : 1;
    c->tag = tag_of(os->key);
    c->magic = (uintptr_t)c ^ CACHE_MAGIC;
    c->bypass = bypass; /* capacity 0 then: the inline paths always call the library */
    return 0;
}

void *am_onesize_impl_cache_allocate(struct am_onesize_cache *c, size_t size)
{
    if (c == NULL || c->os == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (c->bypass || size > c->os->block_size)
        return am_onesize_allocate(c->os, size); /* counted, reported by the pool */
    if (c->n == 0 && c->nchain == 0) {
        void *chain;
        const size_t got = am_chain_refill(c->os, c->blocks, c->batch, &chain);
        if (chain != NULL) {
            c->chain = chain;
            c->nchain = got;
        } else if ((c->n = got) == 0) {
            return NULL; /* errno from the pool */
        }
    }
    if (c->n == 0) {
        /* Off the chain, one link at a time: the block's line is read as it
         * is handed out, which its new owner is about to touch anyway. */
        cache_word *b = (cache_word *)c->chain;
        if (!looks_free(c->os, b)) { /* written after it was freed */
            c->chain = NULL;         /* never followed: the rest is lost */
            c->nchain = 0;
            am_count_corruption(c->os);
            errno = EFAULT;
            return NULL;
        }
        c->chain = --c->nchain != 0 ? (void *)b[0] : NULL;
        b[0] = b[1] = 0;
        return b;
    }
    void *b = c->blocks[--c->n];
    set_check(b, 0); /* no longer a cached block */
    return b;
}

/* Free the first k cached blocks to the pool, dropping any it rejects (a
 * rejection is counted and reported by the pool), then close the gap. The
 * batch is spliced in O(1) under the lock; what needs the exact check one
 * by one goes through am_onesize_free_bulk(). */
static void flush_first(struct am_onesize_cache *c, size_t k)
{
    size_t deferred, start = 0;
    am_chain_give(c->os, c->blocks, k, &deferred); /* blocks[deferred..k) are in the pool now */
    while (start < deferred) {
        const int r = am_onesize_free_bulk(c->os, c->blocks + start, deferred - start);
        if (r <= 0)
            break;
        /* blocks[start + r - 1] was rejected and nothing was freed: free
         * the ones before it, skip it, go on with the rest */
        const size_t bad = start + (size_t)r - 1;
        if (bad > start)
            (void)am_onesize_free_bulk(c->os, c->blocks + start, bad - start);
        start = bad + 1;
    }
    memmove(c->blocks, c->blocks + k, (c->n - k) * sizeof c->blocks[0]);
    c->n -= k;
}

int am_onesize_impl_cache_free(struct am_onesize_cache *c, const void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (c == NULL || c->os == NULL)
        return -EINVAL;
    if (c->bypass || !is_pool_block(c->os, ptr))
        return am_onesize_free(c->os, ptr); /* rejected, counted, reported by the pool */
    void *b = (void *)(uintptr_t)ptr;
    if (c->nchain != 0 && looks_free(c->os, b)) { /* on this cache's chain? */
        const cache_word *w = c->chain;
        for (size_t i = 0; i < c->nchain; i++, w = (const cache_word *)w[0])
            if (w == b) {
                am_reject_double(c->os, b);
                return -EALREADY;
            }
    }
    if (get_check(b) == ((uintptr_t)b ^ c->tag)) {
        /* marked as cached: in this cache? (else another cache's, or data
         * that happens to match: the pool decides at the flush) */
        for (size_t i = 0; i < c->n; i++)
            if (c->blocks[i] == b) {
                am_reject_double(c->os, b);
                return -EALREADY;
            }
    }
    if (c->n == c->capacity)
        flush_first(c, c->batch);
    set_check(b, (uintptr_t)b ^ c->tag);
    c->blocks[c->n++] = b;
    return 0;
}

void am_onesize_cache_flush(struct am_onesize_cache *c)
{
    if (c == NULL || c->os == NULL)
        return;
    if (c->n != 0)
        flush_first(c, c->n);
    /* The chain goes back as an ordinary batch (at most half the capacity). */
    for (cache_word *b = c->chain; c->nchain != 0; c->nchain--) {
        cache_word *next = (cache_word *)b[0];
        if (!looks_free(c->os, b)) {
            am_count_corruption(c->os); /* never followed */
            break;
        }
        b[0] = 0;
        set_check(b, (uintptr_t)b ^ c->tag);
        c->blocks[c->n++] = b;
        b = next;
    }
    c->chain = NULL;
    c->nchain = 0;
    if (c->n != 0)
        flush_first(c, c->n);
}

size_t am_onesize_cache_get_ncached(const struct am_onesize_cache *c)
{
    return c != NULL ? c->n + c->nchain : 0;
}
