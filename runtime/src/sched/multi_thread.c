/* multi_thread.c - the work-stealing multi-thread scheduler.
 *
 * N workers, each with a bounded local queue (sched/local_queue.h) and a
 * LIFO slot, share the injection queue.  A worker runs, in order: the LIFO
 * slot (the task most recently woken by the task it just ran - good for
 * message passing), its local queue, a batch from the injection queue
 * (first, every GLOBAL_QUEUE_INTERVAL ticks, for fairness), half of another
 * worker's queue; and parks when all are empty.
 *
 * Idle bookkeeping (`idle`, one atomic word) counts unparked and searching
 * workers; the sleepers list says who is parked.  The rule that keeps
 * wake-ups from being lost: whoever makes work available calls
 * notify_parked(), which wakes a sleeper unless some worker is already
 * searching; the last searcher to find work wakes another one in turn; a
 * worker that parks as the last searcher re-checks every queue first.
 * At most half of the workers search at once.
 *
 * Safe points: every worker checks the dump gate before each task it
 * runs and whenever it wakes from parking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/context.h"
#include "sched/flavor.h"
#include "sched/local_queue.h"
#include "sched/main_waker.h"
#include "sched/park.h"
#include "sched/runtime_impl.h"
#include "task/core.h"
#include "trace/leaf.h"

#define GLOBAL_QUEUE_INTERVAL 31
/* LIFO polls per tick, also for tasks that wake each other through
 * leaves that take no budget. */
#define MAX_LIFO_POLLS 64

#define IDLE_UNPARKED_MASK 0xffffu
#define IDLE_SEARCH_ONE (1u << 16)

struct td_worker {
	struct td_local_queue queue;
	struct td_task *_Atomic lifo;
	struct td_parker parker;
	struct td_worker_status status;
	struct td_runtime *rt;
	unsigned index;
	pthread_t thread;
	bool started;
	/* Owner-only (and dumps). */
	alignas(TD_CACHE_PAIR) bool searching;
	uint32_t tick;
	uint32_t rng;
	struct td_thread_ctx ctx;
} __attribute__((aligned(TD_CACHE_PAIR)));

struct td_mt {
	struct td_worker *workers;
	unsigned n;
	/* Read on every wake-up by every worker: a line of its own (the
	 * allocation is TD_CACHE_PAIR-aligned). */
	alignas(TD_CACHE_PAIR) _Atomic uint32_t idle; /* searching << 16 |
							* unparked */
	alignas(TD_CACHE_PAIR) pthread_mutex_t sleepers_lock;
	unsigned *sleepers;    /* stack of parked worker indices */
	unsigned nsleepers;
	bool *sleeping;        /* [i]: worker i is in `sleepers` */
};

static inline unsigned idle_searching(uint32_t s)
{
	return s >> 16;
}

static inline unsigned idle_unparked(uint32_t s)
{
	return s & IDLE_UNPARKED_MASK;
}

/* ---- idle bookkeeping ------------------------------------------------ */

static bool should_notify(struct td_mt *mt)
{
	uint32_t s = atomic_load_explicit(&mt->idle, memory_order_seq_cst);
	return idle_searching(s) == 0 && idle_unparked(s) < mt->n;
}

/* Wake one parked worker (as a searcher) unless someone is searching. */
static void notify_parked(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	atomic_thread_fence(memory_order_seq_cst);
	if (!should_notify(mt))
		return;
	pthread_mutex_lock(&mt->sleepers_lock);
	if (!should_notify(mt) || mt->nsleepers == 0) {
		pthread_mutex_unlock(&mt->sleepers_lock);
		return;
	}
	unsigned i = mt->sleepers[--mt->nsleepers];
	mt->sleeping[i] = false;
	atomic_fetch_add_explicit(&mt->idle, IDLE_SEARCH_ONE + 1,
				  memory_order_seq_cst);
	pthread_mutex_unlock(&mt->sleepers_lock);
	td_parker_unpark(&mt->workers[i].parker, rt);
}

