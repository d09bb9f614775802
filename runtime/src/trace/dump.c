/* dump.c - td_runtime_dump and td_dump_all (taskdump/dump.h).
 *
 * One dump at a time per process (dump_mutex): the stuck-thread stack
 * capture, the symbolizer and the collector are single-user.
 *
 * Per runtime, under its dump_lock (which td_runtime_free also takes, so a
 * runtime cannot be shut down under a dump), in one of three ways:
 *   stop-the-world (capture_stopped): open the gate, unpark everyone,
 *   wait for arrivals until the grace period ends; read worker states;
 *   snapshot the owned tasks; note queue positions; poll every idle or
 *   notified task in tracing mode (no scheduler lock is held:
 *   td_task_trace_poll arbitrates through the task's state word) and the
 *   block_on futures; walk the lock registries; release the gate;
 *   incremental, multi-thread (capture_running_mt): the same from this
 *   thread while the workers run, with a reference on every task;
 *   incremental, current-thread (capture_sliced_ct): the runtime's own
 *   thread traces in slices at its safe points (sched/dump_gate.h).
 * Then the busy workers' native stacks, the entries in id order, the
 * symbolization and the diagnosis; what tasks seen at different moments
 * say is confirmed last (confirm_findings).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/context.h"
#include "sched/runtime_impl.h"
#include "task/core.h"
#include "task/current.h"
#include "task/state.h"
#include "taskdump/dump.h"
#include "taskdump/mutex.h"
#include "trace/arena.h"
#include "trace/bigmem.h"
#include "trace/collector.h"
#include "trace/diagnose.h"
#include "trace/dump_build.h"
#include "trace/symbolize.h"
#include "trace/thread_stack.h"
#include "trace/unwind.h"
#include "trace/warnings.h"

/* At most this long waiting for a running busy thread to be sampled. */
#define STACK_WAIT_MS 250
#define MAX_STACK 128

static pthread_mutex_t dump_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Set while a dump holds dump_mutex (after locking, cleared before
 * unlocking): a child forked meanwhile knows the shared state is half
 * done.  fork() never waits for a dump (a worker forking from a task
 * would stall the dump that waits for it): the child repairs instead. */
static _Atomic bool dump_active;

static void dump_after_fork_child(void)
{
	pthread_mutex_init(&dump_mutex, NULL);
	td_symbolizer_after_fork_child(atomic_load(&dump_active));
	td_big_after_fork_child();
	atomic_store(&dump_active, false);
	td_registry_after_fork_child();
}

__attribute__((constructor)) static void dump_fork_handlers(void)
{
	pthread_atfork(NULL, NULL, dump_after_fork_child);
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- queue positions ------------------------------------------------- */

struct queued {
	const struct td_task *task;
	td_dump_queue queue;
	int worker;
};

struct queued_list {
	struct queued *items;
	size_t n, cap;
	unsigned worker; /* the worker being visited */
};

static void add_queued(struct queued_list *l, const struct td_task *t,
		       td_dump_queue q, int worker)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct queued *p = realloc(l->items, ncap * sizeof(*p));
		if (!p)
			return; /* positions are best effort */
		l->items = p;
		l->cap = ncap;
	}
	l->items[l->n++] = (struct queued){t, q, worker};
}

static void visit_worker_queue(struct td_task *t, bool lifo, void *arg)
{
	struct queued_list *l = arg;
	add_queued(l, t, lifo ? TD_DUMP_QUEUE_LIFO : TD_DUMP_QUEUE_LOCAL,
		   (int)l->worker);
}

static int by_task(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;
	return (x->task > y->task) - (x->task < y->task);
}

static const struct queued *find_queued(const struct queued_list *l,
					const struct td_task *t)
{
	struct queued key = {t, TD_DUMP_QUEUE_NONE, -1};
	return l->n ? bsearch(&key, l->items, l->n, sizeof(key), by_task)
		    : NULL;
}

/* ---- one runtime ----------------------------------------------------- */

/* The time bounds of one dump (td_now_ms clock). */
struct limits {
	uint64_t deadline_ms; /* the whole stop-the-world dump's end */
	unsigned grace_ms;    /* waiting for threads to stop (or for a
			       * current-thread runtime's first slice) */
	unsigned timeout_ms;  /* a current-thread runtime's thread may go
			       * this long without a slice */
	unsigned slice_us;    /* an incremental dump's slice */
	td_dump_mode mode;    /* never TD_DUMP_MODE_DEFAULT */
};

static bool nobody_drives(void *arg)
{
	struct td_runtime *rt = arg;
	return !rt->fops->has_thread(rt);
}

static const char *activity_name(int a)
{
	switch (a) {
	case TD_WORKER_POLLING:
	case TD_WORKER_POLLING_MAIN:
		return "busy";
	case TD_WORKER_IDLE:
		return "idle";
	default:
		return "busy";
	}
}

static bool worker_is_busy(const td_dump_worker *w)
{
	return w->state && strcmp(w->state, "busy") == 0;
}

/* While paused: every worker's state.  A busy worker's stack is taken
 * later (capture_busy_stacks), once the others run again - except the
 * calling worker's own, which is here and now. */
static void read_workers(struct dump_build *b, struct td_runtime *rt,
			 td_dump_runtime *out, struct td_worker_info *infos,
			 const bool *parked, int self)
{
	out->nworkers = rt->nworkers;
	out->workers = td_arena_calloc(&b->arena, rt->nworkers,
				       sizeof(*out->workers));
	if (!out->workers) {
		out->nworkers = 0;
		return;
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct td_worker_info *info = &infos[i];
		td_dump_worker *w = &out->workers[i];
		rt->fops->worker_status(rt, i, info);
		w->index = i;
		w->tid = info->tid;
		w->queued = info->queued;
		w->syscall_fd = -1;
		w->syscall_timeout_ms = -1;
		if (parked[i] || info->activity == TD_WORKER_IDLE) {
			w->paused = parked[i];
			w->state = parked[i] ? "paused" : "idle";
			continue;
		}
		w->state = activity_name(info->activity);
		w->task_id = info->activity == TD_WORKER_POLLING ? info->task_id
								 : 0;
		if ((int)i == self) {
			uintptr_t ips[MAX_STACK];
			int n = td_thread_stack_self(ips, MAX_STACK);
			dump_build_note_stack(b, w, ips, (size_t)n, false);
		}
	}
}

/* What the thread's system call is, into the worker entry. */
static void note_syscall(struct dump_build *b, td_dump_worker *w,
			 const struct td_thread_syscall *sys)
{
	struct td_syscall_info si;
	td_thread_syscall_describe(sys, &si);
	if (!si.name)
		return;
	w->syscall = si.name;
	w->syscall_fd = si.fd;
	w->syscall_timeout_ms = si.timeout_ms;
	if (si.fd_target[0])
		w->syscall_fd_target = td_arena_strdup(&b->arena,
						       si.fd_target);
}

/* After the pause: the native stacks of the workers that did not stop,
 * taken without disturbing them (trace/thread_stack.h), each checked to
 * belong to the poll the worker was found in. */
