/* SPDX-License-Identifier: MIT */
/* Operations through per-thread caches (amonesize_cache.h): several caches
 * on the one pool, used from one thread, each checked against the model. */
#include "fuzz.h"

static void check_enters(int e, int lo, int hi, const char *what)
{
    if (!m.custom_lock || !m.live)
        lo = hi = 0;
    CHECK(e >= lo && e <= hi, "%s entered the critical section %d times, want %d..%d", what, e, lo, hi);
}

void op_cache_init(void)
{
    const size_t c = (size_t)take(1) % NCACHES;
    const size_t capacity = (size_t)take(2) % 600; /* above AM_ONESIZE_CACHE_MAX: refused */
    const unsigned garbage = (unsigned)take(1);
    if (m.live && mc[c].st == C_BOUND && mc[c].n > 0 && m.mode != M_LAWLESS) {
        /* Initialised again while it holds blocks: they stay out of the
         * pool, held by nobody, until free_all. */
        const uint8_t bit = (uint8_t)LOC_CACHE(c);
        for (size_t i = 0; i < m.ncarved; i++)
            if (m.b[i].st == B_FREE && (m.b[i].loc & bit))
                m.b[i].loc = (uint8_t)((m.b[i].loc & ~bit) | LOC_ORPHAN);
        m.orphans += mc[c].n;
    }
    memset(&caches[c], (int)garbage, sizeof caches[c]); /* "*c may hold anything before" */
    enters = 0;
    const int r = am_onesize_cache_init(&caches[c], &pool, capacity);
    check_enters(enters, 0, 0, "cache_init");
    const bool good = m.live && capacity <= AM_ONESIZE_CACHE_MAX;
    CHECK(r == (good ? 0 : -EINVAL), "cache_init(capacity %zu) returned %d", capacity, r);
    mc[c] = (struct mcache){.st = good ? C_BOUND : C_BAD, .top = -1};
    if (good) {
        /* Under a memory debugger, or with a state bitmap, a cache passes
         * every call to the pool (caches_pass(), decided at each call). */
        mc[c].cap = capacity != 0 ? capacity : AM_ONESIZE_CACHE_DEFAULT;
        mc[c].batch = mc[c].cap / 2 != 0 ? mc[c].cap / 2 : 1;
    }
}

static size_t pick_cache_size(void)
{
    const unsigned sel = (unsigned)take(1);
    if (sel >= 0xf0)
        return m.bs + (sel & 7); /* too large unless 0 */
    return sel % (m.bs + 1);
}

