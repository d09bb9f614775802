/* warnings.c - the task warnings of a dump (trace/warnings.h).
 *
 * Rules (README.md, "Task warnings"), each on one entry's counters:
 *
 *   lost-wakeup   idle, polled before, and no waker of it left anywhere
 *   busy-loop     watched after the pause: polled at least
 *                 busy_polls_per_sec, 99% of the polls after waking itself
 *                 (a task that yields often but also waits for something
 *                 real every few polls is working, not looping)
 *   long-poll     in one poll for long_poll_ms now, or its slowest poll
 *                 took that long
 *   starved       notified (woken) starved_ms ago and not polled since
 *   never-polled  spawned never_polled_ms ago and never polled
 *   long-wait     idle at least long_wait_ms and long_wait_factor times
 *                 the median of the (at least LONG_WAIT_PEERS) tasks
 *                 waiting at the same place
 *
 * Block_on futures carry no counters and get no warnings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/context.h"
#include "task/core.h"
#include "trace/warnings.h"
#include "trace/write_buf.h"

/* A long-wait needs this many tasks at the same place (itself included)
 * for "its peers" to mean anything. */
#define LONG_WAIT_PEERS 4

const char *td_dump_warning_kind_name(td_dump_warning_kind k)
{
	switch (k) {
	case TD_WARN_LOST_WAKEUP:
		return "lost-wakeup";
	case TD_WARN_BUSY_LOOP:
		return "busy-loop";
	case TD_WARN_LONG_POLL:
		return "long-poll";
	case TD_WARN_STARVED:
		return "starved";
	case TD_WARN_NEVER_POLLED:
		return "never-polled";
	case TD_WARN_LONG_WAIT:
		return "long-wait";
	}
	return "unknown";
}

const char *td_dump_warning_severity(td_dump_warning_kind k)
{
	switch (k) {
	case TD_WARN_LOST_WAKEUP:
		return "error";
	case TD_WARN_LONG_WAIT:
		return "info";
	default:
		return "warning";
	}
}

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

void td_warn_limits_from(const td_dump_options *o, struct td_warn_limits *l)
{
	static const td_dump_options none;
	if (!o)
		o = &none;
	l->long_poll_ms = or_default(o->long_poll_ms,
				     TD_DUMP_DEFAULT_LONG_POLL_MS);
	l->starved_ms = or_default(o->starved_ms, TD_DUMP_DEFAULT_STARVED_MS);
	l->never_polled_ms = or_default(o->never_polled_ms,
					TD_DUMP_DEFAULT_NEVER_POLLED_MS);
	l->long_wait_ms = or_default(o->long_wait_ms,
				     TD_DUMP_DEFAULT_LONG_WAIT_MS);
	l->long_wait_factor = or_default(o->long_wait_factor,
					 TD_DUMP_DEFAULT_LONG_WAIT_FACTOR);
	l->busy_polls_per_sec = or_default(o->busy_polls_per_sec,
					   TD_DUMP_DEFAULT_BUSY_POLLS_PER_SEC);
}

/* ---- busy-loop probes ------------------------------------------------ */

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1e3),
			      (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) *
				     1e6)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

size_t td_busy_watch(struct dump_build *b, struct td_busy_seen *out)
{
	size_t n = b->nprobes;
	if (!n)
		return 0;
	double latest = 0;
	for (size_t i = 0; i < n; i++)
		if (b->probes[i].from_ms > latest)
			latest = b->probes[i].from_ms;
	double wait = latest + TD_BUSY_WINDOW_MS - mono_ms();
	/* A thread of a runtime must not sleep here: its tasks wait for it
	 * (and the watched task may be one of them). */
	if (wait > 0 && !td_tls_ctx)
		sleep_ms(wait);
	double now = mono_ms();
	for (size_t i = 0; i < n; i++) {
		struct td_busy_probe *p = &b->probes[i];
		uint32_t polls = atomic_load_explicit(&p->task->polls,
						      memory_order_relaxed);
		uint16_t waits = atomic_load_explicit(&p->task->waits,
						      memory_order_relaxed);
		out[i] = (struct td_busy_seen){
			.task_id = p->task_id,
			.runtime_id = p->runtime_id,
			.polls = (uint32_t)(polls - p->polls),
			.waits = (uint16_t)(waits - p->waits),
			.window_ms = now - p->from_ms,
		};
		td_task_unref(p->task);
		p->task = NULL;
	}
	b->nprobes = 0;
	return n;
}

