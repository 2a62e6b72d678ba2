/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the input is a sequence of operations on one pool
 * (construction with a fuzzed configuration, allocations, frees of valid,
 * foreign, interior, double and stale pointers, free_all, iteration,
 * getters, caller data that mimics a free block). Every result is checked
 * against a simple reference model; any divergence aborts with a message. */
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amonesize.h"
#include "testing.h"

#define BUF_BYTES  65536
#define MAX_BLOCKS (BUF_BYTES / 16)

static alignas(4096) unsigned char buf[BUF_BYTES + 4096];

/* The model: which blocks are handed out, the LIFO stack of freed blocks,
 * how many were ever carved since construction or free_all, and the
 * highest carved since construction. */
static struct {
    bool live;
    uintptr_t base;
    size_t bs, n, ncarved, ncarved_max, nfree_min;
    bool held[MAX_BLOCKS];
    size_t stack[MAX_BLOCKS], nstack;
    size_t nheld;
} m;

static struct am_onesize pool;
static int depth, enters;

static const uint8_t *in;
static size_t in_left;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "divergence at %s:%d: %s: ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static uint64_t take(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in_left > 0; i++, in++, in_left--)
        v |= (uint64_t)*in << (8 * i);
    return v;
}

static void crit_enter(void *ctx)
{
    (void)ctx;
    CHECK(depth == 0, "nested critical section");
    depth++;
    enters++;
}

static void crit_exit(void *ctx)
{
    (void)ctx;
    CHECK(depth == 1, "unbalanced critical section");
    depth--;
}

static size_t nfree_model(void)
{
    return m.n - m.nheld;
}

static void *block(size_t i)
{
    return (void *)(m.base + i * m.bs);
}

static void op_ctor(void)
{
    const unsigned flags = (unsigned)take(1);
    size_t off = (size_t)take(1), size = (size_t)take(2) % (BUF_BYTES - 256) + (flags & 1 ? 0 : 1);
    size_t bs = (size_t)take(2) % 600;
    static const size_t aligns[] = {0,   1,   2,    4,    8,    16, 32, 64,       128,
                                    256, 512, 1024, 2048, 4096, 3,  24, SIZE_MAX, (SIZE_MAX >> 1) + 1};
    size_t align = aligns[take(1) % (sizeof aligns / sizeof aligns[0])];
    uintptr_t ptr = (uintptr_t)buf + off;
    if (flags & 2)
        bs = SIZE_MAX - (size_t)take(1); /* overflow when rounded */
    if (flags & 4)
        size = SIZE_MAX - (size_t)take(1); /* wraps the address space */
    struct am_onesize_cfg cfg = {.pool = {(void *)ptr, size}, .block_size = bs, .alignment = align};
    if (flags & 8)
        cfg.crit_enter = crit_enter;
    if (flags & 16)
        cfg.crit_exit = crit_exit;

    /* What the header promises, computed without overflow. */
    bool valid = size != 0 && bs != 0 && !(flags & 8) == !(flags & 16);
    const size_t a = align ? align : alignof(max_align_t);
    valid = valid && (a & (a - 1)) == 0;
    unsigned __int128 unit = a > sizeof(void *) ? a : sizeof(void *);
    unsigned __int128 ebs = bs < 16 ? 16 : bs;
    ebs = (ebs + unit - 1) / unit * unit;
    unsigned __int128 end = (unsigned __int128)ptr + size,
                      start = ((unsigned __int128)ptr + unit - 1) / unit * unit;
    valid = valid && ebs <= SIZE_MAX && end <= UINTPTR_MAX && start < end && (end - start) / ebs >= 1;

    am_onesize_dtor(&pool); /* the previous pool, over the same memory */
    enters = 0;
    const int r = am_onesize_ctor(&pool, &cfg);
    CHECK(r == (valid ? 0 : -EINVAL), "ctor returned %d, model says %s", r, valid ? "valid" : "invalid");
    CHECK(enters == 0, "ctor entered the critical section");
    memset(&m, 0, sizeof m);
    if (!valid) {
        CHECK(am_onesize_get_nblocks(&pool) == 0, "failed ctor left a usable pool");
        return;
    }
    m.live = true;
    m.base = (uintptr_t)start;
    m.bs = (size_t)ebs;
    m.n = (size_t)((end - start) / ebs);
    m.nfree_min = m.n;
    CHECK(am_onesize_get_block_size(&pool) == m.bs, "block size %zu, model %zu",
          am_onesize_get_block_size(&pool), m.bs);
    CHECK(am_onesize_get_nblocks(&pool) == m.n, "nblocks %zu, model %zu", am_onesize_get_nblocks(&pool), m.n);
}

static void expect_alloc(void *p, int err, size_t size, size_t margin)
{
    if (size > m.bs) {
        CHECK(p == NULL && err == EINVAL, "oversize request %zu: %p errno %d", size, p, err);
        return;
    }
    if (nfree_model() <= margin) {
        CHECK(p == NULL && err == ENOMEM, "expected ENOMEM: %p errno %d", p, err);
        return;
    }
    size_t want;
    if (m.nstack > 0)
        want = m.stack[--m.nstack]; /* most recently freed first */
    else {
        want = m.ncarved++;
        if (m.ncarved > m.ncarved_max)
            m.ncarved_max = m.ncarved;
    }
    CHECK(p == block(want), "allocate returned %p, model says block %zu (%p)", p, want, block(want));
    CHECK(!m.held[want], "block %zu handed out twice", want);
    m.held[want] = true;
    m.nheld++;
    if (nfree_model() < m.nfree_min)
        m.nfree_min = nfree_model();
    memset(p, (int)(want & 0xff), m.bs); /* the owner uses all of it */
}

