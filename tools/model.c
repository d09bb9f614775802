/* model.c - dump model helpers: lifetime, equality, hashing, waits. */
#include "model.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

tdc_dump *tdc_dump_new(const char *source, const char *format)
{
	tdc_dump *d = tdc_xcalloc(1, sizeof(*d));

	d->source = tdc_arena_strndup(&d->arena, source, strlen(source));
	d->format = format;
	return d;
}

void tdc_dump_free(tdc_dump *d)
{
	if (!d)
		return;
	tdc_arena_free(&d->arena);
	free(d);
}

tdc_u64 *tdc_task_counter(tdc_task *t, const char *key, size_t len,
			  const char **name)
{
	static const struct {
		const char *key;
		size_t off;
	} counters[] = {
		{"busy_ms", offsetof(tdc_task, busy_ms)},
		{"slowest_poll_ms", offsetof(tdc_task, slowest_poll_ms)},
		{"wakes", offsetof(tdc_task, wakes)},
		{"woken_ms", offsetof(tdc_task, woken_ms)},
		{"wait_ms", offsetof(tdc_task, wait_ms)},
		{"wait_worst_ms", offsetof(tdc_task, wait_worst_ms)},
		{"wakers", offsetof(tdc_task, wakers)},
	};

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (strlen(counters[i].key) == len &&
		    memcmp(counters[i].key, key, len) == 0) {
			if (name)
				*name = counters[i].key;
			return (tdc_u64 *)(void *)((char *)t +
						   counters[i].off);
		}
	return NULL;
}

size_t tdc_dump_ntasks(const tdc_dump *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nruntimes; i++)
		n += d->runtimes[i].ntasks;
	return n;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool tdc_frame_equal(const tdc_frame *a, const tdc_frame *b)
{
	if (a == b)
		return true;
	return a->line == b->line && a->inlined == b->inlined &&
	       str_eq(a->function, b->function) && str_eq(a->file, b->file);
}

bool tdc_trace_equal(const tdc_trace *a, const tdc_trace *b)
{
	if (a->nframes != b->nframes || a->truncated != b->truncated ||
	    !str_eq(a->wait.kind, b->wait.kind) ||
	    !str_eq(a->wait.object, b->wait.object))
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (!tdc_frame_equal(a->frames[i], b->frames[i]))
			return false;
	return true;
}

bool tdc_task_traces_equal(const tdc_task *a, const tdc_task *b)
{
	if (a->ntraces != b->ntraces)
		return false;
	for (size_t i = 0; i < a->ntraces; i++)
		if (!tdc_trace_equal(&a->traces[i], &b->traces[i]))
			return false;
	return true;
}

/* h combined with the bytes' hash (tdc_hash: a word at a time; a byte
 * at a time was a tenth of diff's time at a million tasks). */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	h = (h ^ tdc_hash(p, n)) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return s ? hash_bytes(h, s, strlen(s) + 1) : hash_bytes(h, "", 0) ^ 1;
}

uint64_t tdc_trace_hash(const tdc_trace *t, uint64_t h)
{
	h = hash_str(h, t->wait.kind);
	h = hash_str(h, t->wait.object);
	h = hash_bytes(h, &t->nframes, sizeof(t->nframes));
	for (size_t i = 0; i < t->nframes; i++) {
		h = hash_str(h, t->frames[i]->function);
		h = hash_str(h, t->frames[i]->file);
		h = hash_bytes(h, &t->frames[i]->line, sizeof(uint64_t));
	}
	return h;
}

uint64_t tdc_task_hash(const tdc_task *t)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = hash_bytes(h, &t->ntraces, sizeof(t->ntraces));
	for (size_t i = 0; i < t->ntraces; i++)
		h = tdc_trace_hash(&t->traces[i], h);
	return h;
}

bool tdc_trace_shape_equal(const tdc_trace *a, const tdc_trace *b)
{
	if (a->nframes != b->nframes || a->truncated != b->truncated ||
	    !str_eq(a->wait.kind, b->wait.kind))
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (!tdc_frame_equal(a->frames[i], b->frames[i]))
			return false;
	return true;
}

uint64_t tdc_trace_shape_hash(const tdc_trace *t)
{
	tdc_trace copy = *t;

	copy.wait.object = NULL;
	return tdc_trace_hash(&copy, 0xcbf29ce484222325ull);
}

/* ---- waits ----------------------------------------------------------- */

/* The next space-separated word of *s, advancing *s. */
static size_t word(const char **s, const char **start)
{
	const char *p = *s;
	size_t n = 0;

	while (*p == ' ')
		p++;
	*start = p;
	while (p[n] && p[n] != ' ')
		n++;
	*s = p + n;
	return n;
}

static bool word_is(const char **s, const char *w)
{
	const char *start;
	size_t n = word(s, &start);

	return n == strlen(w) && memcmp(start, w, n) == 0;
}

static bool word_u64(const char **s, tdc_u64 *out, char stop)
{
	const char *start;
	size_t n = word(s, &start);
	const char *end = stop ? memchr(start, stop, n) : NULL;

	if (end) {
		*s = end + 1;
		n = (size_t)(end - start);
	}
	uint64_t v;

	out->set = tdc_parse_u64(start, n, &v);
	out->v = v;
	return out->set;
}

