/* loadgen_stats.c - latency samples and their percentiles (loadgen.h).
 *
 * Every sample is kept (a run of 10 s at 2 000 requests/s is 20 000 of
 * them, 160 KB) and sorted once at the end, so percentiles are exact
 * rather than a histogram's bucket bounds.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "loadgen.h"

bool lg_samples_add(struct lg_samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return false;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
	return true;
}

/* qsort's comparison of two uint64_t. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void lg_samples_sort(struct lg_samples *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
}

uint64_t lg_samples_pct(const struct lg_samples *s, double p)
{
	if (s->n == 0)
		return 0;
	/* Nearest rank: the smallest sample with at least p% at or below. */
	double rank = ceil(p / 100.0 * (double)s->n);
	size_t i = rank < 1 ? 0 : (size_t)rank - 1;
	return s->v[i < s->n ? i : s->n - 1];
}

void lg_samples_free(struct lg_samples *s)
{
	free(s->v);
	*s = (struct lg_samples){0};
}

uint64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