/* ---- the list -------------------------------------------------------- */

struct wlist {
	td_dump_warning *items;
	size_t n, cap;
	struct td_arena *arena;
	bool oom;
};

__attribute__((format(printf, 5, 6))) static void
add(struct wlist *l, td_dump_warning_kind kind, uint64_t runtime_id,
    const td_dump_task *t, const char *fmt, ...)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		td_dump_warning *p = realloc(l->items, ncap * sizeof(*p));
		if (!p) {
			l->oom = true;
			return;
		}
		l->items = p;
		l->cap = ncap;
	}
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	char *copy = td_arena_strdup(l->arena, text);
	if (!copy) {
		l->oom = true;
		return;
	}
	l->items[l->n++] = (td_dump_warning){kind, runtime_id, t, copy};
}

typedef unsigned long long ull;

/* Where the task waits, for the evidence: " at leaf_fn (file:line)" of
 * its first trace's innermost frame, with ", from caller_fn (file:line)"
 * of the frame above it when there is one; "" when not traced. */
static void where(const td_dump_task *t, char *out, size_t size)
{
	out[0] = '\0';
	if (!t->traced || !t->traces || !t->ntraces || !t->traces[0].nframes)
		return;
	const td_dump_trace *tr = &t->traces[0];
	size_t len = 0;
	for (size_t k = 0; k < 2 && k < tr->nframes && len < size; k++) {
		const td_dump_frame *f = &tr->frames[tr->nframes - 1 - k];
		int n;
		if (f->file)
			n = snprintf(out + len, size - len, "%s %s (%s:%d)",
				     k ? ", from" : " at", f->function,
				     td_dump_file_name(f->file), f->line);
		else
			n = snprintf(out + len, size - len, "%s %s",
				     k ? ", from" : " at", f->function);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static void lost_wakeup(struct wlist *l, uint64_t rid, const td_dump_task *t)
{
	if (t->state != TD_DUMP_IDLE || t->polls == 0 || t->wakers != 0)
		return;
	char at[300];
	where(t, at, sizeof(at));
	add(l, TD_WARN_LOST_WAKEUP, rid, t,
	    "idle %llu ms after %llu poll%s, waiting%s, and no waker of it "
	    "is registered anywhere: nothing can wake it again",
	    (ull)t->idle_ms, (ull)t->polls, t->polls == 1 ? "" : "s", at);
}

static void long_poll(struct wlist *l, const td_dump_runtime *rt,
		      const td_dump_task *t, const struct td_warn_limits *lim)
{
	const td_dump_worker *w =
		t->state == TD_DUMP_RUNNING ? dump_busy_worker(rt, t->id) : NULL;
	if (w && w->busy_ms >= lim->long_poll_ms) {
		char sys[160] = "";
		if (w->syscall && w->syscall_fd >= 0)
			snprintf(sys, sizeof(sys),
				 ", blocked in %s on fd %lld", w->syscall,
				 (long long)w->syscall_fd);
		else if (w->syscall)
			snprintf(sys, sizeof(sys), ", blocked in %s",
				 w->syscall);
		add(l, TD_WARN_LONG_POLL, rt->id, t,
		    "in one poll for %llu ms on worker %u%s (threshold %u "
		    "ms): the worker runs nothing else meanwhile",
		    (ull)w->busy_ms, w->index, sys, lim->long_poll_ms);
		return;
	}
	if (t->slowest_poll_ms >= lim->long_poll_ms)
		add(l, TD_WARN_LONG_POLL, rt->id, t,
		    "its slowest poll took %s%llu ms (threshold %u ms; %llu "
		    "polls, %llu ms busy in all): its worker ran nothing "
		    "else meanwhile",
		    t->slowest_poll_ms >= UINT16_MAX ? "at least " : "",
		    (ull)t->slowest_poll_ms, lim->long_poll_ms,
		    (ull)t->polls, (ull)t->busy_ms);
}

static void starved(struct wlist *l, uint64_t rid, const td_dump_task *t,
		    const struct td_warn_limits *lim)
{
	if (t->state != TD_DUMP_NOTIFIED)
		return;
	if (t->polls == 0) {
		if (t->woken_ms >= lim->never_polled_ms)
			add(l, TD_WARN_NEVER_POLLED, rid, t,
			    "spawned %llu ms ago and never polled (threshold "
			    "%u ms), queued: %s",
			    (ull)t->woken_ms, lim->never_polled_ms,
			    td_dump_queue_name(t->queue));
		return;
	}
	if (t->woken_ms >= lim->starved_ms)
		add(l, TD_WARN_STARVED, rid, t,
		    "woken %llu ms ago and not polled since (threshold %u "
		    "ms), queued: %s; its longest wait for an earlier poll: "
		    "%llu ms",
		    (ull)t->woken_ms, lim->starved_ms,
		    td_dump_queue_name(t->queue), (ull)t->wait_worst_ms);
}

static void busy_loops(struct wlist *l, const td_dump *d,
		       const struct td_warn_limits *lim,
		       const struct td_busy_seen *busy, size_t nbusy)
{
	for (size_t i = 0; i < nbusy; i++) {
		const struct td_busy_seen *s = &busy[i];
		double secs = s->window_ms / 1e3;
		if (secs <= 0 || s->polls < 16 ||
		    (double)s->polls < lim->busy_polls_per_sec * secs ||
		    s->waits * 100 > s->polls)
			continue;
		const td_dump_task *t = NULL;
		for (size_t r = 0; !t && r < d->nruntimes; r++) {
			const td_dump_runtime *rt = &d->runtimes[r];
			if (rt->id != s->runtime_id || !rt->tasks)
				continue;
			for (size_t k = 0; k < rt->ntasks; k++)
				if (!rt->tasks[k].is_block_on &&
				    rt->tasks[k].id == s->task_id) {
					t = &rt->tasks[k];
					break;
				}
		}
		if (!t)
			continue;
		add(l, TD_WARN_BUSY_LOOP, s->runtime_id, t,
		    "polled %llu times in %.0f ms after the dump (%.0f polls/s, "
		    "threshold %u), %llu%% of them after waking itself: it "
		    "keeps itself running without waiting for anything",
		    (ull)s->polls, s->window_ms, (double)s->polls / secs,
		    lim->busy_polls_per_sec,
		    (ull)((s->polls - s->waits) * 100 / s->polls));
	}
}

/* ---- long waits: idle far longer than the tasks at the same place ---- */

struct idle_ref {
	uint64_t key;
	uint64_t idle_ms;
	const td_dump_task *task;
};

/* Same place: the same frames (one symbolized array per distinct address
 * sequence, dump_build.c) and the same wait kind, trace by trace. */
static uint64_t place_key(const td_dump_task *t)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < t->ntraces; i++) {
		const td_dump_trace *tr = &t->traces[i];
		h = (h ^ (uint64_t)(uintptr_t)tr->frames) * 1099511628211ull;
		h = (h ^ tr->nframes) * 1099511628211ull;
		h = (h ^ (uint64_t)tr->wait.kind) * 1099511628211ull;
	}
	return h;
}

