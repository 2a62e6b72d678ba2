/* SPDX-License-Identifier: MIT */
/* The reference model: where every block is, what the counters must say,
 * and the checks made after every operation. See fuzz.h for its shape. */
#include "fuzz.h"

struct model m;
struct mcache mc[NCACHES];
struct am_onesize_cache caches[NCACHES];
struct am_onesize pool;

/* ---- geometry ------------------------------------------------------------- */

void *block(size_t i)
{
    return (void *)(m.base + i * m.bs);
}

bool in_pool_span(uintptr_t p)
{
    return m.live && p >= m.base && p - m.base < m.n * m.bs;
}

bool block_index(const void *p, size_t *i)
{
    const uintptr_t a = (uintptr_t)p;
    if (!in_pool_span(a) || (a - m.base) % m.bs != 0)
        return false;
    *i = (a - m.base) / m.bs;
    return true;
}

size_t model_nfree(void)
{
    return m.pool_free + (m.n - m.ncarved);
}

size_t model_cached(void)
{
    size_t n = m.orphans;
    for (size_t c = 0; c < NCACHES; c++)
        if (mc[c].st == C_BOUND)
            n += mc[c].n;
    return n;
}

const char *describe(size_t i)
{
    static char s[96];
    const struct mblock *b = &m.b[i];
    static const char *const names[] = {"never handed out", "held", "free", "out of service"};
    snprintf(s, sizeof s, "%s (loc 0x%x, since %u%s%s%s)", names[b->st], b->loc, b->since,
             b->on_list ? ", listed" : "", b->below_d ? ", below the damage" : "",
             m.mode == M_DAMAGED && i == m.d ? ", damaged" : "");
    return s;
}

/* ---- blocks changing hands ------------------------------------------------ */

/* The owner of a block fills all of it: the library must not write into a
 * block it handed out (except the first two words of a rejected bulk free). */
void give_to_owner(size_t i)
{
    struct mblock *b = &m.b[i];
    b->st = B_HELD;
    b->forged = F_NONE;
    b->dirty = false;
    b->on_list = false;
    b->below_d = false;
    b->spoiled = false;
    if (m.mode == M_LAWLESS)
        return; /* another owner may have it too: hands off its memory */
    b->fill = m.next_fill++;
    memset(block(i), b->fill, m.bs);
}

void verify_held(size_t i)
{
    const struct mblock *b = &m.b[i];
    if (m.mode == M_LAWLESS || b->st != B_HELD)
        return;
    const unsigned char *p = block(i);
    for (size_t k = b->dirty ? 2 * sizeof(uintptr_t) : 0; k < m.bs; k++)
        CHECK(p[k] == b->fill, "held block %zu byte %zu is 0x%02x, its owner wrote 0x%02x", i, k, p[k],
              b->fill);
}

/* The valid top of the stack of blocks freed to the pool: entries whose
 * block left the pool (or came back later) are dropped, entries whose block
 * may have gone to a cache are skipped. */
static size_t above; /* the block surely_on_list_above found, for messages */

bool surely_on_list_above(uint32_t since, size_t except)
{
    above = m.d;
    if (m.mode == M_DAMAGED && m.dwhere == D_LIST && m.d != except && m.b[m.d].since > since)
        return true;
    for (size_t k = m.nstack; k-- > 0;) {
        const size_t i = m.stack[k];
        const struct mblock *b = &m.b[i];
        const bool gone =
            b->st != B_FREE || !(b->loc & LOC_POOL) || !b->on_list || b->since != m.stack_since[k];
        if (gone) {
            if (k == m.nstack - 1)
                m.nstack--;
            continue;
        }
        if (b->loc != LOC_POOL)
            continue; /* maybe taken by a refill */
        above = i;
        return i != except && b->since > since;
    }
    return false;
}

static void stack_push(size_t i)
{
    if (m.nstack == sizeof m.stack / sizeof m.stack[0]) {
        size_t kept = 0; /* compact: at most one live entry per block */
        for (size_t k = 0; k < m.nstack; k++) {
            const struct mblock *b = &m.b[m.stack[k]];
            if (b->st == B_FREE && (b->loc & LOC_POOL) && b->on_list && b->since == m.stack_since[k]) {
                m.stack[kept] = m.stack[k];
                m.stack_since[kept++] = m.stack_since[k];
            }
        }
        m.nstack = kept;
    }
    m.stack[m.nstack] = i;
    m.stack_since[m.nstack++] = m.b[i].since;
}

