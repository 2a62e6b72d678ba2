/* SPDX-License-Identifier: MIT */
/* Operations on the pool itself (amonesize.h), each checked against the
 * model: allocation in every form, frees of every kind of pointer, bulk
 * calls, free_all, iteration, caller data forged to look free, damage to
 * free blocks, and calls with bad arguments. */
#include <limits.h>
#include <sched.h>
#include <stdalign.h>
#include <time.h>

#include "fuzz.h"

/* How often a call entered the critical section: only the fuzzer's own
 * callbacks count it (the pthread adapter's mutex is locked directly). */
static void check_enters(int e, int lo, int hi, const char *what)
{
    if (!m.custom_lock || !m.live)
        lo = hi = 0;
    CHECK(e >= lo && e <= hi, "%s entered the critical section %d times, want %d..%d", what, e, lo, hi);
}

static size_t pick_size(void)
{
    const unsigned sel = (unsigned)take(1);
    if (sel >= 0xf8)
        return SIZE_MAX - (size_t)take(1);
    return (size_t)take(2) % (m.bs + 40);
}

size_t pick_held(void)
{
    size_t nheld = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        nheld += m.b[i].st == B_HELD;
    const size_t k0 = (size_t)take(2);
    if (nheld == 0)
        return SIZE_MAX;
    size_t k = k0 % nheld;
    for (size_t i = 0; i < m.ncarved; i++)
        if (m.b[i].st == B_HELD && k-- == 0)
            return i;
    return SIZE_MAX;
}

size_t pick_block(void)
{
    const size_t k = (size_t)take(2);
    return m.n == 0 ? 0 : k % m.n;
}

/* ---- pointers that are not this pool's blocks ---------------------------- */

static alignas(64) unsigned char foreign_buf[8 * 32];
static struct am_onesize foreign;
static void *foreign_held;

void foreign_setup(void)
{
    const struct am_onesize_cfg cfg = {.pool = {foreign_buf, sizeof foreign_buf}, .block_size = 32};
    CHECK(am_onesize_ctor(&foreign, &cfg) == 0, "the foreign pool");
    foreign_held = am_onesize_allocate(&foreign, 1);
    CHECK(foreign_held != NULL, "the foreign pool's block");
}

void foreign_teardown(void)
{
    am_onesize_dtor(&foreign);
}

void *bad_pointer(void)
{
    const unsigned sel = (unsigned)take(1) % 7;
    const size_t span = m.n * m.bs;
    switch (sel) {
    case 0: /* inside a block */
        if (m.n == 0)
            return (void *)(uintptr_t)1;
        return (unsigned char *)block(pick(m.n)) + 1 + pick(m.bs - 1);
    case 1: /* around and in the pool, maybe a block start */
        return (void *)(m.base + pick(span + 512) - 256);
    case 2:
        return (void *)(uintptr_t)take(8);
    case 3: /* a block of another pool */
        return foreign_held;
    case 4:
        return foreign_buf + pick(sizeof foreign_buf);
    case 5: /* just past the last block, or just before the first */
        return (void *)(take(1) & 1 ? m.base + span : m.base - m.bs);
    default:
        return NULL;
    }
}

/* ---- allocation ----------------------------------------------------------- */

/* An EFAULT from the pool's own hand-out: the damaged block was reached,
 * on the list (it stays there) or in the depot (it is taken out of
 * service, so nfree drops by one). */
static void pool_fault(const char *what)
{
    m.st.corruptions++;
    expect_report(EFAULT, NULL);
    const struct am_onesize_stats s = stats_now();
    if (s.nfree + 1 == model_nfree()) {
        CHECK(m.dwhere == D_DEPOT || m.dwhere == D_DEPOT_OR_HEALED,
              "%s: a block left the pool with EFAULT, but damaged block %zu is not in the depot", what, m.d);
        m.pool_free--;
        lose_damaged();
        m.pool_retires++;
    } else {
        CHECK(s.nfree == model_nfree(), "%s: EFAULT, and nfree went from %zu to %zu", what, model_nfree(),
              s.nfree);
        CHECK(m.dwhere == D_LIST, "%s: EFAULT, but damaged block %zu is not on the free list", what, m.d);
        m.dreached = true;
    }
}

/* What allocate, allocate_x and allocate_wait (when it does not wait)
 * return, per amonesize.h. */
void expect_pool_allocation(void *p, int err, size_t size, size_t margin, bool waiting, const char *what)
{
    if (!m.live) {
        CHECK(p == NULL && err == EINVAL, "%s on a dead pool: %p errno %d", what, p, err);
        return;
    }
    if (size > m.bs) {
        CHECK(p == NULL && err == EINVAL, "%s of %zu bytes (block %zu): %p errno %d", what, size, m.bs, p,
              err);
        m.st.oversize_requests++;
        expect_report(EINVAL, NULL);
        return;
    }
    if (m.mode == M_LAWLESS) {
        if (p != NULL)
            pool_handed_out(p, what);
        else
            CHECK(err == ENOMEM || err == EFAULT, "%s: errno %d", what, err);
        return;
    }
    const size_t retired = retire_spoiled_now(what);
    if (model_nfree() <= margin) {
        if (waiting) { /* all it found free was retired: it waits again, until a deadline past */
            CHECK(p == NULL && err == ETIMEDOUT, "%s after retiring every free block: %p errno %d", what, p,
                  err);
            m.st.timeouts++;
            return;
        }
        CHECK(p == NULL && err == ENOMEM, "%s with %zu free, margin %zu: %p errno %d", what, model_nfree(),
              margin, p, err);
        m.st.failed_allocations++;
        return;
    }
    if (p != NULL) {
        pool_handed_out(p, what);
        return;
    }
    if (err == EFAULT && fill_fault(retired) && stats_now().corruptions == m.st.corruptions) {
        expect_report(EFAULT, NULL); /* a fifth block to retire: the next call goes on */
        return;
    }
    CHECK(err == EFAULT && damage_in_pool(), "%s failed (errno %d) with %zu blocks free", what, err,
          model_nfree());
    pool_fault(what);
}

