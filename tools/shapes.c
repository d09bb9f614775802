/* shapes.c - counting trace shapes (see report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static void rehash(tdc_shapes *s)
{
	size_t cap = s->tcap ? 2 * s->tcap : 64;

	free(s->table);
	s->table = tdc_xcalloc(cap, sizeof(*s->table));
	s->tcap = cap;
	for (size_t i = 0; i < s->n; i++) {
		size_t h = tdc_trace_shape_hash(s->rep[i]) & (cap - 1);

		while (s->table[h])
			h = (h + 1) & (cap - 1);
		s->table[h] = i + 1;
	}
}

/* The slot holding t's shape, or the empty slot where it would go. */
static size_t slot(const tdc_shapes *s, const tdc_trace *t)
{
	size_t h = tdc_trace_shape_hash(t) & (s->tcap - 1);

	while (s->table[h] &&
	       !tdc_trace_shape_equal(s->rep[s->table[h] - 1], t))
		h = (h + 1) & (s->tcap - 1);
	return h;
}

size_t tdc_shapes_add(tdc_shapes *s, const tdc_trace *t)
{
	size_t h;

	if (2 * (s->n + 1) > s->tcap)
		rehash(s);
	h = slot(s, t);
	if (!s->table[h]) {
		size_t cap = s->cap;

		s->rep = tdc_grow(s->rep, &cap, s->n + 1, sizeof(*s->rep));
		s->count = tdc_grow(s->count, &s->cap, s->n + 1,
				    sizeof(*s->count));
		s->rep[s->n] = t;
		s->count[s->n] = 0;
		s->table[h] = ++s->n;
	}
	s->count[s->table[h] - 1]++;
	return s->table[h] - 1;
}

size_t tdc_shapes_find(const tdc_shapes *s, const tdc_trace *t)
{
	size_t h;

	if (!s->tcap)
		return SIZE_MAX;
	h = slot(s, t);
	return s->table[h] ? s->table[h] - 1 : SIZE_MAX;
}

void tdc_shapes_add_dump(tdc_shapes *s, const tdc_dump *d)
{
	for (size_t r = 0; r < d->nruntimes; r++)
		for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
			const tdc_task *t = &d->runtimes[r].tasks[i];

			for (size_t k = 0; k < t->ntraces; k++)
				tdc_shapes_add(s, &t->traces[k]);
		}
}

void tdc_shapes_free(tdc_shapes *s)
{
	free(s->rep);
	free(s->count);
	free(s->table);
	memset(s, 0, sizeof(*s));
}

void tdc_task_label(const tdc_task *t, tdc_buf *out)
{
	if (t->block_on)
		tdc_buf_puts(out, "block_on");
	else
		tdc_buf_printf(out, "task %llu", (unsigned long long)t->id);
	if (t->name) {
		tdc_buf_puts(out, " ");
		tdc_buf_quote(out, t->name);
	}
}