static bool same_place(const td_dump_task *a, const td_dump_task *b)
{
	if (a->ntraces != b->ntraces)
		return false;
	for (size_t i = 0; i < a->ntraces; i++)
		if (a->traces[i].frames != b->traces[i].frames ||
		    a->traces[i].nframes != b->traces[i].nframes ||
		    a->traces[i].wait.kind != b->traces[i].wait.kind)
			return false;
	return true;
}

static int by_key_idle(const void *pa, const void *pb)
{
	const struct idle_ref *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->idle_ms != b->idle_ms)
		return a->idle_ms < b->idle_ms ? -1 : 1;
	return (a->task->id > b->task->id) - (a->task->id < b->task->id);
}

/* One run of equal keys, [from, to), sorted by idle time: split into
 * places (a hash collision is possible), and flag the outliers. */
static void long_wait_run(struct wlist *l, uint64_t rid,
			  struct idle_ref *v, size_t from, size_t to,
			  const struct td_warn_limits *lim)
{
	while (from < to) {
		/* The members at the first one's place, still idle-sorted. */
		const td_dump_task *first = v[from].task;
		size_t n = 0;
		for (size_t i = from; i < to; i++)
			if (same_place(first, v[i].task)) {
				struct idle_ref tmp = v[from + n];
				v[from + n] = v[i];
				v[i] = tmp;
				n++;
			}
		/* Swapping kept neither order: sort the place's run again. */
		qsort(v + from, n, sizeof(*v), by_key_idle);
		if (n >= LONG_WAIT_PEERS) {
			uint64_t median = v[from + n / 2].idle_ms;
			uint64_t bar = (median ? median : 1) *
				       (uint64_t)lim->long_wait_factor;
			char at[300];
			where(first, at, sizeof(at));
			for (size_t i = from; i < from + n; i++) {
				uint64_t idle = v[i].idle_ms;
				if (idle < lim->long_wait_ms || idle < bar)
					continue;
				add(l, TD_WARN_LONG_WAIT, rid, v[i].task,
				    "idle %llu ms, %llux the median %llu ms of "
				    "the %zu tasks waiting%s",
				    (ull)idle,
				    (ull)(idle / (median ? median : 1)),
				    (ull)median, n, at);
			}
		}
		if (n > 0)
			qsort(v + from + n, to - from - n, sizeof(*v),
			      by_key_idle);
		from += n ? n : 1;
	}
}