void op_allocate(void)
{
    const size_t size = pick_size();
    enters = 0;
    errno = 0;
    void *p = am_onesize_allocate(&pool, size);
    const int err = errno, e = enters;
    expect_pool_allocation(p, err, size, 0, false, "allocate");
    check_enters(e, 1, 1, "allocate");
}

void op_allocate_x(void)
{
    const size_t size = pick_size();
    const unsigned sel = (unsigned)take(1);
    const size_t margin = sel == 0xff ? SIZE_MAX - (size_t)take(1) : pick(m.n + 2);
    enters = 0;
    errno = 0;
    void *p = am_onesize_allocate_x(&pool, size, margin);
    const int err = errno, e = enters;
    expect_pool_allocation(p, err, size, margin, false, "allocate_x");
    check_enters(e, 1, 1, "allocate_x");
}

#if defined(AM_HAVE_PTHREAD)
/* The other thread for a pool on the pthread adapter: once the waiter
 * sleeps (the pool counted the wait and the mutex is free again), it frees
 * a block, which must wake the waiter. */
static uint64_t helper_waits;
static int helper_result;

static void *helper_free(void *arg)
{
    (void)arg;
    for (;;) {
        struct am_onesize_stats s;
        CHECK(am_onesize_get_stats(&pool, &s) == 0, "get_stats from the other thread");
        if (s.waits > helper_waits)
            break;
        sched_yield();
    }
    helper_result = am_onesize_free(&pool, block(wait_block));
    return NULL;
}
#endif

/* allocate_wait: a wait either times out (every deadline the fuzzer passes
 * alone is in the past) or is ended by the "other thread": crit_wait plays
 * it for the fuzzer's own callbacks (a free or a cache flush), a real
 * thread for the pthread adapter (a free). */
void op_allocate_wait(void)
{
    const size_t size = pick_size();
    const unsigned dsel = (unsigned)take(1) % 5, act = (unsigned)take(1) % 3;
    const size_t ia = pick_held(), ca = (size_t)take(1) % NCACHES;
    static const struct timespec past = {0, 0};
    const struct timespec bad = {0, dsel == 3 ? -1 : 1000000000};
    const struct timespec *dl = dsel == 0 ? NULL : dsel >= 3 ? &bad : &past;
    const bool good_dl = dsel < 3;
    size_t nfree = model_nfree();
    if (m.live && m.mode == M_LAWLESS)
        nfree = stats_now().nfree;
    const bool waits = m.live && good_dl && m.waitable && size <= m.bs && nfree == 0;
    /* With blocks whose fill was written among the free ones, it may retire
     * them all and wait again: only with a deadline already past. */
    const bool spoiled = m.live && m.fill && m.mode != M_LAWLESS && spoiled_count() > 0;
    if (spoiled && good_dl)
        dl = &past;
    wait_action = 0;
    if (waits) {
        if (m.custom_wait && m.mode != M_LAWLESS && act == 1 && ia != SIZE_MAX && m.b[ia].forged == F_NONE) {
            wait_action = 1;
            wait_block = ia;
            verify_held(ia);
        } else if (m.custom_wait && m.mode != M_LAWLESS && act == 2 && mc[ca].st == C_BOUND &&
                   !mc[ca].lib_stale && mc[ca].n > 0) {
            wait_action = 2;
            wait_cache = ca;
        }
        if (wait_action == 0 && dl == NULL)
            dl = &past; /* nothing would ever wake it */
    }
    int action = wait_action;
#if defined(AM_HAVE_PTHREAD)
    pthread_t helper;
    struct timespec later;
    const bool threaded = waits && m.pthread_lock && m.mode != M_LAWLESS && act == 1 && ia != SIZE_MAX &&
                          m.b[ia].forged == F_NONE;
    if (threaded) {
        verify_held(ia);
        wait_block = ia;
        helper_waits = m.st.waits;
        CHECK(clock_gettime(CLOCK_MONOTONIC, &later) == 0, "clock_gettime");
        later.tv_sec += 5; /* far beyond the wake-up; a lost one times out */
        dl = &later;
        action = 1;
        CHECK(pthread_create(&helper, NULL, helper_free, NULL) == 0, "pthread_create");
    }
#endif
    enters = notifies = wait_calls = 0;
    errno = 0;
    void *p = am_onesize_allocate_wait(&pool, size, dl);
    const int err = errno, e = enters;
    wait_action = 0;
#if defined(AM_HAVE_PTHREAD)
    if (threaded) {
        CHECK(pthread_join(helper, NULL) == 0, "pthread_join");
        CHECK(helper_result == 0, "the other thread's free returned %d", helper_result);
        notifies = 1; /* the pthread adapter's are not seen */
    }
#endif
    if (!m.live || !good_dl) {
        CHECK(p == NULL && err == EINVAL, "allocate_wait (deadline %u): %p errno %d", dsel, p, err);
        check_enters(e, 0, 0, "allocate_wait with bad arguments");
        return;
    }
    if (!m.waitable) {
        /* Both ENOTSUP and, for an oversize request, EINVAL are documented. */
        CHECK(p == NULL && (err == ENOTSUP || (err == EINVAL && size > m.bs)), "allocate_wait: %p errno %d",
              p, err);
        if (err == EINVAL) {
            m.st.oversize_requests++;
            expect_report(EINVAL, NULL);
        }
        check_enters(e, 0, 1, "allocate_wait without wait callbacks");
        return;
    }
    check_enters(e, 1, 1, "allocate_wait");
    if (!waits) {
        CHECK(wait_calls == 0, "allocate_wait waited with %zu blocks free", nfree);
        expect_pool_allocation(p, err, size, 0, spoiled, "allocate_wait");
        return;
    }
    if (m.mode == M_LAWLESS) {
        CHECK(p == NULL && err == ETIMEDOUT, "allocate_wait with no block free: %p errno %d", p, err);
        return;
    }
    if (dl == &past) {
        /* A deadline already past: as am_onesize_allocate, no wait. */
        CHECK(wait_calls == 0, "allocate_wait with a past deadline called crit_wait %d times", wait_calls);
        CHECK(p == NULL && err == ETIMEDOUT, "allocate_wait, past deadline, no block free: %p errno %d", p,
              err);
        m.st.timeouts++;
        return;
    }
    m.st.waits++;
    if (m.custom_wait)
        CHECK(wait_calls == 1, "allocate_wait called crit_wait %d times", wait_calls);
    if (action == 0) {
        CHECK(p == NULL && err == ETIMEDOUT, "allocate_wait with no block free: %p errno %d", p, err);
        m.st.timeouts++;
        return;
    }
    /* The other thread gave blocks back, which must wake the waiter: it
     * then takes one as allocate would. */
    CHECK(notifies == 1, "giving blocks back to a waiter notified %d times", notifies);
    notifies = 0;
    if (action == 1)
        pool_took_back(wait_block);
    else
        flush_model(wait_cache, mc[wait_cache].n);
    if (p != NULL) {
        if (action == 1)
            CHECK(p == block(wait_block), "the waiter got %p, not the block just freed (%p)", p,
                  block(wait_block));
        pool_handed_out(p, "allocate_wait");
    } else {
        CHECK(err == EFAULT && damage_in_pool(), "woken allocate_wait failed: errno %d", err);
        pool_fault("allocate_wait");
    }
}

