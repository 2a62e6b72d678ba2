/* SPDX-License-Identifier: MIT */
/* libFuzzer target for pools shared between processes (amonesize_shared.h):
 * the input is a region configuration followed by operations of several
 * users of one region, misuse of every kind included. Every result is
 * checked against a reference model written from the header and
 * docs/shared.md; any divergence prints what differs and aborts.
 *
 * Users are processes played by one: the fuzzer defines getpid() and
 * kill() (the library's calls resolve to them), so that each attach is made
 * by a process of its own, made-up pid, alive or dead as the model says.
 * A made-up pid is far above the kernel's PID_MAX_LIMIT, so it cannot be a
 * real process; every other pid goes to the kernel. Users map the region
 * at one of two addresses (a memfd mapped twice), as two processes would.
 * Nothing ever waits: allocate_wait is called only when the model says a
 * block is free, or with a deadline already past.
 *
 * Input: one region configuration (see op_create), then operations: one
 * byte picks it (below 0xf8: ops[byte % N]; 0xf8..0xff: a new region), and
 * the operation reads its own arguments. Missing bytes read as zero.
 * fuzz/make_corpus_shared.py writes seeds this way. FUZZ_TRACE=1 prints
 * every operation and the model's view after it. */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "amonesize_shared.h"
#include "input.h"

#define SPAN       (65536 + 4096) /* bytes of the memfd, mapped twice */
#define MAX_BLOCKS (65536 / 16)   /* at most this many blocks fit */
#define NUSERS     (AM_ONESIZE_SHARED_MAX_OWNERS + 8)
#define NACTIVE    8          /* the users most operations pick */
#define FAKE_LO    0x50000000 /* made-up pids: far above PID_MAX_LIMIT (2^22) */
#define FAKE_HI    0x5fffffff
#define NO_PID     0x7ffffff0    /* a pid that cannot exist, never made up */
#define SCRATCH    (FAKE_HI - 1) /* the fuzzer's own helper process, alive */

/* ---- processes played by one ---------------------------------------------- */

/* The process the library is called from, during an attach (0: the real one). */
static pid_t acting;

enum ustate {
    U_NONE,     /* never attached, detached, or its region was replaced: handle zeroed */
    U_ATTACHED, /* attached and alive: may call */
    U_DEAD,     /* attached, and its process is gone: never calls again */
};

struct user {
    struct am_onesize_shared h;
    enum ustate st;
    pid_t pid;
    unsigned map; /* which mapping it attached through */
};
static struct user users[NUSERS];

static bool fake_alive(pid_t pid)
{
    if (pid == SCRATCH)
        return true;
    for (size_t u = 0; u < NUSERS; u++)
        if (users[u].st == U_ATTACHED && users[u].pid == pid)
            return true;
    return false;
}

pid_t getpid(void)
{
    return acting != 0 ? acting : (pid_t)syscall(SYS_getpid);
}

int kill(pid_t pid, int sig)
{
    if (sig == 0 && pid >= FAKE_LO && pid <= FAKE_HI) {
        if (fake_alive(pid))
            return 0;
        errno = ESRCH;
        return -1;
    }
    return (int)syscall(SYS_kill, pid, sig);
}

/* ---- the model ------------------------------------------------------------ */

enum { O_FREE = 0, O_TRANSIT = -1 }; /* owner: else the user index + 1 */

static unsigned char *maps[2]; /* the memfd, mapped at two addresses */
static unsigned char *garbage; /* memory that is not a region */
static bool trace;

static struct {
    bool region; /* a region is there (a failed create leaves the previous one) */
    size_t roff; /* where it starts in each mapping */
    size_t size; /* the size given to create */
    size_t need; /* am_onesize_shared_size(n, bs, alignment): its laid-out size */
    size_t bs_arg, align_arg;
    size_t bs, n;     /* effective block size, blocks */
    size_t b0;        /* offset of block 0 */
    size_t ncarved;   /* blocks handed out at least once, in address order */
    size_t nfree_min; /* low-water mark */
    size_t transit;
    int owner[MAX_BLOCKS];
    uint8_t fill[MAX_BLOCKS]; /* held or in transit: the byte its owner filled it with */
    /* Free blocks that were handed out, most recent on top, in groups
     * whose order the header leaves open (what one detach or reclaim gave
     * back). */
    size_t stk[MAX_BLOCKS];
    uint32_t grp[MAX_BLOCKS];
    size_t nstk;
    uint32_t ngroups;
    bool damaged; /* a free block was written: the input ends after the check */
    struct am_onesize_stats st;
    struct am_onesize_shared_stats ss;
    uint8_t next_fill;
    uint32_t pidseq;
} m;

static unsigned char *region_at(unsigned map)
{
    return maps[map] + m.roff;
}

static void *block_at(unsigned map, size_t i)
{
    return region_at(map) + m.b0 + i * m.bs;
}

static size_t nheld(void)
{
    size_t k = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        k += m.owner[i] != O_FREE;
    return k;
}

static size_t model_nfree(void)
{
    return m.n - nheld();
}

/* What a pointer is in the view of a process mapping the region at map. */
enum kind { K_BLOCK, K_INTERIOR, K_OUTSIDE };

static enum kind classify(unsigned map, const void *p, size_t *idx)
{
    const uintptr_t a = (uintptr_t)p, lo = (uintptr_t)block_at(map, 0);
    if (a < lo || a - lo >= m.n * m.bs)
        return K_OUTSIDE;
    *idx = (a - lo) / m.bs;
    return (a - lo) % m.bs == 0 ? K_BLOCK : K_INTERIOR;
}

static void fill_block(unsigned map, size_t i)
{
    m.fill[i] = (uint8_t)(++m.next_fill | 1);
    memset(block_at(map, i), m.fill[i], m.bs);
}

/* The library never writes into a block that is held or in transit. */
static void verify_block(unsigned map, size_t i)
{
    const unsigned char *b = block_at(map, i);
    for (size_t k = 0; k < m.bs; k++)
        CHECK(b[k] == m.fill[i], "block %zu byte %zu is %#x, its owner wrote %#x", i, k, b[k], m.fill[i]);
}

static void push_group(void)
{
    m.ngroups++;
}

static void push_free(size_t i)
{
    m.stk[m.nstk] = i;
    m.grp[m.nstk] = m.ngroups;
    m.nstk++;
    m.owner[i] = O_FREE;
}