void lawless(const char *why)
{
    if (tracing())
        fprintf(stderr, "  lawless until free_all or ctor: %s\n", why);
    m.mode = M_LAWLESS;
}

static void lawless_take(size_t i)
{
    m.b[i].st = B_HELD;
    m.b[i].forged = F_NONE;
    if (i >= m.ncarved) /* blocks are carved in order: every one before it was too */
        m.ncarved = i + 1;
    if (m.ncarved > m.ncarved_max)
        m.ncarved_max = m.ncarved;
}

/* A block the pool handed out by allocate, allocate_x, allocate_wait or
 * allocate_bulk: the most recently freed block, or else a block caches gave
 * back, or else the next never-used one (amonesize.h). */
void pool_handed_out(void *p, const char *what)
{
    size_t i;
    CHECK(block_index(p, &i), "%s handed out %p, not a block start", what, p);
    if (m.mode == M_LAWLESS) {
        lawless_take(i);
        return;
    }
    struct mblock *b = &m.b[i];
    /* AM_ONESIZE_CHECK_FREED: the fill of the block the pool hands out is
     * checked first, so no block written after it was freed is handed out,
     * and none is left above the one handed out (retire_spoiled_now took
     * out of service those the call retired). */
    CHECK(!b->spoiled, "%s handed out block %zu, its fill written after it was freed", what, i);
    const uint32_t at = b->st == B_NEVER                         ? 0
                        : b->loc != LOC_POOL && !b->alt_is_cache ? b->alt_since
                                                                 : b->since;
    for (size_t j = 0; j < m.ncarved; j++)
        CHECK(
            !m.b[j].spoiled || m.b[j].since < at,
            "%s handed out block %zu (%s), but block %zu, freed after it and its fill written, is still free",
            what, i, describe(i), j);
    if (b->st == B_NEVER) {
        CHECK(i == m.ncarved, "%s handed out never-used block %zu, the next one is %zu", what, i, m.ncarved);
        CHECK(m.pool_free == 0, "%s handed out never-used block %zu while %zu freed blocks were free", what,
              i, m.pool_free);
        if (++m.ncarved > m.ncarved_max)
            m.ncarved_max = m.ncarved;
    } else {
        CHECK(b->st == B_FREE && (b->loc & LOC_POOL), "%s handed out block %zu, which is %s", what, i,
              describe(i));
        /* A block that may still be in a cache since a partial flush got to
         * the pool, if it did, when that flush ran. */
        const uint32_t since = b->loc != LOC_POOL && !b->alt_is_cache ? b->alt_since : b->since;
        CHECK(!surely_on_list_above(since, i),
              "%s handed out block %zu (%s), but block %zu, freed after it, is still on the free list", what,
              i, describe(i), above);
        /* amonesize.h: after EFAULT, allocations fail while the damaged
         * block is first on the list; blocks freed since come first. */
        if (m.mode == M_DAMAGED && i == m.d) {
            CHECK(m.dwhere != D_LIST, "%s handed out damaged block %zu from the free list", what, i);
            /* amonesize_cache.h: a write into the check word is found, one
             * into the first word only is not. */
            CHECK(m.dwhere == D_DEPOT_OR_HEALED || !(m.dwords & 2),
                  "%s handed out block %zu, its check word written while it waited in the depot", what, i);
            m.mode = M_EXACT;
        }
        m.pool_free--;
    }
    give_to_owner(i);
    m.st.allocations++;
}

/* Block i was freed to the pool (free, bulk free, or a cache passing it on). */
void pool_took_back(size_t i)
{
    struct mblock *b = &m.b[i];
    if (m.mode == M_LAWLESS) {
        b->st = B_FREE;
        b->loc = LOC_POOL;
        return;
    }
    if (b->st == B_LOST)
        m.lost--;
    b->st = B_FREE;
    b->loc = LOC_POOL;
    b->on_list = true;
    b->below_d = false;
    b->spoiled = false;
    b->since = ++m.clock;
    stack_push(i);
    m.pool_free++;
    m.st.frees++;
}