/* ---- frees ---------------------------------------------------------------- */

static void free_to_pool(void *p)
{
    size_t i = 0;
    const bool is_block = block_index(p, &i);
    if (is_block)
        verify_held(i);
    const enum verdict v = p == NULL ? V_OK : free_verdict(p, false);
    enters = 0;
    const int r = am_onesize_free(&pool, p);
    const int e = enters;
    if (!m.live || p == NULL) {
        CHECK(r == (p != NULL ? -EINVAL : 0), "free(%p) of a dead pool or NULL: %d", p, r);
        check_enters(e, 0, 0, "free(NULL)");
        return;
    }
    check_enters(e, 1, 1, "free");
    if (m.mode == M_LAWLESS) {
        CHECK(r == 0 || r == -EALREADY || r == -EFAULT || r == -EINVAL, "free(%p): %d", p, r);
        if (r == 0 && is_block)
            pool_took_back(i);
        return;
    }
    if (v == V_OK && m.mode == M_DAMAGED && i == m.d && m.b[i].st == B_FREE && r == -EALREADY &&
        (m.tracked || model_nfree() == m.n)) {
        /* The documented-undetected case, found all the same: a tracked
         * pool asks the memory debugger, which knows the block is free,
         * and a free into a pool whose every block is free is a double
         * free, always (amonesize.h). */
        count_verdict(V_EALREADY, EALREADY, p);
        return;
    }
    if (v == V_OK) {
        CHECK(r == 0, "free of block %zu returned %d", i, r);
        const bool undetected = m.mode == M_DAMAGED && i == m.d && m.b[i].st == B_FREE;
        pool_took_back(i);
        if (undetected)
            lawless("a free block written and then freed again");
        return;
    }
    const int want = verdict_errno(v);
    CHECK(verdict_allows(v, r), "free(%p) (block %zu: %s) returned %d, want -%d", p, is_block ? i : SIZE_MAX,
          is_block ? describe(i) : "not a block", r, want);
    count_verdict(v, -r, p);
}

void op_free_held(void)
{
    const size_t i = pick_held();
    if (i != SIZE_MAX)
        free_to_pool(block(i));
}

void op_free_block(void)
{
    free_to_pool(block(pick_block()));
}

void op_free_bad(void)
{
    free_to_pool(bad_pointer());
}

/* ---- bulk ----------------------------------------------------------------- */

static void *bulk[MAX_BULK + 1];