static void capture_busy_stacks(struct dump_build *b, struct td_runtime *rt,
				td_dump_runtime *out,
				const struct td_worker_info *infos, int self,
				uint64_t deadline_ms)
{
	for (size_t i = 0; i < out->nworkers; i++) {
		td_dump_worker *w = &out->workers[i];
		const struct td_worker_info *info = &infos[i];
		if (!worker_is_busy(w) || (int)i == self)
			continue;
		uint64_t now = td_now_ms();
		unsigned wait = now < deadline_ms
					? (unsigned)(deadline_ms - now)
					: 0;
		if (wait > STACK_WAIT_MS)
			wait = STACK_WAIT_MS;
		char why[200];
		struct td_thread_snapshot snap;
		int r = td_thread_snapshot_take(info->tid, info->stack_lo,
						info->stack_hi, wait, &snap,
						why, sizeof(why));
		/* Still in the poll it was found in?  Then the snapshot is
		 * of that poll. */
		struct td_worker_info again;
		rt->fops->worker_status(rt, (unsigned)i, &again);
		bool same = again.activity == info->activity &&
			    again.task_id == info->task_id;
		if (r != 0) {
			w->stack_error = td_arena_strdup(&b->arena, why);
			continue;
		}
		if (!same) {
			w->stack_error = "the worker finished its poll while "
					 "its stack was being taken";
			td_thread_snapshot_free(&snap);
			continue;
		}
		note_syscall(b, w, &snap.sys);
		uintptr_t ips[MAX_STACK];
		const char *note = NULL;
		int n = td_unwind_snapshot(dump_build_symbolizer(b), &snap, ips,
					   MAX_STACK, &note);
		td_thread_snapshot_free(&snap);
		if (n > 0)
			dump_build_note_stack(b, w, ips, (size_t)n, true);
		w->stack_note = note;
	}
}

/* A busy worker has been in its poll as long as the task it polls has
 * been "idle" (time since its last poll began). */
static void note_busy_times(td_dump_runtime *out)
{
	for (size_t i = 0; i < out->nworkers; i++) {
		td_dump_worker *w = &out->workers[i];
		if (!w->state || strcmp(w->state, "busy") != 0)
			continue;
		for (size_t k = 0; k < out->ntasks; k++) {
			const td_dump_task *t = &out->tasks[k];
			bool match = w->task_id ? t->id == w->task_id
						: t->is_block_on &&
							  t->state ==
								  TD_DUMP_RUNNING;
			if (match) {
				w->busy_ms = t->idle_ms;
				break;
			}
		}
	}
}

static td_dump_task_state state_of(uint64_t s)
{
	if (s & TD_ST_COMPLETE)
		return TD_DUMP_COMPLETE;
	if (s & TD_ST_RUNNING)
		return TD_DUMP_RUNNING;
	if (s & TD_ST_CANCELLED)
		return TD_DUMP_CANCELLED;
	if (s & TD_ST_NOTIFIED)
		return TD_DUMP_NOTIFIED;
	return TD_DUMP_IDLE;
}


/* What the pause records of one task; turned into a td_dump_task after
 * the threads resume (names, sites and sorting cost nothing then).  Task
 * memory is read only during the pause: with every worker stopped the
 * snapshot takes no references, and a task may be gone right after. */
struct seen_task {
	const char *not_traced; /* set when tracing was not attempted */
	uint64_t id;
	const char *name; /* arena copy */
	const char *type_name; /* static, copied after the pause */
	const td_spawn_site *site;
	uint64_t state;
	uint32_t polls;
	uint32_t last_poll;
	int worker;
	bool traced;
	size_t first_bt, nbt;
	/* The diagnosis counters (task/core.h), as they were. */
	uint32_t notified_at, busy_ms;
	uint16_t slowest_poll_ms, wait_latest_ms, wait_worst_ms, waits;
	bool self_woken; /* its last poll ended with it woken by itself */
	int64_t wakers; /* -1: not idle, or not known */
};

/* How many of an idle task's references are wakers: all but the owned
 * list's, the join handle's and the dump's own (task/state.h lists every
 * kind of reference; an idle task has no Notified one).  -1 when the
 * count cannot be read off the state. */
static int64_t idle_wakers(uint64_t state, unsigned dump_refs)
{
	if (state & (TD_ST_RUNNING | TD_ST_COMPLETE | TD_ST_NOTIFIED |
		     TD_ST_CANCELLED | TD_ST_TRACING))
		return -1;
	uint64_t others = 1 + ((state & TD_ST_JOIN_INTEREST) ? 1 : 0) +
			  dump_refs;
	uint64_t refs = td_st_refs(state);
	return refs >= others ? (int64_t)(refs - others) : -1;
}

/* While paused: the counters of the diagnosis. */
static void read_counters(struct seen_task *st, struct td_task *t,
			  unsigned dump_refs)
{
	st->notified_at = atomic_load_explicit(&t->notified_at,
					       memory_order_relaxed);
	st->busy_ms = atomic_load_explicit(&t->busy_ms, memory_order_relaxed);
	st->waits = atomic_load_explicit(&t->waits, memory_order_relaxed);
	st->self_woken = atomic_load_explicit(&t->flags,
					      memory_order_relaxed) &
			 TD_TASK_F_SELF_WOKEN;
	st->slowest_poll_ms = atomic_load_explicit(&t->slowest_poll_ms,
						   memory_order_relaxed);
	st->wait_latest_ms = atomic_load_explicit(&t->wait_latest_ms,
						  memory_order_relaxed);
	st->wait_worst_ms = atomic_load_explicit(&t->wait_worst_ms,
						 memory_order_relaxed);
	st->wakers = idle_wakers(st->state, dump_refs);
}

/* A task that may be in a busy loop: notified or running, and its last
 * poll ended with it waking itself.  It is watched for a moment after the
 * pause (trace/warnings.h) before anything is said. */
static void maybe_probe(struct dump_build *b, const struct seen_task *st,
			struct td_task *t, uint64_t runtime_id)
{
	if (!(st->state & (TD_ST_NOTIFIED | TD_ST_RUNNING)) ||
	    (st->state & TD_ST_COMPLETE) || st->polls < 16 || !st->self_woken)
		return;
	struct td_busy_probe *p = dump_build_add_probe(b);
	if (!p)
		return;
	/* Safe while paused or with the snapshot's reference: the owned
	 * list (or the snapshot) keeps the task alive. */
	td_task_ref(t);
	p->task = t;
	p->task_id = st->id;
	p->runtime_id = runtime_id;
	p->polls = st->polls;
	p->waits = st->waits;
}

/* While paused: copy the task's facts and trace it unless it runs (or
 * unless `may_trace` is false: see capture_runtime). */
