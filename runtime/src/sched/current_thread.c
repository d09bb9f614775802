/* current_thread.c - the current-thread scheduler.
 *
 * Tasks run on whichever thread is inside td_runtime_block_on (the
 * "driving" thread; one at a time).  Its own wake-ups go to a local FIFO
 * that only it touches; wake-ups from other threads go to the runtime's
 * injection queue and unpark it.  When it has nothing to run it sleeps in
 * the epoll driver until the next timer, an I/O event or an unpark.
 *
 * Safe points: before each poll the driving thread checks the dump gate.
 * A thread that claims `driving` passes the gate before its first poll, so
 * a dump that saw no driving thread can trace without anyone polling.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/context.h"
#include "sched/flavor.h"
#include "sched/main_waker.h"
#include "sched/park.h"
#include "sched/runtime_impl.h"
#include "task/core.h"
#include "trace/leaf.h"

/* Check the injection queue first every this many polls, so remote wakes
 * are not starved by tasks that keep waking each other locally. */
#define GLOBAL_QUEUE_INTERVAL 31

struct td_ct {
	_Atomic bool driving;
	struct td_parker parker;
	/* Local FIFO, linked through the tasks' queue_next (a queued task's
	 * Notified reference is the queue's): it costs no memory of its own,
	 * so spawning a million tasks faults in no ring, and a push never
	 * fails.  Only the driving thread touches it (and a dump, while the
	 * driving thread waits at its safe point). */
	struct td_task *head, *tail;
	size_t len;
	_Atomic size_t queued; /* mirrors len for dumps (relaxed) */
	uint32_t tick;
	struct td_worker_status status;
};

/* ---- local FIFO ------------------------------------------------------ */

static void local_push(struct td_ct *ct, struct td_task *t)
{
	t->queue_next = NULL;
	if (ct->tail)
		ct->tail->queue_next = t;
	else
		ct->head = t;
	ct->tail = t;
	ct->len++;
	atomic_store_explicit(&ct->queued, ct->len, memory_order_relaxed);
}

static struct td_task *local_pop(struct td_ct *ct)
{
	struct td_task *t = ct->head;
	if (!t)
		return NULL;
	ct->head = t->queue_next;
	if (!ct->head)
		ct->tail = NULL;
	ct->len--;
	atomic_store_explicit(&ct->queued, ct->len, memory_order_relaxed);
	return t;
}

/* ---- scheduling ------------------------------------------------------ */

static inline bool on_driving_thread(struct td_runtime *rt)
{
	return td_tls_ctx && td_tls_ctx->rt == rt &&
	       td_tls_ctx->core == rt->ct;
}

static void ct_schedule(struct td_sched *s, struct td_task *t,
			bool from_own_poll)
{
	struct td_runtime *rt = td_rt_of(s);
	struct td_ct *ct = rt->ct;

	(void)from_own_poll; /* FIFO either way: a yield goes to the back */
	if (on_driving_thread(rt)) {
		local_push(ct, t);
		return;
	}
	if (!td_inject_push(&rt->inject, t)) {
		td_task_drop_notified(t); /* shut down: never runs */
		return;
	}
	td_parker_unpark(&ct->parker, rt);
}

static const struct td_sched_ops ct_sched_ops = {.schedule = ct_schedule};

static struct td_task *next_task(struct td_runtime *rt, struct td_ct *ct)
{
	struct td_task *t;
	if (ct->tick % GLOBAL_QUEUE_INTERVAL == 0) {
		t = td_inject_pop(&rt->inject);
		if (t)
			return t;
	}
	t = local_pop(ct);
	if (!t)
		t = td_inject_pop(&rt->inject);
	return t;
}

static void run_task(struct td_runtime *rt, struct td_ct *ct,
		     struct td_task *t)
{
	td_worker_status_enter_poll(&ct->status, t);
	td_tls_budget = rt->budget;
	bool again = td_task_run(t, 0);
	td_worker_status_leave_poll(&ct->status);
	if (again)
		ct_schedule(&rt->sched, t, true);
}

/* ---- block_on -------------------------------------------------------- */

static void leave_driving(struct td_runtime *rt, struct td_ct *ct)
{
	atomic_store_explicit(&ct->status.activity, TD_WORKER_IDLE,
			      memory_order_relaxed);
	atomic_store_explicit(&ct->driving, false, memory_order_seq_cst);
	/* A dump waiting for this thread may now trace without it. */
	td_dump_gate_poke(&rt->gate);
}