void op_allocate_bulk(void)
{
    const size_t n = (size_t)take(1) % MAX_BULK;
    const bool null_out = take(1) == 0xff;
    void *const sentinel = &bulk;
    for (size_t k = 0; k <= MAX_BULK; k++)
        bulk[k] = sentinel;
    enters = 0;
    errno = 0;
    const size_t got = am_onesize_allocate_bulk(&pool, null_out ? NULL : bulk, n);
    const int err = errno, e = enters;
    for (size_t k = got; k <= MAX_BULK; k++)
        CHECK(bulk[k] == sentinel, "allocate_bulk wrote out[%zu] beyond the %zu it returned", k, got);
    if (!m.live || (null_out && n > 0)) {
        CHECK(got == 0 && (err == EINVAL || (n == 0 && !m.live)), "allocate_bulk bad arguments: %zu errno %d",
              got, err);
        check_enters(e, 0, 0, "allocate_bulk with bad arguments");
        return;
    }
    check_enters(e, n == 0 ? 0 : 1, 1, "allocate_bulk");
    CHECK(got <= n, "allocate_bulk returned %zu of %zu", got, n);
    const size_t retired = retire_spoiled_now("allocate_bulk");
    for (size_t k = 0; k < got; k++)
        pool_handed_out(bulk[k], "allocate_bulk");
    if (got == n)
        return;
    if (m.mode == M_LAWLESS) {
        CHECK(err == ENOMEM || err == EFAULT, "allocate_bulk: errno %d", err);
        return;
    }
    if (model_nfree() == 0) {
        CHECK(err == ENOMEM, "allocate_bulk ran out: errno %d", err);
        m.st.failed_allocations++;
    } else if (err == EFAULT && fill_fault(retired) && stats_now().corruptions == m.st.corruptions) {
        expect_report(EFAULT, NULL); /* a fifth block to retire */
    } else {
        CHECK(err == EFAULT && damage_in_pool(),
              "allocate_bulk stopped at %zu of %zu with %zu free: errno %d", got, n, model_nfree(), err);
        pool_fault("allocate_bulk");
    }
}

void op_free_bulk(void)
{
    const unsigned shape = (unsigned)take(1);
    const size_t n = (size_t)take(1) % MAX_BULK;
    for (size_t k = 0; k < n; k++) {
        const unsigned sel = (unsigned)take(1) % 10;
        size_t i;
        if (sel < 5 || sel == 9)
            bulk[k] = (i = pick_held()) == SIZE_MAX ? NULL : block(i);
        else if (sel == 5)
            bulk[k] = NULL;
        else if (sel == 6)
            bulk[k] = k > 0 ? bulk[pick(k)] : NULL; /* given twice */
        else if (sel == 7)
            bulk[k] = block(pick_block());
        else
            bulk[k] = bad_pointer();
    }
    if (shape >= 0xfe) {
        enters = 0;
        const int r = shape == 0xfe ? am_onesize_free_bulk(&pool, NULL, n + 1)
                                    : am_onesize_free_bulk(&pool, bulk, (size_t)INT_MAX + 1);
        CHECK(r == -EINVAL, "free_bulk with bad arguments returned %d", r);
        check_enters(enters, 0, 0, "free_bulk with bad arguments");
        return;
    }
    /* The model's answer: each pointer as free would take it, a block
     * already freed earlier in the batch being a double free. */
    static uint32_t mark[MAX_BLOCKS], gen;
    gen++;
    size_t bad = SIZE_MAX;
    enum verdict badv = V_OK;
    /* The blocks are put back one by one: once as many went back as were
     * in use, the pool is full, and a free into a full pool is a double
     * free whatever the block holds (after the pointer checks). */
    const size_t inuse0 = m.live ? m.n - model_nfree() : 0;
    size_t pushed = 0;
    for (size_t k = 0; k < n && m.live; k++) {
        size_t i;
        if (bulk[k] == NULL)
            continue;
        const bool is_block = block_index(bulk[k], &i);
        enum verdict v = is_block && mark[i] == gen ? V_EALREADY : free_verdict(bulk[k], false);
        if (pushed >= inuse0 && m.mode != M_LAWLESS &&
            (v == V_OK || v == V_EFAULT || v == V_EALREADY_OR_EFAULT || v == V_EALREADY))
            v = V_EALREADY;
        pushed++;
        if (v != V_OK) {
            bad = k;
            badv = v;
            break;
        }
        mark[i] = gen;
        verify_held(i);
    }
    enters = 0;
    errno = 0;
    const int r = am_onesize_free_bulk(&pool, bulk, n);
    const int err = errno, e = enters;
    if (!m.live) {
        CHECK(r == -EINVAL, "free_bulk on a dead pool returned %d", r);
        return;
    }
    check_enters(e, 1, 1, "free_bulk");
    if (m.mode == M_LAWLESS) {
        CHECK(r >= 0 && (size_t)r <= n, "free_bulk returned %d", r);
        for (size_t k = 0; r == 0 && k < n; k++) {
            size_t i;
            if (bulk[k] != NULL && block_index(bulk[k], &i))
                pool_took_back(i);
        }
        return;
    }
    /* The documented-undetected case (the written free block in the batch)
     * may be found all the same: a tracked pool asks the debugger, and a
     * batch that would free more blocks than are handed out is a double
     * free wherever its count runs out. Rejected whole, as for any bad
     * pointer, at or before the one the model knows to be bad. */
    size_t kd = SIZE_MAX;
    for (size_t k = 0; k < n && kd == SIZE_MAX && m.mode == M_DAMAGED; k++) {
        size_t i;
        if (bulk[k] != NULL && block_index(bulk[k], &i) && i == m.d && m.b[i].st == B_FREE)
            kd = k;
    }
    if (kd != SIZE_MAX && err == EALREADY && r > 0 && (size_t)r <= n &&
        (bad == SIZE_MAX || (size_t)r - 1 <= bad)) {
        bad = (size_t)r - 1;
        badv = V_EALREADY;
    }
    if (bad == SIZE_MAX) {
        CHECK(r == 0, "free_bulk of %zu good pointers returned %d (errno %d)", n, r, err);
        bool undetected = false;
        for (size_t k = 0; k < n; k++) {
            size_t i;
            if (bulk[k] == NULL || !block_index(bulk[k], &i))
                continue;
            undetected = undetected || (m.mode == M_DAMAGED && i == m.d && m.b[i].st == B_FREE);
            pool_took_back(i);
        }
        if (undetected)
            lawless("a free block written and then freed again in a batch");
        return;
    }
    const int want = verdict_errno(badv);
    CHECK(r == (int)bad + 1, "free_bulk returned %d, model: pointer %zu (%p) is bad (errno %d)", r, bad,
          bulk[bad], want);
    CHECK(verdict_allows(badv, -err), "free_bulk rejected pointer %zu with errno %d, want %d", bad, err,
          want);
    count_verdict(badv, err, bulk[bad]);
    /* Nothing was freed; the blocks before the bad one keep their contents
     * except maybe their first two words, which their owners write again. */
    for (size_t k = 0; k < bad; k++) {
        size_t i;
        if (bulk[k] == NULL || !block_index(bulk[k], &i))
            continue;
        struct mblock *b = &m.b[i];
        if (b->st == B_HELD) {
            b->dirty = true;
            verify_held(i);
            memset(block(i), b->fill, 2 * sizeof(uintptr_t));
            b->dirty = false;
            b->forged = F_NONE;
        } else if (m.mode == M_DAMAGED && i == m.d) {
            m.dwords |= 2; /* put on the list and taken off: its check word is cleared */
        }
    }
}