/* Block i was parked in cache c by am_onesize_cache_free. */
void free_in_cache(size_t i, size_t c)
{
    struct mblock *b = &m.b[i];
    if (m.mode == M_LAWLESS) {
        b->st = B_FREE;
        b->loc = LOC_CACHE(c);
        return;
    }
    if (b->st == B_LOST)
        m.lost--;
    b->st = B_FREE;
    b->loc = (uint8_t)LOC_CACHE(c);
    b->on_list = false;
    b->below_d = false;
    b->spoiled = false;
    b->since = ++m.clock;
    mc[c].n++;
    mc[c].top = (long)i;
}

/* The damaged block was found and taken out of service (the caller moves
 * the count it was in). */
void lose_damaged(void)
{
    CHECK(m.mode == M_DAMAGED, "a block was taken out of service without damage");
    m.b[m.d].st = B_LOST;
    m.lost++;
    m.retired++;
    m.mode = M_EXACT;
}

static int cmp_u32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Cache c gives k blocks to the pool: all it holds, or the k it has held
 * longest (amonesize_cache.h). Which of several blocks that arrived
 * together is not specified: those stay "in the cache or the pool" until
 * a walk tells. */
void flush_model(size_t c, size_t k)
{
    if (k == 0)
        return;
    CHECK(k <= mc[c].n, "model: flushing %zu of %zu", k, mc[c].n);
    const uint8_t bit = (uint8_t)LOC_CACHE(c);
    const uint32_t stamp = ++m.clock;
    size_t nsure = 0, nmaybe = 0;
    static uint32_t sinces[MAX_BLOCKS];
    for (size_t i = 0; i < m.ncarved; i++) {
        const struct mblock *b = &m.b[i];
        if (b->st == B_FREE && (b->loc & bit)) {
            if (b->loc == bit)
                sinces[nsure++] = b->since;
            else
                nmaybe++;
        }
    }
    uint32_t below = 0, at = 0; /* blocks older than `below` go; those at `at` may */
    bool all = k == mc[c].n, exact = false;
    if (!all && nmaybe == 0 && nsure == mc[c].n) {
        qsort(sinces, nsure, sizeof sinces[0], cmp_u32);
        at = sinces[k - 1];
        below = at;
        exact = k == nsure || sinces[k] != at;
    }
    for (size_t i = 0; i < m.ncarved; i++) {
        struct mblock *b = &m.b[i];
        if (b->st != B_FREE || !(b->loc & bit))
            continue;
        bool goes, maybe;
        if (all) {
            goes = b->loc == bit;
            maybe = !goes;
        } else if (nmaybe == 0 && nsure == mc[c].n) {
            goes = b->since < below || (exact && b->since == at);
            maybe = !exact && b->since == at;
        } else {
            goes = false;
            maybe = true;
        }
        if (goes) {
            b->loc = LOC_POOL;
            b->on_list = false;
            b->since = stamp;
        } else if (maybe) {
            b->on_list = false;
            if (all) {
                b->loc = (uint8_t)((b->loc & ~bit) | LOC_POOL);
                b->alt_is_cache = true;
                b->alt_since = b->since;
                b->since = stamp;
            } else {
                b->loc |= LOC_POOL;
                b->alt_is_cache = false;
                b->alt_since = stamp;
            }
        } else {
            continue;
        }
        if (m.mode == M_DAMAGED && i == m.d)
            m.dwhere = D_DEPOT_OR_HEALED;
    }
    m.pool_free += k;
    mc[c].n -= k;
    if (mc[c].n == 0 || all)
        mc[c].top = -1;
    m.st.frees += k;
}

/* Cache c, empty, took `taken` blocks from the pool. Which ones is the
 * library's choice among the pool's free blocks, never-used ones last. */
