/* dump_build.c - assembling a td_dump (see dump_build.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/task.h"
#include "taskdump/time.h"
#include "trace/diagnose.h"
#include "task/core.h"
#include "trace/dump_build.h"
#include "trace/symbolize.h"

struct pending_traces {
	td_dump_task *task;
	size_t first, n;
};

struct pending_stack {
	td_dump_worker *worker;
	uintptr_t *ips;
	size_t n;
	bool exact_first;
};

/* The dump and the arena holding it, freed together by td_dump_free. */
struct dump_box {
	td_dump dump;
	struct td_arena arena;
};

struct dump_build *dump_build_new(void)
{
	struct dump_build *b = calloc(1, sizeof(*b));
	struct dump_box *box = calloc(1, sizeof(*box));
	if (!b || !box) {
		free(b);
		free(box);
		return NULL;
	}
	td_arena_init(&b->arena);
	td_collector_init(&b->collector);
	b->dump = &box->dump;
	b->dump->version = TD_DUMP_FORMAT_VERSION;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->dump->time_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return b;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

void dump_build_site(struct dump_build *b, td_dump_task *dt,
		     const struct td_spawn_site *site)
{
	if (!site)
		return;
	/* Copied (the spawning module may be unloaded before the dump is
	 * read); consecutive tasks usually share a site. */
	if (site != b->last_site) {
		b->last_site = site;
		b->last_file = td_arena_strdup(&b->arena, site->file);
		b->last_function = td_arena_strdup(&b->arena, site->function);
	}
	dt->spawn_file = b->last_file;
	dt->spawn_function = b->last_function;
	dt->spawn_line = site->line;
}

const char *dump_build_type_name(struct dump_build *b, const char *type_name)
{
	const size_t n = sizeof(b->types) / sizeof(b->types[0]);
	size_t i = (size_t)(((uintptr_t)type_name * 0x9e3779b97f4a7c15ull) >>
			    60) % n;

	if (!type_name)
		return NULL;
	/* Copied: the module may be unloaded before the dump is read. */
	if (b->types[i] != type_name) {
		b->types[i] = type_name;
		b->type_copies[i] = td_arena_strdup(&b->arena, type_name);
	}
	return b->type_copies[i];
}

void dump_build_note_traces(struct dump_build *b, td_dump_task *dt,
			    size_t first, size_t n)
{
	if (n == 0)
		return;
	if (!grow((void **)&b->traces, &b->cap_traces, b->ntraces + 1,
		  sizeof(*b->traces))) {
		b->out_of_memory = true;
		return;
	}
	b->traces[b->ntraces++] = (struct pending_traces){dt, first, n};
}

void dump_build_retarget_traces(struct dump_build *b, td_dump_task *from,
				td_dump_task *to)
{
	for (size_t i = 0; i < b->ntraces; i++)
		if (b->traces[i].task == from)
			b->traces[i].task = to;
}

void dump_build_note_stack(struct dump_build *b, td_dump_worker *w,
			   const uintptr_t *ips, size_t n, bool exact_first)
{
	uintptr_t *copy = td_arena_alloc(&b->arena, n * sizeof(*ips) + 1);
	if (!copy ||
	    !grow((void **)&b->stacks, &b->cap_stacks, b->nstacks + 1,
		  sizeof(*b->stacks))) {
		b->out_of_memory = true;
		return;
	}
	memcpy(copy, ips, n * sizeof(*ips));
	b->stacks[b->nstacks++] =
		(struct pending_stack){w, copy, n, exact_first};
}

/* ---- frames ---------------------------------------------------------- */

/* Distinct address sequences, so that 100 000 tasks with three different
 * traces cost three symbolizations and share three frame arrays. */
struct seq_entry {
	uint64_t hash;
	const uintptr_t *ips;
	size_t n;
	td_dump_frame *frames;
	size_t nframes;
};

struct seq_table {
	struct seq_entry *slots;
	size_t cap, used;
};

static uint64_t hash_ips(const uintptr_t *ips, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= ips[i];
		h *= 1099511628211ull;
		h ^= h >> 29;
	}
	return h ^ n;
}

static struct seq_entry *seq_find(struct seq_table *t, const uintptr_t *ips,
				  size_t n, uint64_t h)
{
	if (t->used * 2 >= t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		struct seq_entry *s = calloc(ncap, sizeof(*s));
		if (!s)
			return NULL;
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->slots[i].ips && !t->slots[i].n)
				continue;
			size_t j = t->slots[i].hash & (ncap - 1);
			while (s[j].ips || s[j].n)
				j = (j + 1) & (ncap - 1);
			s[j] = t->slots[i];
		}
		free(t->slots);
		t->slots = s;
		t->cap = ncap;
	}
	size_t j = h & (t->cap - 1);
	for (;;) {
		struct seq_entry *e = &t->slots[j];
		if (!e->ips && !e->n)
			return e; /* empty: the caller fills it */
		if (e->hash == h && e->n == n &&
		    memcmp(e->ips, ips, n * sizeof(*ips)) == 0)
			return e;
		j = (j + 1) & (t->cap - 1);
	}
}

