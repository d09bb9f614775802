/* diag.c - the diagnosis parts of the model: wait-for edges, held locks
 * and deadlocks (README.md (dump file formats), "Wait-for graph and
 * deadlocks").
 *
 * The texts are those of the runtime's writer, byte for byte:
 *   edge:  "task <id>: <why>" or "nobody: <why>"
 *   held:  "<kind> <object>[ <p> permit[s]] held <ms> ms, <n> waiting
 *           [, <o> more held by others]" (the permits and others of a
 *           semaphore)
 * and a list of either is its entries joined by "; " (a why never
 * contains "; ").  And the one sorted lookup of a dump's task warnings
 * (tdc_warning_index). */
#include "model.h"

#include <stdlib.h>
#include <string.h>

bool tdc_dump_in_deadlock(const tdc_dump *d, uint64_t id)
{
	for (size_t k = 0; k < d->ndeadlocks; k++)
		for (size_t i = 0; i < d->deadlocks[k].nmembers; i++)
			if (d->deadlocks[k].members[i].task == id)
				return true;
	return false;
}

void tdc_edge_text(const tdc_edge *e, tdc_buf *out)
{
	if (e->task.set)
		tdc_buf_printf(out, "task %llu: ",
			       (unsigned long long)e->task.v);
	else
		tdc_buf_puts(out, "nobody: ");
	tdc_buf_puts(out, e->why);
}

void tdc_held_text(const tdc_held *h, tdc_buf *out)
{
	tdc_buf_printf(out, "%s %s", h->kind, h->object);
	if (h->permits.set)
		tdc_buf_printf(out, " %llu permit%s",
			       (unsigned long long)h->permits.v,
			       h->permits.v == 1 ? "" : "s");
	tdc_buf_printf(out, " held %llu ms, %llu waiting",
		       (unsigned long long)h->held_ms.v,
		       (unsigned long long)h->waiters.v);
	if (h->others.set && h->others.v)
		tdc_buf_printf(out, ", %llu more held by others",
			       (unsigned long long)h->others.v);
}

/* The entries of a "; " list: their number, and each one's bounds. */
static size_t split(const char *s, const char **starts, size_t *lens,
		    size_t max)
{
	size_t n = 0;

	while (n < max) {
		const char *end = strstr(s, "; ");

		starts[n] = s;
		lens[n++] = end ? (size_t)(end - s) : strlen(s);
		if (!end)
			break;
		s = end + 2;
	}
	return n;
}

static size_t count_entries(const char *s)
{
	size_t n = 1;

	for (const char *p = s; (p = strstr(p, "; ")); p += 2)
		n++;
	return n;
}

/* "<digits><suffix>" at *s: the number, *s moved past the suffix. */
static bool number_then(const char **s, const char *end, const char *suffix,
			uint64_t *v)
{
	const char *p = *s;
	size_t sl = strlen(suffix);

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p == *s || !tdc_parse_u64(*s, (size_t)(p - *s), v) ||
	    (size_t)(end - p) < sl || memcmp(p, suffix, sl) != 0)
		return false;
	*s = p + sl;
	return true;
}

static int edge_parse(tdc_arena *a, const char *s, size_t n, tdc_edge *e)
{
	const char *end = s + n, *p = s;

	memset(e, 0, sizeof(*e));
	if (n >= 8 && memcmp(s, "nobody: ", 8) == 0) {
		p += 8;
	} else if (n > 5 && memcmp(s, "task ", 5) == 0) {
		p += 5;
		uint64_t id;

		if (!number_then(&p, end, ": ", &id))
			return -1;
		e->task.v = id;
		e->task.set = true;
	} else {
		return -1;
	}
	e->why = tdc_arena_strndup(a, p, (size_t)(end - p));
	return 0;
}