void refill_model(size_t c, size_t taken, void *handed, const char *what)
{
    (void)handed;
    if (taken == 0)
        return;
    const uint8_t bit = (uint8_t)LOC_CACHE(c);
    /* Blocks whose fill was written and not retired stayed in the pool: the
     * refill checks every block it takes (AM_ONESIZE_CHECK_FREED). */
    const size_t nspoiled = spoiled_count();
    const size_t p0 = m.pool_free - nspoiled;
    const size_t carve = taken > p0 ? taken - p0 : 0;
    CHECK(carve == 0 || nspoiled == 0, "%s: a refill carved blocks while %zu spoiled ones were on the list",
          what, nspoiled);
    CHECK(carve <= m.n - m.ncarved, "%s: a refill of %zu, but only %zu blocks were free", what, taken,
          model_nfree());
    const uint32_t stamp = ++m.clock;
    const bool every = taken >= p0; /* every freed block in the pool went */
    for (size_t i = 0; i < m.ncarved; i++) {
        struct mblock *b = &m.b[i];
        if (b->st != B_FREE || !(b->loc & LOC_POOL) || b->spoiled)
            continue;
        if (every) {
            b->loc = (uint8_t)((b->loc & ~LOC_POOL) | bit);
            b->since = stamp;
            b->on_list = false;
        } else {
            b->loc |= bit; /* maybe: a walk will tell */
            b->alt_is_cache = true;
            b->alt_since = stamp;
        }
    }
    for (size_t i = m.ncarved; i < m.ncarved + carve; i++) {
        struct mblock *b = &m.b[i];
        b->st = B_FREE;
        b->loc = bit;
        b->since = stamp;
        b->on_list = false;
        b->below_d = false;
    }
    m.ncarved += carve;
    if (m.ncarved > m.ncarved_max)
        m.ncarved_max = m.ncarved;
    m.pool_free -= taken - carve;
    mc[c].n += taken;
    mc[c].top = -1;
    m.st.allocations += taken;
}

/* Cache c handed p out of its array. */
void cache_handed_out(size_t c, void *p)
{
    size_t i;
    CHECK(block_index(p, &i), "cache %zu handed out %p, not a block start", c, p);
    if (m.mode == M_LAWLESS) {
        lawless_take(i);
        return;
    }
    struct mblock *b = &m.b[i];
    CHECK(b->st == B_FREE && (b->loc & LOC_CACHE(c)), "cache %zu handed out block %zu, which is %s", c, i,
          describe(i));
    CHECK(mc[c].top < 0 || (size_t)mc[c].top == i,
          "cache %zu handed out block %zu, not block %ld, the last one freed into it", c, i, mc[c].top);
    if (m.mode == M_DAMAGED && i == m.d) {
        /* A write into a block while it sits in a cache is not detected
         * (amonesize_cache.h); one made while it waited in the depot is. */
        CHECK(m.dwhere == D_CACHE || m.dwhere == D_DEPOT_OR_HEALED || !(m.dwords & 2),
              "cache %zu handed out block %zu, its check word written while it waited in the depot", c, i);
        m.mode = M_EXACT;
    }
    mc[c].n--;
    mc[c].top = -1;
    give_to_owner(i);
}

/* free_all or a new ctor: every cache's blocks are the pool's; each cache
 * drops them at its next call. */
void drop_caches_model(void)
{
    for (size_t c = 0; c < NCACHES; c++) {
        if (mc[c].st == C_BOUND) {
            mc[c].lib_holds = mc[c].lib_holds || mc[c].n > 0;
            mc[c].lib_stale = true;
        }
        mc[c].n = 0;
        mc[c].top = -1;
    }
    m.orphans = 0;
}

/* ---- the exact answer of a free ------------------------------------------- */

/* What freeing p to the pool answers (amonesize.h, am_onesize_free), and,
 * through a cache, for everything but a plainly held block (which the cache
 * keeps). */
