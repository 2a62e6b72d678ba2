/* SPDX-License-Identifier: MIT */
/* The input reader both fuzzers use (input.h). */
#include "input.h"

static const uint8_t *in;
static size_t in_left;

void input_start(const uint8_t *data, size_t size)
{
    in = data;
    in_left = size;
}

bool input_left(void)
{
    return in_left > 0;
}

void input_stop(void)
{
    in_left = 0;
}

uint64_t take(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in_left > 0; i++, in++, in_left--)
        v |= (uint64_t)*in << (8 * i);
    return v;
}

size_t pick(size_t n)
{
    return (size_t)take(2) % n;
}

bool tracing(void)
{
    /* Read once: the model asks at every operation. */
    static int on = -1;
    if (on < 0) {
        const char *t = getenv("FUZZ_TRACE");
        on = t != NULL && *t != '\0' && *t != '0';
    }
    return on != 0;
}