static bool transition_to_searching(struct td_worker *w)
{
	struct td_mt *mt = w->rt->mt;
	if (w->searching)
		return true;
	uint32_t s = atomic_load_explicit(&mt->idle, memory_order_seq_cst);
	if (2 * idle_searching(s) >= mt->n)
		return false;
	atomic_fetch_add_explicit(&mt->idle, IDLE_SEARCH_ONE,
				  memory_order_seq_cst);
	w->searching = true;
	return true;
}

static void transition_from_searching(struct td_worker *w)
{
	struct td_mt *mt = w->rt->mt;
	w->searching = false;
	uint32_t prev = atomic_fetch_sub_explicit(&mt->idle, IDLE_SEARCH_ONE,
						  memory_order_seq_cst);
	/* The last searcher found work: there may be more, wake a helper. */
	if (idle_searching(prev) == 1)
		notify_parked(w->rt);
}

/* Returns true when this worker was the last searcher. */
static bool transition_to_parked(struct td_worker *w)
{
	struct td_mt *mt = w->rt->mt;
	uint32_t dec = 1 + (w->searching ? IDLE_SEARCH_ONE : 0);
	pthread_mutex_lock(&mt->sleepers_lock);
	uint32_t prev = atomic_fetch_sub_explicit(&mt->idle, dec,
						  memory_order_seq_cst);
	mt->sleepers[mt->nsleepers++] = w->index;
	mt->sleeping[w->index] = true;
	pthread_mutex_unlock(&mt->sleepers_lock);
	bool last = w->searching && idle_searching(prev) == 1;
	w->searching = false;
	return last;
}

/* Take worker i off the sleepers list if it is there (counting it as
 * unparked, not searching); true if it was. */
static bool unpark_worker_by_id(struct td_mt *mt, unsigned i)
{
	bool was = false;
	pthread_mutex_lock(&mt->sleepers_lock);
	if (mt->sleeping[i]) {
		for (unsigned k = 0; k < mt->nsleepers; k++) {
			if (mt->sleepers[k] == i) {
				mt->sleepers[k] = mt->sleepers[--mt->nsleepers];
				break;
			}
		}
		mt->sleeping[i] = false;
		atomic_fetch_add_explicit(&mt->idle, 1, memory_order_seq_cst);
		was = true;
	}
	pthread_mutex_unlock(&mt->sleepers_lock);
	return was;
}

static bool is_parked(struct td_mt *mt, unsigned i)
{
	pthread_mutex_lock(&mt->sleepers_lock);
	bool p = mt->sleeping[i];
	pthread_mutex_unlock(&mt->sleepers_lock);
	return p;
}

static bool has_local_work(struct td_worker *w)
{
	return atomic_load_explicit(&w->lifo, memory_order_relaxed) ||
	       td_local_queue_len(&w->queue) > 0;
}