static void trace_task(struct dump_build *b, struct seen_task *st,
		       struct td_task *t, bool may_trace, unsigned dump_refs,
		       uint64_t runtime_id)
{
	st->id = t->id;
	const char *name = td_task_name(t);
	st->name = name ? td_arena_strdup(&b->arena, name) : NULL;
	st->site = td_task_site(t);
	st->type_name = t->type_name;
	st->polls = atomic_load_explicit(&t->polls, memory_order_relaxed);
	st->last_poll = atomic_load_explicit(&t->last_poll,
					     memory_order_relaxed);
	st->worker = atomic_load_explicit(&t->worker, memory_order_relaxed);
	st->state = atomic_load_explicit(&t->state, memory_order_acquire);
	read_counters(st, t, dump_refs);
	maybe_probe(b, st, t, runtime_id);
	if (!may_trace || (st->state & (TD_ST_RUNNING | TD_ST_COMPLETE)))
		return;
	/* A task that never ran sits before its first statement: a tracing
	 * poll would run that code (up to its first await) here, on the
	 * dumping thread.  It waits for nothing yet: list it untraced. */
	if (st->polls == 0) {
		st->not_traced = "not polled yet";
		return;
	}
	st->first_bt = b->collector.nbts;
	st->traced = td_task_trace_poll(t);
	if (st->traced)
		st->nbt = b->collector.nbts - st->first_bt;
	else /* it started running or finished since we read its state */
		st->state = atomic_load(&t->state);
}

/* Milliseconds from a 32-bit task clock reading to `now` (0 when the
 * reading is later, as a poll that started during the capture is). */
static uint64_t since(uint64_t now, uint32_t then)
{
	int32_t d = (int32_t)((uint32_t)now - then);
	return d > 0 ? (uint64_t)d : 0;
}

/* After the pause: the task's dump entry (no task memory is touched). */
static void fill_task(struct dump_build *b, td_dump_runtime *out,
		      td_dump_task *dt, const struct seen_task *st,
		      const struct td_task *task, const struct queued_list *ql,
		      uint64_t now)
{
	*dt = (td_dump_task){0};
	dt->id = st->id;
	dt->name = st->name;
	dt->type_name = dump_build_type_name(b, st->type_name);
	dump_build_site(b, dt, st->site);
	dt->polls = st->polls;
	dt->idle_ms = st->polls ? since(now, st->last_poll) : 0;
	dt->worker = st->polls ? st->worker : -1;
	dt->busy_ms = st->busy_ms;
	dt->slowest_poll_ms = st->slowest_poll_ms;
	dt->wakes = st->polls + ((st->state & TD_ST_NOTIFIED) ? 1u : 0u);
	dt->wakes = dt->wakes ? dt->wakes - 1 : 0; /* the spawn's */
	dt->woken_ms = since(now, st->notified_at);
	dt->wait_ms = st->wait_latest_ms;
	dt->wait_worst_ms = st->wait_worst_ms;
	dt->wakers = st->wakers;
	dt->queue_worker = -1;
	dt->state = state_of(st->state);
	if (dt->state == TD_DUMP_NOTIFIED || dt->state == TD_DUMP_CANCELLED) {
		const struct queued *q = find_queued(ql, task);
		dt->queue = q ? q->queue : TD_DUMP_QUEUE_UNKNOWN;
		dt->queue_worker = q ? q->worker : -1;
	}
	if (st->traced) {
		dt->traced = true;
		dump_build_note_traces(b, dt, st->first_bt, st->nbt);
		return;
	}
	if (st->not_traced && dt->state != TD_DUMP_RUNNING &&
	    dt->state != TD_DUMP_COMPLETE) {
		dt->not_traced = st->not_traced;
	} else if (dt->state == TD_DUMP_RUNNING) {
		const td_dump_worker *bw = dump_busy_worker(out, st->id);
		int w = bw ? (int)bw->index : -1;
		char buf[96];
		if (w >= 0)
			snprintf(buf, sizeof(buf),
				 "running on worker %d for %llu ms", w,
				 (unsigned long long)dt->idle_ms);
		else
			snprintf(buf, sizeof(buf), "running");
		dt->not_traced = td_arena_strdup(&b->arena, buf);
	} else if (dt->state == TD_DUMP_COMPLETE) {
		dt->not_traced = "complete";
	} else {
		dt->not_traced = "changed state during the dump";
	}
}

/* A task's place in the snapshot (`seen` and `snap`), sorted by id. */
struct seen_ref {
	uint64_t id;
	size_t index;
};

/* Sort v[0..n) by id (distinct ids), using tmp[0..n) as scratch: a radix
 * sort, a byte a pass, that skips the bytes all ids share - ids are
 * dense, so 100 000 tasks take three passes.  Linear in n, and it reads
 * only the 16-byte refs (a qsort of a million tasks spent a quarter of a
 * second in cache misses on the entries it compared).  Returns the array
 * that holds the result (v or tmp). */
static struct seen_ref *sort_by_id(struct seen_ref *v, struct seen_ref *tmp,
				   size_t n)
{
	uint64_t all_or = 0, all_and = ~(uint64_t)0;
	for (size_t i = 0; i < n; i++) {
		all_or |= v[i].id;
		all_and &= v[i].id;
	}
	uint64_t varies = all_or ^ all_and; /* bits not equal in every id */
	for (unsigned shift = 0; shift < 64; shift += 8) {
		if (!((varies >> shift) & 0xff))
			continue;
		size_t count[256] = {0};
		for (size_t i = 0; i < n; i++)
			count[(v[i].id >> shift) & 0xff]++;
		size_t pos = 0;
		for (unsigned d = 0; d < 256; d++) {
			size_t c = count[d];
			count[d] = pos;
			pos += c;
		}
		/* Stable: equal digits keep the order of the last pass. */
		for (size_t i = 0; i < n; i++)
			tmp[count[(v[i].id >> shift) & 0xff]++] = v[i];
		struct seen_ref *t = v;
		v = tmp;
		tmp = t;
	}
	return v;
}

/* Trace every block_on future of rt (listed first in the dump). */
static size_t capture_mains(struct dump_build *b, struct td_runtime *rt,
			    td_dump_task *tasks, size_t max, uint64_t now,
			    const char *dont_trace)
{
	size_t n = 0;
	pthread_mutex_lock(&rt->mains_lock);
	for (struct td_main_future *m = rt->mains; m && n < max; m = m->next) {
		td_dump_task *dt = &tasks[n++];
		dt->is_block_on = true;
		dt->name = "block_on";
		dt->wakers = -1; /* its waker is not a task's */
		/* The future stays in place while it is listed (mains_lock),
		 * and its vtable pointer is never written after it was made. */
		dt->type_name = dump_build_type_name(
			b, m->future->vtable->type_name);
		dt->worker = -1;
		dt->queue_worker = -1;
		dt->polls = atomic_load_explicit(&m->polls,
						 memory_order_relaxed);
		uint64_t last = atomic_load_explicit(&m->last_poll_ms,
						     memory_order_relaxed);
		dt->idle_ms = last && now > last ? now - last : 0;
		int expect = TD_MAIN_IDLE;
		if (dont_trace || dt->polls == 0) {
			int st = atomic_load(&m->state);
			dt->state = st == TD_MAIN_POLLING ? TD_DUMP_RUNNING
				    : st == TD_MAIN_DONE  ? TD_DUMP_COMPLETE
							  : TD_DUMP_IDLE;
			dt->not_traced = dont_trace ? dont_trace
						    : "not polled yet";
			continue;
		}
		if (!atomic_compare_exchange_strong(&m->state, &expect,
						    TD_MAIN_TRACING)) {
			dt->state = expect == TD_MAIN_DONE ? TD_DUMP_COMPLETE
							   : TD_DUMP_RUNNING;
			dt->not_traced = expect == TD_MAIN_DONE
						 ? "complete"
						 : "being polled by its thread";
			continue;
		}
		size_t first = b->collector.nbts;
		td_waker noop = td_waker_noop();
		td_context cx = {.waker = &noop};
		(void)td_trace_root_poll(m->future, &cx);
		atomic_store(&m->state, TD_MAIN_IDLE);
		dt->state = TD_DUMP_IDLE;
		dt->traced = true;
		dump_build_note_traces(b, dt, first, b->collector.nbts - first);
	}
	pthread_mutex_unlock(&rt->mains_lock);
	return n;
}