enum verdict free_verdict(const void *p, bool via_cache)
{
    (void)via_cache;
    size_t i;
    if (!block_index(p, &i))
        return in_pool_span((uintptr_t)p) ? V_EINVAL_IN : V_EINVAL_OUT;
    const struct mblock *b = &m.b[i];
    const bool list_damaged = m.mode == M_DAMAGED && m.dwhere == D_LIST;
    if (b->st == B_NEVER) {
        if (m.carve_unknown && i >= m.ncarved_max)
            return V_EINVAL_NEVER_OR_EALREADY;
        return i < m.ncarved_max ? V_EALREADY : V_EINVAL_NEVER;
    }
    /* A state bitmap judges every free by the block's bit, whatever the
     * block holds: a free, damaged or retired block's bit says free. */
    if (m.state)
        return b->st == B_HELD ? V_OK : V_EALREADY;
    switch (b->st) {
    case B_HELD:
        if (b->forged == F_PARKED)
            return V_EALREADY; /* "only a caller who writes that mark ..." */
        if (b->forged == F_FREE)
            return list_damaged ? V_EFAULT : V_OK; /* the walk confirms it, or meets the damage */
        return V_OK;
    case B_LOST:
        return V_OK; /* its words are the damage: it looks handed out */
    default:
        break;
    }
    if (m.mode == M_DAMAGED && i == m.d)
        return V_OK; /* documented as undetected: the free is accepted */
    if (m.mode == M_LAWLESS)
        return V_EALREADY_OR_EFAULT;
    if (model_nfree() == m.n)
        return V_EALREADY; /* "a free into a pool whose every block is free is a double free, always" */
    if (!(b->loc & LOC_POOL))
        return V_EALREADY; /* parked in a cache */
    if (!list_damaged)
        return V_EALREADY;
    /* The walk from the head finds it if it is above the damaged block. */
    if (!b->below_d)
        return V_EALREADY;
    if (b->loc == LOC_POOL && b->on_list && !m.tracked)
        return V_EFAULT;
    /* below it on the list, or parked (depot, cache); a tracked pool asks
     * the debugger, which knows it is free */
    return V_EALREADY_OR_EFAULT;
}

bool verdict_allows(enum verdict v, int r)
{
    switch (v) {
    case V_EALREADY_OR_EFAULT:
        return r == -EALREADY || r == -EFAULT;
    case V_EINVAL_NEVER_OR_EALREADY:
        return r == -EINVAL || r == -EALREADY;
    default:
        return r == -verdict_errno(v);
    }
}

int verdict_errno(enum verdict v)
{
    switch (v) {
    case V_OK:
        return 0;
    case V_EINVAL_OUT:
    case V_EINVAL_IN:
    case V_EINVAL_NEVER:
        return EINVAL;
    case V_EALREADY:
        return EALREADY;
    default:
        return EFAULT;
    }
}

void expect_report(int err, const void *p)
{
    if (m.on_error)
        CHECK(rep_pop(err, p), "on_error was not told %d for %p", err, p);
}

/* A rejected free: counted and reported, with err the errno it returned. */
void count_verdict(enum verdict v, int err, const void *p)
{
    switch (v) {
    case V_EINVAL_OUT:
        m.st.rejected_outside++;
        break;
    case V_EINVAL_IN:
        m.st.rejected_interior++;
        break;
    case V_EINVAL_NEVER:
        m.st.rejected_never_allocated++;
        break;
    case V_EINVAL_NEVER_OR_EALREADY:
        CHECK(err == EINVAL || err == EALREADY, "errno %d, want EINVAL or EALREADY", err);
        if (err == EINVAL)
            m.st.rejected_never_allocated++;
        else
            m.st.rejected_double++;
        break;
    case V_EALREADY:
        m.st.rejected_double++;
        break;
    case V_EFAULT:
        m.st.corruptions++;
        break;
    case V_EALREADY_OR_EFAULT:
        CHECK(err == EALREADY || err == EFAULT, "errno %d, want EALREADY or EFAULT", err);
        if (err == EALREADY)
            m.st.rejected_double++;
        else
            m.st.corruptions++;
        break;
    case V_OK:
        return;
    }
    expect_report(err, p);
}

/* ---- damage --------------------------------------------------------------- */

bool damage_in_pool(void)
{
    return m.mode == M_DAMAGED && m.b[m.d].st == B_FREE && (m.b[m.d].loc & LOC_POOL);
}

bool damage_in_cache(size_t c)
{
    return m.mode == M_DAMAGED && m.b[m.d].st == B_FREE && (m.b[m.d].loc & LOC_CACHE(c));
}

bool caches_pass(void)
{
    return m.tracked || m.state;
}

size_t spoiled_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        n += m.b[i].spoiled;
    return n;
}