/* The last searcher is parking: make sure no queued work is stranded. */
static void notify_if_work_pending(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	/* Order the parking (a seq_cst RMW on `idle`) before the queue
	 * reads below, against a pusher's push-then-notify_parked. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < mt->n; i++) {
		if (td_local_queue_len(&mt->workers[i].queue) > 0) {
			notify_parked(rt);
			return;
		}
	}
	if (!td_inject_is_empty(&rt->inject))
		notify_parked(rt);
}

/* ---- scheduling ------------------------------------------------------ */

static void push_local(struct td_worker *w, struct td_task *t)
{
	if (!td_local_queue_push(&w->queue, t, &w->rt->inject))
		td_task_drop_notified(t); /* shut down: never runs */
}

static void mt_schedule(struct td_sched *s, struct td_task *t,
			bool from_own_poll)
{
	struct td_runtime *rt = td_rt_of(s);
	struct td_thread_ctx *ctx = td_tls_ctx;

	if (ctx && ctx->rt == rt && ctx->worker >= 0) {
		struct td_worker *w = ctx->core;
		if (from_own_poll) {
			push_local(w, t);
		} else {
			/* Newest wake first: likely hot in cache and the
			 * other half of a message exchange. */
			struct td_task *prev = atomic_exchange_explicit(
				&w->lifo, t, memory_order_relaxed);
			if (!prev)
				return;
			push_local(w, prev);
		}
		notify_parked(rt);
		return;
	}
	if (!td_inject_push(&rt->inject, t)) {
		td_task_drop_notified(t);
		return;
	}
	notify_parked(rt);
}

static const struct td_sched_ops mt_sched_ops = {.schedule = mt_schedule};

/* Move a batch from the injection queue into the local queue; return one
 * task to run now. */
static struct td_task *take_from_inject(struct td_worker *w)
{
	struct td_runtime *rt = w->rt;
	if (td_inject_is_empty(&rt->inject))
		return NULL;
	struct td_task *batch[64];
	size_t want = atomic_load_explicit(&rt->inject.len,
					   memory_order_relaxed) /
			      rt->mt->n +
		      1;
	uint32_t room = TD_LOCAL_QUEUE_CAP - td_local_queue_len(&w->queue);
	if (want > room)
		want = room;
	if (want > 64)
		want = 64;
	if (want == 0)
		want = 1;
	size_t n = td_inject_pop_n(&rt->inject, batch, want);
	for (size_t i = 1; i < n; i++)
		push_local(w, batch[i]);
	return n ? batch[0] : NULL;
}

static struct td_task *next_task(struct td_worker *w)
{
	struct td_task *t;
	if (w->tick % GLOBAL_QUEUE_INTERVAL == 0) {
		t = td_inject_pop(&w->rt->inject);
		if (t)
			return t;
	}
	t = atomic_exchange_explicit(&w->lifo, NULL, memory_order_relaxed);
	if (t)
		return t;
	t = td_local_queue_pop(&w->queue);
	if (t)
		return t;
	return take_from_inject(w);
}

static inline uint32_t next_rand(struct td_worker *w)
{
	uint32_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rng = x;
	return x;
}

static struct td_task *steal_work(struct td_worker *w)
{
	struct td_mt *mt = w->rt->mt;
	if (!transition_to_searching(w))
		return NULL;
	unsigned start = next_rand(w) % mt->n;
	for (unsigned k = 0; k < mt->n; k++) {
		unsigned i = (start + k) % mt->n;
		if (i == w->index)
			continue;
		struct td_task *t = td_local_queue_steal_into(
			&mt->workers[i].queue, &w->queue);
		if (t)
			return t;
	}
	return take_from_inject(w);
}

static void poll_one(struct td_worker *w, struct td_task *t)
{
	td_worker_status_enter_poll(&w->status, t);
	bool again = td_task_run(t, (int)w->index);
	td_worker_status_leave_poll(&w->status);
	if (again) {
		push_local(w, t);
		notify_parked(w->rt);
	}
}

static void run_task(struct td_worker *w, struct td_task *t)
{
	if (w->searching)
		transition_from_searching(w);
	/* One budget for the task and the LIFO chain it starts. */
	td_tls_budget = w->rt->budget;
	poll_one(w, t);
	/* Then whatever that poll woke last, while budget remains. */
	for (int lifo_polls = 0;; lifo_polls++) {
		t = atomic_exchange_explicit(&w->lifo, NULL,
					     memory_order_relaxed);
		if (!t)
			return;
		if (td_tls_budget <= 0 || lifo_polls >= MAX_LIFO_POLLS ||
		    td_dump_gate_raised(&w->rt->gate)) {
			/* Back of the queue; we keep running it ourselves
			 * unless someone steals it, so no notification. */
			push_local(w, t);
			return;
		}
		poll_one(w, t);
	}
}

static bool transition_from_parked(struct td_worker *w)
{
	struct td_mt *mt = w->rt->mt;
	if (has_local_work(w)) {
		/* Woken by our own driver poll: leave the sleepers list; if
		 * a notifier took us off it first, it counted us searching. */
		w->searching = !unpark_worker_by_id(mt, w->index);
		return true;
	}
	if (is_parked(mt, w->index))
		return false;
	w->searching = true; /* notify_parked counted us as searching */
	return true;
}

static void park(struct td_worker *w)
{
	struct td_runtime *rt = w->rt;
	if (transition_to_parked(w))
		notify_if_work_pending(rt);
	atomic_store_explicit(&w->status.activity, TD_WORKER_PARKED,
			      memory_order_relaxed);
	while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		td_parker_park(&w->parker, rt);
		if (td_dump_gate_raised(&rt->gate))
			td_worker_gate_wait(&rt->gate, &w->status,
					    (int)w->index);
		if (transition_from_parked(w))
			break;
	}
	atomic_store_explicit(&w->status.activity, TD_WORKER_RUNNING,
			      memory_order_relaxed);
}