/* May the task be a long wait's outlier or one of its peers? */
static bool long_wait_candidate(const td_dump_task *t)
{
	return !t->is_block_on && t->state == TD_DUMP_IDLE && t->traced &&
	       t->traces && t->ntraces && t->polls > 0;
}

static void long_waits(struct wlist *l, const td_dump_runtime *rt,
		       const struct td_warn_limits *lim)
{
	/* Nobody idle past the floor (the usual case): nothing to sort. */
	bool any = false;
	for (size_t i = 0; !any && i < rt->ntasks; i++)
		any = long_wait_candidate(&rt->tasks[i]) &&
		      rt->tasks[i].idle_ms >= lim->long_wait_ms;
	if (!any)
		return;
	struct idle_ref *v = malloc((rt->ntasks ? rt->ntasks : 1) * sizeof(*v));
	if (!v) {
		l->oom = true;
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < rt->ntasks; i++) {
		const td_dump_task *t = &rt->tasks[i];
		if (!long_wait_candidate(t))
			continue;
		v[n++] = (struct idle_ref){place_key(t), t->idle_ms, t};
	}
	qsort(v, n, sizeof(*v), by_key_idle);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && v[j].key == v[i].key)
			j++;
		/* Only a run with an outlier past the floor needs a look. */
		if (j - i >= LONG_WAIT_PEERS && v[j - 1].idle_ms >= lim->long_wait_ms)
			long_wait_run(l, rt->id, v, i, j, lim);
		i = j;
	}
	free(v);
}

/* ---- assembling ------------------------------------------------------ */

static int by_severity(const void *pa, const void *pb)
{
	const td_dump_warning *a = pa, *b = pb;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->runtime_id != b->runtime_id)
		return a->runtime_id < b->runtime_id ? -1 : 1;
	return (a->task->id > b->task->id) - (a->task->id < b->task->id);
}

int td_dump_find_warnings(td_dump *d, struct td_arena *arena,
			  const struct td_warn_limits *lim,
			  const struct td_busy_seen *busy, size_t nbusy)
{
	struct wlist l = {.arena = arena};
	for (size_t r = 0; d->runtimes && r < d->nruntimes; r++) {
		const td_dump_runtime *rt = &d->runtimes[r];
		for (size_t i = 0; rt->tasks && i < rt->ntasks; i++) {
			const td_dump_task *t = &rt->tasks[i];
			if (t->is_block_on)
				continue;
			lost_wakeup(&l, rt->id, t);
			long_poll(&l, rt, t, lim);
			starved(&l, rt->id, t, lim);
		}
		if (rt->tasks)
			long_waits(&l, rt, lim);
	}
	busy_loops(&l, d, lim, busy, nbusy);
	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), by_severity);
	d->ntask_warnings_found = l.n;
	size_t keep = l.n < TD_DUMP_MAX_WARNINGS ? l.n : TD_DUMP_MAX_WARNINGS;
	if (keep) {
		d->task_warnings = td_arena_alloc(arena,
						  keep * sizeof(*l.items));
		if (d->task_warnings) {
			memcpy(d->task_warnings, l.items,
			       keep * sizeof(*l.items));
			d->ntask_warnings = keep;
		} else {
			l.oom = true;
		}
	}
	free(l.items);
	return l.oom ? -ENOMEM : 0;
}