/* Strings the symbolizer owns, copied once each into the dump. */
struct str_cache {
	const char *from[64];
	const char *to[64];
	unsigned next;
};

static const char *keep(struct dump_build *b, struct str_cache *c,
			const char *s)
{
	if (!s)
		return NULL;
	for (unsigned i = 0; i < 64; i++)
		if (c->from[i] == s)
			return c->to[i];
	const char *copy = td_arena_strdup(&b->arena, s);
	unsigned slot = c->next++ % 64;
	c->from[slot] = s;
	c->to[slot] = copy;
	return copy;
}

struct frame_ctx {
	struct dump_build *b;
	struct td_symbolizer *sym;
	struct str_cache strings;
};

/* Frames of one address, innermost first; returns how many (>= 1). */
static size_t frames_of(struct frame_ctx *fc, uintptr_t ip, bool ret_addr,
			td_dump_frame *out, size_t max)
{
	const td_sym_frame *sf = NULL;
	size_t n = 0;
	if (fc->sym && td_symbolize(fc->sym, ip, ret_addr, &sf, &n) == 0 &&
	    n > 0) {
		if (n > max)
			n = max;
		for (size_t i = 0; i < n; i++) {
			out[i] = (td_dump_frame){
				.ip = ip,
				.function = keep(fc->b, &fc->strings,
						 sf[i].function),
				.file = keep(fc->b, &fc->strings, sf[i].file),
				.line = sf[i].line,
				.inlined = sf[i].inlined,
				.module = keep(fc->b, &fc->strings,
					       sf[i].module),
				.module_offset = sf[i].module_offset,
			};
			if (!out[i].function)
				out[i].function = "?";
		}
		return n;
	}
	char buf[32];
	snprintf(buf, sizeof(buf), "0x%" PRIxPTR, ip);
	out[0] = (td_dump_frame){.ip = ip,
				 .function = td_arena_strdup(&fc->b->arena, buf)};
	if (!out[0].function)
		out[0].function = "?";
	return 1;
}

#define MAX_INLINE_DEPTH 16

/* Plumbing between the frames that matter: the await helper of future.h
 * (at every TD_AWAIT), td_future_poll, and the combinators' child-polling
 * helpers.  Their frames say nothing the line of the frame around them
 * does not, so traces leave them out - inlined or not: a user's -O0 or -Os
 * build keeps td_async_poll_child out of line, a frame of its own. */
static bool is_await_helper(const td_dump_frame *f)
{
	static const char *const hidden[] = {
		"td_async_poll_child", "td_future_poll",    "td_comb_poll_child",
		"td_comb_poll",        "td_join_all_trace", "td_select_trace",
	};
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (strcmp(f->function, hidden[i]) == 0)
			return true;
	return false;
}

/* Of the k frames of a runtime leaf's own address (innermost first), the
 * index of the leaf function: what lies inside it was inlined into the
 * hook (an argument's helper) and is not part of the trace.  0 when the
 * leaf is not named there (no DWARF) or `leaf` is NULL. */
static size_t leaf_start(const td_dump_frame *f, size_t k, const char *leaf)
{
	if (!leaf)
		return 0;
	for (size_t j = 0; j < k; j++)
		if (strcmp(f[j].function, leaf) == 0)
			return j;
	return 0;
}

/* A trace's frames, outermost first: ips[n-1] is the outermost return
 * address; each address's inline chain is reversed to outer-to-inner.
 * `leaf`: td_backtrace.leaf_function. */
static td_dump_frame *trace_frames(struct frame_ctx *fc,
				   const uintptr_t *ips, size_t n,
				   const char *leaf, size_t *nframes)
{
	td_dump_frame tmp[MAX_INLINE_DEPTH];
	size_t total = 0, cap = n + 8;
	td_dump_frame *out = malloc(cap * sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = n; i-- > 0;) {
		size_t k = frames_of(fc, ips[i], true, tmp, MAX_INLINE_DEPTH);
		size_t lo = i == 0 ? leaf_start(tmp, k, leaf) : 0;
		if (total + k > cap) {
			cap = (total + k) * 2;
			td_dump_frame *p = realloc(out, cap * sizeof(*out));
			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
		}
		for (size_t j = k; j-- > lo;)
			if (!is_await_helper(&tmp[j]))
				out[total++] = tmp[j];
	}
	td_dump_frame *kept = td_arena_alloc(&fc->b->arena,
					     (total ? total : 1) * sizeof(*out));
	if (kept)
		memcpy(kept, out, total * sizeof(*out));
	free(out);
	*nframes = total;
	return kept;
}