size_t retire_spoiled_now(const char *what)
{
    if (!m.live || !m.fill || m.mode == M_LAWLESS)
        return 0;
    const struct am_onesize_stats s = stats_now();
    CHECK(s.freed_writes >= m.st.freed_writes, "%s: freed_writes went down", what);
    const size_t k = (size_t)(s.freed_writes - m.st.freed_writes);
    CHECK(k <= 4, "%s retired %zu blocks, at most four per call (amonesize.h)", what, k);
    for (size_t r = 0; r < k; r++) {
        size_t top = SIZE_MAX;
        for (size_t i = 0; i < m.ncarved; i++)
            if (m.b[i].spoiled && (top == SIZE_MAX || m.b[i].since > m.b[top].since))
                top = i;
        CHECK(top != SIZE_MAX, "%s retired %zu blocks for a written fill, but only %zu had one", what, k, r);
        struct mblock *b = &m.b[top];
        CHECK(b->st == B_FREE && b->loc == LOC_POOL, "model: spoiled block %zu is %s", top, describe(top));
        b->st = B_LOST;
        b->spoiled = false;
        m.lost++;
        m.retired++;
        m.pool_free--;
        m.st.freed_writes++;
        expect_report(EFAULT, block(top));
        if (tracing())
            fprintf(stderr, "  %s retired block %zu\n", what, top);
    }
    return k;
}

bool fill_fault(size_t retired)
{
    return m.fill && retired == 4 && spoiled_count() > 0;
}

/* am_onesize_check sees a damaged block in the pool's keeping (free list,
 * depot) and none in caches: its answer says where the damaged block is. */
static void settle_damage(int chk)
{
    if (m.mode != M_DAMAGED)
        return;
    struct mblock *b = &m.b[m.d];
    CHECK(b->st == B_FREE, "model: damaged block %zu is %s", m.d, describe(m.d));
    if (!(b->loc & LOC_POOL)) {
        CHECK(chk == 0, "am_onesize_check says %d, but the damaged block %zu is in a cache", chk, m.d);
        return;
    }
    if (chk == -EFAULT) {
        CHECK(m.dwhere != D_CACHE, "model: damaged block %zu in a cache and the pool", m.d);
        b->loc = LOC_POOL;
        if (m.dwhere == D_DEPOT_OR_HEALED)
            m.dwhere = D_DEPOT;
        return;
    }
    CHECK(chk == 0, "am_onesize_check returned %d", chk);
    CHECK(m.dwhere != D_LIST, "am_onesize_check missed damaged block %zu on the free list", m.d);
    if (b->loc == LOC_POOL) {
        CHECK(m.dwhere == D_DEPOT_OR_HEALED, "am_onesize_check missed damaged block %zu in the depot", m.d);
        m.mode = M_EXACT; /* flushed onto the list: relinked with a fresh pattern */
        return;
    }
    if (m.dwhere == D_DEPOT)
        b->loc &= (uint8_t)~LOC_POOL; /* a cache took it */
}

static unsigned char walked[MAX_BLOCKS];

static void walk_cb(void *ctx, size_t index, void *blk, size_t size)
{
    size_t i;
    (void)ctx, (void)index, (void)size;
    CHECK(block_index(blk, &i), "iterate visited %p, not a block start", blk);
    walked[i] = 1;
}

/* Blocks that may be in the pool or a cache: a walk of the allocated ones
 * tells which (cached blocks count as allocated). The list must be intact. */