/* ---- free_all, iteration -------------------------------------------------- */

void op_free_all(void)
{
    const size_t lagged = m.live ? stats_now().cached : 0;
    enters = 0;
    am_onesize_free_all(&pool);
    check_enters(enters, 1, 1, "free_all");
    if (!m.live)
        return;
    if (m.mode == M_LAWLESS) {
        /* The model knew nothing exact; it starts again from the counters. */
        rep_clear();
        const struct am_onesize_stats s = stats_now();
        m.st = s;
        m.pool_retires = 0;
        m.nfree_min = s.nfree_min;
    } else {
        /* free_all reclaims what stats.cached says: what each cache held
         * when it last traded with the pool. */
        const size_t reclaimed = lagged;
        m.st.freed_by_free_all += m.n - model_nfree();
        m.st.cache_reclaimed += reclaimed;
        if (reclaimed != 0)
            expect_report(ESTALE, NULL);
    }
    for (size_t i = 0; i < m.n; i++) {
        m.b[i].st = B_NEVER;
        m.b[i].spoiled = false;
    }
    m.ncarved = m.pool_free = m.lost = m.retired = m.nstack = 0;
    m.mode = M_EXACT;
    drop_caches_model();
}

static struct {
    size_t n;
    void *v[MAX_BLOCKS];
} vis;

static void visit_cb(void *ctx, size_t index, void *blk, size_t size)
{
    CHECK(ctx == &vis, "iterate passed ctx %p", ctx);
    if (m.custom_lock)
        CHECK(depth == 1, "iterate's callback runs outside the critical section");
    CHECK(index == vis.n && size == m.bs, "iterate callback %zu: index %zu, size %zu", vis.n, index, size);
    CHECK(vis.n < MAX_BLOCKS, "iterate visited more blocks than the pool has");
    vis.v[vis.n++] = blk;
    size_t i;
    if (block_index(blk, &i) && m.b[i].st == B_HELD)
        verify_held(i); /* the callback may read the block it is given */
}

void op_iterate(void)
{
    const unsigned sel = (unsigned)take(1);
    size_t num = sel % 12;
    if (sel >= 0xf0)
        num = SIZE_MAX - (size_t)take(1);
    const bool null_cb = sel == 0xef;
    vis.n = 0;
    enters = 0;
    errno = 0;
    const size_t r = am_onesize_iterate_over_allocated(&pool, num, null_cb ? NULL : visit_cb, &vis);
    const int err = errno, e = enters;
    if (!m.live || null_cb) {
        CHECK(r == 0 && err == EINVAL && vis.n == 0, "iterate with bad arguments: %zu errno %d", r, err);
        check_enters(e, 0, 0, "iterate with bad arguments");
        return;
    }
    check_enters(e, 1, 1, "iterate");
    CHECK(r == vis.n || (r == 0 && err == EFAULT && vis.n == 0), "iterate returned %zu, visited %zu", r,
          vis.n);
    if (m.mode == M_LAWLESS)
        return;
    if (damage_in_pool()) {
        CHECK(r == 0 && err == EFAULT && vis.n == 0, "iterate over a damaged list: %zu errno %d", r, err);
        m.st.corruptions++;
        expect_report(EFAULT, NULL);
        return;
    }
    /* Allocated: every block handed out since construction or free_all
     * that is not free in the pool, cached ones included, by address. */
    size_t k = 0;
    for (size_t i = 0; i < m.ncarved && (num == 0 || k < num); i++) {
        const struct mblock *b = &m.b[i];
        if (b->st == B_FREE && (b->loc & LOC_POOL)) {
            CHECK(b->loc == LOC_POOL, "model: block %zu unresolved before iterate", i);
            continue;
        }
        if (b->st == B_LOST && m.state)
            continue; /* its bit says it is not handed out */
        CHECK(k < vis.n && vis.v[k] == block(i), "iterate's block %zu is %p, want block %zu", k,
              k < vis.n ? vis.v[k] : NULL, i);
        k++;
    }
    CHECK(k == vis.n, "iterate visited %zu blocks, model %zu", vis.n, k);
}