static int held_parse(tdc_arena *a, const char *s, size_t n, tdc_held *h)
{
	const char *end = s + n;
	const char *sp1 = memchr(s, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))
			      : NULL;
	const char *p;
	uint64_t ms, waiters, permits, others;

	memset(h, 0, sizeof(*h));
	if (!sp1 || !sp2 || sp1 == s || sp2 == sp1 + 1)
		return -1;
	p = sp2 + 1;
	/* A semaphore's " <p> permit[s]" before " held ". */
	if (number_then(&p, end, " permits held ", &permits) ||
	    number_then(&p, end, " permit held ", &permits)) {
		h->permits.v = permits;
		h->permits.set = h->others.set = true;
	} else if ((size_t)(end - sp2) >= 6 &&
		   memcmp(sp2, " held ", 6) == 0) {
		p = sp2 + 6;
	} else {
		return -1;
	}
	if (!number_then(&p, end, " ms, ", &ms) ||
	    !number_then(&p, end, " waiting", &waiters))
		return -1;
	if (p != end && h->permits.set) {
		if ((size_t)(end - p) < 2 || memcmp(p, ", ", 2) != 0)
			return -1;
		p += 2;
		if (!number_then(&p, end, " more held by others", &others))
			return -1;
		h->others.v = others;
	}
	if (p != end)
		return -1;
	h->held_ms.v = ms;
	h->waiters.v = waiters;
	h->held_ms.set = h->waiters.set = true;
	h->kind = tdc_arena_strndup(a, s, (size_t)(sp1 - s));
	h->object = tdc_arena_strndup(a, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	return 0;
}

int tdc_edges_parse(tdc_arena *a, const char *s, tdc_edge **out, size_t *n)
{
	size_t max = count_entries(s);
	const char **starts = tdc_arena_alloc(a, max * sizeof(*starts));
	size_t *lens = tdc_arena_alloc(a, max * sizeof(*lens));
	size_t k = split(s, starts, lens, max);

	*out = tdc_arena_alloc(a, k * sizeof(**out));
	*n = k;
	for (size_t i = 0; i < k; i++)
		if (edge_parse(a, starts[i], lens[i], &(*out)[i]) < 0)
			return -1;
	return 0;
}

int tdc_helds_parse(tdc_arena *a, const char *s, tdc_held **out, size_t *n)
{
	size_t max = count_entries(s);
	const char **starts = tdc_arena_alloc(a, max * sizeof(*starts));
	size_t *lens = tdc_arena_alloc(a, max * sizeof(*lens));
	size_t k = split(s, starts, lens, max);

	*out = tdc_arena_alloc(a, k * sizeof(**out));
	*n = k;
	for (size_t i = 0; i < k; i++)
		if (held_parse(a, starts[i], lens[i], &(*out)[i]) < 0)
			return -1;
	return 0;
}

/* ---- the task warnings, sorted --------------------------------------- */

/* By (runtime, task, kind); a NULL kind (a lookup of any kind) sorts
 * before every kind. */
static int warning_cmp(uint64_t rt, uint64_t task, const char *kind,
		       const tdc_task_warning *w)
{
	if (rt != w->runtime)
		return rt < w->runtime ? -1 : 1;
	if (task != w->task)
		return task < w->task ? -1 : 1;
	return kind ? strcmp(kind, w->kind) : -1;
}

static int by_warning(const void *a, const void *b)
{
	const tdc_task_warning *x = *(const tdc_task_warning *const *)a;
	const tdc_task_warning *y = *(const tdc_task_warning *const *)b;
	int c = warning_cmp(x->runtime, x->task, x->kind, y);

	/* Equal keys keep the dump's order (most severe first). */
	return c ? c : (x > y) - (x < y);
}

void tdc_warning_index_init(tdc_warning_index *x, const tdc_dump *d,
			    const char *what)
{
	x->w = tdc_xmalloc((d->ntask_warnings + 1) * sizeof(*x->w));
	x->n = 0;
	for (size_t i = 0; i < d->ntask_warnings; i++) {
		const tdc_task_warning *w = &d->task_warnings[i];

		if (!what || strcmp(what, w->kind) == 0 ||
		    strcmp(what, w->severity) == 0)
			x->w[x->n++] = w;
	}
	qsort(x->w, x->n, sizeof(*x->w), by_warning);
}

const tdc_task_warning *tdc_warning_find(const tdc_warning_index *x,
					 uint64_t runtime, uint64_t task,
					 const char *kind)
{
	size_t lo = 0, hi = x->n;

	/* The first entry not below the key. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (warning_cmp(runtime, task, kind, x->w[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->n || x->w[lo]->runtime != runtime ||
	    x->w[lo]->task != task ||
	    (kind && strcmp(kind, x->w[lo]->kind) != 0))
		return NULL;
	return x->w[lo];
}

void tdc_warning_index_free(tdc_warning_index *x)
{
	free(x->w);
	x->w = NULL;
	x->n = 0;
}