void resolve_locations(void)
{
    bool any = false;
    for (size_t i = 0; i < m.ncarved && !any; i++)
        any = m.b[i].st == B_FREE && (m.b[i].loc & (m.b[i].loc - 1)) != 0;
    if (!any)
        return;
    memset(walked, 0, m.n);
    const int saved = enters;
    const size_t r = am_onesize_iterate_over_allocated(&pool, 0, walk_cb, NULL);
    enters = saved;
    size_t want = 0;
    for (size_t i = 0; i < m.n; i++) {
        struct mblock *b = &m.b[i];
        const bool a = walked[i] != 0;
        want += a;
        if (b->st == B_NEVER || (b->st == B_LOST && m.state)) {
            CHECK(!a, "iterate visited block %zu, which is %s", i, describe(i));
        } else if (b->st != B_FREE) {
            CHECK(a, "iterate skipped block %zu, which is %s", i, describe(i));
        } else if (!(b->loc & LOC_POOL)) {
            CHECK(a, "iterate skipped block %zu, which is %s", i, describe(i));
        } else if (b->loc != LOC_POOL) {
            b->loc = a ? (uint8_t)(b->loc & ~LOC_POOL) : (uint8_t)LOC_POOL;
            if (a == b->alt_is_cache) {
                b->since = b->alt_since;
            }
            if (a)
                b->on_list = false;
        } else {
            CHECK(!a, "iterate visited block %zu, which is %s", i, describe(i));
        }
    }
    CHECK(r == want, "iterate returned %zu, visited %zu", r, want);
    if (m.mode == M_DAMAGED && m.b[m.d].st == B_FREE) {
        if (m.b[m.d].loc == LOC_POOL) {
            CHECK(m.dwhere == D_DEPOT_OR_HEALED, "model: damaged block %zu in the pool unseen by check", m.d);
            m.mode = M_EXACT;
        } else if (m.dwhere == D_DEPOT_OR_HEALED) {
            m.dwhere = D_CACHE;
        }
    }
    /* The counts the model keeps exactly must match the blocks now sure. */
    size_t in_pool = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        in_pool += m.b[i].st == B_FREE && m.b[i].loc == LOC_POOL;
    CHECK(in_pool == m.pool_free, "after the walk %zu blocks are in the pool, the counts say %zu", in_pool,
          m.pool_free);
}

/* ---- after every operation ------------------------------------------------ */

/* The model's own bookkeeping: where each block may be agrees with the
 * counts it keeps exactly. A failure here is a bug of the fuzzer. */
static void model_selfcheck(void)
{
    size_t sure[NCACHES + 2] = {0}, maybe[NCACHES + 2] = {0}, lost = 0;
    for (size_t i = 0; i < m.n; i++) {
        const struct mblock *b = &m.b[i];
        CHECK(i < m.ncarved || b->st == B_NEVER, "model: block %zu beyond ncarved is not never-used", i);
        CHECK(i >= m.ncarved || b->st != B_NEVER, "model: carved block %zu is never-used", i);
        lost += b->st == B_LOST;
        if (b->st != B_FREE)
            continue;
        CHECK(b->loc != 0, "model: free block %zu is nowhere", i);
        for (size_t k = 0; k < NCACHES + 2; k++) {
            if (b->loc & (1u << k)) {
                maybe[k]++;
                sure[k] += b->loc == (1u << k);
            }
        }
    }
    CHECK(lost == m.lost, "model: %zu blocks lost, counted %zu", lost, m.lost);
    size_t count[NCACHES + 2];
    count[0] = m.pool_free;
    for (size_t c = 0; c < NCACHES; c++)
        count[c + 1] = mc[c].st == C_BOUND ? mc[c].n : 0;
    count[NCACHES + 1] = m.orphans;
    for (size_t k = 0; k < NCACHES + 2; k++)
        CHECK(sure[k] <= count[k] && count[k] <= maybe[k], "model: place %zu holds %zu, %zu sure, %zu maybe",
              k, count[k], sure[k], maybe[k]);
}

static void check_dead(void)
{
    struct am_onesize_stats s;
    memset(&s, 0xa5, sizeof s);
    CHECK(am_onesize_get_stats(&pool, &s) == -EINVAL, "get_stats of a pool never constructed");
    CHECK(s.nblocks == 0 && s.allocations == 0, "get_stats did not zero its output");
    CHECK(am_onesize_check(&pool) == -EINVAL, "check of a pool never constructed");
    CHECK(am_onesize_get_nfree(&pool) == 0 && am_onesize_get_nblocks(&pool) == 0, "getters of a dead pool");
}

