/* SPDX-License-Identifier: MIT */
/* Walks over the pool: the free-list walks that confirm a double free and
 * check the invariants, iteration over allocated blocks (an in-place radix
 * sort of the free list), and releasing tracked blocks for a debugger. */
#include "internal.h"

#include <errno.h>

#include "lock.h"

#define WORD_BITS (sizeof(uintptr_t) * 8)

/* Blocks on the free list: the other free ones were never handed out
 * (since ctor or free_all) or are parked in the depot. */
static size_t listlen_of(const struct am_onesize *os)
{
    const struct am_onesize_list *fl = list_of_c(os);
    return nfree_of(os) - (os->nblocks - fl->ncarved) - os->ndepot;
}

/* Is pos a carved block that carries the free pattern? Its words in w. */
static bool is_list_block(const struct am_onesize *os, uintptr_t pos, uintptr_t w[2])
{
    uintptr_t p = (uintptr_t)am_onesize_impl_at(os, pos, eflags(os));
    const uintptr_t idx = am_onesize_impl_index(os, &p);
    if (idx >= list_of_c(os)->ncarved)
        return false;
    AM_ONESIZE_GET(os, (const void *)p, w, eflags(os));
    return am_onesize_impl_is_free_pattern(os->key, pos, w) &&
           !am_onesize_impl_is_parked(os->key, am_onesize_impl_park_mark(os->key), pos, w) &&
           !((os->mode & AM_MODE_STATE) && am_onesize_impl_state(os, idx, -1));
}

/* With a state bitmap: as many blocks carved since ctor or free_all have
 * their bit set as are handed out (in use, but not retired). */
static bool bits_agree(const struct am_onesize *os)
{
    const struct am_onesize_list *fl = list_of_c(os);
    size_t set = 0;
    for (size_t i = 0; i < fl->ncarved; i++)
        set += (size_t)am_state_get_index(os, i);
    return set == fl->inuse - os->retired;
}

int am_find_in_list(const struct am_onesize *os, const void *blk)
{
    const uintptr_t target = am_onesize_impl_pos(os, blk, eflags(os));
    uintptr_t cur = list_of_c(os)->head;
    size_t limit = listlen_of(os);
    if (limit > os->nblocks) /* counts damaged (e.g. by a broken lock): still end */
        limit = os->nblocks;
    for (size_t i = 0; i < limit && cur != 0; i++) {
        if (cur == target)
            return 1;
        uintptr_t w[2];
        if (!is_list_block(os, cur, w))
            return -1;
        cur = w[0];
    }
    return cur == 0 ? 0 : -1;
}

bool am_list_is_intact(const struct am_onesize *os)
{
    const size_t listlen = listlen_of(os);
    uintptr_t cur = list_of_c(os)->head;
    if (listlen > os->nblocks)
        return false;
    for (size_t i = 0; i < listlen; i++) {
        uintptr_t w[2];
        if (cur == 0 || !is_list_block(os, cur, w))
            return false;
        cur = w[0];
    }
    if (cur != 0)
        return false;
    /* The depot: distinct carved blocks, each parked. */
    for (size_t i = 0; i < os->ndepot; i++) {
        uintptr_t p = (uintptr_t)os->depot[i], w[2];
        if (am_onesize_impl_index(os, &p) >= list_of_c(os)->ncarved)
            return false;
        AM_ONESIZE_GET(os, os->depot[i], w, 0);
        if (!am_onesize_impl_is_parked(os->key, am_onesize_impl_park_mark(os->key),
                                       am_onesize_impl_pos(os, os->depot[i], eflags(os)), w))
            return false;
        for (size_t j = 0; j < i; j++)
            if (os->depot[j] == os->depot[i])
                return false;
    }
    return !(os->mode & AM_MODE_STATE) || bits_agree(os);
}

/* Index of a block known to be one. */
static size_t index_of(const struct am_onesize *os, uintptr_t pos)
{
    uintptr_t p = (uintptr_t)am_onesize_impl_at(os, pos, eflags(os));
    return (size_t)am_onesize_impl_index(os, &p);
}

enum { RADIX_BITS = 6, RADIX = 1 << RADIX_BITS };

static void set_next(struct am_onesize *os, uintptr_t pos, uintptr_t next)
{
    uintptr_t w[2];
    unsigned char *b = am_onesize_impl_at(os, pos, eflags(os));
    AM_ONESIZE_GET(os, b, w, eflags(os));
    w[0] = next;
    AM_ONESIZE_SET(os, b, w, eflags(os));
}

static uintptr_t next_of(const struct am_onesize *os, uintptr_t pos)
{
    uintptr_t w[2];
    AM_ONESIZE_GET(os, am_onesize_impl_at(os, pos, eflags(os)), w, eflags(os));
    return w[0];
}

/* Sort the (intact) free list by address in place: an LSD radix sort of the
 * block indices on the list's own links, O(listlen) per 6 bits of index, with
 * 1 KiB of stack. Each block's check word keeps its LIFO successor, so
 * unsort_free_list() can restore the order. Returns the sorted head; the
 * blocks are linked through word 0 meanwhile. */