/* Wait texts already made in this dump, by every field the text reads:
 * equal waits (a thousand tasks on one mutex, sleeps due at the same
 * millisecond) share one string, formatted once.  Direct-mapped, so its
 * cost is fixed; a wait of its own (a channel per task) costs one
 * formatting, as before. */
#define WAIT_TEXT_SLOTS 1024u /* a power of two */

struct wait_text_cache {
	struct wait_text_entry {
		td_wait wait;
		const char *text; /* in the dump's arena; NULL: empty */
	} slots[WAIT_TEXT_SLOTS];
};

static bool wait_eq(const td_wait *a, const td_wait *b)
{
	return a->kind == b->kind && a->flags == b->flags &&
	       a->object == b->object && a->label == b->label &&
	       a->deadline_ms == b->deadline_ms && a->task_id == b->task_id &&
	       a->count == b->count && a->value == b->value &&
	       a->fd == b->fd && a->events == b->events;
}

/* td_wait_format(w, now) as a string of the dump (NULL when out of
 * memory); `now` is the same for the whole dump. */
static const char *wait_text(struct dump_build *b, struct wait_text_cache *c,
			     const td_wait *w, uint64_t now)
{
	uint64_t h = ((uint64_t)(uintptr_t)w->object ^
		      (uint64_t)w->kind << 56 ^ w->deadline_ms ^
		      w->task_id << 17 ^ w->count << 31 ^ w->value << 45 ^
		      (uint64_t)(uint32_t)w->fd << 7) *
		     0x9e3779b97f4a7c15ull;
	struct wait_text_entry *e = &c->slots[h >> 54 & (WAIT_TEXT_SLOTS - 1)];
	if (e->text && wait_eq(&e->wait, w))
		return e->text;
	char text[160];
	int n = td_wait_format(w, now, text, sizeof(text));
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n
							   : sizeof(text) - 1;
	char *copy = td_arena_alloc(&b->arena, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, text, len + 1);
	e->wait = *w;
	e->text = copy;
	return copy;
}

static void build_task_traces(struct frame_ctx *fc, struct seq_table *seqs,
			      struct wait_text_cache *texts,
			      struct pending_traces *p, uint64_t now)
{
	struct dump_build *b = fc->b;
	/* Not zeroed: each trace is written whole below. */
	td_dump_trace *tr = td_arena_alloc_array(&b->arena, p->n, sizeof(*tr));
	if (!tr) {
		b->out_of_memory = true;
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		const td_backtrace *bt = &b->collector.bts[p->first + i];
		tr[i] = (td_dump_trace){
			.wait = bt->wait,
			.wait_text = (char *)wait_text(b, texts, &bt->wait, now),
			.truncated = bt->truncated,
		};
		uint64_t h = hash_ips(bt->ips, bt->n);
		struct seq_entry *e = seq_find(seqs, bt->ips, bt->n, h);
		if (!e) {
			b->out_of_memory = true;
			continue;
		}
		if (!e->ips && !e->n) {
			e->hash = h;
			e->ips = bt->ips ? bt->ips : (const uintptr_t *)"";
			e->n = bt->n;
			e->frames = trace_frames(fc, bt->ips, bt->n,
						 bt->leaf_function,
						 &e->nframes);
			seqs->used++;
		}
		tr[i].frames = e->frames;
		tr[i].nframes = e->frames ? e->nframes : 0;
	}
	p->task->traces = tr;
	p->task->ntraces = p->n;
	for (size_t i = 0; i < p->n; i++) {
		if (!td_wait_may_edge(&tr[i].wait))
			continue;
		if (!grow((void **)&b->graph, &b->cap_graph, b->ngraph + 1,
			  sizeof(*b->graph)))
			b->out_of_memory = true;
		else
			b->graph[b->ngraph++] = p->task;
		break;
	}
}

static void build_stack(struct frame_ctx *fc, struct pending_stack *p)
{
	td_dump_frame tmp[MAX_INLINE_DEPTH];
	size_t cap = p->n * 2 + 4, total = 0;
	td_dump_frame *out = td_arena_alloc(&fc->b->arena, cap * sizeof(*out));
	if (!out) {
		fc->b->out_of_memory = true;
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		bool ret = !(i == 0 && p->exact_first);
		size_t k = frames_of(fc, p->ips[i], ret, tmp,
				     MAX_INLINE_DEPTH);
		for (size_t j = 0; j < k && total < cap; j++)
			out[total++] = tmp[j];
	}
	p->worker->stack = out;
	p->worker->nstack = total;
}