static size_t count_mains(struct td_runtime *rt)
{
	size_t n = 0;
	pthread_mutex_lock(&rt->mains_lock);
	for (struct td_main_future *m = rt->mains; m; m = m->next)
		n++;
	pthread_mutex_unlock(&rt->mains_lock);
	return n;
}

/* ---- capturing one runtime ------------------------------------------- */

/* The poll a worker was found in at the start, as its task's state showed
 * it when the task was looked at. */
struct worker_poll {
	bool seen;             /* the task was looked at, running */
	uint32_t began;        /* when that poll began (task clock) */
	uint32_t count;        /* its polls then: the same poll while equal */
	struct td_task *task;  /* the snapshot's reference */
};

/* One runtime's capture in progress: what both modes share.  In a slice
 * round (an incremental dump of a current-thread runtime) the slices run
 * on the runtime's own thread, one at a time (sched/dump_gate.h), and
 * only they touch this until the round ends. */
struct capture {
	struct dump_build *b;
	struct td_runtime *rt;
	td_dump_runtime *out;
	struct seen_task *seen;
	struct td_task **snap;
	size_t ntasks;
	size_t next;          /* the next of snap[] to look at */
	td_dump_task *mains;
	size_t nmains, m;     /* room, and block_on futures listed */
	bool mains_done;
	bool may_trace;
	const char *why;      /* why not, when !may_trace */
	unsigned dump_refs;   /* references of the dump's own per task */
	uint64_t now;         /* task clock when the capture began */
	uint64_t slice_ns;    /* a slice's budget */
	struct queued_list ql;
	bool queues_read;     /* current-thread: in the first slice */
	/* Workers found polling a task at the start, and when that task's
	 * poll began (from its state, when it was looked at). */
	struct td_worker_info *infos;
	double infos_ms;        /* when they were read */
	struct worker_poll *polls; /* [nworkers] */
	double first_ms, last_ms; /* first and last task looked at */
};

/* Look at snap[i]: its facts, and its trace when allowed. */
static void capture_one(struct capture *c, size_t i)
{
	/* The tasks are scattered over the heap: fetch ahead. */
	if (i + 4 < c->ntasks) {
		__builtin_prefetch(c->snap[i + 4]);
		__builtin_prefetch(c->snap[i + 4]->future);
	}
	struct seen_task *st = &c->seen[i];
	*st = (struct seen_task){.not_traced = c->why};
	trace_task(c->b, st, c->snap[i], c->may_trace, c->dump_refs,
		   c->rt->id);
	if (!(st->state & TD_ST_RUNNING))
		return;
	for (unsigned w = 0; c->infos && w < c->rt->nworkers; w++)
		if (c->infos[w].activity == TD_WORKER_POLLING &&
		    c->infos[w].task_id == st->id) {
			c->polls[w] = (struct worker_poll){
				.seen = true,
				.began = st->last_poll,
				.count = st->polls,
				.task = c->snap[i],
			};
		}
}

/* The tasks snap[next..) not looked at, listed as they are, untraced. */
static void list_rest(struct capture *c, const char *why)
{
	bool may = c->may_trace;
	const char *was = c->why;
	c->may_trace = false;
	c->why = why;
	for (; c->next < c->ntasks; c->next++)
		capture_one(c, c->next);
	c->may_trace = may;
	c->why = was;
}

/* Look at the tasks from c->next on: all of them (`budget_ns` 0) or until
 * the budget is spent.  Returns true when none is left. */
static bool capture_tasks(struct capture *c, uint64_t budget_ns)
{
	uint64_t end = budget_ns ? td_gate_now_ns() + budget_ns : 0;
	if (c->next < c->ntasks && c->first_ms == 0)
		c->first_ms = mono_ms();
	td_collector_push(&c->b->collector);
	if (!c->mains_done) {
		c->m = capture_mains(c->b, c->rt, c->mains, c->nmains, c->now,
				     c->may_trace ? NULL : c->why);
		c->mains_done = true;
	}
	while (c->next < c->ntasks) {
		capture_one(c, c->next++);
		/* A clock read (vDSO, ~20 ns) per tracing poll (~1 us). */
		if (end && td_gate_now_ns() >= end)
			break;
	}
	td_collector_pop(&c->b->collector);
	c->last_ms = mono_ms();
	return c->next == c->ntasks;
}

/* Queue positions.  A multi-thread worker's local queue and LIFO slot are
 * atomics that only it pushes to, so reading them while it runs gives
 * each entry's position at some moment of the dump; the current-thread
 * queue is a plain list of its thread's, read only on that thread (in a
 * slice) or while that thread waits.  `skip_busy`: leave out the workers
 * found busy (current-thread: the thread is in a poll). */
static void read_queues(struct capture *c, bool skip_busy)
{
	struct td_runtime *rt = c->rt;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		if (skip_busy && (!c->out->workers ||
				  (worker_is_busy(&c->out->workers[i]) &&
				   rt->flavor != TD_FLAVOR_MULTI_THREAD)))
			continue;
		c->ql.worker = i;
		rt->fops->for_each_queued(rt, i, visit_worker_queue, &c->ql);
	}
	td_inject_lock(&rt->inject);
	for (struct td_task *t = rt->inject.head; t; t = t->queue_next)
		add_queued(&c->ql, t, TD_DUMP_QUEUE_INJECT, -1);
	td_inject_unlock(&rt->inject);
}

/* A slice of an incremental current-thread dump, on the runtime's thread
 * at a safe point (or on the dumping thread when nobody drives). */
static bool capture_slice(void *arg)
{
	struct capture *c = arg;
	if (!c->queues_read) {
		read_queues(c, false);
		c->queues_read = true;
	}
	return capture_tasks(c, c->slice_ns);
}

/* The reason a current-thread runtime's tasks are listed untraced: its
 * thread is busy in a poll (per the worker entry). */
static const char *busy_reason(struct capture *c)
{
	char reason[96];
	uint64_t busy_id = c->out->workers ? c->out->workers[0].task_id : 0;
	if (busy_id)
		snprintf(reason, sizeof(reason),
			 "the runtime's thread is busy in task %llu",
			 (unsigned long long)busy_id);
	else
		snprintf(reason, sizeof(reason),
			 "the runtime's thread is busy in its block_on future");
	return td_arena_strdup(&c->b->arena, reason);
}

