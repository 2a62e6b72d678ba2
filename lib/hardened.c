/* SPDX-License-Identifier: MIT */
/* The hardened mode: a state bit per block in caller memory (cfg.state),
 * and the fill of freed blocks (AM_ONESIZE_CHECK_FREED). The engine calls
 * the bit and fill functions (amonesize/inline.h) for pools that have them,
 * and am_fill for a tracked pool; the library checks fills with am_fill_ok
 * before it hands a block out. */
#include "internal.h"

#include <errno.h>

#if defined(AM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#endif

#if defined(__clang__) || defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

#define WORD sizeof(uintptr_t)

int am_state_get_index(const struct am_onesize *os, size_t i)
{
    return (os->state[i / 8] >> (i % 8)) & 1u;
}

/* The fill lies in a free block: under memcheck it is NOACCESS, under ASan
 * poisoned. The allocator's own accesses are not the program's. */
static NO_ASAN void fill_access(const struct am_onesize *os, void *blk, bool write, bool *ok)
{
#if defined(AM_HAVE_VALGRIND)
    unsigned char *from = (unsigned char *)blk + 2 * WORD;
    const size_t bytes = os->block_size - 2 * WORD;
    if (os->mode & AM_MODE_VALGRIND)
        (void)VALGRIND_MAKE_MEM_DEFINED(from, bytes);
#endif
    const int intact = am_onesize_impl_fill(os, blk, write);
    if (!write)
        *ok = intact != 0;
#if defined(AM_HAVE_VALGRIND)
    if (os->mode & AM_MODE_VALGRIND)
        (void)VALGRIND_MAKE_MEM_NOACCESS(from, bytes);
#endif
}

void am_fill(const struct am_onesize *os, void *blk)
{
    fill_access(os, blk, true, NULL);
}

bool am_fill_ok(const struct am_onesize *os, void *blk)
{
    if (!(os->mode & AM_MODE_TRACKED))
        return am_onesize_impl_fill(os, blk, 0) != 0;
    bool ok = true;
    fill_access(os, blk, false, &ok);
    return ok;
}

int am_hardened_cfg(const struct am_onesize_cfg *cfg, size_t nblocks, uintptr_t pool_start,
                    uintptr_t pool_end)
{
    if (cfg->flags & ~(unsigned)AM_ONESIZE_CHECK_FREED)
        return -EINVAL;
    const uintptr_t s = (uintptr_t)cfg->state.ptr;
    if ((s == 0) != (cfg->state.size == 0))
        return -EINVAL;
    if (s == 0)
        return 0;
    uintptr_t end;
    if (cfg->state.size < (nblocks + 7) / 8 || __builtin_add_overflow(s, cfg->state.size, &end))
        return -EINVAL;
    if (s < pool_end && pool_start < end) /* overlaps the pool */
        return -EINVAL;
    return 0;
}