/* The library handed block i out: it must be the one the header names. */
static void handed_out(size_t u, size_t i)
{
    if (m.nstk > 0) {
        const uint32_t g = m.grp[m.nstk - 1];
        size_t k = m.nstk;
        while (k > 0 && m.grp[k - 1] == g && m.stk[k - 1] != i)
            k--;
        CHECK(k > 0 && m.grp[k - 1] == g,
              "handed out block %zu, not one of the most recently freed (%zu first)", i, m.stk[m.nstk - 1]);
        m.stk[k - 1] = m.stk[m.nstk - 1];
        m.nstk--;
    } else {
        CHECK(i == m.ncarved, "handed out block %zu, the next never used one is %zu", i, m.ncarved);
        m.ncarved++;
    }
    m.owner[i] = (int)u + 1;
    m.st.allocations++;
    const size_t nf = model_nfree();
    if (nf < m.nfree_min)
        m.nfree_min = nf;
}

/* A user's blocks go back to the pool (detach, reclaim, reap), in an order
 * the header leaves open: one group. A reap's users are one group too (in
 * no order the header fixes), so it opens and closes the group itself. */
static size_t give_back(size_t u)
{
    size_t k = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        if (m.owner[i] == (int)u + 1) {
            push_free(i);
            k++;
        }
    m.st.frees += k;
    return k;
}

static size_t give_back_all(size_t u)
{
    push_group();
    const size_t k = give_back(u);
    push_group();
    return k;
}

static size_t owners_now(void)
{
    size_t k = 0;
    for (size_t u = 0; u < NUSERS; u++)
        k += users[u].st != U_NONE;
    return k;
}

static bool is_zeroed(const struct am_onesize_shared *h)
{
    static const struct am_onesize_shared zero;
    return memcmp(h, &zero, sizeof zero) == 0;
}

static void forget_user(size_t u)
{
    memset(&users[u].h, 0, sizeof users[u].h);
    users[u].st = U_NONE;
    users[u].pid = 0;
}

/* A user index: mostly one of the first few, at times any. */
static size_t pick_user(void)
{
    const unsigned v = (unsigned)take(1);
    return v < 0xf0 ? v % NACTIVE : (size_t)take(2) % NUSERS;
}

/* An attached, living user (the input's choice first), or SIZE_MAX. */
static size_t live_user(size_t first)
{
    for (size_t k = 0; k < NUSERS; k++) {
        const size_t u = (first + k) % NUSERS;
        if (users[u].st == U_ATTACHED)
            return u;
    }
    return SIZE_MAX;
}

static struct timespec now_plus(long sec)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += sec;
    return t;
}

/* ---- checks after every operation ----------------------------------------- */

static void check_stats(const struct am_onesize_shared *h)
{
    struct am_onesize_stats st;
    struct am_onesize_shared_stats ss;
    memset(&st, 0xa5, sizeof st);
    memset(&ss, 0xa5, sizeof ss);
    CHECK(am_onesize_shared_get_stats(h, &st, &ss) == 0, "get_stats failed");
    const struct am_onesize_stats *e = &m.st;
#define FIELD(f)                                                                                             \
    CHECK(st.f == e->f, #f " is %llu, the model says %llu", (unsigned long long)st.f,                        \
          (unsigned long long)e->f)
    FIELD(allocations);
    FIELD(frees);
    FIELD(freed_by_free_all);
    FIELD(failed_allocations);
    FIELD(oversize_requests);
    FIELD(rejected_outside);
    FIELD(rejected_interior);
    FIELD(rejected_never_allocated);
    FIELD(rejected_double);
    FIELD(cached);
    FIELD(cache_reclaimed);
    FIELD(retired);
    FIELD(waits);
    FIELD(timeouts);
    FIELD(freed_writes);
#undef FIELD
    if (m.damaged)
        CHECK(st.corruptions >= 1, "damage found, corruptions %llu", (unsigned long long)st.corruptions);
    else
        CHECK(st.corruptions == 0, "corruptions %llu without damage", (unsigned long long)st.corruptions);
    CHECK(st.nfree == model_nfree(), "nfree %zu, the model says %zu", st.nfree, model_nfree());
    CHECK(st.nfree_min == m.nfree_min, "nfree_min %zu, the model says %zu", st.nfree_min, m.nfree_min);
    CHECK(st.nblocks == m.n, "nblocks %zu, the model says %zu", st.nblocks, m.n);
    CHECK(st.block_size == m.bs, "block_size %zu, the model says %zu", st.block_size, m.bs);
    CHECK(ss.owners == owners_now(), "owners %zu, the model says %zu", ss.owners, owners_now());
    CHECK(ss.in_transit == m.transit, "in_transit %zu, the model says %zu", ss.in_transit, m.transit);
    CHECK(ss.recoveries == 0, "recoveries %llu: no process died holding the lock",
          (unsigned long long)ss.recoveries);
    CHECK(ss.reclaimed == m.ss.reclaimed, "reclaimed %llu, the model says %llu",
          (unsigned long long)ss.reclaimed, (unsigned long long)m.ss.reclaimed);
}

static void after_op(void)
{
    if (m.damaged)
        return; /* op_damage checked what the header says, and ended the input */
    size_t transit = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        transit += m.owner[i] == O_TRANSIT;
    CHECK(transit == m.transit, "model: %zu blocks in transit, counted %zu", transit, m.transit);
    const size_t u = live_user(0);
    if (!m.region || u == SIZE_MAX)
        return;
    check_stats(&users[u].h);
    const int c = am_onesize_shared_check(&users[u].h);
    CHECK(c == 0, "check returned %d", c);
}

/* ---- operations ----------------------------------------------------------- */

static int attach_as(struct am_onesize_shared *h, pid_t pid, void *region, size_t size)
{
    acting = pid;
    const int r = am_onesize_shared_attach(h, region, size);
    acting = 0;
    return r;
}

/* What an attach of process pid to the region answers, and the model's
 * change: with every slot taken, the dead are reaped first. */
static int attach_model(pid_t pid)
{
    if (!m.region)
        return -EINVAL;
    for (size_t u = 0; u < NUSERS; u++)
        if (users[u].st != U_NONE && users[u].pid == pid)
            return -EALREADY;
    if (owners_now() < AM_ONESIZE_SHARED_MAX_OWNERS)
        return 0;
    push_group();
    for (size_t u = 0; u < NUSERS; u++)
        if (users[u].st == U_DEAD) {
            m.ss.reclaimed += give_back(u);
            forget_user(u);
        }
    push_group();
    return owners_now() < AM_ONESIZE_SHARED_MAX_OWNERS ? 0 : -EUSERS;
}