/* The snapshot of the tasks, and room for each one's facts: with
 * references (`refs`) unless no thread can complete a task meanwhile. */
static bool take_snapshot(struct capture *c, struct td_big_buf *seen_buf,
			  size_t expect, bool refs, bool *oom)
{
	c->snap = td_owned_snapshot(&c->rt->owned, refs, &c->ntasks, oom);
	c->dump_refs = refs ? 1 : 0;
	if (c->ntasks <= expect)
		return true;
	/* Tasks spawned since they were counted: a rare page fault. */
	struct td_big_buf more;
	if (td_big_buf_get(&more, c->ntasks * sizeof(*c->seen))) {
		td_big_buf_put(seen_buf);
		*seen_buf = more;
		c->seen = more.p;
		return true;
	}
	/* The rest are listed nowhere. */
	if (refs)
		for (size_t i = expect; i < c->ntasks; i++)
			td_task_unref(c->snap[i]);
	c->ntasks = expect;
	*oom = true;
	return false;
}

/* Stop-the-world: every thread stops at a safe point (waiting only the
 * grace period: a thread still in a poll then is busy, and holds nobody
 * up), every task is traced, everyone goes on. */
static void capture_stopped(struct capture *c, const struct limits *lim,
			    int self, struct td_big_buf *seen_buf,
			    size_t expect, bool *parked, bool *oom)
{
	struct dump_build *b = c->b;
	struct td_runtime *rt = c->rt;
	td_dump_runtime *out = c->out;

	double t_open = mono_ms();
	uint64_t round = td_dump_gate_open(&rt->gate, self);
	rt->fops->unpark_all(rt);
	uint64_t grace_end = td_now_ms() + lim->grace_ms;
	if (grace_end > lim->deadline_ms)
		grace_end = lim->deadline_ms;
	td_dump_gate_wait_arrivals(&rt->gate, round, grace_end, parked,
				   nobody_drives, rt);
	double t_paused = mono_ms();

	read_workers(b, rt, out, c->infos, parked, self);
	/* A worker that did not stop may complete tasks under us: then the
	 * snapshot holds references. */
	bool all_stopped = true;
	for (unsigned i = 0; out->workers && i < rt->nworkers; i++)
		if ((int)i != self && worker_is_busy(&out->workers[i]))
			all_stopped = false;
	take_snapshot(c, seen_buf, expect, !all_stopped, oom);
	read_queues(c, true);

	c->now = td_task_clock_ms();
	if (!b->clock_ms)
		b->clock_ms = c->now;
	/* A current-thread runtime's tasks belong to its one thread: while
	 * that thread is stuck in a poll they are listed, not traced (their
	 * code may rely on running on that thread).  Multi-thread tasks are
	 * traced even while some worker is stuck. */
	c->may_trace = all_stopped || rt->flavor == TD_FLAVOR_MULTI_THREAD;
	c->why = c->may_trace ? NULL : busy_reason(c);
	size_t first_probe = b->nprobes;
	capture_tasks(c, 0);
	/* The locks its tasks hold, while they cannot take or release any
	 * (a walk of the registries of locks: a load or two per lock). */
	dump_build_note_held(b, c->out);

	/* Let everyone go; then take the stacks of those that never
	 * stopped (under dump_lock still: the runtime cannot be freed). */
	td_dump_gate_release(&rt->gate);
	double t_release = mono_ms();
	for (size_t i = first_probe; i < b->nprobes; i++)
		b->probes[i].from_ms = t_release;
	capture_busy_stacks(b, rt, out, c->infos, self, lim->deadline_ms);
	out->pause_ms = t_release - t_open;
	b->capture_ms += t_release - t_paused;
	b->dump->stop_ms += t_paused - t_open;
}

/* Worker i still in the poll it was found in at the start? */
static bool same_poll(struct capture *c, unsigned i)
{
	struct td_worker_info again;
	c->rt->fops->worker_status(c->rt, i, &again);
	const struct worker_poll *wp = &c->polls[i];
	return wp->seen && again.activity == TD_WORKER_POLLING &&
	       again.task_id == c->infos[i].task_id &&
	       atomic_load_explicit(&wp->task->polls, memory_order_relaxed) ==
		       wp->count;
}

/* As in a stop-the-world dump, a worker is busy when it stays in one poll
 * for the grace period: a worker still in the poll it was found in at the
 * start is given until the grace period from then has passed (the dump
 * waits; the workers do not). */
static void wait_out_grace(struct capture *c, unsigned grace_ms)
{
	double until = c->infos_ms + grace_ms;
	bool any = false;
	for (unsigned i = 0; i < c->rt->nworkers; i++)
		if (c->infos[i].activity == TD_WORKER_POLLING && same_poll(c, i))
			any = true;
	double now = mono_ms();
	if (!any || now >= until)
		return;
	double left = until - now;
	struct timespec ts = {(time_t)(left / 1000),
			      (long)((left - (double)(time_t)(left / 1000) *
						     1000) *
				     1e6)};
	nanosleep(&ts, NULL);
}

/* The worker entries of an incremental dump, once the tasks were looked
 * at: `idle` (no thread), `busy` (in the same poll of a task as at the
 * start, for at least the grace period: its stack is taken), or
 * `running` (it kept working). */
static void note_workers_running(struct capture *c, unsigned grace_ms,
				 bool thread_stuck)
{
	if (!thread_stuck)
		wait_out_grace(c, grace_ms);
	struct td_runtime *rt = c->rt;
	td_dump_runtime *out = c->out;
	out->nworkers = rt->nworkers;
	out->workers = td_arena_calloc(&c->b->arena, rt->nworkers,
				       sizeof(*out->workers));
	if (!out->workers) {
		out->nworkers = 0;
		return;
	}
	uint64_t now = td_task_clock_ms();
	for (unsigned i = 0; i < rt->nworkers; i++) {
		const struct td_worker_info *info = &c->infos[i];
		td_dump_worker *w = &out->workers[i];
		struct td_worker_info again;
		rt->fops->worker_status(rt, i, &again);
		w->index = i;
		w->tid = info->tid;
		w->queued = again.queued;
		w->syscall_fd = -1;
		w->syscall_timeout_ms = -1;
		if (info->activity == TD_WORKER_IDLE &&
		    again.activity == TD_WORKER_IDLE) {
			w->state = "idle";
			continue;
		}
		bool same = again.activity == info->activity &&
			    again.task_id == info->task_id;
		bool long_poll =
			info->activity == TD_WORKER_POLLING && same &&
			same_poll(c, i) &&
			(since(now, c->polls[i].began) >= grace_ms ||
			 mono_ms() - c->infos_ms >= grace_ms);
		bool stuck_main = info->activity == TD_WORKER_POLLING_MAIN &&
				  same && thread_stuck;
		bool stuck_task = info->activity == TD_WORKER_POLLING &&
				  same && thread_stuck;
		if (long_poll || stuck_main || stuck_task) {
			w->state = "busy";
			w->task_id = info->task_id;
		} else {
			w->state = "running";
		}
	}
}