/* ---- misuse of block memory ---------------------------------------------- */

/* Caller data that looks like a free block: the free pattern with an even
 * link, or a parked block (what a cache's blocks carry; an odd link is the
 * park mark, amonesize/inline.h). Only someone who knows the pool's key can
 * write either: the test hooks stand for that. */
void op_forge(void)
{
    const size_t i = pick_held();
    const unsigned kind = (unsigned)take(1) % 4, lsel = (unsigned)take(1) % 3;
    const uintptr_t v = (uintptr_t)take(8);
    const size_t j = pick_block();
    if (i == SIZE_MAX || m.mode == M_LAWLESS)
        return;
    struct mblock *b = &m.b[i];
    void *p = block(i);
    switch (kind) {
    case 0:
        am_test_forge_free_pattern(&pool, p,
                                   lsel == 0   ? 0
                                   : lsel == 1 ? (uintptr_t)block(j)
                                               : v & ~(uintptr_t)1);
        b->forged = F_FREE;
        break;
    case 1:
        am_test_forge_parked(&pool, p);
        b->forged = F_PARKED;
        break;
    case 2: /* an odd link, but not the park mark: caller data that only
               looks free (the walk finds it on no list) */
        am_test_forge_free_pattern(&pool, p, v | 1);
        b->forged = F_FREE;
        break;
    default: /* the owner writes its data back */
        memset(p, b->fill, 2 * sizeof(uintptr_t));
        b->forged = F_NONE;
        b->dirty = false;
        return;
    }
    b->dirty = true;
}

/* A use after free beyond a free block's first two words: one byte at any
 * offset, in a block on the pool's list (where, 0), in cache where - 1, or
 * never handed out (v1 bit 8). Only AM_ONESIZE_CHECK_FREED notices, and
 * only on the pool's list, where every freed block is filled: a cache
 * refills a block it gives back, and reuses its own without a look
 * (amonesize.h, "The hardened mode"); a never-used block is not filled. */
static void spoil(unsigned where, size_t k0, uintptr_t v0, uintptr_t v1)
{
    const size_t words = 2 * sizeof(uintptr_t);
    if (!m.live || m.mode == M_LAWLESS || m.bs <= words)
        return;
    const bool never = (v1 >> 8) & 1;
    const uint8_t want = where == 0 ? (uint8_t)LOC_POOL : (uint8_t)LOC_CACHE(where - 1);
    size_t count = 0, i = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = pass == 0 ? 0 : k0 % count;
        for (i = 0; i < m.n; i++) {
            const struct mblock *b = &m.b[i];
            const bool fits = never
                                  ? b->st == B_NEVER
                                  : b->st == B_FREE && b->loc == want && !(m.mode == M_DAMAGED && i == m.d) &&
                                        !b->spoiled && (want != LOC_POOL || b->on_list || !m.fill);
            if (!fits)
                continue;
            if (pass == 0)
                count++;
            else if (k-- == 0)
                break;
        }
        if (count == 0)
            return;
    }
    unsigned char *p = (unsigned char *)block(i) + words + v0 % (m.bs - words);
    poke_byte(p, (unsigned char)(peek_byte(p) ^ (1 + v1 % 255)));
    if (m.fill && !never && want == LOC_POOL)
        m.b[i].spoiled = true;
    if (tracing()) /* (a second write could undo the first: one per block) */
        fprintf(stderr, "  wrote byte %zu of block %zu (%s)\n", (size_t)(p - (unsigned char *)block(i)), i,
                describe(i));
}

/* A use after free: the first two words of a free block (on the pool's
 * list, in its depot, or in a cache) are overwritten. */
