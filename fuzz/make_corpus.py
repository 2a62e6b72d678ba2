#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the fuzzer (fuzz/corpus/), one small input per
scenario, and the reproducers of library bugs it found (fuzz/regressions/),
in the input format that fuzz/fuzz_onesize.c decodes.

usage: make_corpus.py [--regressions] [DIR]
       (default DIR: fuzz/corpus, or fuzz/regressions with --regressions)

A reproducer is named after its bug (the table in docs/fuzzing.md), with
a suffix when there are several: fuzz/regressions/<name>[.<variant>]. The
bugs are fixed; `meson test --suite fuzz` replays every reproducer, which
fails if one comes back.

Each seed starts a pool configuration and then names its operations; the
encoders below mirror the decoders in fuzz/*.c (argument order and width).
Run a seed with FUZZ_TRACE=1 to see what it does."""

import os
import struct
import sys

# Operation codes: the index of the operation in ops[] (fuzz_onesize.c).
OPS = {
    'allocate': 0, 'allocate_x': 2, 'allocate_wait': 3, 'free_held': 4, 'free_block': 6, 'free_bad': 7,
    'allocate_bulk': 8, 'free_bulk': 9, 'free_all': 10, 'iterate': 11, 'forge': 12, 'damage': 13,
    'misc': 14, 'verify': 15, 'cache_init': 16, 'cache_allocate': 17, 'cache_free_held': 19,
    'cache_free_block': 21, 'cache_free_bad': 22, 'cache_flush': 23,
}
CTOR, DTOR = 0xf8, 0xfe

# Locking (bits 3-5 of the configuration's flags).
NONE, CRIT, CRIT_WAIT, PTHREAD, PTHREAD_SYNC, HARDENED, ONE_CRIT, BAD_WAIT = range(8)
RESERVED = HARDENED  # with extra below 0x80: an invalid cfg.flags or cfg.state
# The hardened mode's options and the locking under it (op_ctor).
STATE, FILL, BOTH = 0, 1, 2
HARD_LOCK = {NONE: 0, CRIT: 1, CRIT_WAIT: 2, PTHREAD_SYNC: 3}
# Alignments: index into aligns[] of op_ctor.
ALIGN = {0: 0, 8: 4, 16: 5, 32: 6, 64: 7, 128: 8, 4096: 13, 3: 14, 24: 15}


def u8(v):
    return bytes([v & 0xff])


def u16(v):
    return struct.pack('<H', v & 0xffff)


def u64(v):
    return struct.pack('<Q', v & 0xffffffffffffffff)


def config(size=4096, bs=64, align=64, lock=NONE, on_error=True, garbage=False, off=0, extra=None,
           bs_near_max=None, size_near_max=None, hard=None, under=NONE, bitmap=0, bitmap_garbage=True):
    """A pool configuration: the first bytes of every input, and of CTOR.
    hard: STATE, FILL or BOTH, the hardened mode over locking `under`; bitmap:
    0 AM_ONESIZE_STATE_SIZE(), 1 the least, 2 more, 3 one byte short."""
    if hard is not None:
        lock = HARDENED
        extra = 0x80
    flags = 1 | (lock << 3) | (64 if on_error else 0) | (128 if garbage else 0)
    if bs_near_max is not None:
        flags |= 2
    if size_near_max is not None:
        flags |= 4
    out = u8(flags) + u8(off) + u16(size) + u16(bs) + u8(ALIGN[align])
    if lock >= RESERVED:
        out += u8(extra or 0)
    if hard is not None:
        out += u8(hard | (HARD_LOCK[under] << 2) | (bitmap << 4) | (64 if bitmap_garbage else 0))
        if bitmap == 2:
            out += u8(9)
    if bs_near_max is not None:
        out += u8(bs_near_max)
    if size_near_max is not None:
        out += u8(size_near_max)
    return out


def bad(kind, *args):
    """Arguments of a pointer that is not a block start (bad_pointer)."""
    kinds = {'interior': 0, 'around': 1, 'random': 2, 'foreign': 3, 'foreign_any': 4, 'edge': 5, 'null': 6}
    out = u8(kinds[kind])
    if kind == 'interior':
        out += u16(args[0]) + u16(args[1])
    elif kind in ('around', 'foreign_any'):
        out += u16(args[0])
    elif kind == 'random':
        out += u64(args[0])
    elif kind == 'edge':
        out += u8(args[0])
    return out


def size_arg(size):
    return u8(0xf8) + u8(0) if size == 'huge' else u8(0) + u16(size)


class Seq:
    """Operations, encoded as the fuzzer reads them."""

    def __init__(self, cfg):
        self.b = bytearray(cfg)

    def op(self, name, payload=b''):
        self.b += u8(OPS[name]) + payload
        return self

    def allocate(self, size=1):
        return self.op('allocate', size_arg(size))

    def allocate_x(self, size, margin):
        return self.op('allocate_x', size_arg(size) + (u8(0xff) + u8(0) if margin == 'max' else u8(0) + u16(margin)))

    def allocate_wait(self, size=1, deadline='past', action='none', held=0, cache=0):
        d = {'none': 0, 'past': 1, 'past2': 2, 'neg': 3, 'big': 4}[deadline]
        a = {'none': 0, 'free': 1, 'flush': 2}[action]
        return self.op('allocate_wait', size_arg(size) + u8(d) + u8(a) + u16(held) + u8(cache))

    def free_held(self, k=0):
        return self.op('free_held', u16(k))

    def free_block(self, i):
        return self.op('free_block', u16(i))

    def free_bad(self, kind, *args):
        return self.op('free_bad', bad(kind, *args))

    def allocate_bulk(self, n, null_out=False):
        return self.op('allocate_bulk', u8(n) + u8(0xff if null_out else 0))

    def free_bulk(self, elements, shape=0):
        """elements: ('held', k), ('null',), ('dup', j), ('block', i), ('bad', kind, args...)."""
        out = u8(shape) + u8(len(elements))
        for k, e in enumerate(elements):
            if e[0] == 'held':
                out += u8(0) + u16(e[1])
            elif e[0] == 'null':
                out += u8(5)
            elif e[0] == 'dup':
                out += u8(6) + (u16(e[1]) if k > 0 else b'')
            elif e[0] == 'block':
                out += u8(7) + u16(e[1])
            else:
                out += u8(8) + bad(*e[1:])
        return self.op('free_bulk', out)

    def free_all(self):
        return self.op('free_all')

    def iterate(self, num=0):
        return self.op('iterate', u8(num) if num != 'huge' else u8(0xf0) + u8(0))

    def forge(self, k=0, kind='free', link='zero', value=0, j=0):
        kinds = {'free': 0, 'parked': 1, 'odd': 2, 'restore': 3}
        links = {'zero': 0, 'block': 1, 'value': 2}
        return self.op('forge', u16(k) + u8(kinds[kind]) + u8(links[link]) + u64(value) + u16(j))

    def damage(self, where=0, k=0, words=1, v0=0x4141414141414141, v1=0x4242424242424242):
        """where 0: a free block of the pool (list or depot); c + 1: a block in cache c.
        words: 1 link, 2 check word, 3 both."""
        return self.op('damage', u8(where) + u16(k) + u8(words - 1) + u64(v0) + u64(v1))

    def spoil(self, where=0, k=0, offset=0, xor=0x5a, never=False):
        """A write of one byte at 2 words + offset (mod the rest of the block) of a free block: where 0
        on the pool's list, c + 1 in cache c; never: a block never handed out."""
        return self.op('damage', u8(where) + u16(k) + u8(0x80) + u64(offset) + u64((xor - 1) | (256 if never else 0)))

    def misc(self, sel):
        return self.op('misc', u8(sel))

    def verify(self):
        return self.op('verify')

    def cache_init(self, c, capacity=8, garbage=0xa5):
        return self.op('cache_init', u8(c) + u16(capacity) + u8(garbage))

    def cache_allocate(self, c, size=1):
        return self.op('cache_allocate', u8(c) + u8(0xf1 if size == 'big' else size))

    def cache_free_held(self, c, k=0):
        return self.op('cache_free_held', u8(c) + u16(k))

    def cache_free_block(self, c, i):
        return self.op('cache_free_block', u8(c) + u16(i))

    def cache_free_bad(self, c, kind, *args):
        return self.op('cache_free_bad', u8(c) + bad(kind, *args))

    def cache_flush(self, c):
        return self.op('cache_flush', u8(c))

    def ctor(self, cfg):
        self.b += u8(CTOR) + cfg
        return self

    def dtor(self):
        self.b += u8(DTOR)
        return self

    def times(self, n, f, *args):
        for _ in range(n):
            f(self, *args)
        return self


def seeds():
    s = {}
    for lock, name in ((NONE, 'unlocked'), (CRIT, 'locked'), (PTHREAD, 'pthread')):
        cfg = config(lock=lock)
        # Core: LIFO reuse, sizes, margins, getters.
        s[f'core_{name}'] = (Seq(cfg).times(4, Seq.allocate, 1).free_held(1).free_held(0).allocate(64)
                             .allocate(65).allocate('huge').allocate_x(0, 2).allocate_x(1, 'max').iterate(0)
                             .iterate(2).verify().b)
        # Misuse of the core: double, stale, never handed out, interior, foreign.
        s[f'misuse_{name}'] = (Seq(cfg).times(3, Seq.allocate, 1).free_held(0).free_block(0).free_block(40)
                               .free_bad('interior', 1, 7).free_bad('around', 0).free_bad('edge', 0)
                               .free_bad('edge', 1).free_bad('foreign').free_bad('random', 0x1234)
                               .free_bad('null').free_all().free_block(1).allocate().free_block(1).b)
        # Caches: refill half, LIFO, flush half when full, flush.
        s[f'cache_{name}'] = (Seq(cfg).cache_init(0, 4).cache_init(1, 0).cache_allocate(0).cache_allocate(0)
                              .cache_free_held(0, 0).cache_free_held(0, 0).cache_allocate(0)
                              .times(5, Seq.allocate, 1).times(5, Seq.cache_free_held, 0, 0).cache_allocate(1)
                              .cache_allocate(0, 'big').cache_flush(0).cache_flush(1).iterate(0).b)
        # Double frees through every layer.
        s[f'double_{name}'] = (Seq(cfg).cache_init(0, 8).cache_init(1, 8).cache_allocate(0).cache_allocate(1)
                               .allocate().cache_free_held(0, 0).cache_free_block(0, 3).cache_free_block(1, 3)
                               .free_block(3).cache_free_block(0, 4).free_held(0).cache_free_block(1, 8)
                               .cache_free_block(2, 50).cache_free_bad(0, 'interior', 0, 3)
                               .cache_free_bad(1, 'foreign').cache_free_bad(0, 'null').b)
        # Bulk: all or nothing, duplicates, bad pointers, NULLs.
        s[f'bulk_{name}'] = (Seq(cfg).allocate_bulk(10).free_bulk([('held', 0), ('null',), ('held', 1)])
                             .free_bulk([('held', 0), ('dup', 0)]).free_bulk([('held', 0), ('bad', 'interior', 2, 5)])
                             .free_bulk([('held', 2), ('block', 60)]).free_bulk([('held', 0), ('block', 0)])
                             .allocate_bulk(70).allocate_bulk(3, True).free_bulk([('held', 0)], shape=0xfe)
                             .free_bulk([('held', 0)], shape=0xff).misc(5).b)
        # free_all and a new ctor while caches hold blocks.
        s[f'free_all_cached_{name}'] = (Seq(cfg).cache_init(0, 8).cache_init(1, 16).cache_allocate(0)
                                        .cache_allocate(1).cache_free_held(1, 0).free_all().cache_allocate(0)
                                        .cache_free_block(1, 2).allocate().cache_free_held(1, 0).cache_allocate(1)
                                        .ctor(cfg).cache_allocate(0).cache_flush(1).cache_free_block(0, 1)
                                        .dtor().cache_allocate(0).cache_flush(0).ctor(cfg).cache_allocate(1).b)
        # Caller data that looks free, through the pool, a cache and a batch.
        s[f'forge_{name}'] = (Seq(cfg).cache_init(0, 8).times(6, Seq.allocate, 1).forge(0, 'free', 'zero')
                              .forge(1, 'free', 'block', j=3).forge(2, 'parked').forge(3, 'odd', value=6)
                              .iterate(0).free_held(0).cache_free_held(0, 0).cache_free_held(0, 0)
                              .free_bulk([('held', 0), ('held', 1)]).forge(0, 'restore').free_held(0).b)
        # A write into a free block on the list, then more operations.
        s[f'damage_list_{name}'] = (Seq(cfg).times(3, Seq.allocate, 1).free_held(0).free_held(0).damage(0, 1, 1)
                                    .allocate().allocate().free_held(0).allocate().allocate_bulk(3)
                                    .free_block(1).free_block(0).iterate(0).cache_init(0, 4).cache_allocate(0)
                                    .free_all().allocate().b)
    cfg = config(lock=NONE)
    # The depot: a flush puts blocks there; a write into one is found when taken.
    s['damage_depot_cache'] = (Seq(cfg).cache_init(0, 4).cache_init(1, 4).cache_allocate(0).cache_allocate(0)
                               .cache_free_held(0, 0).cache_free_held(0, 0).cache_flush(0).damage(0, 0, 2)
                               .times(5, Seq.cache_allocate, 1).b)
    s['damage_depot_pool'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).cache_allocate(0).cache_free_held(0, 0)
                              .cache_free_held(0, 0).cache_flush(0).damage(0, 3, 3).times(5, Seq.allocate, 1).b)
    s['damage_depot_word0'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).cache_free_held(0, 0).cache_flush(0)
                               .damage(0, 0, 1).allocate().b)
    # A write into a cached block; a partial flush moves it.
    s['damage_cache'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).damage(1, 0, 2).cache_allocate(0)
                         .cache_allocate(0).cache_allocate(0).b)
    s['damage_cache_flush'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).damage(1, 1, 2).times(3, Seq.allocate, 1)
                               .times(3, Seq.cache_free_held, 0, 0).allocate().cache_free_held(0, 0).iterate(0).b)
    # Documented as undetected: a write, then a double free of that block.
    s['damage_then_double'] = (Seq(cfg).times(2, Seq.allocate, 1).free_held(0).damage(0, 0, 1).free_block(0)
                               .allocate().allocate().free_all().allocate().b)
    s['damage_then_double_bulk'] = (Seq(cfg).times(2, Seq.allocate, 1).free_held(0).damage(0, 0, 2)
                                    .free_bulk([('held', 0), ('block', 0)]).free_bulk([('block', 0), ('block', 0)]).b)
    # A cache initialised again while it holds blocks.
    s['cache_orphans'] = (Seq(cfg).cache_init(0, 8).cache_allocate(0).cache_init(0, 8, garbage=0).free_block(0)
                          .free_block(1).free_all().b)
    # Waiting: timeouts, a free or a flush by "another thread", bad deadlines.
    for lock, name in ((CRIT_WAIT, 'callbacks'), (PTHREAD_SYNC, 'pthread')):
        c = config(size=256, bs=64, lock=lock)
        s[f'wait_{name}'] = (Seq(c).allocate_wait().allocate_wait(deadline='none').times(3, Seq.allocate, 1)
                             .allocate_wait(deadline='past').allocate_wait(action='free', held=1)
                             .cache_init(0, 2).free_held(0).cache_free_held(0, 0).allocate_wait(action='flush')
                             .allocate_wait(deadline='neg').allocate_wait(deadline='big').allocate_wait(200).b)
    s['wait_unsupported'] = Seq(config()).allocate_wait().allocate_wait(500).b
    # Configurations, valid and not.
    s['config_align'] = (Seq(config(size=1000, bs=24, align=8, off=3)).allocate().ctor(config(bs=1, align=4096))
                         .allocate().ctor(config(bs=100, align=24)).ctor(config(bs=0)).ctor(config(align=3))
                         .ctor(config(size=10, bs=64)).allocate().b)
    s['config_bad'] = (Seq(config(lock=RESERVED, extra=1)).allocate().ctor(config(lock=RESERVED, extra=2))
                       .ctor(config(lock=ONE_CRIT, extra=1)).ctor(config(lock=ONE_CRIT, extra=0))
                       .ctor(config(lock=BAD_WAIT, extra=1)).ctor(config(lock=BAD_WAIT, extra=2))
                       .ctor(config(lock=BAD_WAIT, extra=0)).ctor(config(bs_near_max=3))
                       .ctor(config(size_near_max=1)).allocate().free_block(0).cache_init(0).cache_allocate(0).b)
    s['misc'] = Seq(config(garbage=True)).misc(0).misc(1).misc(2).misc(3).misc(4).misc(5).misc(7).dtor().misc(5).b
    # Another thread holds the adapter's mutex while the fuzzer calls in.
    s['contended_pthread'] = Seq(config(lock=PTHREAD)).allocate().misc(6).ctor(config(lock=PTHREAD_SYNC)).misc(6).b
    # A cache of a destroyed pool that holds nothing: its next call fails harmlessly.
    s['cache_dead_pool'] = (Seq(config()).cache_init(0, 8).cache_init(1, 8).cache_allocate(0).cache_flush(0).dtor()
                            .cache_allocate(0, 0).cache_allocate(1, 0).cache_flush(1).cache_init(2).b)
    # The hardened mode, each option alone and both, over every locking.
    for hard, hname in ((STATE, 'state'), (FILL, 'fill'), (BOTH, 'both')):
        for under, lname in ((NONE, 'unlocked'), (CRIT, 'locked'), (PTHREAD_SYNC, 'pthread')):
            c = config(hard=hard, under=under)
            # A stray write into a free block's words, then a double free of it.
            s[f'hard_{hname}_{lname}_stray_double'] = (
                Seq(c).times(3, Seq.allocate, 1).free_held(1).damage(0, 0, 3).free_block(1).allocate()
                .free_all().free_block(0).free_block(2).free_block(70).iterate(0).b)
            # Writes beyond the words, at several offsets, on the list and in a cache.
            s[f'hard_{hname}_{lname}_writes'] = (
                Seq(c).times(6, Seq.allocate, 1).times(4, Seq.free_held, 0).spoil(0, 0, 0).spoil(0, 2, 47)
                .spoil(0, 1, 13, never=True).allocate().allocate().allocate_x(1, 3).iterate(0)
                .free_block(0).free_block(1).cache_init(0, 4).cache_allocate(0).cache_free_held(0, 0)
                .spoil(1, 0, 5).cache_allocate(0).cache_flush(0).allocate_bulk(5).b)
        s[f'hard_{hname}_five'] = (Seq(config(hard=hard, under=CRIT_WAIT)).times(7, Seq.allocate, 1)
                                   .times(6, Seq.free_held, 0).spoil(0, 0, 20).spoil(0, 1, 21)
                                   .spoil(0, 2, 22).spoil(0, 3, 23).spoil(0, 4, 24).spoil(0, 5, 25).allocate()
                                   .allocate().allocate_wait().allocate_bulk(3).free_all().allocate().b)
        s[f'hard_{hname}_bitmap'] = (Seq(config(hard=hard, bitmap=1)).allocate().ctor(config(hard=hard, bitmap=2))
                                     .allocate().ctor(config(hard=hard, bitmap=3)).allocate()
                                     .ctor(config(hard=hard, bs=24, align=8, size=1000, off=5)).allocate().b)
    s['hard_fill_cache_refill'] = (Seq(config(hard=FILL)).times(8, Seq.allocate, 1).times(8, Seq.free_held, 0)
                                   .spoil(0, 0, 1).spoil(0, 3, 2).cache_init(0, 8).cache_allocate(0)
                                   .cache_allocate(0).cache_flush(0).allocate_wait(deadline='none').b)
    s['big_pool'] = (Seq(config(size=65000, bs=16, align=16, lock=CRIT)).cache_init(0, 512).cache_init(1, 100)
                     .cache_allocate(0).allocate_bulk(79).times(40, Seq.cache_free_held, 1, 0).cache_flush(1)
                     .cache_allocate(1).iterate(0).b)
    return s


def regressions():
    """One input per library bug the fuzzer found, as small as it gets."""
    r = {}
    cfg = config(lock=NONE)
    # A cache whose blocks free_all took back hands out a block another
    # cache parked since (inline path: it unparks with the pool's new key).
    r['stale_cache_inline'] = (Seq(cfg).cache_init(0, 8).cache_init(1, 8).cache_allocate(0).free_all()
                               .cache_allocate(1).cache_allocate(0).b)
    # ... and it reads the memory of the pool it had before a new ctor, which
    # is the caller's again (the fuzzer has made it inaccessible): SIGSEGV.
    r['stale_cache_inline.after_ctor'] = Seq(cfg).cache_init(0, 8).cache_allocate(0).ctor(cfg).cache_allocate(0).b
    r['stale_cache_inline.after_dtor'] = Seq(cfg).cache_init(0, 8).cache_allocate(0).dtor().cache_allocate(0, 0).b
    # stats.cached does not count a block freed into a cache.
    r['cached_lags'] = Seq(cfg).cache_init(0, 8).allocate().cache_free_held(0, 0).b
    # A damaged block a cache took from the depot is dropped; stats.retired stays 0.
    r['retired_never_counts'] = (Seq(cfg).cache_init(0, 4).cache_init(1, 4).cache_allocate(0).cache_allocate(0)
                                 .cache_free_held(0, 0).cache_free_held(0, 0).cache_flush(0).damage(0, 0, 2)
                                 .cache_allocate(1).cache_allocate(1).b)
    # The pool drops a damaged depot block with EFAULT and counts an allocation.
    r['retire_is_allocation'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).cache_free_held(0, 0).cache_flush(0)
                                 .damage(0, 1, 2).allocate().b)
    # A write into word 0 of a depot block: the pool hands the block out.
    r['depot_word0_unseen'] = (Seq(cfg).cache_init(0, 4).cache_allocate(0).cache_free_held(0, 0).cache_flush(0)
                               .damage(0, 1, 1).allocate().b)
    # The first free into a new cache enters the critical section, no flush.
    r['cache_locks'] = Seq(config(lock=CRIT)).allocate().cache_init(0, 8).cache_free_held(0, 0).b
    # A cache dropping a damaged block enters it again, and again to refill.
    r['cache_locks.allocate'] = (Seq(config(lock=CRIT)).cache_init(0, 2).cache_init(1, 2).cache_allocate(0)
                                 .cache_free_held(0, 0).cache_flush(0).damage(0, 0, 2).cache_allocate(1).b)
    # cfg.flags set: ctor succeeds.
    r['reserved_accepted'] = Seq(config(lock=RESERVED, extra=1)).b
    # After dtor, cache_free(c, NULL) reads *NULL (SIGSEGV).
    r['cache_free_reads'] = Seq(cfg).cache_init(0, 8).cache_allocate(0).dtor().cache_free_bad(0, 'null').b
    # After free_all and a flush, a stale free into the cache is kept, then the
    # block is handed out by the cache and by the pool.
    r['flush_keeps_carved'] = (Seq(cfg).cache_init(0, 8).cache_allocate(0).free_all().cache_flush(0)
                               .cache_free_block(0, 3).cache_allocate(0).times(4, Seq.allocate, 1).b)
    # A write into a free list block, the block freed again into a cache: the
    # pool pops it (it looks parked) and follows its link, 1 (SIGSEGV).
    r['parked_link_followed'] = (Seq(cfg).cache_init(0, 8).allocate().free_held(0).damage(0, 0, 1)
                                 .cache_free_block(0, 0).allocate().allocate().b)
    # The same through a full cache: a block written while cached, freed into
    # that cache again; the flush that makes room links it onto the pool's list
    # (the depot being full), then the cache parks it.
    r['parked_link_followed.cache_flush'] = (Seq(cfg).cache_init(0, 4).cache_init(3, 512).cache_allocate(0)
                                             .damage(1, 0, 1).cache_allocate(3).cache_flush(3)
                                             .times(3, Seq.allocate, 1).times(3, Seq.cache_free_held, 0, 0)
                                             .cache_free_block(0, 0).times(3, Seq.allocate, 1).b)
    # After a write into a free list block, an allocation fails with EFAULT;
    # a block freed then is handed out by the next one.
    r['damage_not_sticky'] = (Seq(cfg).times(2, Seq.allocate, 1).free_held(0).damage(0, 0, 1).allocate()
                              .free_held(0).allocate().b)
    # A cache that synchronised with a plain pool kept caching after the pool
    # was constructed again with a state bitmap: refills bypassed the bits
    # and the pool handed out blocks out of order.
    r['cache_mode_at_init'] = (Seq(cfg).cache_init(0, 8).cache_allocate(0).ctor(config(hard=STATE))
                               .cache_allocate(0).cache_allocate(0).allocate().b)
    # ... and a flush caught it up with the new pool's key, after which its
    # inline free kept blocks of the state-bitmap pool.
    r['cache_mode_at_init.flush'] = (Seq(cfg).cache_init(0, 8).cache_allocate(0).ctor(config(hard=STATE))
                                     .allocate().cache_flush(0).cache_free_held(0, 0).allocate().b)
    # ... and that fix left such a cache key 0, which is also a destroyed
    # pool's: after dtor its inline free took the pool for current and read
    # the pointer's block (SIGSEGV).
    r['cache_mode_at_init.dtor'] = (Seq(cfg).cache_init(0, 8).cache_allocate(0).ctor(config(hard=STATE))
                                    .allocate().cache_flush(0).dtor().cache_free_block(0, 0).b)
    # ... and with AM_ONESIZE_CHECK_FREED, a flush after a new ctor filled the
    # old pool's blocks (memory that was the caller's again).
    r['cache_mode_at_init.fill'] = (Seq(config(hard=FILL)).cache_init(0, 8).cache_allocate(0)
                                    .ctor(config(hard=FILL)).cache_flush(0).b)
    # allocate_x handed out a block past its margin once it had retired
    # blocks on the way (AM_ONESIZE_CHECK_FREED).
    r['retire_past_margin'] = (Seq(config(size=256, hard=FILL)).times(4, Seq.allocate, 1)
                               .times(3, Seq.free_held, 0).spoil(0, 1, 3).spoil(0, 1, 4).allocate_x(1, 1).b)
    # An allocation that retired the last free block failed with ENOMEM
    # without counting it in failed_allocations.
    r['retired_enomem_uncounted'] = (Seq(config(size=128, hard=FILL)).times(2, Seq.allocate, 1).free_held(0)
                                     .spoil(0, 0, 7).allocate().b)
    # A retired block freed again through a stale pointer is back in
    # service, uncounted in stats.retired; retired again, the count passed
    # nblocks, and am_onesize_check called that damage.
    one = config(size=64, bs=64)
    r['retired_over_nblocks'] = (Seq(one).cache_init(0, 2).times(2, lambda q: q.cache_allocate(0).cache_free_held(0, 0)
                                 .cache_flush(0).damage(0, 0, 2).allocate().free_block(0)).b)
    return r


def write_inputs(argv, seeds_of, regressions_of, corpus_dir, regressions_dir):
    """The command line of both corpus writers: [--regressions] [DIR]. Writes
    every input of seeds_of() (or regressions_of()) into DIR (default: the
    directory named, next to this file)."""
    args = argv[1:]
    which, inputs_of = corpus_dir, seeds_of
    if args and args[0] == '--regressions':
        which, inputs_of = regressions_dir, regressions_of
        args = args[1:]
    inputs = inputs_of()
    out = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), which)
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(inputs.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(bytes(data))
    print(f'{len(inputs)} inputs in {out}')


if __name__ == '__main__':
    write_inputs(sys.argv, seeds, regressions, 'corpus', 'regressions')