static void reset_users(void)
{
    for (size_t u = 0; u < NUSERS; u++)
        forget_user(u);
}

/* The model of a fresh region; block 0's offset is learnt (the header does
 * not fix the layout) by asking for the first offset that is a block's,
 * then held to: every block after it, at the alignment, inside the size. */
static void learn_region(size_t roff, size_t size, size_t bs_arg, size_t align_arg, size_t ebs, size_t n)
{
    memset(&m.owner, 0, sizeof m.owner);
    m.region = true;
    m.roff = roff;
    m.size = size;
    m.bs_arg = bs_arg;
    m.align_arg = align_arg;
    m.bs = ebs;
    m.n = n;
    m.need = am_onesize_shared_size(n, bs_arg, align_arg);
    m.ncarved = m.nstk = m.transit = 0;
    m.nfree_min = n;
    m.damaged = false;
    memset(&m.st, 0, sizeof m.st);
    memset(&m.ss, 0, sizeof m.ss);
    reset_users();
    struct am_onesize_shared h;
    CHECK(attach_as(&h, SCRATCH, region_at(0), size) == 0, "attach to a new region failed");
    size_t off = 0;
    while (off < size && am_onesize_shared_pointer(&h, off) == NULL)
        off += sizeof(void *);
    CHECK(off < size, "no offset of the region is a block's");
    m.b0 = off;
    const size_t a = align_arg != 0 ? align_arg : alignof(max_align_t);
    CHECK((uintptr_t)block_at(0, 0) % a == 0, "block 0 at %p, not aligned to %zu", block_at(0, 0), a);
    CHECK(m.b0 + n * ebs <= size, "blocks end at %zu, beyond the region's %zu bytes", m.b0 + n * ebs, size);
    CHECK(am_onesize_shared_detach(&h) == 0 && is_zeroed(&h), "detach");
}

/* The effective block size the base header defines (0: overflow). */
static size_t effective_bs(size_t bs, size_t align)
{
    const size_t a = align != 0 ? align : alignof(max_align_t);
    const size_t unit = a > sizeof(void *) ? a : sizeof(void *);
    size_t e = bs < 2 * sizeof(void *) ? 2 * sizeof(void *) : bs;
    if (__builtin_add_overflow(e, unit - 1, &e))
        return 0;
    return e / unit * unit;
}

static const size_t aligns[] = {
    0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 4096, 3, 24, SIZE_MAX, (SIZE_MAX >> 1) + 1};

/* Region configuration: flags, region offset, size (or blocks and slack),
 * block size, alignment.
 *   flags bit 0: the size is raw (2 bytes), else blocks (1 byte) and slack
 *   (1 byte) above am_onesize_shared_size(blocks) (if that is 0 or large:
 *   slack x 256); bit 1: block size near SIZE_MAX; bit 2: region at an
 *   offset not aligned to max_align_t; bit 3: region NULL; bit 4: size 0. */
static void op_create(void)
{
    const unsigned flags = (unsigned)take(1);
    size_t roff = (size_t)take(1) * 16 + (flags & 4 ? 8 : 0);
    size_t bs = (size_t)take(2) % 600;
    const size_t align = aligns[take(1) % (sizeof aligns / sizeof aligns[0])];
    if (flags & 2)
        bs = SIZE_MAX - (size_t)take(1);
    size_t size;
    if (flags & 1) {
        size = (size_t)take(2);
    } else {
        const size_t nb = (size_t)take(1) % 64 + 1, slack = (size_t)take(1);
        const size_t need = am_onesize_shared_size(nb, bs, align);
        size = need != 0 && need <= 65536 ? need + slack : slack << 8;
    }
    if (flags & 16)
        size = 0;
    if (size > SPAN - roff)
        size = SPAN - roff;
    void *region = flags & 8 ? NULL : maps[0] + roff;

    /* The users' handles belong to the region being replaced: the living
     * ones detach first ("it must not be in use"). */
    for (size_t u = 0; u < NUSERS; u++)
        if (users[u].st == U_ATTACHED) {
            CHECK(am_onesize_shared_detach(&users[u].h) == 0, "detach before create");
            give_back_all(u);
            forget_user(u);
        }

    const size_t a = align != 0 ? align : alignof(max_align_t);
    const size_t ebs = effective_bs(bs, align);
    const size_t one = am_onesize_shared_size(1, bs, align);
    const bool valid = region != NULL && roff % alignof(max_align_t) == 0 && bs != 0 && (a & (a - 1)) == 0 &&
                       one != 0 && one <= size;
    if (valid)
        memset(maps[0] + roff, (int)(flags * 37 + 11), size); /* previous contents are ignored */
    const int r = am_onesize_shared_create(region, size, bs, align);
    CHECK(r == (valid ? 0 : -EINVAL),
          "create(%p + %zu, %zu, bs %zu, align %zu) returned %d, the model says %s", (void *)maps[0], roff,
          size, bs, align, r, valid ? "valid" : "-EINVAL");
    if (!valid)
        return; /* misuse changes nothing: the previous region stays */
    /* As many blocks as fit: the largest n whose region needs at most size. */
    size_t lo = 1, hi = size / ebs + 1;
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2, need = am_onesize_shared_size(mid, bs, align);
        if (need != 0 && need <= size)
            lo = mid;
        else
            hi = mid;
    }
    learn_region(roff, size, bs, align, ebs, lo);
}

static void op_attach(void)
{
    const size_t u = pick_user();
    const unsigned how = (unsigned)take(1);
    struct user *us = &users[u];
    if (us->st != U_NONE)
        return; /* its handle is in use (a second attach of that process: op_misuse) */
    const unsigned map = how & 1;
    /* bit 1: the process is the real one (the fuzzer's own pid); bit 2: it
     * is dead already when another asks (killed right after attaching). */
    const pid_t pid = how & 2 ? (pid_t)syscall(SYS_getpid) : (pid_t)(FAKE_LO + ++m.pidseq);
    const size_t size = m.region ? m.size : 4096;
    const int r = attach_as(&us->h, pid, region_at(map), size);
    const int want = attach_model(pid);
    CHECK(r == want, "attach of user %zu returned %d, the model says %d", u, r, want);
    if (r != 0) {
        CHECK(is_zeroed(&us->h), "a failed attach did not zero *h");
        return;
    }
    us->st = how & 4 && !(how & 2) ? U_DEAD : U_ATTACHED;
    us->pid = pid;
    us->map = map;
}