void op_damage(void)
{
    const unsigned where = (unsigned)take(1) % (1 + NCACHES);
    const size_t k0 = (size_t)take(2);
    const unsigned mbyte = (unsigned)take(1), mask = 1 + mbyte % 3;
    const uintptr_t v0 = (uintptr_t)take(8), v1 = (uintptr_t)take(8);
    if (mbyte >= 0x80) {
        spoil(where, k0, v0, v1);
        return;
    }
    if (!m.live || m.mode != M_EXACT)
        return;
    const uint8_t want = where == 0 ? (uint8_t)LOC_POOL : (uint8_t)LOC_CACHE(where - 1);
    size_t count = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        count += m.b[i].st == B_FREE && m.b[i].loc == want;
    if (count == 0)
        return;
    size_t k = k0 % count, i = 0;
    for (; i < m.ncarved; i++)
        if (m.b[i].st == B_FREE && m.b[i].loc == want && k-- == 0)
            break;
    if (m.b[i].spoiled)
        return; /* one kind of damage per block */
    void *blk = block(i);
    uintptr_t w[2], nw[2];
    peek_words(blk, w);
    /* What it holds now, by the engine's own predicates. */
    const uintptr_t key = am_test_key(&pool), pos = am_onesize_impl_pos(&pool, blk, 0);
    const bool parked = am_onesize_impl_is_parked(key, am_onesize_impl_park_mark(key), pos, w) != 0;
    const bool listed = !parked && am_onesize_impl_is_free_pattern(key, pos, w) != 0;
    CHECK(parked || listed, "free block %zu (loc 0x%x) does not carry the free pattern", i, want);
    CHECK(want == LOC_POOL || parked, "block %zu in cache %u is not parked", i, where - 1);
    CHECK(!m.b[i].on_list || listed, "block %zu freed to the pool is not on its list", i);
    CHECK(!m.tracked || listed, "a tracked pool parked block %zu", i);
    nw[0] = mask & 1 ? v0 : w[0];
    nw[1] = mask & 2 ? v1 : w[1];
    if (am_onesize_impl_is_free_pattern(key, pos, nw))
        return; /* unchanged, or a forgery of the key: not this operation */
    poke_words(blk, nw);
    m.mode = M_DAMAGED;
    m.d = i;
    m.dwords = (nw[0] != w[0] ? 1u : 0u) | (nw[1] != w[1] ? 2u : 0u);
    m.dwhere = want != LOC_POOL ? D_CACHE : parked ? D_DEPOT : D_LIST;
    m.dreached = false;
    if (m.dwhere == D_LIST) {
        /* Nothing is ever linked below it, and nothing below it leaves: the
         * blocks that may be there now are all there ever will be. */
        for (size_t j = 0; j < m.ncarved; j++) {
            struct mblock *o = &m.b[j];
            o->below_d = j != i && o->st == B_FREE && (o->loc & LOC_POOL) && o->since <= m.b[i].since;
        }
    }
}

void op_verify(void)
{
    for (size_t i = 0; i < m.ncarved; i++)
        if (m.b[i].st == B_HELD)
            verify_held(i);
}

/* ---- bad arguments -------------------------------------------------------- */

static void dead_pool_calls(struct am_onesize *os)
{
    void *p = NULL;
    errno = 0;
    CHECK(am_onesize_allocate(os, 1) == NULL && errno == EINVAL, "allocate on a dead pool");
    errno = 0;
    CHECK(am_onesize_allocate_x(os, 1, 0) == NULL && errno == EINVAL, "allocate_x on a dead pool");
    errno = 0;
    CHECK(am_onesize_allocate_wait(os, 1, NULL) == NULL && errno == EINVAL, "allocate_wait on a dead pool");
    CHECK(am_onesize_free(os, foreign_held) == -EINVAL, "free on a dead pool");
    CHECK(am_onesize_free(os, NULL) == 0, "free(NULL) on a dead pool");
    am_onesize_free_all(os);
    CHECK(am_onesize_get_nfree(os) == 0 && am_onesize_get_nfree_min(os) == 0, "nfree of a dead pool");
    CHECK(am_onesize_get_block_size(os) == 0 && am_onesize_get_nblocks(os) == 0, "geometry of a dead pool");
    CHECK(am_onesize_check(os) == -EINVAL, "check of a dead pool");
    errno = 0;
    CHECK(am_onesize_iterate_over_allocated(os, 0, visit_cb, &vis) == 0 && errno == EINVAL, "iterate dead");
    errno = 0;
    CHECK(am_onesize_allocate_bulk(os, &p, 1) == 0 && errno == EINVAL, "allocate_bulk on a dead pool");
    CHECK(am_onesize_free_bulk(os, &p, 1) == -EINVAL, "free_bulk on a dead pool");
    if (os != NULL) {
        struct am_onesize_stats s;
        memset(&s, 0x5a, sizeof s);
        CHECK(am_onesize_get_stats(os, &s) == -EINVAL && s.allocations == 0 && s.nblocks == 0,
              "get_stats of a dead pool zeroes its output");
        struct am_onesize_cache c;
        memset(&c, 0x77, sizeof c);
        CHECK(am_onesize_cache_init(&c, os, 0) == -EINVAL, "cache_init on a dead pool");
        errno = 0;
        CHECK(am_onesize_cache_allocate(&c, 1) == NULL && errno == EINVAL, "a cache whose init failed");
        CHECK(am_onesize_cache_free(&c, foreign_held) == -EINVAL, "a cache whose init failed");
        am_onesize_cache_flush(&c);
        CHECK(am_onesize_cache_get_ncached(&c) == 0, "a cache whose init failed");
    }
    am_onesize_dtor(os);
}

#if defined(AM_HAVE_PTHREAD)
/* Another thread inside the critical section (holding the adapter's mutex)
 * while this one calls into the pool: the adapter's contended path. */
static int holder_has_it;

static void *holder(void *mutex)
{
    CHECK(pthread_mutex_lock((pthread_mutex_t *)mutex) == 0, "the other thread's lock");
    __atomic_store_n(&holder_has_it, 1, __ATOMIC_RELEASE);
    const struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
    CHECK(pthread_mutex_unlock((pthread_mutex_t *)mutex) == 0, "the other thread's unlock");
    return NULL;
}

