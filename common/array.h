/*
 * Growing arrays: one place for the realloc-doubling every list needs.
 */
#ifndef PGP_ARRAY_H
#define PGP_ARRAY_H

#include <stddef.h>

/*
 * Make room for one more element in *array (count used, *cap allocated,
 * elements of size bytes), doubling from 32.  0, or -1 (logged) with
 * *array unchanged.
 */
int pgp_array_reserve(void *array, size_t count, size_t *cap, size_t size);

#endif