static void op_detach(void)
{
    const size_t u = pick_user();
    struct user *us = &users[u];
    if (us->st == U_DEAD)
        return; /* a dead process calls nothing */
    for (size_t i = 0; i < m.ncarved; i++)
        if (m.owner[i] == (int)u + 1)
            verify_block(us->map, i);
    const int r = am_onesize_shared_detach(&us->h);
    if (us->st == U_NONE) {
        CHECK(r == -EINVAL, "detach of a handle not attached returned %d", r);
        return;
    }
    CHECK(r == 0, "detach returned %d", r);
    give_back_all(u);
    forget_user(u);
    CHECK(is_zeroed(&us->h), "detach did not zero *h");
}

/* A user's process dies: whatever it holds stays held until a reclaim. */
static void op_die(void)
{
    const size_t u = pick_user();
    if (users[u].st == U_ATTACHED && users[u].pid >= FAKE_LO)
        users[u].st = U_DEAD;
}

static size_t pick_size(void)
{
    const unsigned v = (unsigned)take(1);
    if (v >= 0xf8)
        return SIZE_MAX - (v & 7);
    if (v >= 0xf0)
        return m.bs + (v & 7); /* just too large */
    if (v >= 0xe0)
        return m.bs - (v & 7); /* the largest sizes served */
    return v;
}

static void op_allocate(void)
{
    const size_t u = pick_user();
    const size_t size = pick_size();
    struct user *us = &users[u];
    if (us->st == U_DEAD)
        return;
    errno = 0;
    void *p = am_onesize_shared_allocate(&us->h, size);
    if (us->st == U_NONE) {
        CHECK(p == NULL && errno == EINVAL, "allocate on a handle not attached: %p, errno %d", p, errno);
        return;
    }
    if (size > m.bs) {
        CHECK(p == NULL && errno == EINVAL, "allocate(%zu) over %zu: %p, errno %d", size, m.bs, p, errno);
        m.st.oversize_requests++;
        return;
    }
    if (model_nfree() == 0) {
        CHECK(p == NULL && errno == ENOMEM, "allocate with nothing free: %p, errno %d", p, errno);
        m.st.failed_allocations++;
        return;
    }
    size_t i;
    CHECK(p != NULL, "allocate failed with errno %d, %zu free", errno, model_nfree());
    CHECK(classify(us->map, p, &i) == K_BLOCK, "allocate returned %p, not a block start", p);
    handed_out(u, i);
    fill_block(us->map, i);
}

/* Deadline: 0 none (only with a block free), 1 long past, 2 just past, 3
 * in the future (only with a block free), 4 tv_nsec negative, 5 tv_nsec a
 * second. */
static void op_allocate_wait(void)
{
    const size_t u = pick_user();
    const size_t size = pick_size();
    const unsigned d = (unsigned)take(1) % 6;
    struct user *us = &users[u];
    if (us->st == U_DEAD)
        return;
    const bool can_wait = d == 0 || d == 3;
    if (can_wait && us->st == U_ATTACHED && model_nfree() == 0)
        return; /* it would wait for ever: no other thread frees */
    struct timespec t = {0, 0}, *dl = &t;
    if (d == 0)
        dl = NULL;
    else if (d == 2)
        t = now_plus(0);
    else if (d == 3)
        t = now_plus(3600);
    else if (d == 4)
        t.tv_nsec = -1;
    else if (d == 5)
        t.tv_nsec = 1000000000;
    errno = 0;
    void *p = am_onesize_shared_allocate_wait(&us->h, size, dl);
    if (us->st == U_NONE || d >= 4) {
        CHECK(p == NULL && errno == EINVAL, "allocate_wait (handle attached %d, deadline %u): %p, errno %d",
              us->st == U_ATTACHED, d, p, errno);
        return;
    }
    if (size > m.bs) {
        CHECK(p == NULL && errno == EINVAL, "allocate_wait(%zu): %p, errno %d", size, p, errno);
        m.st.oversize_requests++;
        return;
    }
    if (model_nfree() == 0) {
        CHECK(p == NULL && errno == ETIMEDOUT, "allocate_wait past its deadline: %p, errno %d", p, errno);
        m.st.timeouts++;
        return;
    }
    size_t i;
    CHECK(p != NULL, "allocate_wait failed with errno %d, %zu free", errno, model_nfree());
    CHECK(classify(us->map, p, &i) == K_BLOCK, "allocate_wait returned %p, not a block start", p);
    handed_out(u, i);
    fill_block(us->map, i);
}

/* What a free of p by user u must answer, and the model's change. */
static void free_and_check(size_t u, const void *p)
{
    struct user *us = &users[u];
    size_t i = 0;
    const enum kind k = m.region ? classify(us->map, p, &i) : K_OUTSIDE;
    const bool mine = k == K_BLOCK && i < m.ncarved && (m.owner[i] == (int)u + 1 || m.owner[i] == O_TRANSIT);
    if (mine)
        verify_block(us->map, i);
    const int r = am_onesize_shared_free(&us->h, p);
    if (p == NULL && us->st == U_NONE) {
        /* The header leaves it open: free(NULL) is a no-op returning 0 and
         * a handle not attached is -EINVAL. */
        CHECK(r == 0 || r == -EINVAL, "free(NULL) on a handle not attached returned %d", r);
        return;
    }
    if (p == NULL) {
        CHECK(r == 0, "free(NULL) returned %d", r);
        return;
    }
    if (us->st == U_NONE) {
        CHECK(r == -EINVAL, "free on a handle not attached returned %d", r);
        return;
    }
    int want;
    if (k == K_OUTSIDE) {
        want = -EINVAL;
        m.st.rejected_outside++;
    } else if (k == K_INTERIOR) {
        want = -EINVAL;
        m.st.rejected_interior++;
    } else if (i >= m.ncarved) {
        want = -EINVAL;
        m.st.rejected_never_allocated++;
    } else if (m.owner[i] == O_FREE) {
        want = -EALREADY;
        m.st.rejected_double++;
    } else if (!mine) {
        want = -EPERM;
    } else {
        want = 0;
        if (m.owner[i] == O_TRANSIT)
            m.transit--;
        push_group();
        push_free(i);
        m.st.frees++;
    }
    CHECK(r == want, "free(%p) by user %zu returned %d, the model says %d", p, u, r, want);
}