static int ct_block_on(struct td_runtime *rt, td_future *f, void **out)
{
	struct td_ct *ct = rt->ct;
	bool expect = false;

	if (!atomic_compare_exchange_strong_explicit(&ct->driving, &expect,
						     true,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return -EBUSY;
	/* Pairs with the dump's seq_cst store of gate.requested and load of
	 * `driving`: either the dump sees this thread drive (and waits for
	 * it at the gate), or this thread sees the request below before its
	 * first poll.  (Free on x86; needed where stores can pass loads.) */
	atomic_thread_fence(memory_order_seq_cst);
	struct td_main_waker *mw = td_main_waker_new(rt, &ct->parker);
	if (!mw) {
		leave_driving(rt, ct);
		return -ENOMEM;
	}
	struct td_thread_ctx ctx = {.rt = rt, .worker = 0, .core = ct};
	td_tls_ctx = &ctx;
	td_tls_hold_ns = &rt->gate.held_ns[0];
	td_worker_status_bind_thread(&ct->status);
	struct td_main_future main;
	td_main_future_enter(rt, &main, f, &ct->parker);
	const td_waker waker = td_main_waker_borrow(mw);
	/* Real polls: no capture runs for them (trace/leaf.h). */
	td_context cx = {.waker = &waker, .no_capture = TD_NO_CAPTURE};
	int result = 0;

	for (;;) {
		if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
			result = -ESHUTDOWN;
			break;
		}
		if (td_dump_gate_raised(&rt->gate))
			td_worker_gate_wait(&rt->gate, &ct->status, 0);
		if (td_main_waker_take(mw)) {
			td_worker_status_enter_main(&ct->status);
			td_poll r = td_main_future_poll(&main, &cx, rt->budget);
			td_worker_status_leave_poll(&ct->status);
			if (r == TD_READY) {
				if (out)
					*out = f->vtable->output
						       ? f->vtable->output(f)
						       : NULL;
				break;
			}
		}
		/* A batch of tasks between two polls of the block_on future,
		 * even when that future keeps waking itself (a yield loop
		 * must not starve the tasks it waits for). */
		unsigned ran = 0;
		while (ran < rt->event_interval) {
			if (td_dump_gate_raised(&rt->gate))
				td_worker_gate_wait(&rt->gate, &ct->status, 0);
			ct->tick++;
			struct td_task *t = next_task(rt, ct);
			if (!t)
				break;
			run_task(rt, ct, t);
			ran++;
		}
		if (ran == rt->event_interval) {
			td_driver_poll_now(rt); /* busy: just look */
		} else if (ran == 0 && td_dump_gate_raised(&rt->gate) &&
			   td_dump_gate_slice(&rt->gate, 0, true)) {
			/* Nothing to poll: the dump's slices, not sleep. */
		} else if (ran == 0 &&
			   !atomic_load_explicit(&mw->woken,
						 memory_order_acquire)) {
			atomic_store_explicit(&ct->status.activity,
					      TD_WORKER_PARKED,
					      memory_order_relaxed);
			td_parker_park(&ct->parker, rt);
			atomic_store_explicit(&ct->status.activity,
					      TD_WORKER_RUNNING,
					      memory_order_relaxed);
		}
	}

	td_main_future_leave(rt, &main);
	td_tls_hold_ns = NULL;
	td_tls_ctx = NULL;
	leave_driving(rt, ct);
	/* Last: the main waker's runtime reference keeps `rt` alive through
	 * leave_driving, however fast a td_runtime_free on another thread
	 * follows it. */
	td_main_waker_release(mw);
	return result;
}

/* ---- flavor operations ----------------------------------------------- */

static void ct_stop_threads(struct td_runtime *rt)
{
	/* td_runtime_free set `shutdown`; a driving thread (another thread
	 * in block_on) returns -ESHUTDOWN at its next loop. */
	while (atomic_load(&rt->ct->driving)) {
		td_parker_unpark(&rt->ct->parker, rt);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static void ct_drain_queues(struct td_runtime *rt)
{
	struct td_task *t;
	while ((t = local_pop(rt->ct)))
		td_task_drop_notified(t);
}

static void ct_unpark_all(struct td_runtime *rt)
{
	td_parker_unpark(&rt->ct->parker, rt);
}

static void ct_destroy(struct td_runtime *rt)
{
	if (rt->ct) {
		free(rt->ct);
		rt->ct = NULL;
	}
}

static bool ct_worker_status(struct td_runtime *rt, unsigned i,
			     struct td_worker_info *out)
{
	if (i != 0)
		return false;
	td_worker_status_read(&rt->ct->status, 0, out);
	out->queued = (unsigned)atomic_load_explicit(&rt->ct->queued,
						     memory_order_relaxed);
	if (!atomic_load(&rt->ct->driving))
		out->activity = TD_WORKER_IDLE;
	return true;
}

static void ct_for_each_queued(struct td_runtime *rt, unsigned i,
			       void (*fn)(struct td_task *t, bool lifo,
					  void *arg),
			       void *arg)
{
	struct td_ct *ct = rt->ct;
	if (i != 0)
		return;
	for (struct td_task *t = ct->head; t; t = t->queue_next)
		fn(t, false, arg);
}

static bool ct_is_driven(struct td_runtime *rt)
{
	return atomic_load_explicit(&rt->ct->driving, memory_order_seq_cst);
}

static const struct td_flavor_ops ct_flavor_ops = {
	.block_on = ct_block_on,
	.stop_threads = ct_stop_threads,
	.drain_queues = ct_drain_queues,
	.unpark_all = ct_unpark_all,
	.destroy = ct_destroy,
	.worker_status = ct_worker_status,
	.for_each_queued = ct_for_each_queued,
	.has_thread = ct_is_driven,
};

int td_ct_create(struct td_runtime *rt)
{
	struct td_ct *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	atomic_init(&ct->driving, false);
	atomic_init(&ct->queued, 0);
	td_parker_init(&ct->parker);
	td_worker_status_init(&ct->status);
	rt->ct = ct;
	rt->sched.ops = &ct_sched_ops;
	rt->fops = &ct_flavor_ops;
	return 0;
}