/* Incremental, multi-thread: nobody stops.  The tasks are looked at one
 * by one from this thread while the workers go on: a task being traced
 * is kept from real polls by its state word (a worker that pops it waits
 * the microseconds of the tracing poll), a wake meanwhile is queued as
 * usual, a task being polled is listed as running. */
static void capture_running_mt(struct capture *c, const struct limits *lim,
			       struct td_big_buf *seen_buf, size_t expect,
			       bool *oom)
{
	struct dump_build *b = c->b;
	struct td_runtime *rt = c->rt;
	double t0 = mono_ms();
	for (unsigned i = 0; i < rt->nworkers; i++)
		rt->fops->worker_status(rt, i, &c->infos[i]);
	c->infos_ms = mono_ms();
	take_snapshot(c, seen_buf, expect, true, oom);
	/* read_queues needs the worker entries only to skip busy ones. */
	read_queues(c, false);
	c->now = td_task_clock_ms();
	if (!b->clock_ms)
		b->clock_ms = c->now;
	c->may_trace = true;
	size_t first_probe = b->nprobes;
	double t1 = mono_ms();
	capture_tasks(c, 0);
	/* The locks held now, after every task was looked at (what a task
	 * holds can only change in a poll; the confirmation of a deadlock
	 * relies on this walk coming last). */
	dump_build_note_held(b, c->out);
	double t2 = mono_ms();
	for (size_t i = first_probe; i < b->nprobes; i++)
		b->probes[i].from_ms = t2;
	note_workers_running(c, lim->grace_ms, false);
	capture_busy_stacks(b, rt, c->out, c->infos, -1, lim->deadline_ms);
	b->capture_ms += t2 - t1;
	b->dump->stop_ms += t1 - t0;
}

/* Incremental, current-thread: the runtime's thread looks at the tasks
 * itself, in slices between its own polls (its tasks may rely on running
 * on it, and share state without locks).  When it does not come to a
 * safe point within the grace period, or stops coming for the timeout
 * while tasks are left, it is busy in a poll: the rest are listed
 * untraced, as in a stop-the-world dump. */
static void capture_sliced_ct(struct capture *c, const struct limits *lim,
			      unsigned stall_ms, struct td_big_buf *seen_buf,
			      size_t expect, bool *oom)
{
	struct dump_build *b = c->b;
	struct td_runtime *rt = c->rt;
	double t0 = mono_ms();
	rt->fops->worker_status(rt, 0, &c->infos[0]);
	c->infos_ms = mono_ms();
	take_snapshot(c, seen_buf, expect, true, oom);
	c->now = td_task_clock_ms();
	if (!b->clock_ms)
		b->clock_ms = c->now;
	c->may_trace = true;
	size_t first_probe = b->nprobes;
	double t1 = mono_ms();
	td_dump_gate_open_slices(&rt->gate, capture_slice, c);
	rt->fops->unpark_all(rt);
	bool done = td_dump_gate_wait_slices(&rt->gate, lim->grace_ms,
					     stall_ms, nobody_drives, rt);
	td_dump_gate_stop_slices(&rt->gate);
	td_dump_gate_release(&rt->gate);
	double t2 = mono_ms();
	if (!done) {
		/* Stuck in a poll: what it polls now is what it is stuck in. */
		rt->fops->worker_status(rt, 0, &c->infos[0]);
		note_workers_running(c, lim->grace_ms, true);
		const char *why = busy_reason(c);
		if (!c->queues_read)
			c->queues_read = true; /* its queue is its own */
		if (!c->mains_done) {
			c->m = capture_mains(b, rt, c->mains, c->nmains,
					     c->now, why);
			c->mains_done = true;
		}
		list_rest(c, why);
	} else {
		note_workers_running(c, lim->grace_ms, false);
	}
	/* The locks held now, after every task was looked at (as in
	 * capture_running_mt). */
	dump_build_note_held(b, c->out);
	for (size_t i = first_probe; i < b->nprobes; i++)
		b->probes[i].from_ms = t2;
	capture_busy_stacks(b, rt, c->out, c->infos, -1, lim->deadline_ms);
	b->capture_ms += t2 - t1;
	b->dump->stop_ms += t1 - t0;
}

/* What a dump keeps of one runtime until its findings are confirmed
 * (confirm_findings): the tasks behind its entries, with references. */
struct kept {
	td_dump_runtime *out;
	struct td_task **task; /* [out->ntasks]; NULL for block_on futures */
};

static void capture_runtime(struct dump_build *b, struct td_runtime *rt,
			    td_dump_runtime *out, const struct limits *lim,
			    struct kept *kept)
{
	out->id = rt->id;
	out->name = td_arena_strdup(&b->arena, rt->name);
	out->flavor = rt->flavor == TD_FLAVOR_MULTI_THREAD ? "multi_thread"
							   : "current_thread";
	/* A child of fork() inherits the parent's runtimes as memory, but
	 * not their threads: nothing there runs, and nothing would stop at
	 * a safe point. */
	if (rt->pid != getpid()) {
		out->error = "inherited through fork(): its threads are in the "
			     "parent process";
		return;
	}
	pthread_mutex_lock(&rt->dump_lock);
	if (atomic_load(&rt->shutdown)) {
		pthread_mutex_unlock(&rt->dump_lock);
		out->error = "shutting down";
		return;
	}
	int self = td_tls_ctx && td_tls_ctx->rt == rt ? td_tls_ctx->worker
						      : -1;
	bool on_own_thread = td_tls_ctx && td_tls_ctx->rt == rt;
	/* A dump from one of the runtime's own threads stops the others: on
	 * a current-thread runtime there are none (that thread is here, in
	 * a poll), and a worker cannot run the slices of its own dump. */
	bool stop = lim->mode == TD_DUMP_MODE_STOP || on_own_thread;

	/* Memory for what the capture records, touched before it starts
	 * (a pooled buffer is resident, a new one populated: bigmem.h).
	 * Each entry is written whole when its task is seen. */
	size_t expect = td_owned_count(&rt->owned) + 1024;
	struct capture c = {.b = b, .rt = rt, .out = out,
			    .slice_ns = (uint64_t)lim->slice_us * 1000u};
	bool *parked = calloc(rt->nworkers, sizeof(*parked));
	c.infos = calloc(rt->nworkers, sizeof(*c.infos));
	c.polls = calloc(rt->nworkers, sizeof(*c.polls));
	struct td_big_buf seen_buf;
	c.seen = td_big_buf_get(&seen_buf, expect * sizeof(*c.seen))
			 ? seen_buf.p
			 : NULL;
	c.nmains = count_mains(rt) + 4; /* room for late arrivals */
	c.mains = td_arena_calloc(&b->arena, c.nmains, sizeof(*c.mains));
	if (!parked || !c.infos || !c.polls || !c.seen || !c.mains) {
		free(parked);
		free(c.infos);
		free(c.polls);
		if (c.seen)
			td_big_buf_put(&seen_buf);
		pthread_mutex_unlock(&rt->dump_lock);
		out->error = "out of memory";
		return;
	}
	td_collector_reserve(&b->collector, b->collector.nbts + expect,
			     b->collector.nips + expect * 8);
	td_dump_gate_holds_reset(&rt->gate);