void after_op(void)
{
    CHECK(depth == 0, "the critical section was left entered");
    CHECK(!in_wait && wait_action == 0, "crit_wait was not called");
    CHECK(notifies == 0, "crit_notify called %d times with nobody waiting", notifies);
    check_unlocked();
    for (size_t c = 0; c < NCACHES; c++) {
        if (mc[c].st == C_UNINIT)
            continue;
        const size_t n = am_onesize_cache_get_ncached(&caches[c]);
        if (m.mode == M_LAWLESS && m.live)
            CHECK(n <= mc[c].cap, "cache %zu holds %zu of %zu", c, n, mc[c].cap);
        else
            CHECK(n == (m.live ? mc[c].n : 0), "cache %zu holds %zu, model %zu", c, n, mc[c].n);
    }
    if (!m.live) {
        CHECK(rep_count() == 0, "on_error called (%d) for a dead pool", rep_at(0)->err);
        check_dead();
        return;
    }
    const int saved = enters;
    const int chk = am_onesize_check(&pool);
    enters = saved;
    struct am_onesize_stats s = stats_now();
    CHECK(s.nblocks == m.n && s.block_size == m.bs, "geometry %zu x %zu, model %zu x %zu", s.nblocks,
          s.block_size, m.n, m.bs);
    CHECK(am_onesize_get_nblocks(&pool) == m.n && am_onesize_get_block_size(&pool) == m.bs, "getters");
    if (m.mode == M_LAWLESS) {
        /* Even nfree may exceed nblocks now (a block freed twice). */
        CHECK(chk == 0 || chk == -EFAULT, "am_onesize_check returned %d", chk);
        rep_clear();
        return;
    }
    model_selfcheck();
    if (m.mode == M_EXACT)
        CHECK(chk == 0, "am_onesize_check returned %d with no damage", chk);
    settle_damage(chk);
    if (chk == 0)
        resolve_locations();

    const size_t nfree = model_nfree();
    if (nfree < m.nfree_min)
        m.nfree_min = nfree;
    CHECK(s.nfree == nfree && am_onesize_get_nfree(&pool) == nfree, "nfree %zu, model %zu", s.nfree, nfree);
    CHECK(s.nfree_min == m.nfree_min && am_onesize_get_nfree_min(&pool) == m.nfree_min,
          "nfree_min %zu, model %zu", s.nfree_min, m.nfree_min);
    const uint64_t allocs = m.st.allocations;
    CHECK(s.allocations == allocs, "allocations %llu, model %llu", (unsigned long long)s.allocations,
          (unsigned long long)allocs);
    CHECK(s.frees == m.st.frees, "frees %llu, model %llu", (unsigned long long)s.frees,
          (unsigned long long)m.st.frees);
#define SAME(f)                                                                                              \
    CHECK(s.f == m.st.f, #f " %llu, model %llu", (unsigned long long)s.f, (unsigned long long)m.st.f)
    SAME(freed_by_free_all);
    SAME(failed_allocations);
    SAME(oversize_requests);
    SAME(rejected_outside);
    SAME(rejected_interior);
    SAME(rejected_never_allocated);
    SAME(rejected_double);
    SAME(corruptions);
    SAME(cache_reclaimed);
    SAME(waits);
    SAME(timeouts);
    SAME(freed_writes);
#undef SAME
    /* stats.cached counts what each cache held when it last traded with
     * the pool (amonesize_cache.h), not what the model knows it holds. */
    CHECK(s.retired == m.retired, "retired %zu, model %zu", s.retired, m.retired);
    CHECK(rep_count() == 0, "on_error told %d for %p, which the model did not expect", rep_at(0)->err,
          rep_at(0)->ptr);
}

/* ---- construction --------------------------------------------------------- */

void model_reset(void)
{
    m.live = false;
    m.mode = M_EXACT;
    m.n = m.bs = 0;
    m.base = 0;
    m.ncarved = m.ncarved_max = m.pool_free = 0;
    m.carve_unknown = false;
    m.nstack = 0;
    m.orphans = m.lost = m.retired = 0;
    for (size_t c = 0; c < NCACHES; c++) {
        if (mc[c].st == C_BOUND) {
            mc[c].lib_holds = mc[c].lib_holds || mc[c].n > 0;
            mc[c].lib_stale = true;
        }
        mc[c].n = 0;
        mc[c].top = -1;
    }
}

void model_construct(uintptr_t base, size_t bs, size_t n, bool tracked)
{
    model_reset();
    memset(m.b, 0, n * sizeof m.b[0]);
    memset(&m.st, 0, sizeof m.st);
    m.live = true;
    m.tracked = tracked;
    m.base = base;
    m.bs = bs;
    m.n = n;
    m.ncarved = m.ncarved_max = m.pool_free = 0;
    m.nfree_min = n;
    m.pool_retires = 0;
}
