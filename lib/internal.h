/* Private: what lib/cache.c needs from lib/onesize.c. Not exported. */
#ifndef AMONESIZE_INTERNAL_H
#define AMONESIZE_INTERNAL_H

#include "amonesize.h"

/* Count a double free found outside the pool (in a cache) and report it to
 * on_error, as am_onesize_free() would have. */
void am_reject_double(struct am_onesize *os, const void *ptr);

#endif