void op_cache_allocate(void)
{
    const size_t c = (size_t)take(1) % NCACHES;
    const size_t size = pick_cache_size();
    if (mc[c].st == C_UNINIT)
        return;

    struct am_onesize_stats s0 = {0};
    if (m.live)
        s0 = stats_now();
    const size_t n0 = mc[c].n;
    size_t nfree0 = model_nfree();
    const bool damaged = damage_in_pool() || damage_in_cache(c);
    const bool d_in_cache = damage_in_cache(c) && !(m.b[m.d].loc & LOC_POOL);
    enters = 0;
    errno = 0;
    void *p = am_onesize_cache_allocate(&caches[c], size);
    const int err = errno, e = enters;
    if (tracing())
        fprintf(stderr, "  cache_allocate(cache %zu, size %zu): %p errno %d, holds %zu\n", c, size, p, err,
                am_onesize_cache_get_ncached(&caches[c]));
    if (mc[c].st == C_BAD || !m.live) {
        CHECK(p == NULL && err == EINVAL, "cache_allocate on a cache without a pool: %p errno %d", p, err);
        check_enters(e, 0, 0, "cache_allocate without a pool");
        return;
    }
    mc[c].lib_stale = mc[c].lib_holds = false;
    if (size > m.bs) {
        CHECK(p == NULL && err == EINVAL, "cache_allocate(%zu) of blocks of %zu: %p errno %d", size, m.bs, p,
              err);
        m.st.oversize_requests++;
        expect_report(EINVAL, NULL);
        check_enters(e, 1, 1, "cache_allocate too large");
        return;
    }
    if (n0 == 0)
        mc[c].carved_high = false; /* it refilled, which catches up with the pool */
    if (caches_pass()) {
        /* Passed to the pool: exactly am_onesize_allocate. */
        expect_pool_allocation(p, err, size, 0, false, "cache_allocate (through to the pool)");
        check_enters(e, 1, 1, "cache_allocate (through to the pool)");
        return;
    }
    if (m.mode == M_LAWLESS) {
        m.carve_unknown = true; /* a refill may have carved blocks */
        if (p != NULL)
            cache_handed_out(c, p);
        return;
    }
    /* What the library did, from what it says: blocks it retired for a
     * written fill as it took them, blocks it took from the pool, blocks it
     * dropped as damaged, refills that met damage. */
    const size_t retired = retire_spoiled_now("cache_allocate");
    nfree0 -= retired;
    const struct am_onesize_stats s1 = stats_now();
    CHECK(s1.nfree <= nfree0, "cache_allocate gave blocks to the pool: nfree %zu -> %zu", nfree0, s1.nfree);
    const size_t taken = nfree0 - s1.nfree;
    const size_t n1 = am_onesize_cache_get_ncached(&caches[c]);
    const size_t got = p != NULL;
    CHECK(n0 + taken >= got + n1, "cache %zu held %zu, took %zu, handed out %zu, holds %zu", c, n0, taken,
          got, n1);
    const size_t drops = n0 + taken - got - n1;
    CHECK(s1.corruptions >= s0.corruptions + drops, "cache %zu dropped %zu blocks, %llu corruptions counted",
          c, drops, (unsigned long long)(s1.corruptions - s0.corruptions));
    const size_t faults = (size_t)(s1.corruptions - s0.corruptions) - drops;
    if (!damaged) {
        CHECK(drops == 0 && faults == 0, "cache %zu dropped %zu blocks and met %zu faults, with no damage", c,
              drops, faults);
        if (n0 > 0) {
            CHECK(taken == 0 && p != NULL, "cache %zu holding %zu took %zu from the pool and handed out %p",
                  c, n0, taken, p);
            check_enters(e, 0, 0, "cache_allocate from the cache");
        } else {
            const size_t want = nfree0 < mc[c].batch ? nfree0 : mc[c].batch;
            if (taken < want && fill_fault(retired)) { /* a fifth block to retire stopped the refill */
                expect_report(EFAULT, NULL);
                CHECK(p != NULL || err == EFAULT, "cache %zu: a refill stopped, errno %d", c, err);
            } else {
                CHECK(taken == want, "cache %zu refilled %zu blocks, want %zu (batch %zu, %zu free)", c,
                      taken, want, mc[c].batch, nfree0);
                CHECK(p != NULL || err == ENOMEM, "cache %zu: empty pool, errno %d", c, err);
            }
            CHECK((p == NULL) == (taken == 0), "cache %zu refilled %zu and handed out %p", c, taken, p);
            check_enters(e, 1, 1, "cache_allocate with a refill");
        }
    } else {
        CHECK(drops <= 1, "cache %zu dropped %zu blocks; only block %zu was damaged", c, drops, m.d);
        CHECK(faults == 0 || (m.dwhere == D_LIST && damage_in_pool()),
              "cache %zu's refill met damage %zu times, none on the list", c, faults);
        /* "none, except once when refilling; each damaged block it drops
         * adds once (to count it) and maybe a refill more". */
        check_enters(e, 0, 1 + 2 * (int)drops, "cache_allocate meeting damage");
    }
    /* A block dropped from what it held before any refill. */
    bool dropped = false;
    if (drops != 0 && d_in_cache) {
        mc[c].n--;
        mc[c].top = -1;
        lose_damaged();
        dropped = true;
    }
    if (taken != 0) {
        CHECK(mc[c].n == 0, "cache %zu refilled while it still held %zu blocks", c, mc[c].n);
        refill_model(c, taken, p, "cache_allocate");
    }
    if (drops != 0 && !dropped) {
        CHECK(m.mode == M_DAMAGED && (m.b[m.d].loc & LOC_CACHE(c)) && m.b[m.d].st == B_FREE,
              "cache %zu dropped a block, but damaged block %zu cannot be there", c, m.d);
        mc[c].n--;
        lose_damaged();
    }
    for (size_t k = 0; k < drops; k++)
        expect_report(EFAULT, block(m.d));
    for (size_t k = 0; k < faults; k++)
        expect_report(EFAULT, NULL);
    m.st.corruptions += drops + faults;
    if (p != NULL) {
        cache_handed_out(c, p);
    } else if (err == ENOMEM) {
        CHECK(s1.nfree == 0, "cache_allocate: ENOMEM with %zu blocks free", s1.nfree);
        m.st.failed_allocations++;
    } else {
        CHECK(err == EFAULT && (drops + faults > 0 || fill_fault(retired)),
              "cache_allocate failed with errno %d", err);
    }
}

/* Free p into cache c: kept by the cache if it is plainly a block handed
 * out, else the pool's exact answer (amonesize_cache.h, "Misuse"). */