static void contended_call(void)
{
    pthread_t t;
    pthread_mutex_t *mx = m.waitable ? &fuzz_sync.mutex : &fuzz_mutex;
    __atomic_store_n(&holder_has_it, 0, __ATOMIC_RELEASE);
    CHECK(pthread_create(&t, NULL, holder, mx) == 0, "pthread_create");
    while (!__atomic_load_n(&holder_has_it, __ATOMIC_ACQUIRE))
        sched_yield();
    const size_t n = am_onesize_get_nfree(&pool);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(m.mode == M_LAWLESS || n == model_nfree(), "nfree %zu after waiting for the lock, model %zu", n,
          model_nfree());
}
#endif

void op_misc(void)
{
    const unsigned sel = (unsigned)take(1) % 8;
    static struct am_onesize zeroed;
    struct am_onesize_stats s;
    enters = 0;
    switch (sel) {
    case 0:
        dead_pool_calls(&zeroed);
        break;
    case 1:
        dead_pool_calls(NULL);
        break;
    case 2: {
        memset(&s, 0x6b, sizeof s);
        CHECK(am_onesize_get_stats(NULL, &s) == -EINVAL && s.nblocks == (size_t)0x6b6b6b6b6b6b6b6bu,
              "get_stats(NULL, out) leaves out untouched");
        CHECK(am_onesize_get_stats(&pool, NULL) == -EINVAL, "get_stats(os, NULL)");
        CHECK(am_onesize_check(NULL) == -EINVAL, "check(NULL)");
        struct am_onesize tmp;
        memset(&tmp, 0x33, sizeof tmp);
        const struct am_onesize_cfg cfg = {.pool = {foreign_buf, sizeof foreign_buf}, .block_size = 8};
        CHECK(am_onesize_ctor(NULL, &cfg) == -EINVAL, "ctor(NULL, cfg)");
        CHECK(am_onesize_ctor(&tmp, NULL) == -EINVAL && am_onesize_get_nblocks(&tmp) == 0,
              "ctor(os, NULL) leaves os zeroed");
        break;
    }
    case 3: {
        void *p = NULL;
        errno = 0;
        CHECK(am_onesize_cache_allocate(NULL, 1) == NULL && errno == EINVAL, "cache_allocate(NULL)");
        CHECK(am_onesize_cache_free(NULL, foreign_held) == -EINVAL, "cache_free(NULL, p)");
        CHECK(am_onesize_cache_free(NULL, NULL) == 0, "cache_free(NULL, NULL)");
        am_onesize_cache_flush(NULL);
        CHECK(am_onesize_cache_get_ncached(NULL) == 0, "cache_get_ncached(NULL)");
        CHECK(am_onesize_cache_init(NULL, &pool, 0) == -EINVAL, "cache_init(NULL)");
        struct am_onesize_cache c;
        memset(&c, 0x11, sizeof c);
        CHECK(am_onesize_cache_init(&c, NULL, 0) == -EINVAL, "cache_init(c, NULL)");
        CHECK(am_onesize_cache_allocate(&c, 1) == NULL, "a cache whose init failed");
        memset(&c, 0x22, sizeof c);
        CHECK(am_onesize_cache_init(&c, &pool, AM_ONESIZE_CACHE_MAX + 1) == -EINVAL, "capacity too large");
        CHECK(am_onesize_cache_free(&c, foreign_held) == -EINVAL && am_onesize_cache_free(&c, NULL) == 0,
              "a cache whose init failed");
        (void)p;
        break;
    }
    case 4: {
#if defined(AM_HAVE_PTHREAD)
        struct am_onesize_cfg cfg = {0};
        struct am_onesize_pthread sync;
        CHECK(am_onesize_pthread_set_crit(NULL, &fuzz_mutex) == -EINVAL, "set_crit(NULL, m)");
        CHECK(am_onesize_pthread_set_crit(&cfg, NULL) == -EINVAL && cfg.crit_enter == NULL,
              "set_crit(cfg, NULL)");
        CHECK(am_onesize_pthread_set_sync(NULL, &fuzz_sync) == -EINVAL, "set_sync(NULL, s)");
        CHECK(am_onesize_pthread_set_sync(&cfg, NULL) == -EINVAL && cfg.crit_wait == NULL,
              "set_sync(cfg, NULL)");
        CHECK(am_onesize_pthread_init(NULL) == -EINVAL, "pthread_init(NULL)");
        am_onesize_pthread_destroy(NULL);
        CHECK(am_onesize_pthread_init(&sync) == 0, "pthread_init");
        am_onesize_pthread_destroy(&sync);
#endif
        break;
    }
    case 5: {
        void *p = NULL;
        CHECK(am_onesize_free_bulk(&pool, NULL, 0) == (m.live ? 0 : -EINVAL), "free_bulk of nothing");
        CHECK(am_onesize_allocate_bulk(&pool, NULL, 0) == 0, "allocate_bulk of nothing");
        CHECK(am_onesize_allocate_bulk(&pool, &p, 0) == 0 && p == NULL, "allocate_bulk of nothing");
        enters = 0;
        break;
    }
    case 6:
#if defined(AM_HAVE_PTHREAD)
        if (m.live && m.pthread_lock)
            contended_call();
#endif
        break;
    default:
        CHECK(am_onesize_get_block_size(&pool) == m.bs && am_onesize_get_nblocks(&pool) == m.n, "geometry");
        break;
    }
    check_enters(enters, 0, 0, "calls with bad arguments");
}