static bool held_by(size_t i, size_t u)
{
    return m.owner[i] == (int)u + 1;
}

/* The k-th block (cyclically) that pred accepts, or SIZE_MAX. */
static size_t nth_block(size_t k, bool (*pred)(size_t i, size_t u), size_t u)
{
    size_t cnt = 0;
    for (size_t i = 0; i < m.ncarved; i++)
        cnt += pred(i, u);
    if (cnt == 0)
        return SIZE_MAX;
    k %= cnt;
    for (size_t i = 0; i < m.ncarved; i++)
        if (pred(i, u) && k-- == 0)
            return i;
    return SIZE_MAX;
}

static bool in_transit(size_t i, size_t u)
{
    (void)u;
    return m.owner[i] == O_TRANSIT;
}

/* Free a block u holds (or one in transit). */
static void op_free_held(void)
{
    const size_t u = pick_user();
    const unsigned how = (unsigned)take(1);
    const size_t k = (size_t)take(2);
    if (users[u].st != U_ATTACHED || !m.region)
        return;
    const size_t i = nth_block(k, how & 1 ? in_transit : held_by, u);
    if (i != SIZE_MAX)
        free_and_check(u, block_at(users[u].map, i));
}

/* Free any block (held by another, free, never handed out, in transit),
 * through either mapping, maybe off its start. */
static void op_free_block(void)
{
    const size_t u = pick_user();
    const size_t i = (size_t)take(2);
    const unsigned how = (unsigned)take(1);
    if (users[u].st == U_DEAD || !m.region)
        return;
    const unsigned map = how & 1 ? 1 - users[u].map : users[u].map;
    const size_t delta = how & 2 ? (size_t)take(1) % m.bs : 0;
    free_and_check(u, (unsigned char *)block_at(map, i % m.n) + delta);
}

/* A pointer that is no block of the region, at times NULL or a block. */
static void *bad_pointer(unsigned map)
{
    static unsigned char elsewhere[64];
    const unsigned kind = (unsigned)take(1) % 8;
    const size_t v = (size_t)take(2);
    unsigned char *r = region_at(map);
    switch (kind) {
    case 0:
        return NULL;
    case 1:
        return r + v % (m.b0 + 1); /* the header and tables */
    case 2:
        return (unsigned char *)block_at(map, m.n) + v % 64; /* past the last block */
    case 3:
        return elsewhere + v % 64;
    case 4:
        return (void *)(uintptr_t)take(8);
    case 5:
        return (unsigned char *)block_at(map, 0) - 1 - v % 16;
    case 6:
        return garbage + v % 4096;
    default:
        return (unsigned char *)block_at(map, v % m.n) + 1 + v % (m.bs - 1);
    }
}

static void op_free_bad(void)
{
    const size_t u = pick_user();
    if (users[u].st == U_DEAD || !m.region)
        return;
    free_and_check(u, bad_pointer(users[u].map));
}

static void op_give(void)
{
    const size_t u = pick_user();
    const unsigned how = (unsigned)take(1);
    const size_t k = (size_t)take(2);
    struct user *us = &users[u];
    if (us->st == U_DEAD || !m.region)
        return;
    const void *p;
    if ((how & 3) == 0) {
        const size_t i = nth_block(k, held_by, u);
        p = i != SIZE_MAX ? block_at(us->map, i) : NULL;
    } else if ((how & 3) == 1) {
        p = block_at(how & 4 ? 1 - us->map : us->map, k % m.n);
    } else {
        p = bad_pointer(us->map);
    }
    uint64_t off = 0xdeadbeef;
    const int r = am_onesize_shared_give(&us->h, p, how & 8 ? NULL : &off);
    size_t i = 0;
    const enum kind kd = p != NULL ? classify(us->map, p, &i) : K_OUTSIDE;
    int want;
    if (us->st == U_NONE || kd != K_BLOCK)
        want = -EINVAL;
    else if (i >= m.ncarved || m.owner[i] == O_FREE || m.owner[i] == O_TRANSIT)
        want = -EALREADY;
    else if (m.owner[i] != (int)u + 1)
        want = -EPERM;
    else
        want = 0;
    CHECK(r == want, "give(%p) by user %zu returned %d, the model says %d", p, u, r, want);
    if (r != 0) {
        CHECK(off == 0xdeadbeef, "a failed give wrote *off");
        return;
    }
    verify_block(us->map, i);
    if (!(how & 8))
        CHECK(off == m.b0 + i * m.bs, "give: offset %llu, the model says %zu", (unsigned long long)off,
              m.b0 + i * m.bs);
    m.owner[i] = O_TRANSIT;
    m.transit++;
}

static uint64_t pick_offset(size_t k, unsigned how)
{
    switch (how % 6) {
    case 0:
    case 1:
        return m.b0 + (k % m.n) * m.bs;
    case 2:
        return m.b0 + (k % m.n) * m.bs + 1 + k % (m.bs - 1); /* inside a block */
    case 3:
        return k % (m.b0 + 1); /* header, tables, and block 0 */
    case 4:
        return m.b0 + m.n * m.bs + k % 4096; /* past the blocks, maybe past the region */
    default:
        return take(8);
    }
}

static bool off_is_block(uint64_t off, size_t *i)
{
    if (off < m.b0 || off - m.b0 >= (uint64_t)m.n * m.bs || (off - m.b0) % m.bs != 0)
        return false;
    *i = (size_t)((off - m.b0) / m.bs);
    return true;
}

static void op_take(void)
{
    const size_t u = pick_user();
    const unsigned how = (unsigned)take(1);
    const size_t k = (size_t)take(2);
    struct user *us = &users[u];
    if (us->st == U_DEAD || !m.region)
        return;
    uint64_t off;
    if (how & 1) {
        const size_t i = nth_block(k, in_transit, u);
        off = m.b0 + (i != SIZE_MAX ? i : 0) * m.bs;
    } else {
        off = pick_offset(k, how >> 1);
    }
    errno = 0;
    void *p = am_onesize_shared_take(&us->h, off);
    size_t i = 0;
    if (us->st == U_NONE || !off_is_block(off, &i)) {
        CHECK(p == NULL && errno == EINVAL, "take(%llu) (attached %d): %p, errno %d", (unsigned long long)off,
              us->st == U_ATTACHED, p, errno);
        return;
    }
    if (i >= m.ncarved || m.owner[i] != O_TRANSIT) {
        CHECK(p == NULL && errno == EALREADY, "take of block %zu, not in transit: %p, errno %d", i, p, errno);
        return;
    }
    CHECK(p == block_at(us->map, i), "take of block %zu returned %p, not %p", i, p, block_at(us->map, i));
    verify_block(us->map, i);
    m.owner[i] = (int)u + 1;
    m.transit--;
}