static void free_to_cache(size_t c, void *p)
{
    if (mc[c].st == C_UNINIT)
        return;
    size_t i = 0;
    const bool is_block = block_index(p, &i);
    if (is_block)
        verify_held(i);
    const struct mblock *b = &m.b[i];
    const enum verdict v = p == NULL ? V_OK : free_verdict(p, true);
    const bool undetected = is_block && m.mode == M_DAMAGED && i == m.d && b->st == B_FREE;
    const bool keeps = m.live && mc[c].st == C_BOUND && !caches_pass() && is_block && m.mode != M_LAWLESS &&
                       ((b->st == B_HELD && b->forged == F_NONE) || b->st == B_LOST || undetected);
    const bool flushes = keeps && mc[c].n == mc[c].cap;
    enters = 0;
    const int r = am_onesize_cache_free(&caches[c], p);
    if (tracing())
        fprintf(stderr, "  cache_free(cache %zu, %p%s%s): %d, keeps %d, holds %zu\n", c, p,
                is_block ? ": " : "", is_block ? describe(i) : "", r, keeps,
                am_onesize_cache_get_ncached(&caches[c]));
    const int e = enters;
    if (p == NULL) {
        CHECK(r == 0, "cache_free(NULL) returned %d", r);
        check_enters(e, 0, 0, "cache_free(NULL)");
        return;
    }
    if (mc[c].st == C_BAD || !m.live) {
        CHECK(r == -EINVAL, "cache_free on a cache without a pool returned %d", r);
        check_enters(e, 0, 0, "cache_free without a pool");
        return;
    }
    if (is_block)
        mc[c].lib_stale = mc[c].lib_holds =
            false; /* a block start takes the library's path, which drops them */
    if (m.mode == M_LAWLESS) {
        CHECK(r == 0 || r == -EALREADY || r == -EFAULT || r == -EINVAL, "cache_free: %d", r);
        if (r == 0 && is_block)
            m.b[i].st = B_FREE;
        return;
    }
    /* "none, except once when flushing, or once to catch up with the pool
     * ... a block passed to the pool adds the pool's own once". */
    const int slack = 1;
    if (keeps) {
        CHECK(r == 0, "cache_free of block %zu (%s) returned %d", i, b->st == B_HELD ? "held" : "lost", r);
        if (flushes)
            flush_model(c, mc[c].batch);
        free_in_cache(i, c);
        if (undetected)
            lawless("a free block written and then freed again into a cache");
        check_enters(e, flushes ? 1 : 0, (flushes ? 1 : 0) + slack, "cache_free");
        return;
    }
    check_enters(e, 0, 1 + slack, "cache_free passed to the pool");
    if (v == V_OK && undetected && r == -EALREADY && (m.tracked || model_nfree() == m.n)) {
        /* The documented-undetected case, found all the same: a tracked
         * pool asks the memory debugger, which knows the block is free,
         * and a free into a pool whose every block is free is a double
         * free, always (amonesize.h). */
        count_verdict(V_EALREADY, EALREADY, p);
        return;
    }
    if (v == V_OK) {
        /* Caller data matching the free pattern, or any block under a
         * memory debugger: freed to the pool. */
        CHECK(r == 0, "cache_free of block %zu returned %d", i, r);
        pool_took_back(i);
        if (undetected)
            lawless("a free block written and then freed again through a cache");
        return;
    }
    const int want = verdict_errno(v);
    CHECK(verdict_allows(v, r), "cache_free(%p) (block %zu: %s) returned %d, want -%d", p,
          is_block ? i : SIZE_MAX, is_block ? describe(i) : "not a block", r, want);
    count_verdict(v, -r, p);
}

void op_cache_free_held(void)
{
    const size_t c = (size_t)take(1) % NCACHES, i = pick_held();
    if (i != SIZE_MAX)
        free_to_cache(c, block(i));
}

void op_cache_free_block(void)
{
    const size_t c = (size_t)take(1) % NCACHES, i = pick_block();
    free_to_cache(c, block(i));
}

void op_cache_free_bad(void)
{
    const size_t c = (size_t)take(1) % NCACHES;
    free_to_cache(c, bad_pointer());
}

void op_cache_flush(void)
{
    const size_t c = (size_t)take(1) % NCACHES;
    if (mc[c].st == C_UNINIT)
        return;
    enters = 0;
    am_onesize_cache_flush(&caches[c]);
    const int e = enters;
    if (mc[c].st != C_BOUND || !m.live) {
        check_enters(e, 0, 0, "cache_flush without a pool");
        return;
    }
    if (mc[c].lib_stale)
        mc[c].carved_high = true;
    mc[c].lib_stale = mc[c].lib_holds = false;
    check_enters(e, 0, 1, "cache_flush");
    if (m.mode == M_LAWLESS)
        return;
    flush_model(c, mc[c].n);
}
