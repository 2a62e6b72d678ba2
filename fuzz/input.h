/* SPDX-License-Identifier: MIT */
/* What both fuzzers share: the check that reports a divergence from the
 * model, the reader of their input, and whether FUZZ_TRACE asks them to
 * print every operation. */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "divergence at %s:%d: %s: ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

void input_start(const uint8_t *data, size_t size);
bool input_left(void);
/* Drop the rest of the input. */
void input_stop(void);
/* A little-endian number of up to 8 bytes; missing bytes read as zero. */
uint64_t take(unsigned bytes);
/* A number below n (n > 0), from two bytes of input. */
size_t pick(size_t n);

/* FUZZ_TRACE is set to something other than 0. */
bool tracing(void);

#endif /* FUZZ_INPUT_H */