/* Offsets and pointers, both ways, good and bad. */
static void op_offsets(void)
{
    const size_t u = pick_user();
    const unsigned how = (unsigned)take(1);
    const size_t k = (size_t)take(2);
    struct user *us = &users[u];
    if (us->st == U_DEAD || !m.region)
        return;
    const bool att = us->st == U_ATTACHED;
    uint64_t off = pick_offset(k, how & 7);
    errno = 0;
    void *p = am_onesize_shared_pointer(&us->h, off);
    size_t i = 0;
    if (att && off_is_block(off, &i)) {
        CHECK(p == block_at(us->map, i), "pointer(%llu) returned %p, not %p", (unsigned long long)off, p,
              block_at(us->map, i));
        uint64_t back = 0;
        CHECK(am_onesize_shared_offset(&us->h, p, &back) == 0 && back == off, "offset(pointer(%llu)) is %llu",
              (unsigned long long)off, (unsigned long long)back);
        CHECK(am_onesize_shared_offset(&us->h, p, NULL) == -EINVAL, "offset with off NULL");
    } else {
        CHECK(p == NULL && errno == EINVAL, "pointer(%llu) (attached %d): %p, errno %d",
              (unsigned long long)off, att, p, errno);
    }
    /* A pointer to offset. */
    const void *q = how & 8 ? bad_pointer(us->map) : block_at(how & 16 ? 1 - us->map : us->map, k % m.n);
    uint64_t o = 0xdeadbeef;
    const int r = am_onesize_shared_offset(&us->h, q, &o);
    const bool ok = att && q != NULL && classify(us->map, q, &i) == K_BLOCK;
    CHECK(r == (ok ? 0 : -EINVAL), "offset(%p) returned %d, the model says %d", q, r, ok ? 0 : -EINVAL);
    if (ok)
        CHECK(o == m.b0 + i * m.bs, "offset(%p) is %llu, not %zu", q, (unsigned long long)o, m.b0 + i * m.bs);
    else
        CHECK(o == 0xdeadbeef, "a failed offset wrote *off");
}

/* Reclaim of a dead user: its blocks back to the pool, its slot free. */
static size_t reclaim_model(size_t u)
{
    const size_t k = give_back_all(u);
    m.ss.reclaimed += k;
    forget_user(u);
    return k;
}

/* pid: 0 a user's (alive, dead or gone), 1 the fuzzer's own, 2 one that
 * cannot exist, 3 zero, 4 negative, 5 the helper's (alive, not attached). */
static void op_reclaim(void)
{
    const size_t u = pick_user();
    const unsigned kind = (unsigned)take(1) % 6;
    const size_t v = pick_user();
    struct user *us = &users[u];
    if (us->st == U_DEAD)
        return;
    const pid_t own = (pid_t)syscall(SYS_getpid);
    pid_t pid;
    switch (kind) {
    case 0:
        pid = users[v].st != U_NONE ? users[v].pid : (pid_t)(FAKE_LO + m.pidseq + 1);
        break;
    case 1:
        pid = own;
        break;
    case 2:
        pid = NO_PID;
        break;
    case 3:
        pid = 0;
        break;
    case 4:
        pid = -1 - (pid_t)(take(1) == 0 ? own : 0);
        break;
    default:
        pid = SCRATCH;
        break;
    }
    const int r = am_onesize_shared_reclaim(&us->h, pid);
    int want = -ESRCH;
    if (us->st == U_NONE) {
        want = -EINVAL;
    } else {
        for (size_t w = 0; w < NUSERS; w++)
            if (users[w].st != U_NONE && users[w].pid == pid) {
                want = users[w].st == U_ATTACHED ? -EBUSY : (int)reclaim_model(w);
                break;
            }
    }
    CHECK(r == want, "reclaim(%d) by user %zu returned %d, the model says %d", (int)pid, u, r, want);
}

static void op_reap(void)
{
    const size_t u = pick_user();
    struct user *us = &users[u];
    if (us->st == U_DEAD)
        return;
    const int r = am_onesize_shared_reap(&us->h);
    int want = 0;
    if (us->st == U_NONE) {
        want = -EINVAL;
    } else {
        push_group();
        for (size_t w = 0; w < NUSERS; w++)
            if (users[w].st == U_DEAD) {
                const size_t k = give_back(w);
                m.ss.reclaimed += k;
                forget_user(w);
                want += (int)k;
            }
        push_group();
    }
    CHECK(r == want, "reap by user %zu returned %d, the model says %d", u, r, want);
}

/* Many processes attach (alive or dead), up to every slot and beyond. */
static void op_crowd(void)
{
    const size_t k = (size_t)take(2) % (AM_ONESIZE_SHARED_MAX_OWNERS + 4);
    const unsigned dead = (unsigned)take(1);
    if (!m.region)
        return;
    for (size_t j = 0, u = NACTIVE; j < k && u < NUSERS; u++) {
        if (users[u].st != U_NONE)
            continue;
        j++;
        const pid_t pid = (pid_t)(FAKE_LO + ++m.pidseq);
        const int r = attach_as(&users[u].h, pid, region_at(j & 1), m.size);
        const int want = attach_model(pid);
        CHECK(r == want, "attach of crowd user %zu returned %d, the model says %d", u, r, want);
        if (r != 0) {
            CHECK(is_zeroed(&users[u].h), "a failed attach did not zero *h");
            break;
        }
        users[u].st = dead >> (j % 8) & 1 ? U_DEAD : U_ATTACHED;
        users[u].pid = pid;
        users[u].map = j & 1;
    }
}

