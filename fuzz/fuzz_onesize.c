/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the input is a pool configuration followed by a
 * sequence of operations on that pool, its per-thread caches and its bulk
 * calls, misuse of every kind included (see fuzz.h and docs/fuzzing.md).
 * Every result is checked against the reference model; any divergence
 * prints what differs and aborts.
 *
 * Input: one configuration (5 to 7 bytes, see op_ctor), then operations:
 * one byte picks it (below 0xf8: ops[byte % N]; 0xf8..0xfd: a new ctor,
 * 0xfe..0xff: dtor), and the operation reads its own arguments. Missing
 * bytes read as zero. fuzz/corpus/make_corpus.py writes seeds this way. */
#include <stdalign.h>
#include <sys/mman.h>

#include "fuzz.h"

/* Pool memory: consecutive pools alternate between two buffers, and the
 * one not in use (after a dtor, both) is inaccessible, so that the library
 * touching the memory of a pool after its dtor ("the caller's again")
 * faults. Mapped, not static: LeakSanitizer scans static data at exit. */
#define BUF_SPAN (BUF_BYTES + 4096)
static unsigned char *bufs[2], *buf;

static void switch_buffer(void)
{
    unsigned char *old = buf;
    buf = buf == bufs[0] ? bufs[1] : bufs[0];
    CHECK(mprotect(buf, BUF_SPAN, PROT_READ | PROT_WRITE) == 0, "mprotect");
    CHECK(mprotect(old, BUF_SPAN, PROT_NONE) == 0, "mprotect");
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_TRACKED true /* the pool sees an ASan runtime: tracked */
#endif
#endif
#if !defined(FUZZ_TRACKED)
#define FUZZ_TRACKED false
#endif

/* "*os is zeroed" (ctor's failure, dtor). */
static bool is_zeroed(const struct am_onesize *os)
{
    static const struct am_onesize zero;
    return memcmp(os, &zero, sizeof zero) == 0;
}

/* Configuration: flags, offset, size (2), block size (2), alignment, and
 * for some flags one more byte.
 *   flags bit 0: size + 0 or + 1; bit 1: block size near SIZE_MAX; bit 2:
 *   pool size near SIZE_MAX (wraps); bits 3-5: locking (0 none, 1 own
 *   callbacks, 2 own callbacks with wait, 3 pthread mutex, 4 pthread sync,
 *   5 the hardened mode, 6 one of crit_enter/crit_exit, 7 crit_wait or
 *   crit_notify without the rest); bit 6: on_error; bit 7: fill the pool
 *   memory with garbage first.
 * The hardened mode (5) reads one byte, extra: below 0x80 an invalid
 * cfg.flags or cfg.state; else one byte more, h: bits 0-1 the options
 * (0 state, 1 AM_ONESIZE_CHECK_FREED, 2 and 3 both), bits 2-3 the locking
 * under it (as 0-2 and 4 above), bits 4-5 the bitmap's size (0
 * AM_ONESIZE_STATE_SIZE(), 1 the least the blocks need, 2 more, 3 one byte
 * short), bit 6 garbage in the bitmap. */
static unsigned char state_buf[MAX_BLOCKS / 8 + 64];

void op_ctor(void)
{
    const unsigned flags = (unsigned)take(1);
    const size_t off = (size_t)take(1);
    size_t size = (size_t)take(2) % (BUF_BYTES - 256) + (flags & 1 ? 0 : 1);
    size_t bs = (size_t)take(2) % 600;
    static const size_t aligns[] = {0,   1,   2,    4,    8,    16, 32, 64,       128,
                                    256, 512, 1024, 2048, 4096, 3,  24, SIZE_MAX, (SIZE_MAX >> 1) + 1};
    const size_t align = aligns[take(1) % (sizeof aligns / sizeof aligns[0])];
    const unsigned lock = (flags >> 3) & 7, extra = lock >= 5 ? (unsigned)take(1) : 0;
    enters = 0;
    am_onesize_dtor(&pool); /* the previous pool; its memory is the caller's again */
    CHECK(enters == 0, "dtor entered the critical section");
    switch_buffer();
    const uintptr_t ptr = (uintptr_t)buf + off;
    if (flags & 2)
        bs = SIZE_MAX - (size_t)take(1); /* overflows when rounded */
    if (flags & 4)
        size = SIZE_MAX - (size_t)take(1); /* wraps the address space */
    struct am_onesize_cfg cfg = {.pool = {(void *)ptr, size}, .block_size = bs, .alignment = align};
    bool custom = false, cwait = false, pth = false, pwait = false, hard = false, hstate = false,
         hfill = false;
    unsigned sub = lock, h = 0;
    if (lock == 5 && (extra & 0x80)) {
        h = (unsigned)take(1);
        hard = true;
        hstate = (h & 3) != 1;
        hfill = (h & 3) != 0;
        sub = (unsigned[]){0, 1, 2, 4}[(h >> 2) & 3];
        if (hfill)
            cfg.flags = AM_ONESIZE_CHECK_FREED;
    }
    switch (sub) {
    case 1:
    case 2:
        cfg.crit_enter = crit_enter;
        cfg.crit_exit = crit_exit;
        cfg.crit_ctx = &lock_ctx;
        custom = true;
        if (lock == 2) {
            cfg.crit_wait = crit_wait;
            cfg.crit_notify = crit_notify;
            cwait = true;
        }
        break;
#if defined(AM_HAVE_PTHREAD)
    case 3:
        CHECK(am_onesize_pthread_set_crit(&cfg, &fuzz_mutex) == 0, "set_crit");
        pth = true;
        break;
    case 4:
        CHECK(am_onesize_pthread_set_sync(&cfg, &fuzz_sync) == 0, "set_sync");
        pth = pwait = true;
        break;
#endif
    case 5:            /* the hardened mode, invalid: */
        if (extra & 1) /* a flag bit the header does not define */
            cfg.flags = (AM_ONESIZE_CHECK_FREED << 1) << ((extra >> 1) % 30);
        else /* a state bitmap half set, or overlapping the pool */
            cfg.state = (struct am_blk){extra & 2 ? cfg.pool.ptr : NULL, 1 + (extra >> 2)};
        break;
    case 6:
        if (extra & 1)
            cfg.crit_enter = crit_enter;
        else
            cfg.crit_exit = crit_exit;
        break;
    case 7:
        if (extra & 1) { /* wait without a critical section */
            cfg.crit_wait = crit_wait;
            cfg.crit_notify = crit_notify;
        } else { /* one of the two */
            cfg.crit_enter = crit_enter;
            cfg.crit_exit = crit_exit;
            if (extra & 2)
                cfg.crit_wait = crit_wait;
            else
                cfg.crit_notify = crit_notify;
        }
        break;
    default:
        break;
    }
    if (flags & 64) {
        cfg.on_error = on_error;
        cfg.on_error_ctx = &lock_ctx;
    }

    /* What the header promises, computed without overflow. */
    bool valid = size != 0 && bs != 0 && (lock < 5 || hard);
    const size_t a = align ? align : alignof(max_align_t);
    valid = valid && (a & (a - 1)) == 0;
    const unsigned __int128 unit = a > sizeof(void *) ? a : sizeof(void *);
    unsigned __int128 ebs = bs < 2 * sizeof(void *) ? 2 * sizeof(void *) : bs;
    ebs = (ebs + unit - 1) / unit * unit;
    const unsigned __int128 end = (unsigned __int128)ptr + size,
                            start = ((unsigned __int128)ptr + unit - 1) / unit * unit;
    valid = valid && ebs <= SIZE_MAX && end <= UINTPTR_MAX && start < end && (end - start) / ebs >= 1;
    if (hstate) {
        /* The bitmap: one bit per block, rounded up to bytes; the header's
         * macro must give at least that for any start of the pool. */
        const size_t need = valid ? (size_t)(((end - start) / ebs + 7) / 8) : 1;
        const size_t macro = (flags & 6) ? need : AM_ONESIZE_STATE_SIZE(size, bs);
        size_t have = (h >> 4) & 3 ? need : macro;
        if (((h >> 4) & 3) == 2)
            have += (size_t)take(1) % 32;
        if (((h >> 4) & 3) == 3)
            have = need - 1; /* too small: refused (a size of 0 means none, refused with a pointer) */
        CHECK(have <= sizeof state_buf, "the fuzzer's bitmap is too small for %zu bytes", have);
        if (h & 64)
            memset(state_buf, (int)(h * 13), sizeof state_buf); /* "contents ignored at ctor" */
        cfg.state = (struct am_blk){state_buf, have};
        valid = valid && have >= need;
    }

    if (flags & 128)
        memset(buf, (int)(off * 7 + 1), BUF_SPAN); /* the library must not read it */
    const int r = am_onesize_ctor(&pool, &cfg);
    if (tracing())
        fprintf(stderr, "  ctor: lock %u, hardened %d (state %d, fill %d, under %u): %d\n", lock, hard,
                hstate, hfill, sub, r);
    CHECK(enters == 0, "ctor entered the critical section");
    CHECK(r == (valid ? 0 : -EINVAL), "ctor returned %d, the model says %s", r, valid ? "valid" : "invalid");
    if (!valid) {
        model_reset();
        m.custom_lock = m.custom_wait = m.pthread_lock = m.waitable = m.on_error = m.state = m.fill = false;
        CHECK(is_zeroed(&pool), "a failed ctor did not zero *os");
        return;
    }
    model_construct((uintptr_t)start, (size_t)ebs, (size_t)((end - start) / ebs), FUZZ_TRACKED);
    m.state = hstate;
    m.fill = hfill;
    m.custom_lock = custom;
    m.custom_wait = cwait;
    m.pthread_lock = pth;
    m.waitable = cwait || pwait;
    m.on_error = (flags & 64) != 0;
}

void op_dtor(void)
{
    enters = 0;
    am_onesize_dtor(&pool);
    CHECK(enters == 0, "dtor entered the critical section");
    CHECK(is_zeroed(&pool), "dtor did not zero *os");
    CHECK(mprotect(buf, BUF_SPAN, PROT_NONE) == 0, "mprotect"); /* the caller's again */
    model_reset();
    m.custom_lock = m.custom_wait = m.pthread_lock = m.waitable = m.on_error = m.state = m.fill = false;
}

static void (*const ops[])(void) = {
    op_allocate,        op_allocate,         op_allocate_x,     op_allocate_wait,  op_free_held,
    op_free_held,       op_free_block,       op_free_bad,       op_allocate_bulk,  op_free_bulk,
    op_free_all,        op_iterate,          op_forge,          op_damage,         op_misc,
    op_verify,          op_cache_init,       op_cache_allocate, op_cache_allocate, op_cache_free_held,
    op_cache_free_held, op_cache_free_block, op_cache_free_bad, op_cache_flush,
};

static const char *const op_names[] = {
    "allocate",        "allocate",         "allocate_x",     "allocate_wait",  "free_held",
    "free_held",       "free_block",       "free_bad",       "allocate_bulk",  "free_bulk",
    "free_all",        "iterate",          "forge",          "damage",         "misc",
    "verify",          "cache_init",       "cache_allocate", "cache_allocate", "cache_free_held",
    "cache_free_held", "cache_free_block", "cache_free_bad", "cache_flush",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == sizeof ops / sizeof ops[0], "a name per operation");

/* FUZZ_TRACE=1: print each operation and the model's view after it, to
 * read a reproducer. */
static bool trace;

static void trace_op(size_t k, const char *name)
{
    if (!trace)
        return;
    fprintf(stderr, "op %zu: %s -> nfree %zu, retired %zu, mode %d", k, name, m.live ? model_nfree() : 0,
            m.retired, (int)m.mode);
    if (m.mode == M_DAMAGED)
        fprintf(stderr, " (block %zu, words %u, where %d: %s)", m.d, m.dwords, (int)m.dwhere, describe(m.d));
    for (size_t c = 0; c < NCACHES; c++)
        if (mc[c].st != C_UNINIT)
            fprintf(stderr, ", cache %zu: %zu", c, mc[c].n);
    fputc('\n', stderr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    trace = tracing();
    void *map = mmap(NULL, 2 * BUF_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED, "mmap");
    bufs[0] = buf = (unsigned char *)map;
    bufs[1] = bufs[0] + BUF_SPAN;
#if defined(AM_HAVE_PTHREAD)
    pthread_setup();
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_start(data, size);
    for (size_t c = 0; c < NCACHES; c++)
        mc[c] = (struct mcache){.st = C_UNINIT, .top = -1};
    model_reset();
    m.clock = 0;
    depth = enters = notifies = wait_calls = 0;
    in_error = in_wait = false;
    wait_action = 0;
    rep_clear();
    foreign_setup();
    op_ctor();
    after_op();
    trace_op(0, m.live ? "ctor" : "ctor (failed)");
    for (size_t k = 1; input_left(); k++) {
        const unsigned op = (unsigned)take(1);
        const char *name = op < 0xf8   ? op_names[op % (sizeof ops / sizeof ops[0])]
                           : op < 0xfe ? "ctor"
                                       : "dtor";
        if (trace)
            fprintf(stderr, "op %zu: %s ...\n", k, name);
        notifies = wait_calls = 0;
        if (op < 0xf8)
            ops[op % (sizeof ops / sizeof ops[0])]();
        else if (op < 0xfe)
            op_ctor();
        else
            op_dtor();
        after_op();
        trace_op(k, name);
    }
    am_onesize_dtor(&pool);
    foreign_teardown();
    model_reset();
    return 0;
}