	bool oom = false;
	if (stop)
		capture_stopped(&c, lim, self, &seen_buf, expect, parked, &oom);
	else if (rt->flavor == TD_FLAVOR_MULTI_THREAD)
		capture_running_mt(&c, lim, &seen_buf, expect, &oom);
	else
		capture_sliced_ct(&c, lim, lim->timeout_ms, &seen_buf, expect,
				  &oom);
	double t_assemble = mono_ms();
	if (c.ntasks && c.last_ms > c.first_ms) {
		if (!b->first_ms || c.first_ms < b->first_ms)
			b->first_ms = c.first_ms;
		if (c.last_ms > b->last_ms)
			b->last_ms = c.last_ms;
	}
	/* The longest any thread was held: parked, in a slice, waiting for
	 * a tracing poll. */
	double held_max = 0;
	for (unsigned i = 0; out->workers && i < out->nworkers; i++) {
		double h = (double)td_dump_gate_held_ns(&rt->gate, i) / 1e6;
		out->workers[i].held_ms = h;
		if (h > held_max)
			held_max = h;
	}
	if (!stop)
		out->pause_ms = held_max;
	pthread_mutex_unlock(&rt->dump_lock);

	/* Entries: block_on futures first, then tasks by id. */
	if (c.ql.n)
		qsort(c.ql.items, c.ql.n, sizeof(*c.ql.items), by_task);
	size_t ntasks = c.ntasks, m = c.m;
	struct td_big_buf order_buf;
	struct seen_ref *order =
		td_big_buf_get(&order_buf, ntasks * 2 * sizeof(*order))
			? order_buf.p
			: NULL;
	/* Not zeroed: every entry is written whole (memcpy, fill_task). */
	out->tasks = td_arena_alloc_array(&b->arena, m + ntasks,
					  sizeof(*out->tasks));
	bool keep = c.dump_refs && kept;
	struct td_task **by_entry =
		keep && out->tasks ? calloc(m + ntasks, sizeof(*by_entry))
				   : NULL;
	if (out->tasks && order) {
		for (size_t i = 0; i < ntasks; i++)
			order[i] = (struct seen_ref){c.seen[i].id, i};
		const struct seen_ref *sorted =
			sort_by_id(order, order + ntasks, ntasks);
		memcpy(out->tasks, c.mains, m * sizeof(*c.mains));
		for (size_t i = 0; i < m; i++)
			if (c.mains[i].traced)
				dump_build_retarget_traces(b, &c.mains[i],
							   &out->tasks[i]);
		for (size_t i = 0; i < ntasks; i++) {
			size_t k = sorted[i].index;
			fill_task(b, out, &out->tasks[m + i], &c.seen[k],
				  c.snap[k], &c.ql, c.now);
			if (by_entry)
				by_entry[m + i] = c.snap[k];
		}
		out->ntasks = m + ntasks;
		note_busy_times(out);
	} else {
		out->tasks = NULL;
	}
	if (by_entry && out->tasks) {
		/* The references go with the entries, until the findings
		 * are confirmed (dump_common). */
		kept->out = out;
		kept->task = by_entry;
	} else {
		free(by_entry);
		for (size_t i = 0; c.dump_refs && i < ntasks; i++)
			td_task_unref(c.snap[i]);
	}
	td_big_buf_put(&order_buf);
	free(c.snap);
	td_big_buf_put(&seen_buf);
	free(c.ql.items);
	free(parked);
	free(c.infos);
	free(c.polls);
	if (oom || !out->tasks)
		out->error = "out of memory";
	for (size_t i = 0; i < out->ntasks; i++)
		if (out->tasks[i].traced)
			out->traced++;
	b->dump->assemble_ms += mono_ms() - t_assemble;
}

/* ---- confirming what tasks seen at different moments say ----------- */

/* The task behind entry `dt`, when the dump kept it (NULL: the entry is
 * of a runtime captured while nothing ran, or a block_on future). */
static struct td_task *kept_task(const struct kept *kept, size_t n,
				 const td_dump_task *dt)
{
	for (size_t k = 0; k < n; k++) {
		const td_dump_runtime *out = kept[k].out;
		if (out && kept[k].task && dt >= out->tasks &&
		    dt < out->tasks + out->ntasks)
			return kept[k].task[dt - out->tasks];
	}
	return NULL;
}

/* A kept task still idle, unwoken, and not polled since the dump saw it:
 * whatever it waited on then it still waits on, and nothing it held was
 * let go (a task gives up a lock, or starts or stops waiting, only in a
 * poll; a lock handed to it wakes it). */
static bool unmoved(const struct td_task *t, const td_dump_task *dt,
		    uint64_t *state)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
	*state = s;
	if (s & (TD_ST_RUNNING | TD_ST_COMPLETE | TD_ST_NOTIFIED |
		 TD_ST_CANCELLED | TD_ST_TRACING))
		return false;
	return atomic_load_explicit(&t->polls, memory_order_relaxed) ==
	       dt->polls;
}

/* Member `dt` of a cycle, whose edge `e` leads to `next`: still so now? */
static bool edge_holds(const struct kept *kept, size_t n,
		       const td_dump_task *dt, const td_dump_edge *e,
		       const td_dump_task *next)
{
	const struct td_task *t = kept_task(kept, n, dt);
	uint64_t s;
	if (!t)
		return true; /* seen while nothing ran: one instant */
	if (!unmoved(t, dt, &s))
		return false;
	/* The mutex of the edge must still be held by the next member: that
	 * one may have let it go and taken it again before the dump saw it,
	 * or handed it on to another task before the dump saw the waiter.
	 * The mutex is alive: the unmoved task still waits for it.  (A
	 * semaphore's holders were read after every task was looked at, and
	 * an unmoved holder has released nothing since.) */
	for (size_t i = 0; i < dt->ntraces; i++) {
		const td_wait *w = &dt->traces[i].wait;
		char why[64];
		if (w->kind != TD_WAIT_MUTEX || !w->object || !e->why)
			continue;
		snprintf(why, sizeof(why), "mutex %p held", w->object);
		if (strcmp(why, e->why) == 0 &&
		    td_mutex_holder_id(w->object) != next->id)
			return false;
	}
	return true;
}

static bool deadlock_holds(const struct kept *kept, size_t n,
			   const td_dump_deadlock *dl)
{
	for (size_t i = 0; i < dl->ntasks; i++) {
		const td_dump_task *dt = dl->tasks[i];
		const td_dump_task *next = dl->tasks[(i + 1) % dl->ntasks];
		if (!edge_holds(kept, n, dt, &dt->waits_for[dl->edges[i]],
				next))
			return false;
	}
	/* The edges are checked in turn, each member unmoved from when the
	 * dump saw it until its check: then every edge held from the
	 * latest of those moments to the first check, all at once. */
	for (size_t i = 0; i < dl->ntasks; i++) {
		const struct td_task *t = kept_task(kept, n, dl->tasks[i]);
		uint64_t s;
		if (t && !unmoved(t, dl->tasks[i], &s))
			return false;
	}
	return true;
}