static void *worker_main(void *arg)
{
	struct td_worker *w = arg;
	struct td_runtime *rt = w->rt;

	w->ctx = (struct td_thread_ctx){.rt = rt, .worker = (int)w->index,
					.core = w};
	td_tls_ctx = &w->ctx;
	td_tls_hold_ns = &rt->gate.held_ns[w->index];
	td_worker_status_bind_thread(&w->status);
	while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		if (td_dump_gate_raised(&rt->gate))
			td_worker_gate_wait(&rt->gate, &w->status,
					    (int)w->index);
		w->tick++;
		if (w->tick % rt->event_interval == 0)
			td_driver_poll_now(rt);
		struct td_task *t = next_task(w);
		if (!t) {
			atomic_store_explicit(&w->status.activity,
					      TD_WORKER_SEARCHING,
					      memory_order_relaxed);
			t = steal_work(w);
			atomic_store_explicit(&w->status.activity,
					      TD_WORKER_RUNNING,
					      memory_order_relaxed);
		}
		if (t)
			run_task(w, t);
		else
			park(w);
	}
	/* Leave a stopped worker's state consistent for the dump reader. */
	atomic_store_explicit(&w->status.activity, TD_WORKER_IDLE,
			      memory_order_relaxed);
	td_tls_hold_ns = NULL;
	td_tls_ctx = NULL;
	return NULL;
}

/* ---- block_on -------------------------------------------------------- */

static int mt_block_on(struct td_runtime *rt, td_future *f, void **out)
{
	struct td_main_waker *mw = td_main_waker_new(rt, NULL);
	if (!mw)
		return -ENOMEM;
	/* Not a worker: spawns go to the injection queue. */
	struct td_thread_ctx ctx = {.rt = rt, .worker = -1, .core = NULL};
	td_tls_ctx = &ctx;
	struct td_main_future main;
	td_main_future_enter(rt, &main, f, &mw->own);
	const td_waker waker = td_main_waker_borrow(mw);
	/* Real polls: no capture runs for them (trace/leaf.h). */
	td_context cx = {.waker = &waker, .no_capture = TD_NO_CAPTURE};
	int result = 0;

	for (;;) {
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
			result = -ESHUTDOWN;
			break;
		}
		if (td_main_waker_take(mw)) {
			if (td_main_future_poll(&main, &cx, rt->budget) ==
			    TD_READY) {
				if (out)
					*out = f->vtable->output
						       ? f->vtable->output(f)
						       : NULL;
				break;
			}
			continue;
		}
		td_parker_park(&mw->own, NULL);
	}
	td_main_future_leave(rt, &main);
	td_tls_ctx = NULL;
	td_main_waker_release(mw);
	return result;
}

/* ---- flavor operations ----------------------------------------------- */

static void mt_unpark_all(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	for (unsigned i = 0; i < mt->n; i++)
		td_parker_unpark(&mt->workers[i].parker, rt);
}

static void mt_stop_threads(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	mt_unpark_all(rt);
	for (unsigned i = 0; i < mt->n; i++) {
		if (mt->workers[i].started)
			pthread_join(mt->workers[i].thread, NULL);
		mt->workers[i].started = false;
	}
}

static void mt_drain_queues(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	for (unsigned i = 0; i < mt->n; i++) {
		struct td_worker *w = &mt->workers[i];
		struct td_task *t = atomic_exchange(&w->lifo, NULL);
		if (t)
			td_task_drop_notified(t);
		while ((t = td_local_queue_pop(&w->queue)))
			td_task_drop_notified(t);
	}
}

static void mt_destroy(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	if (!mt)
		return;
	pthread_mutex_destroy(&mt->sleepers_lock);
	free(mt->sleepers);
	free(mt->sleeping);
	free(mt->workers);
	free(mt);
	rt->mt = NULL;
}

