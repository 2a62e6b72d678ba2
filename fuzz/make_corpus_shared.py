#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the shared-pool fuzzer (fuzz/corpus_shared/),
one small input per scenario, and the reproducers of the library bugs it
found (fuzz/regressions_shared/), in the input format that
fuzz/fuzz_shared.c decodes.

usage: make_corpus_shared.py [--regressions] [DIR]
       (default DIR: fuzz/corpus_shared, or fuzz/regressions_shared)

A reproducer is named after its bug (the table in docs/fuzzing.md, "Shared
pools"). The bugs are fixed; `meson test --suite fuzz` replays every
reproducer, which fails if one comes back. Run a seed with FUZZ_TRACE=1 to
see what it does."""

import sys

from make_corpus import u8, u16, u64, write_inputs  # the encoders both fuzzers' inputs use

# Operation codes: the index of the operation in ops[] (fuzz_shared.c).
OPS = {
    'allocate': 0, 'allocate_wait': 2, 'free_held': 3, 'free_block': 5, 'free_bad': 6, 'give': 7, 'take': 9,
    'offsets': 11, 'attach': 12, 'detach': 14, 'die': 15, 'reclaim': 16, 'reap': 17, 'crowd': 18,
    'misuse': 19, 'damage': 20,
}
CREATE = 0xf8
# Alignments: index into aligns[] of fuzz_shared.c.
ALIGN = {0: 0, 8: 4, 16: 5, 32: 6, 64: 7, 128: 8, 256: 9, 4096: 10, 3: 11, 24: 12}


def region(blocks=8, bs=64, align=0, slack=0, at=0, raw=None, misaligned=False, null=False, zero=False,
           bs_near_max=None):
    """A region configuration: the first bytes of every input, and of CREATE.
    at: the region's offset in the mapping, in units of 16 bytes."""
    flags = (1 if raw is not None else 0) | (2 if bs_near_max is not None else 0) | (4 if misaligned else 0)
    flags |= (8 if null else 0) | (16 if zero else 0)
    out = u8(flags) + u8(at) + u16(bs) + u8(ALIGN[align])
    if bs_near_max is not None:
        out += u8(bs_near_max)
    out += u16(raw) if raw is not None else u8(blocks - 1) + u8(slack)
    return out


class Seq:
    """Operations, encoded as the fuzzer reads them. u: a user, 0 to 7."""

    def __init__(self, cfg):
        self.b = bytearray(cfg)

    def op(self, name, payload=b''):
        self.b += u8(OPS[name]) + payload
        return self

    def create(self, cfg):
        self.b += u8(CREATE) + cfg
        return self

    def attach(self, u, mapping=0, real=False, dead=False):
        return self.op('attach', u8(u) + u8(mapping | (2 if real else 0) | (4 if dead else 0)))

    def detach(self, u):
        return self.op('detach', u8(u))

    def die(self, u):
        return self.op('die', u8(u))

    def allocate(self, u, size=1):
        return self.op('allocate', u8(u) + u8(size))

    def allocate_wait(self, u, deadline='none', size=1):
        d = {'none': 0, 'past': 1, 'just_past': 2, 'future': 3, 'nsec_neg': 4, 'nsec_big': 5}[deadline]
        return self.op('allocate_wait', u8(u) + u8(size) + u8(d))

    def free_held(self, u, k=0, transit=False):
        return self.op('free_held', u8(u) + u8(1 if transit else 0) + u16(k))

    def free_block(self, u, i, other_map=False, delta=None):
        how = (1 if other_map else 0) | (2 if delta is not None else 0)
        return self.op('free_block', u8(u) + u16(i) + u8(how) + (u8(delta) if delta is not None else b''))

    def free_bad(self, u, kind, v=0):
        """kind: 0 NULL, 1 header, 2 past the blocks, 3 elsewhere, 4 random, 5 before block 0, 6 not a
        region, 7 interior."""
        return self.op('free_bad', u8(u) + u8(kind) + u16(v) + (u64(v) if kind == 4 else b''))

    def give(self, u, k=0, what='held', no_off=False, other_map=False, bad=None):
        how = {'held': 0, 'any': 1, 'bad': 2}[what] | (4 if other_map else 0) | (8 if no_off else 0)
        out = u8(u) + u8(how) + u16(k)
        if what == 'bad':
            out += u8(bad or 0) + u16(0)
        return self.op('give', out)

    def take(self, u, k=0, what='transit'):
        """what: transit, block, interior, header, past, random."""
        kinds = {'block': 0, 'interior': 2, 'header': 3, 'past': 4, 'random': 5}
        how = 1 if what == 'transit' else kinds[what] << 1
        return self.op('take', u8(u) + u8(how) + u16(k) + (u64(k * 7919) if what == 'random' else b''))

    def offsets(self, u, k=0, kind=0, bad=None, other_map=False):
        how = kind | (8 if bad is not None else 0) | (16 if other_map else 0)
        out = u8(u) + u8(how) + u16(k)
        if kind == 5:
            out += u64(k * 104729)
        if bad is not None:
            out += u8(bad) + u16(k)
        return self.op('offsets', out)

    def reclaim(self, u, kind, v=0):
        """kind: 0 user v's pid, 1 the fuzzer's own, 2 one that cannot exist, 3 zero, 4 negative, 5 the
        helper's."""
        return self.op('reclaim', u8(u) + u8(kind) + u8(v) + (u8(1) if kind == 4 else b''))

    def reap(self, u):
        return self.op('reap', u8(u))

    def crowd(self, k, dead_mask=0):
        return self.op('crowd', u16(k) + u8(dead_mask))

    def misuse(self, sel, u=0, args=b''):
        return self.op('misuse', u8(sel) + u8(u) + args)

    def damage(self, k=0, word=0, x=0x4141):
        return self.op('damage', u16(k) + u8(word) + u64(x))

    def times(self, n, f, *args, **kw):
        for _ in range(n):
            f(self, *args, **kw)
        return self


def seeds():
    s = {}
    cfg = region()
    s['life'] = (Seq(cfg).attach(0).attach(1, mapping=1).times(3, Seq.allocate, 0).allocate(1, 64)
                 .give(0, 0).take(1).free_held(1, 0).free_held(0, 1).offsets(0, 2).offsets(1, 3, other_map=True)
                 .detach(0).detach(1).misuse(9, 0).b)
    s['free_misuse'] = (Seq(cfg).attach(0).attach(1, mapping=1).allocate(0).allocate(1).free_block(1, 0)
                        .free_block(0, 5).free_block(0, 0, delta=3).free_block(0, 0, other_map=True)
                        .free_held(0, 0).free_block(0, 0).free_bad(0, 0).free_bad(0, 1, 40).free_bad(0, 2)
                        .free_bad(0, 3).free_bad(0, 4, 0x1234).free_bad(0, 5).free_bad(0, 6).free_bad(0, 7, 9)
                        .detach(1).free_block(0, 1).free_block(1, 0).b)
    s['transit'] = (Seq(cfg).attach(0).attach(1, mapping=1).allocate(0).allocate(0).give(0, 0).give(0, 0)
                    .give(1, 0, what='any').give(0, 1, what='any', no_off=True).give(0, 0, what='bad', bad=7)
                    .take(1).take(1).take(0, 5, what='block').take(0, 1, what='interior')
                    .take(0, 0, what='header').take(0, 0, what='past').take(0, 3, what='random')
                    .free_held(0, 0, transit=True).give(1, 0).free_held(0, 0, transit=True).take(1, 0).b)
    s['dead_owner'] = (Seq(cfg).attach(0).attach(2, mapping=1).times(3, Seq.allocate, 2).give(2, 1).die(2)
                       .reclaim(0, 0, 2).reclaim(0, 0, 2).attach(3).allocate(3).die(3).attach(4, dead=True)
                       .reap(0).take(0).reclaim(0, 1).reclaim(0, 2).reclaim(0, 3).reclaim(0, 4)
                       .reclaim(0, 5).reclaim(0, 0, 0).b)
    s['own_pid'] = (Seq(cfg).attach(0, real=True).attach(1).reclaim(1, 1).reclaim(1, 0, 0).attach(2, real=True)
                    .misuse(6, 0, u8(0)).misuse(6, 1, u8(1)).detach(0).reclaim(1, 1).reap(1).b)
    s['crowd'] = (Seq(cfg).attach(0).allocate(0).crowd(255, 0xaa).attach(1).allocate(1).crowd(20, 0)
                  .misuse(10, 0, u8(1)).attach(2).reap(0).crowd(259, 0).misuse(10, 0, u8(0)).b)
    s['wait'] = (Seq(region(blocks=2)).attach(0).allocate_wait(0, 'none').allocate_wait(0, 'future')
                 .allocate_wait(0, 'past').allocate_wait(0, 'just_past').allocate_wait(0, 'nsec_neg')
                 .allocate_wait(0, 'nsec_big').allocate_wait(0, 'past', 0xf8).allocate(0).allocate(0, 0xf1)
                 .free_held(0, 0).allocate_wait(0, 'past', 0xe0).allocate_wait(1, 'none').b)
    for name, c in (('align_4096', region(blocks=3, bs=100, align=4096, at=1)),
                    ('align_64', region(blocks=5, bs=24, align=64, at=3, slack=63)),
                    ('align_8', region(blocks=9, bs=1, align=8, slack=200)),
                    ('align_256_raw', region(bs=300, align=256, raw=20000, at=7))):
        s[name] = (Seq(c).attach(0).attach(1, mapping=1).times(4, Seq.allocate, 0).offsets(1, 1)
                   .free_block(1, 1).free_held(0, 1).b)
    s['create_invalid'] = (Seq(region(align=3)).create(region(bs=0)).create(region(misaligned=True))
                           .create(region(null=True)).create(region(zero=True)).create(region(align=24))
                           .create(region(bs_near_max=3)).create(region(raw=100)).attach(0)
                           .create(region(blocks=4)).attach(0).allocate(0).create(region(raw=10))
                           .allocate(0).create(region(blocks=2, at=9)).attach(1, mapping=1).b)
    sizes = Seq(cfg)
    for sel_args in (u8(0) + u16(1) + u8(0) + u16(1) + u8(0),  # small
                     u8(1) + u8(0) + u8(0) + u16(64) + u8(0),  # SIZE_MAX blocks
                     u8(0) + u16(0) + u8(0) + u16(64) + u8(0),  # 0 blocks
                     u8(0) + u16(5) + u8(1) + u8(1) + u8(0),  # block size SIZE_MAX / 2
                     u8(0) + u16(5) + u8(0) + u16(64) + u8(11),  # alignment 3
                     u8(0) + u16(5) + u8(0) + u16(64) + u8(14),  # alignment 2^63
                     u8(1) + u8(40) + u8(1) + u8(40) + u8(10)):  # both large
        sizes.misuse(0, 0, sel_args)
    s['shared_size'] = sizes.b
    s['handles'] = (Seq(cfg).attach(0).misuse(1).misuse(2).misuse(3, 0, u8(1)).misuse(4, 0, u8(0))
                    .misuse(4, 0, u8(0x61)).misuse(5, 0, u16(100) + u8(1)).misuse(6, 0, u8(1)).misuse(7)
                    .misuse(8, 0, u8(0)).misuse(8, 0, u8(1)).misuse(8, 0, u8(2)).misuse(8, 3, u8(0))
                    .misuse(9, 3).misuse(10, 0, u8(1)).detach(0).detach(0).allocate(0).give(0)
                    .take(0, 0, 'block').offsets(0).reap(0).reclaim(0, 2).b)
    s['damage'] = (Seq(cfg).attach(0).times(4, Seq.allocate, 0).free_held(0, 0).free_held(0, 0)
                   .free_held(0, 0).damage(1, 0).b)
    s['damage_check'] = Seq(cfg).attach(0).times(2, Seq.allocate, 0).free_held(0, 1).damage(0, 1, 0x10).b
    return s


def regressions():
    r = {}
    # reclaim(h, 0) and reclaim(h, -1) answered -EINVAL, not -ESRCH.
    r['reclaim_pid_zero'] = Seq(region()).attach(0).reclaim(0, 3).reclaim(0, 4).b
    # create failed for an alignment above max_align_t at a region not so aligned.
    r['align_beyond_max_align_t'] = Seq(region(blocks=1, bs=135, align=4096, at=10)).attach(0).allocate(0).b
    # a detach's blocks counted as reclaimed.
    r['detach_counts_reclaimed'] = Seq(region()).attach(0).allocate(0).detach(0).attach(1).b
    return r


if __name__ == '__main__':
    write_inputs(sys.argv, seeds, regressions, 'corpus_shared', 'regressions_shared')