void dump_build_frames(struct dump_build *b, bool symbols)
{
	struct frame_ctx fc = {.b = b};
	struct seq_table seqs = {0};
	struct wait_text_cache *texts = calloc(1, sizeof(*texts));
	if (!texts) {
		b->out_of_memory = true;
		return;
	}

	td_collector_finish(&b->collector);
	if (symbols)
		fc.sym = dump_build_symbolizer(b);
	uint64_t now = td_now_ms();
	for (size_t i = 0; i < b->ntraces; i++)
		build_task_traces(&fc, &seqs, texts, &b->traces[i], now);
	for (size_t i = 0; i < b->nstacks; i++)
		build_stack(&fc, &b->stacks[i]);
	free(seqs.slots);
	free(texts);
}

struct td_symbolizer *dump_build_symbolizer(struct dump_build *b)
{
	if (!b->sym_tried) {
		bool renewed;
		b->sym_tried = true;
		b->sym = td_symbolizer_shared(&renewed);
		if (!b->sym) {
			char text[160];
			snprintf(text, sizeof(text),
				 "symbolization unavailable: the process's "
				 "mappings could not be read: %s",
				 strerror(errno));
			dump_build_warn(b, text);
		}
	}
	return b->sym;
}

const td_dump_worker *dump_busy_worker(const td_dump_runtime *rt,
				       uint64_t task_id)
{
	for (size_t i = 0; rt->workers && i < rt->nworkers; i++) {
		const td_dump_worker *w = &rt->workers[i];
		if (w->state && strcmp(w->state, "busy") == 0 &&
		    w->task_id == task_id)
			return w;
	}
	return NULL;
}

struct td_busy_probe *dump_build_add_probe(struct dump_build *b)
{
	if (b->nprobes == TD_MAX_BUSY_PROBES)
		return NULL;
	struct td_busy_probe *p = &b->probes[b->nprobes++];
	*p = (struct td_busy_probe){0};
	return p;
}

struct held_arg {
	struct dump_build *b;
	const td_dump_runtime *rt;
};

static void note_one_held(const struct td_held_fact *f, void *argp)
{
	struct held_arg *a = argp;
	struct dump_build *b = a->b;
	if (!grow((void **)&b->held, &b->cap_held, b->nheld + 1,
		  sizeof(*b->held))) {
		b->out_of_memory = true;
		return;
	}
	b->held[b->nheld++] = (struct td_held_note){*f, a->rt};
}

void dump_build_note_held(struct dump_build *b, const td_dump_runtime *rt)
{
	struct held_arg a = {b, rt};
	td_mutex_held_for_each(note_one_held, &a);
	td_semaphore_held_for_each(note_one_held, &a);
}

void dump_build_warn(struct dump_build *b, const char *text)
{
	td_dump *d = b->dump;
	for (size_t i = 0; i < d->nwarnings; i++)
		if (strcmp(d->warnings[i], text) == 0)
			return;
	const char **v = td_arena_alloc(&b->arena,
					(d->nwarnings + 1) * sizeof(*v));
	char *copy = td_arena_strdup(&b->arena, text);
	if (!v || !copy)
		return;
	if (d->nwarnings > 0)
		memcpy(v, d->warnings, d->nwarnings * sizeof(*v));
	v[d->nwarnings++] = copy;
	d->warnings = v;
}

int dump_build_finish(struct dump_build *b)
{
	td_dump *d = b->dump;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	d->pid = (int)getpid();
	d->program = td_arena_strdup(&b->arena, exe);
	d->capture_ms = b->capture_ms;
	for (size_t i = 0; i < d->nruntimes; i++) {
		d->ntasks += d->runtimes[i].ntasks;
		if (d->runtimes[i].pause_ms > d->pause_ms)
			d->pause_ms = d->runtimes[i].pause_ms;
	}
	if (b->sym && td_symbolizer_open_error(b->sym))
		dump_build_warn(b, td_symbolizer_open_error(b->sym));
	if (b->collector.out_of_memory || b->arena.failed || b->out_of_memory)
		return -ENOMEM;
	return 0;
}

void dump_build_release(struct dump_build *b, bool discard)
{
	struct dump_box *box = (struct dump_box *)(void *)b->dump;
	/* Probes not watched (an error on the way) still hold references. */
	for (size_t i = 0; i < b->nprobes; i++)
		if (b->probes[i].task)
			td_task_unref(b->probes[i].task);
	td_collector_release(&b->collector);
	free(b->traces);
	free(b->stacks);
	free(b->graph);
	free(b->held);
	if (discard) {
		td_arena_free(&b->arena);
		free(box);
	} else {
		box->arena = b->arena; /* the dump owns it now */
	}
	free(b);
}

void td_dump_free(td_dump *d)
{
	if (!d)
		return;
	struct dump_box *box = (struct dump_box *)(void *)d;
	td_arena_free(&box->arena);
	free(box);
}