static uintptr_t sort_free_list(struct am_onesize *os)
{
    uintptr_t head = list_of(os)->head;
    for (uintptr_t cur = head; cur != 0;) {
        uintptr_t w[2];
        unsigned char *b = am_onesize_impl_at(os, cur, eflags(os));
        AM_ONESIZE_GET(os, b, w, eflags(os));
        w[1] = w[0]; /* remember the LIFO successor */
        AM_ONESIZE_SET(os, b, w, eflags(os));
        cur = w[0];
    }
    const size_t top = list_of(os)->ncarved;
    for (unsigned shift = 0; shift < WORD_BITS && (top - 1) >> shift != 0; shift += RADIX_BITS) {
        uintptr_t first[RADIX] = {0}, last[RADIX] = {0};
        for (uintptr_t cur = head; cur != 0;) {
            const uintptr_t next = next_of(os, cur);
            const size_t digit = (index_of(os, cur) >> shift) & (RADIX - 1);
            if (last[digit] != 0)
                set_next(os, last[digit], cur);
            else
                first[digit] = cur;
            last[digit] = cur;
            cur = next;
        }
        uintptr_t tail = 0;
        head = 0;
        for (size_t d = 0; d < RADIX; d++) {
            if (first[d] == 0)
                continue;
            if (tail != 0)
                set_next(os, tail, first[d]);
            else
                head = first[d];
            tail = last[d];
        }
        if (tail != 0)
            set_next(os, tail, 0);
    }
    return head;
}

/* Undo sort_free_list(): relink every block to its LIFO successor in the
 * free pattern. */
static void unsort_free_list(struct am_onesize *os, uintptr_t sorted)
{
    while (sorted != 0) {
        uintptr_t w[2];
        unsigned char *b = am_onesize_impl_at(os, sorted, eflags(os));
        AM_ONESIZE_GET(os, b, w, eflags(os));
        const uintptr_t next_sorted = w[0];
        am_onesize_impl_pattern(os->key, sorted, w[1], w);
        AM_ONESIZE_SET(os, b, w, eflags(os));
        sorted = next_sorted;
    }
}

/* The depot by address (its order does not matter; it is small). */
static void sort_depot(struct am_onesize *os)
{
    for (size_t i = 1; i < os->ndepot; i++) {
        void *b = os->depot[i];
        size_t j = i;
        for (; j > 0 && (uintptr_t)os->depot[j - 1] > (uintptr_t)b; j--)
            os->depot[j] = os->depot[j - 1];
        os->depot[j] = b;
    }
}

/* Call cb for up to num (0: all) allocated blocks in address order; the
 * count, or SIZE_MAX if the free list is damaged (then nothing is visited).
 * Only free blocks are read: allocated ones belong to their owners, who may
 * be writing them right now. */
static size_t walk_allocated(struct am_onesize *os, size_t num, am_onesize_iterate_fn cb, void *ctx)
{
    if (!am_list_is_intact(os))
        return SIZE_MAX;
    if (os->mode & AM_MODE_STATE) { /* the bits say which blocks are handed out */
        size_t visited = 0;
        const size_t ncarved = list_of(os)->ncarved;
        for (size_t i = 0; i < ncarved && (num == 0 || visited < num); i++)
            if (am_state_get_index(os, i))
                cb(ctx, visited++, block_at(os, i), os->block_size);
        return visited;
    }
    size_t visited = 0, d = 0;
    const uintptr_t sorted = sort_free_list(os);
    sort_depot(os);
    uintptr_t cur = sorted;
    const size_t ncarved = list_of(os)->ncarved;
    for (size_t i = 0; i < ncarved && (num == 0 || visited < num); i++) {
        unsigned char *b = block_at(os, i);
        if (cur != 0 && b == am_onesize_impl_at(os, cur, eflags(os))) {
            cur = next_of(os, cur);
            continue;
        }
        if (d < os->ndepot && b == (unsigned char *)os->depot[d]) {
            d++;
            continue;
        }
        cb(ctx, visited++, b, os->block_size);
    }
    unsort_free_list(os, sorted);
    return visited;
}

size_t am_onesize_iterate_over_allocated(struct am_onesize *os, size_t num, am_onesize_iterate_fn cb,
                                         void *ctx)
{
    if (!is_constructed(os) || cb == NULL) {
        errno = EINVAL;
        return 0;
    }
    lock(os);
    const size_t visited = walk_allocated(os, num, cb, ctx);
    const bool damaged = visited == SIZE_MAX;
    if (damaged)
        os->counts[CNT_CORRUPTIONS]++;
    unlock(os);
    if (damaged) {
        am_onesize_impl_report(os, EFAULT, NULL);
        errno = EFAULT;
        return 0;
    }
    return visited;
}

void am_untrack_allocated(struct am_onesize *os)
{
    if (!(os->mode & AM_MODE_TRACKED))
        return;
    /* Asked of the debugger, not of the free list: correct whatever the
     * list holds, also after damage was found. */
    const size_t ncarved = list_of(os)->ncarved;
    for (size_t i = 0; i < ncarved; i++) {
        unsigned char *b = block_at(os, i);
        if (os->mode & AM_MODE_VALGRIND) {
            if (am_track_is_handed_out(os, b))
                am_track_free(os, b);
        } else {
            am_track_free(os, b); /* ASan: poisoning a free block again is harmless */
        }
    }
}