static bool mt_worker_status(struct td_runtime *rt, unsigned i,
			     struct td_worker_info *out)
{
	struct td_mt *mt = rt->mt;
	if (i >= mt->n)
		return false;
	struct td_worker *w = &mt->workers[i];
	td_worker_status_read(&w->status, i, out);
	out->queued = td_local_queue_len(&w->queue) +
		      (atomic_load(&w->lifo) ? 1u : 0u);
	return true;
}

struct visit_arg {
	void (*fn)(struct td_task *t, bool lifo, void *arg);
	void *arg;
};

static void visit_queued(struct td_task *t, void *arg)
{
	struct visit_arg *v = arg;
	v->fn(t, false, v->arg);
}

static void mt_for_each_queued(struct td_runtime *rt, unsigned i,
			       void (*fn)(struct td_task *t, bool lifo,
					  void *arg),
			       void *arg)
{
	struct td_mt *mt = rt->mt;
	if (i >= mt->n)
		return;
	struct td_worker *w = &mt->workers[i];
	struct td_task *l = atomic_load(&w->lifo);
	if (l)
		fn(l, true, arg);
	struct visit_arg v = {fn, arg};
	td_local_queue_for_each(&w->queue, visit_queued, &v);
}

static bool mt_has_thread(struct td_runtime *rt)
{
	(void)rt;
	return true;
}

static void mt_wake_driver_waiter(struct td_runtime *rt)
{
	struct td_mt *mt = rt->mt;
	for (unsigned i = 0; i < mt->n; i++) {
		struct td_parker *p = &mt->workers[i].parker;
		if (atomic_load_explicit(&p->state, memory_order_acquire) ==
		    TD_PARK_FUTEX) {
			/* It stays on the sleepers list: woken, it finds no
			 * work of its own and parks again, in the driver. */
			td_parker_unpark(p, rt);
			return;
		}
	}
}

static const struct td_flavor_ops mt_flavor_ops = {
	.block_on = mt_block_on,
	.stop_threads = mt_stop_threads,
	.drain_queues = mt_drain_queues,
	.unpark_all = mt_unpark_all,
	.destroy = mt_destroy,
	.worker_status = mt_worker_status,
	.for_each_queued = mt_for_each_queued,
	.has_thread = mt_has_thread,
	.wake_driver_waiter = mt_wake_driver_waiter,
};

int td_mt_create(struct td_runtime *rt)
{
	unsigned n = rt->nworkers;
	size_t size = (sizeof(struct td_mt) + TD_CACHE_PAIR - 1) &
		      ~(size_t)(TD_CACHE_PAIR - 1);
	struct td_mt *mt = aligned_alloc(TD_CACHE_PAIR, size);
	if (!mt)
		return -ENOMEM;
	memset(mt, 0, size);
	mt->n = n;
	mt->workers = aligned_alloc(TD_CACHE_PAIR, n * sizeof(*mt->workers));
	mt->sleepers = calloc(n, sizeof(*mt->sleepers));
	mt->sleeping = calloc(n, sizeof(*mt->sleeping));
	if (!mt->workers || !mt->sleepers || !mt->sleeping) {
		free(mt->workers);
		free(mt->sleepers);
		free(mt->sleeping);
		free(mt);
		return -ENOMEM;
	}
	memset(mt->workers, 0, n * sizeof(*mt->workers));
	pthread_mutex_init(&mt->sleepers_lock, NULL);
	atomic_init(&mt->idle, n); /* all unparked, none searching */
	rt->mt = mt;
	rt->sched.ops = &mt_sched_ops;
	rt->fops = &mt_flavor_ops;

	for (unsigned i = 0; i < n; i++) {
		struct td_worker *w = &mt->workers[i];
		td_local_queue_init(&w->queue);
		atomic_init(&w->lifo, NULL);
		td_parker_init(&w->parker);
		td_worker_status_init(&w->status);
		w->rt = rt;
		w->index = i;
		w->rng = 0x9e3779b9u * (i + 1);
	}
	for (unsigned i = 0; i < n; i++) {
		struct td_worker *w = &mt->workers[i];
		int err = pthread_create(&w->thread, NULL, worker_main, w);
		if (err) {
			atomic_store(&rt->shutdown, true);
			mt_stop_threads(rt);
			mt_destroy(rt);
			rt->fops = NULL;
			return -err;
		}
		w->started = true;
	}
	return 0;
}
