/* Private: what lib/cache.c needs from lib/onesize.c. Not exported. */
#ifndef AMONESIZE_INTERNAL_H
#define AMONESIZE_INTERNAL_H

#include "amonesize.h"

/* Count a double free found outside the pool (in a cache) and report it to
 * on_error, as am_onesize_free() would have. */
void am_reject_double(struct am_onesize *os, const void *ptr);

/* Take n blocks for a cache, in one critical section. If the top of the free
 * list is a batch of n spliced by am_chain_give(), it is detached in O(1):
 * *chain is its first block, its blocks still linked and in the free
 * pattern, the n-th one's link pointing on into the pool. Otherwise the
 * blocks are taken one at a time into out, and *chain is NULL. Returns how
 * many blocks were taken (errno set if fewer than n). */
size_t am_chain_refill(struct am_onesize *os, void **out, size_t n, void **chain);

/* A damaged block was found outside the pool (in a cache's chain). */
void am_count_corruption(struct am_onesize *os);

/* Give a cache's n blocks back: linked outside the lock, spliced in O(1).
 * Blocks that need the exact one-by-one check (they look free already, or
 * are not pool blocks) are moved to blocks[0..*deferred) and NOT freed: the
 * caller frees them with am_onesize_free_bulk(). If the splice cannot be
 * done (a block never handed out), *deferred = n: nothing was freed. */
void am_chain_give(struct am_onesize *os, void **blocks, size_t n, size_t *deferred);

#endif