/* Calls the header defines for bad handles and regions, and odd sizes. */
static void op_misuse(void)
{
    const unsigned sel = (unsigned)take(1);
    const size_t u = pick_user();
    struct user *us = &users[u];
    struct am_onesize_shared h;
    memset(&h, 0x5a, sizeof h);
    const size_t size = m.region ? m.size : 4096;
    switch (sel % 12) {
    case 0: { /* am_onesize_shared_size: 0 iff an argument is 0 or invalid or it overflows */
        const size_t nb = take(1) & 1 ? SIZE_MAX >> (take(1) % 64) : (size_t)take(2);
        const size_t bs = take(1) & 1 ? SIZE_MAX >> (take(1) % 64) : (size_t)take(2);
        const size_t al = aligns[take(1) % (sizeof aligns / sizeof aligns[0])];
        const size_t s = am_onesize_shared_size(nb, bs, al), a = al != 0 ? al : alignof(max_align_t);
        const size_t ebs = effective_bs(bs, al);
        size_t blocks;
        const bool overflow = ebs == 0 || __builtin_mul_overflow(nb, ebs, &blocks);
        if (nb == 0 || bs == 0 || (a & (a - 1)) != 0 || overflow) {
            CHECK(s == 0, "shared_size(%zu, %zu, %zu) is %zu, the model says 0", nb, bs, al, s);
        } else if (s != 0) {
            CHECK(s >= blocks, "shared_size(%zu, %zu, %zu) is %zu, less than its blocks", nb, bs, al, s);
            CHECK(am_onesize_shared_size(nb, bs, al == 0 ? alignof(max_align_t) : al) ==
                      am_onesize_shared_size(nb, bs, al == alignof(max_align_t) ? 0 : al),
                  "alignment 0 is alignof(max_align_t)");
            const size_t s1 = am_onesize_shared_size(nb - 1, bs, al);
            CHECK(nb == 1 || (s1 != 0 && s - s1 >= ebs), "shared_size grows by less than a block: %zu, %zu",
                  s1, s);
        } else {
            CHECK(blocks > SIZE_MAX / 2, "shared_size(%zu, %zu, %zu) is 0, far from overflowing", nb, bs, al);
        }
        break;
    }
    case 1:
        CHECK(attach_as(NULL, SCRATCH, region_at(0), size) == -EINVAL, "attach(NULL h)");
        break;
    case 2:
        CHECK(attach_as(&h, SCRATCH, NULL, size) == -EINVAL && is_zeroed(&h), "attach(NULL region)");
        break;
    case 3:
        CHECK(attach_as(&h, SCRATCH, region_at(0) + 8 * (1 + take(1) % 2), size) == -EINVAL && is_zeroed(&h),
              "attach(misaligned region)");
        break;
    case 4: /* memory that is not a region: zeros, or a repeated byte */
        memset(garbage, (int)take(1), 8192);
        CHECK(attach_as(&h, SCRATCH, garbage, 8192) == -EINVAL && is_zeroed(&h), "attach(not a region)");
        break;
    case 5: { /* a size smaller than the region laid out */
        if (!m.region)
            break;
        const size_t small = (size_t)take(2) % m.need;
        CHECK(attach_as(&h, SCRATCH, region_at(take(1) & 1), small) == -EINVAL && is_zeroed(&h),
              "attach(size %zu of %zu)", small, m.need);
        break;
    }
    case 6: { /* a second attach from an attached process */
        if (!m.region || us->st != U_ATTACHED)
            break;
        CHECK(attach_as(&h, us->pid, region_at(take(1) & 1), size) == -EALREADY && is_zeroed(&h),
              "second attach");
        break;
    }
    case 7: { /* every call on a NULL handle */
        struct am_onesize_stats st;
        struct am_onesize_shared_stats ss;
        uint64_t off;
        errno = 0;
        CHECK(am_onesize_shared_allocate(NULL, 1) == NULL && errno == EINVAL, "allocate(NULL)");
        errno = 0;
        CHECK(am_onesize_shared_allocate_wait(NULL, 1, NULL) == NULL && errno == EINVAL,
              "allocate_wait(NULL)");
        CHECK(am_onesize_shared_detach(NULL) == -EINVAL, "detach(NULL)");
        CHECK(am_onesize_shared_free(NULL, block_at(0, 0)) == -EINVAL, "free(NULL h)");
        CHECK(am_onesize_shared_offset(NULL, block_at(0, 0), &off) == -EINVAL, "offset(NULL h)");
        errno = 0;
        CHECK(am_onesize_shared_pointer(NULL, m.b0) == NULL && errno == EINVAL, "pointer(NULL h)");
        CHECK(am_onesize_shared_give(NULL, block_at(0, 0), &off) == -EINVAL, "give(NULL h)");
        errno = 0;
        CHECK(am_onesize_shared_take(NULL, m.b0) == NULL && errno == EINVAL, "take(NULL h)");
        CHECK(am_onesize_shared_reclaim(NULL, NO_PID) == -EINVAL, "reclaim(NULL h)");
        CHECK(am_onesize_shared_reap(NULL) == -EINVAL, "reap(NULL h)");
        memset(&st, 0xa5, sizeof st);
        memset(&ss, 0xa5, sizeof ss);
        CHECK(am_onesize_shared_get_stats(NULL, &st, &ss) == -EINVAL, "get_stats(NULL h)");
        static const struct am_onesize_stats zst;
        static const struct am_onesize_shared_stats zss;
        CHECK(memcmp(&st, &zst, sizeof st) == 0 && memcmp(&ss, &zss, sizeof ss) == 0,
              "get_stats(NULL h) did not zero its outputs");
        CHECK(am_onesize_shared_get_stats(NULL, NULL, NULL) == -EINVAL, "get_stats(NULL, NULL, NULL)");
        CHECK(am_onesize_shared_check(NULL) == -EINVAL, "check(NULL h)");
        break;
    }
    case 8: { /* get_stats and check on a handle not attached; either output NULL */
        if (us->st == U_DEAD)
            break;
        struct am_onesize_stats st;
        struct am_onesize_shared_stats ss;
        memset(&st, 0xa5, sizeof st);
        memset(&ss, 0xa5, sizeof ss);
        const unsigned which = (unsigned)take(1) % 3;
        const int r = am_onesize_shared_get_stats(&us->h, which == 1 ? NULL : &st, which == 2 ? NULL : &ss);
        if (us->st == U_NONE) {
            static const struct am_onesize_stats zst;
            static const struct am_onesize_shared_stats zss;
            CHECK(r == -EINVAL, "get_stats on a handle not attached returned %d", r);
            CHECK((which == 1 || memcmp(&st, &zst, sizeof st) == 0) &&
                      (which == 2 || memcmp(&ss, &zss, sizeof ss) == 0),
                  "get_stats on a handle not attached did not zero its outputs");
            CHECK(am_onesize_shared_check(&us->h) == -EINVAL, "check on a handle not attached");
        } else {
            CHECK(r == 0, "get_stats with output %u NULL returned %d", which, r);
            if (which != 1)
                CHECK(st.nblocks == m.n && st.nfree == model_nfree(), "get_stats with shared_out NULL");
            if (which != 2)
                CHECK(ss.owners == owners_now() && ss.in_transit == m.transit, "get_stats with out NULL");
        }
        break;
    }
    case 9: /* a detached (zeroed) handle: every call is -EINVAL */
        if (us->st != U_NONE)
            break;
        CHECK(am_onesize_shared_detach(&us->h) == -EINVAL, "double detach");
        CHECK(am_onesize_shared_reap(&us->h) == -EINVAL, "reap on a handle not attached");
        break;
    default: /* the helper process attaches, checks and detaches */
        if (!m.region)
            break;
        {
            const int r = attach_as(&h, SCRATCH, region_at(take(1) & 1), size), want = attach_model(SCRATCH);
            CHECK(r == want, "attach of the helper returned %d, the model says %d", r, want);
            if (r == 0) {
                CHECK(am_onesize_shared_check(&h) == 0, "check");
                CHECK(am_onesize_shared_detach(&h) == 0 && is_zeroed(&h), "detach");
            } else {
                CHECK(is_zeroed(&h), "a failed attach did not zero *h");
            }
        }
        break;
    }
}