/* The wait's object, if the next word is one: "0x..." (a trailing comma
 * belongs to the text after it).  The word is consumed only then. */
static void maybe_object(tdc_arena *a, const char **s, tdc_wait *w)
{
	const char *rest = *s, *start;
	size_t n = word(&rest, &start);
	uint64_t v;

	if (n > 2 && start[n - 1] == ',')
		n--;
	if (n > 2 && start[0] == '0' && start[1] == 'x' &&
	    tdc_parse_hex(start, n, &v)) {
		w->object = tdc_arena_strndup(a, start, n);
		*s = start + n; /* the comma, if any, stays for the caller */
		if (**s == ',')
			(*s)++;
	}
}

/* The text after the object: td_wait_format's kinds (README.md, "Wait
 * texts").  Old dumps (before the object was written for io waits) read
 * the same, without an object. */
void tdc_wait_from_text(tdc_arena *a, const char *text, tdc_wait *w)
{
	const char *s = text, *start;
	size_t n = word(&s, &start);

#define IS(lit) (n == sizeof(lit) - 1 && memcmp(start, lit, n) == 0)
	if (IS("sleep") || IS("sleep,")) {
		w->kind = "sleep";
		if (IS("sleep"))
			maybe_object(a, &s, w);
	} else if (IS("yield")) {
		w->kind = "yield";
		maybe_object(a, &s, w);
	} else if (IS("none")) {
		w->kind = "none"; /* td_wait_format of no wait at all */
		maybe_object(a, &s, w);
	} else if (IS("io")) {
		w->kind = "io";
		maybe_object(a, &s, w);
		if (word_is(&s, "fd")) {
			tdc_u64 fd;

			if (word_u64(&s, &fd, 0) && fd.v <= INT32_MAX) {
				w->has_fd = true;
				w->fd = (int64_t)fd.v;
			}
			n = word(&s, &start);
			if (IS("readable") || IS("writable") ||
			    IS("readable|writable")) {
				w->has_events = true;
				bool wr = memmem(start, n, "writable", 8);

				w->events = (wr ? TDC_EV_WRITE : 0) |
					    (*start == 'r' ? TDC_EV_READ : 0);
			}
			while (*s == ' ')
				s++;
			if (*s)
				w->label = tdc_arena_strndup(a, s, strlen(s));
		}
	} else if (IS("join")) {
		w->kind = "join";
		maybe_object(a, &s, w);
		if (word_is(&s, "task"))
			word_u64(&s, &w->task_id, 0);
	} else if (IS("mutex")) {
		w->kind = "mutex";
		maybe_object(a, &s, w);
		if (word_is(&s, "held") && word_is(&s, "by") &&
		    word_is(&s, "task"))
			word_u64(&s, &w->task_id, 0);
	} else if (IS("semaphore")) {
		w->kind = "semaphore";
		maybe_object(a, &s, w);
		if (word_is(&s, "wants") && word_u64(&s, &w->count, 0) &&
		    word_is(&s, "of"))
			word_u64(&s, &w->value, 0);
	} else if (IS("channel")) {
		const char *dir;

		maybe_object(a, &s, w);
		n = word(&s, &dir);
		if (n >= 4 && memcmp(dir, "send", 4) == 0) {
			w->kind = "chan_send";
			if (word_u64(&s, &w->count, '/'))
				word_u64(&s, &w->value, 0);
		} else {
			w->kind = "chan_recv";
			word_u64(&s, &w->count, 0);
		}
	} else if (IS("oneshot")) {
		w->kind = "oneshot";
		maybe_object(a, &s, w);
	} else if (IS("notify")) {
		w->kind = "notify";
		maybe_object(a, &s, w);
	} else if (IS("other")) {
		w->kind = "other"; /* neither label nor object, or no label */
		maybe_object(a, &s, w);
	} else {
		/* td_wait_format's "other": "<label> <object>" or "<label>". */
		const char *sp = strrchr(text, ' ');
		uint64_t v;

		w->kind = "other";
		if (sp && sp[1] == '0' && sp[2] == 'x' &&
		    tdc_parse_hex(sp + 1, strlen(sp + 1), &v)) {
			w->object = tdc_arena_strndup(a, sp + 1,
						      strlen(sp + 1));
			w->label = tdc_arena_strndup(a, text,
						     (size_t)(sp - text));
		} else {
			w->label = tdc_arena_strndup(a, text, strlen(text));
		}
	}
#undef IS
}

const char *tdc_wait_display(const tdc_wait *w)
{
	return w->text ? w->text : w->kind;
}

void tdc_trace_path(const tdc_trace *t, size_t keep, tdc_buf *out)
{
	size_t first = 0;

	if (t->truncated)
		tdc_buf_puts(out, "[truncated] > ");
	if (keep && t->nframes > keep) {
		first = t->nframes - keep;
		tdc_buf_puts(out, "... > ");
	}
	for (size_t i = first; i < t->nframes; i++) {
		if (i > first)
			tdc_buf_puts(out, " > ");
		tdc_buf_puts(out, t->frames[i]->function);
	}
	if (tdc_wait_display(&t->wait))
		tdc_buf_printf(out, " [%s]", tdc_wait_display(&t->wait));
}