/* The index of the k-th held block, or SIZE_MAX if none. */
static size_t pick_held(size_t k)
{
    if (m.nheld == 0)
        return SIZE_MAX;
    k %= m.nheld;
    for (size_t i = 0; i < m.ncarved; i++)
        if (m.held[i] && k-- == 0)
            return i;
    return SIZE_MAX;
}

static size_t visited_n;
static uintptr_t visited_last;
static bool visited_bad;

static void visit(void *ctx, size_t index, void *blk, size_t size)
{
    (void)ctx;
    const uintptr_t b = (uintptr_t)blk;
    const size_t i = (b - m.base) / m.bs;
    if (index != visited_n || size != m.bs || b < m.base || (b - m.base) % m.bs || i >= m.ncarved ||
        !m.held[i] || (visited_n > 0 && b <= visited_last))
        visited_bad = true;
    visited_last = b;
    visited_n++;
}

static void op_on_pool(uint8_t op)
{
    switch (op % 12) {
    case 0: { /* allocate */
        size_t size = (size_t)take(2) % (m.bs + 40);
        if (take(1) == 0xff)
            size = SIZE_MAX - (size_t)take(1);
        errno = 0;
        void *p = am_onesize_allocate(&pool, size);
        expect_alloc(p, errno, size, 0);
        break;
    }
    case 1: { /* allocate_x */
        const size_t size = (size_t)take(1), margin = (size_t)take(2) % (m.n + 2);
        errno = 0;
        void *p = am_onesize_allocate_x(&pool, size, margin);
        expect_alloc(p, errno, size, margin);
        break;
    }
    case 2:
    case 3: { /* free a held block */
        const size_t i = pick_held((size_t)take(2));
        if (i == SIZE_MAX)
            break;
        const int r = am_onesize_free(&pool, block(i));
        CHECK(r == 0, "free of held block %zu returned %d", i, r);
        m.held[i] = false;
        m.nheld--;
        m.stack[m.nstack++] = i;
        break;
    }
    case 4: { /* free a pointer that is not a block start */
        const uint64_t sel = take(2);
        uintptr_t p;
        if (sel & 1)
            p = m.base + (size_t)(sel >> 1) % (m.n * m.bs + 512) - 256; /* around and in the pool */
        else
            p = (uintptr_t)take(8);
        const bool is_start = p >= m.base && p < m.base + m.n * m.bs && (p - m.base) % m.bs == 0;
        if (is_start || p == 0)
            break; /* covered by the other cases */
        const int r = am_onesize_free(&pool, (void *)p);
        CHECK(r == -EINVAL, "free of non-block %p returned %d", (void *)p, r);
        break;
    }
    case 5: { /* free a block start that is not held: double, stale or never */
        const size_t i = (size_t)take(2) % m.n;
        if (m.held[i])
            break;
        const int want = i < m.ncarved_max ? -EALREADY : -EINVAL;
        const int r = am_onesize_free(&pool, block(i));
        CHECK(r == want, "free of unheld block %zu (carved %zu, max %zu) returned %d, want %d", i, m.ncarved,
              m.ncarved_max, r, want);
        break;
    }
    case 6: /* free_all */
        am_onesize_free_all(&pool);
        memset(m.held, 0, sizeof m.held);
        m.nheld = m.nstack = m.ncarved = 0;
        break;
    case 7: { /* iterate */
        const size_t num = (size_t)take(1) % 8;
        visited_n = 0, visited_bad = false;
        const size_t r = am_onesize_iterate_over_allocated(&pool, num, visit, NULL);
        const size_t want = num == 0 || num > m.nheld ? m.nheld : num;
        CHECK(r == want && visited_n == want && !visited_bad,
              "iterate(%zu) visited %zu (cb %zu, bad %d), want %zu", num, r, visited_n, visited_bad, want);
        break;
    }
    case 8: { /* caller data that mimics a free block (white-box: a test hook) */
        const size_t i = pick_held((size_t)take(2));
        if (i == SIZE_MAX)
            break;
        am_test_forge_free_pattern(&pool, block(i), (uintptr_t)take(8));
        break;
    }
    case 9: /* free(NULL) */
        CHECK(am_onesize_free(&pool, NULL) == 0, "free(NULL)");
        break;
    case 10: { /* oversize through allocate_x with a huge margin */
        errno = 0;
        CHECK(am_onesize_allocate_x(&pool, 0, SIZE_MAX) == NULL && errno == ENOMEM, "margin SIZE_MAX");
        break;
    }
    default:
        break;
    }
    struct am_onesize_stats st;
    CHECK(am_onesize_get_stats(&pool, &st) == 0, "get_stats");
    CHECK(st.nfree == nfree_model() && am_onesize_get_nfree(&pool) == nfree_model(), "nfree %zu, model %zu",
          st.nfree, nfree_model());
    CHECK(st.nfree_min == m.nfree_min && am_onesize_get_nfree_min(&pool) == m.nfree_min,
          "nfree_min %zu, model %zu", st.nfree_min, m.nfree_min);
    CHECK(st.corruptions == 0, "corruption reported without any");
    CHECK(am_onesize_check(&pool) == 0, "invariants");
    CHECK(depth == 0, "critical section left open");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_left = size;
    memset(&m, 0, sizeof m);
    enters = depth = 0;
    op_ctor();
    while (in_left > 0) {
        const uint8_t op = (uint8_t)take(1);
        if (op == 0xfe)
            op_ctor();
        else if (m.live)
            op_on_pool(op);
    }
    am_onesize_dtor(&pool);
    return 0;
}
