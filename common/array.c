/*
 * Growing arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"

int
pgp_array_reserve(void *array, size_t count, size_t *cap, size_t size)
{
	void **p = array;
	size_t want = *cap ? *cap * 2 : 32;
	void *bigger;

	if (count < *cap)
		return 0;
	bigger = realloc(*p, want * size);
	if (!bigger)
		return pgp_fail("out of memory");
	*p = bigger;
	*cap = want;
	return 0;
}