/* A write into the first two words of a free block (use after free): the
 * header says check finds it and allocation that reaches it answers
 * EFAULT without following its link. The input ends after that. */
static void op_damage(void)
{
    const size_t k = (size_t)take(2);
    const unsigned which = (unsigned)take(1) & 1;
    const uintptr_t x = (uintptr_t)take(8) | 1;
    if (!m.region || m.nstk == 0)
        return;
    const size_t u = live_user(0);
    if (u == SIZE_MAX)
        return;
    const size_t d = m.stk[k % m.nstk];
    uintptr_t w;
    unsigned char *b = block_at(0, d);
    memcpy(&w, b + which * sizeof w, sizeof w);
    w ^= x;
    memcpy(b + which * sizeof w, &w, sizeof w);
    m.damaged = true;
    const int c = am_onesize_shared_check(&users[u].h);
    CHECK(c == -EFAULT, "check after damage to block %zu returned %d", d, c);
    /* Allocation hands out blocks freed after it, then fails. */
    for (size_t n = 0;; n++) {
        CHECK(n <= m.nstk, "allocation went past the damaged block %zu", d);
        errno = 0;
        void *p = am_onesize_shared_allocate(&users[u].h, 1);
        if (p == NULL) {
            CHECK(errno == EFAULT, "allocation reaching damage failed with errno %d", errno);
            break;
        }
        size_t i;
        CHECK(classify(users[u].map, p, &i) == K_BLOCK && i < m.ncarved && m.owner[i] == O_FREE && i != d,
              "allocation after damage returned %p", p);
        m.owner[i] = (int)u + 1;
    }
    struct am_onesize_stats st;
    CHECK(am_onesize_shared_get_stats(&users[u].h, &st, NULL) == 0 && st.corruptions >= 1, "corruptions");
    input_stop(); /* nothing is modelled after damage */
}

static void (*const ops[])(void) = {
    op_allocate, op_allocate, op_allocate_wait, op_free_held, op_free_held, op_free_block, op_free_bad,
    op_give,     op_give,     op_take,          op_take,      op_offsets,   op_attach,     op_attach,
    op_detach,   op_die,      op_reclaim,       op_reap,      op_crowd,     op_misuse,     op_damage,
};

static const char *const op_names[] = {
    "allocate", "allocate", "allocate_wait", "free_held", "free_held", "free_block", "free_bad",
    "give",     "give",     "take",          "take",      "offsets",   "attach",     "attach",
    "detach",   "die",      "reclaim",       "reap",      "crowd",     "misuse",     "damage",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == sizeof ops / sizeof ops[0], "a name per operation");

static void trace_op(size_t k, const char *name)
{
    if (!trace)
        return;
    fprintf(stderr, "op %zu: %s -> region %d, n %zu, bs %zu, free %zu, transit %zu, owners %zu\n", k, name,
            m.region, m.n, m.bs, m.region ? model_nfree() : 0, m.transit, owners_now());
    if (m.nstk > 0) {
        fprintf(stderr, "  freed, most recent last (block/group):");
        for (size_t j = m.nstk > 8 ? m.nstk - 8 : 0; j < m.nstk; j++)
            fprintf(stderr, " %zu/%u", m.stk[j], (unsigned)m.grp[j]);
        fputc('\n', stderr);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    trace = tracing();
    const int fd = memfd_create("fuzz_shared", 0);
    CHECK(fd >= 0 && ftruncate(fd, SPAN) == 0, "memfd");
    for (unsigned k = 0; k < 2; k++) {
        maps[k] = mmap(NULL, SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(maps[k] != MAP_FAILED, "mmap");
    }
    close(fd);
    garbage = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(garbage != MAP_FAILED, "mmap");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_start(data, size);
    memset(&m, 0, sizeof m);
    reset_users();
    /* Each input starts from memory that is no region. */
    memset(maps[0], 0, 8192);
    op_create();
    after_op();
    trace_op(0, m.region ? "create" : "create (failed)");
    for (size_t k = 1; input_left(); k++) {
        const unsigned op = (unsigned)take(1);
        const char *name = op < 0xf8 ? op_names[op % (sizeof ops / sizeof ops[0])] : "create";
        if (trace)
            fprintf(stderr, "op %zu: %s ...\n", k, name);
        if (op < 0xf8)
            ops[op % (sizeof ops / sizeof ops[0])]();
        else
            op_create();
        after_op();
        trace_op(k, name);
    }
    /* The living detach; the region is forgotten. */
    for (size_t u = 0; u < NUSERS; u++)
        if (users[u].st == U_ATTACHED)
            CHECK(am_onesize_shared_detach(&users[u].h) == 0, "detach at the end");
    reset_users();
    return 0;
}