static bool lost_wakeup_holds(const struct kept *kept, size_t n,
			      const td_dump_task *dt)
{
	const struct td_task *t = kept_task(kept, n, dt);
	uint64_t s;
	if (!t)
		return true;
	/* Still no waker (the dump's own reference aside): nothing can have
	 * made one since, without polling it. */
	return unmoved(t, dt, &s) && idle_wakers(s, 1) == 0;
}

/* Deadlocks and lost wake-ups found in tasks seen at different moments
 * (an incremental dump, or a worker that did not stop) are reported only
 * when their tasks did not move: the others are dropped and counted. */
static void confirm_findings(td_dump *d, const struct kept *kept, size_t n)
{
	size_t keep = 0;
	for (size_t i = 0; i < d->ndeadlocks; i++) {
		if (deadlock_holds(kept, n, &d->deadlocks[i]))
			d->deadlocks[keep++] = d->deadlocks[i];
		else
			d->unconfirmed_deadlocks++;
	}
	d->ndeadlocks = keep;
	if (!keep)
		d->deadlocks = NULL;
	keep = 0;
	for (size_t i = 0; i < d->ntask_warnings; i++) {
		const td_dump_warning *w = &d->task_warnings[i];
		if (w->kind != TD_WARN_LOST_WAKEUP ||
		    lost_wakeup_holds(kept, n, w->task)) {
			d->task_warnings[keep++] = *w;
			continue;
		}
		d->unconfirmed_lost_wakeups++;
		d->ntask_warnings_found--;
	}
	d->ntask_warnings = keep;
	if (!keep)
		d->task_warnings = NULL;
}

static void release_kept(struct kept *kept, size_t n)
{
	for (size_t k = 0; kept && k < n; k++) {
		if (!kept[k].task)
			continue;
		for (size_t i = 0; i < kept[k].out->ntasks; i++)
			if (kept[k].task[i])
				td_task_unref(kept[k].task[i]);
		free(kept[k].task);
	}
}

/* ---- public API ------------------------------------------------------ */

struct all_arg {
	struct dump_build *b;
	struct limits lim;
	td_dump_runtime *list;
	struct kept *kept; /* [cap] */
	size_t n, cap;
};

static void visit_runtime(struct td_runtime *rt, void *argp)
{
	struct all_arg *a = argp;
	if (a->n == a->cap)
		return;
	size_t i = a->n++;
	capture_runtime(a->b, rt, &a->list[i], &a->lim, &a->kept[i]);
}

static void count_runtime(struct td_runtime *rt, void *arg)
{
	(void)rt;
	(*(size_t *)arg)++;
}

static int dump_common(td_runtime *only, const td_dump_options *opts,
		       td_dump **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	unsigned timeout_ms = opts && opts->timeout_ms
				      ? opts->timeout_ms
				      : TD_DUMP_DEFAULT_TIMEOUT_MS;
	unsigned grace_ms = opts && opts->grace_ms ? opts->grace_ms
						   : TD_DUMP_DEFAULT_GRACE_MS;
	double t0 = mono_ms();
	struct limits lim = {
		.deadline_ms = td_now_ms() + timeout_ms,
		.grace_ms = grace_ms < timeout_ms ? grace_ms : timeout_ms,
		.timeout_ms = timeout_ms,
		.slice_us = opts && opts->slice_us ? opts->slice_us
						   : TD_DUMP_DEFAULT_SLICE_US,
		.mode = opts && opts->mode == TD_DUMP_MODE_STOP
				? TD_DUMP_MODE_STOP
				: TD_DUMP_MODE_INCREMENTAL,
	};

	pthread_mutex_lock(&dump_mutex);
	atomic_store(&dump_active, true);
	struct dump_build *b = dump_build_new();
	if (!b) {
		atomic_store(&dump_active, false);
		pthread_mutex_unlock(&dump_mutex);
		return -ENOMEM;
	}
	struct all_arg a = {.b = b, .lim = lim};
	if (only) {
		a.cap = 1;
	} else {
		td_registry_for_each(count_runtime, &a.cap);
		a.cap += 4; /* runtimes created meanwhile are welcome */
	}
	a.list = td_arena_calloc(&b->arena, a.cap, sizeof(*a.list));
	a.kept = calloc(a.cap, sizeof(*a.kept));
	if (a.list && a.kept) {
		if (only)
			capture_runtime(b, only, &a.list[a.n++], &lim,
					&a.kept[0]);
		else
			td_registry_for_each(visit_runtime, &a);
	}
	b->dump->runtimes = a.list && a.kept ? a.list : NULL;
	b->dump->nruntimes = a.list && a.kept ? a.n : 0;
	b->dump->mode = lim.mode == TD_DUMP_MODE_STOP ? "stop" : "incremental";
	b->dump->span_ms = b->last_ms > b->first_ms ? b->last_ms - b->first_ms
						    : 0;

	double t1 = mono_ms();
	dump_build_frames(b, !opts || !opts->no_symbolize);
	double t2 = mono_ms();
	td_dump *d = b->dump;
	/* What came before the symbolization and was neither a pause nor
	 * assembling its entries: the lock, memory, counting runtimes. */
	d->prepare_ms = (t1 - t0) - d->stop_ms - b->capture_ms -
			d->assemble_ms;
	/* Diagnosis: with everything running again, from the dump's data. */
	int err = td_dump_diagnose(b->dump, &b->arena,
				   b->clock_ms ? b->clock_ms
					       : td_task_clock_ms(),
				   b->graph, b->ngraph, b->held, b->nheld);
	struct td_warn_limits wl;
	td_warn_limits_from(opts, &wl);
	struct td_busy_seen busy[TD_MAX_BUSY_PROBES];
	size_t nbusy = td_busy_watch(b, busy);
	if (!err)
		err = td_dump_find_warnings(b->dump, &b->arena, &wl, busy,
					    nbusy);
	/* Whatever was seen of tasks that may have moved meanwhile is
	 * looked at again; then the dump's references go. */
	confirm_findings(b->dump, a.kept, a.n);
	release_kept(a.kept, a.n);
	free(a.kept);
	double t3 = mono_ms();
	if (!err)
		err = dump_build_finish(b);
	d->symbolize_ms = t2 - t1;
	d->diagnose_ms = t3 - t2;
	dump_build_release(b, err != 0);
	if (!err) {
		/* The last phase ends here: d is the caller's from now on. */
		double t4 = mono_ms();
		d->finish_ms = t4 - t3;
		d->total_ms = t4 - t0;
	}
	atomic_store(&dump_active, false);
	pthread_mutex_unlock(&dump_mutex);
	if (err)
		return err;
	*out = d;
	return 0;
}

int td_runtime_dump(td_runtime *rt, const td_dump_options *opts,
		    td_dump **out)
{
	if (!rt)
		return -EINVAL;
	return dump_common(rt, opts, out);
}

int td_dump_all(const td_dump_options *opts, td_dump **out)
{
	return dump_common(NULL, opts, out);
}
