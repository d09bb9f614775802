/* task.c - task allocation, the poll harness, cancellation, task wakers.
 *
 * Reference discipline (state.h): td_task_run consumes the caller's
 * Notified reference (or turns it into the next one); completion drops
 * that reference and the owned list's; the join handle and wakers drop
 * their own.  The last drop frees the allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"
#include "task/core.h"
#include "task/current.h"
#include "task/state.h"
#include "trace/collector.h"
#include "trace/leaf.h"

/* Ids are unique in the process and never reused; 0 means "no task". */
static _Atomic uint64_t next_task_id = 1;

static const td_waker_vtable task_waker_vtable;

struct td_task *td_task_alloc(const td_future *future, size_t size,
			      const td_spawn_options *opts, bool joinable)
{
	struct td_task *t = malloc(sizeof(*t) + size);
	if (!t)
		return NULL;
	const td_spawn_site *site = opts ? opts->site : NULL;
	uintptr_t origin = (uintptr_t)site;
	if (opts && opts->name) {
		size_t len = strlen(opts->name);
		struct td_task_named *named = malloc(sizeof(*named) + len + 1);
		if (!named) {
			free(t);
			return NULL;
		}
		named->site = site;
		memcpy(named->name, opts->name, len + 1);
		origin = (uintptr_t)named | 1u;
	}
	/* References: the owned list, the first Notified, the join handle. */
	uint64_t refs = joinable ? 3 : 2;
	uint64_t flags = TD_ST_NOTIFIED | (joinable ? TD_ST_JOIN_INTEREST : 0);
	/* Field by field: a memset (or a struct assignment, which GCC turns
	 * into one) of the header is a rep stos that costs more than all the
	 * rest of a spawn. */
	t->id = atomic_fetch_add_explicit(&next_task_id, 1,
					  memory_order_relaxed);
	t->origin = origin;
	t->type_name = future->vtable ? future->vtable->type_name : NULL;
	t->join_waker = (td_waker){NULL, NULL};
	t->owned_index = TD_OWNED_NONE;
	atomic_init(&t->flags, 0);
	t->owned_shard = 0;
	atomic_init(&t->state, refs * TD_ST_REF_ONE | flags);
	t->queue_next = NULL;
	t->sched = NULL;
	atomic_init(&t->last_poll, 0);
	atomic_init(&t->polls, 0);
	atomic_init(&t->worker, -1);
	/* Spawned = first woken: its first poll's wait counts from here (in
	 * a poll, from the start of the spawning poll: no clock read). */
	atomic_init(&t->notified_at, td_tls_poll_end_ok ? td_tls_poll_end
							: td_task_clock32());
	atomic_init(&t->busy_ms, 0);
	atomic_init(&t->slowest_poll_ms, 0);
	atomic_init(&t->wait_latest_ms, 0);
	atomic_init(&t->wait_worst_ms, 0);
	atomic_init(&t->waits, 0);
	memcpy(t->future, future, size);
	return t;
}

void td_task_dealloc(struct td_task *t)
{
	struct td_sched *s = t->sched;

	if (!s) /* never bound to a runtime: the future was never polled */
		td_future_drop(td_task_future(t));
	td_waker_drop(&t->join_waker);
	if (t->origin & 1u)
		free((void *)(t->origin - 1u));
	free(t);
	if (s)
		td_sched_task_freed(s);
}

void td_task_ref(struct td_task *t)
{
	td_state_ref_inc(&t->state);
}

void td_task_unref(struct td_task *t)
{
	if (td_state_ref_dec(&t->state, 1))
		td_task_dealloc(t);
}

/* The future is finished (or dropped): publish the output, wake the
 * joiner, leave the owned list and drop the poller's and the list's
 * references.  The caller holds RUNNING and one reference. */
static void complete(struct td_task *t, void *output, bool cancelled)
{
	*td_task_output(t) = output;
	if (cancelled)
		atomic_store_explicit(&t->flags,
				      atomic_load_explicit(&t->flags,
							   memory_order_relaxed) |
					      TD_TASK_F_CANCELLED_OUTPUT,
				      memory_order_relaxed);
	/* Leave the owned list first, so that whoever the join wakes sees
	 * the task gone from td_runtime_task_count. */
	uint64_t drop = td_sched_release(t->sched, t) ? 2 : 1;
	uint64_t s;
	if (td_state_to_complete_release(&t->state, drop, &s)) {
		/* Nobody waited: one atomic step. */
		if (td_st_refs(s) == 0)
			td_task_dealloc(t);
		return;
	}
	if ((s & TD_ST_JOIN_INTEREST) && (s & TD_ST_JOIN_WAKER))
		td_waker_wake_by_ref(&t->join_waker);
	if (td_state_ref_dec(&t->state, drop))
		td_task_dealloc(t);
}

/* Drop the future of a task whose RUNNING bit the caller holds. */
static void cancel(struct td_task *t)
{
	struct td_task *prev = td_tls_current_task;
	td_tls_current_task = t;
	td_future_drop(td_task_future(t));
	td_tls_current_task = prev;
	complete(t, NULL, true);
}

/* Relaxed increments and maxima of the poller's own counters (only the
 * RUNNING holder writes them: plain load + store). */
static inline void stat_add32(_Atomic uint32_t *c, uint32_t v)
{
	atomic_store_explicit(
		c, atomic_load_explicit(c, memory_order_relaxed) + v,
		memory_order_relaxed);
}

static inline void stat_max16(_Atomic uint16_t *c, uint16_t v)
{
	if (v > atomic_load_explicit(c, memory_order_relaxed))
		atomic_store_explicit(c, v, memory_order_relaxed);
}

/* A real poll begins at `start`: count it, and how long the task waited
 * between being woken and now. */
static inline void poll_started(struct td_task *t, uint32_t start,
				int worker)
{
	stat_add32(&t->polls, 1);
	atomic_store_explicit(&t->last_poll, start, memory_order_relaxed);
	atomic_store_explicit(&t->worker, (int16_t)worker,
			      memory_order_relaxed);
	/* A wake read the clock after this thread's last poll ended: then
	 * it waited no time at all. */
	int32_t waited = (int32_t)(start - atomic_load_explicit(
						   &t->notified_at,
						   memory_order_relaxed));
	uint16_t w = td_task_ms16(waited > 0 ? (uint32_t)waited : 0);
	atomic_store_explicit(&t->wait_latest_ms, w, memory_order_relaxed);
	stat_max16(&t->wait_worst_ms, w);
}

/* The poll ran from start to end. */
static inline void poll_ended(struct td_task *t, uint32_t start,
			      uint32_t end, bool self_woken)
{
	uint32_t ran = end - start;
	stat_add32(&t->busy_ms, ran);
	stat_max16(&t->slowest_poll_ms, td_task_ms16(ran));
	uint8_t f = atomic_load_explicit(&t->flags, memory_order_relaxed);
	uint8_t want = self_woken ? (uint8_t)(f | TD_TASK_F_SELF_WOKEN)
				  : (uint8_t)(f & ~TD_TASK_F_SELF_WOKEN);
	if (want != f) /* a yield loop stores nothing here */
		atomic_store_explicit(&t->flags, want, memory_order_relaxed);
	if (!self_woken)
		atomic_store_explicit(
			&t->waits,
			(uint16_t)(atomic_load_explicit(&t->waits,
							memory_order_relaxed) +
				   1),
			memory_order_relaxed);
}

bool td_task_run(struct td_task *t, int worker)
{
	switch (td_state_to_running(&t->state)) {
	case TD_TO_RUNNING_FAILED:
		td_task_unref(t);
		return false;
	case TD_TO_RUNNING_CANCELLED:
		cancel(t);
		return false;
	case TD_TO_RUNNING_OK:
		break;
	}

	/* The poll starts when this thread's previous poll ended, if nothing
	 * slow happened since (task/current.h): one clock read per poll,
	 * at its end. */
	uint32_t start = td_tls_poll_end_ok ? td_tls_poll_end
					    : td_task_clock32();
	poll_started(t, start, worker);

	/* A borrowed waker: the poll holds the task's reference.  A real
	 * poll: no capture runs on this thread for it. */
	const td_waker waker = {&task_waker_vtable, t};
	td_context cx = {.waker = &waker, .no_capture = TD_NO_CAPTURE};
	struct td_task *prev = td_tls_current_task;
	/* Saved and restored, not cleared: nothing polls a task inside
	 * another's poll today, but if something did, the outer poll's
	 * self-wake must stay the outer task's. */
	struct td_task *prev_polling = td_tls_polling_task;
	bool prev_self_woken = td_tls_self_woken;
	td_tls_current_task = t;
	td_tls_polling_task = t;
	td_tls_self_woken = false;
	td_future *f = td_task_future(t);
	td_poll r = td_trace_root_poll(f, &cx);
	bool self_woken = td_tls_self_woken;
	td_tls_self_woken = prev_self_woken;
	td_tls_polling_task = prev_polling;
	td_tls_current_task = prev;
	uint32_t end = td_task_clock32();
	td_tls_poll_end = end;
	td_tls_poll_end_ok = true;
	/* Before the task can be polled elsewhere (to_idle, complete). */
	poll_ended(t, start, end, self_woken);

	if (r == TD_READY) {
		complete(t, f->vtable->output ? f->vtable->output(f) : NULL,
			 false);
		return false;
	}
	/* Two calls with constant arguments: each inlines to its own loop. */
	switch (self_woken ? td_state_to_idle(&t->state, true)
			   : td_state_to_idle(&t->state, false)) {
	case TD_TO_IDLE_OK:
		return false;
	case TD_TO_IDLE_NOTIFIED:
		/* Woken during the poll: it may run again from now on.  Only
		 * this thread, which queues it, can store here now. */
		atomic_store_explicit(&t->notified_at, end,
				      memory_order_relaxed);
		return true;
	case TD_TO_IDLE_CANCELLED:
		cancel(t);
		return false;
	}
	return false;
}

bool td_task_trace_poll(struct td_task *t)
{
	uint64_t seen;
	if (!td_state_trace_begin(&t->state, &seen))
		return false;

	const td_waker waker = {&task_waker_vtable, t};
	td_context cx = {.waker = &waker}; /* a tracing poll */
	struct td_task *prev = td_tls_current_task;
	int prev_budget = td_tls_budget;
	td_tls_current_task = t;
	td_tls_budget = -1;
	td_future *f = td_task_future(t);
	td_poll r = td_trace_root_poll(f, &cx);
	td_tls_current_task = prev;
	td_tls_budget = prev_budget;

	if (r == TD_READY) {
		/* A future without leaf hooks completed during tracing (a
		 * user leaf that ignores td_trace_leaf).  It really is done:
		 * complete it under RUNNING, with a reference of its own. */
		atomic_fetch_xor_explicit(&t->state,
					  TD_ST_TRACING | TD_ST_RUNNING,
					  memory_order_acq_rel);
		td_task_ref(t);
		complete(t, f->vtable->output ? f->vtable->output(f) : NULL,
			 false);
		return true;
	}
	td_state_trace_end(&t->state);
	return true;
}

void td_task_shutdown(struct td_task *t)
{
	if (td_state_to_shutdown(&t->state))
		cancel(t); /* consumes the caller's reference */
	else
		td_task_unref(t);
}

/* ---- task wakers ----------------------------------------------------- */

static void submit(struct td_task *t)
{
	t->sched->ops->schedule(t->sched, t, false);
}

/* An idle task was woken (the caller set NOTIFIED and holds the new
 * Notified reference): note when, then queue it.  Nobody else writes
 * notified_at until the task has been polled. */
static void wake_submit(struct td_task *t)
{
	atomic_store_explicit(&t->notified_at, td_task_clock32(),
			      memory_order_relaxed);
	submit(t);
}

static td_waker task_waker_clone(const void *data)
{
	struct td_task *t = (struct td_task *)data;
	td_task_ref(t);
	return (td_waker){&task_waker_vtable, t};
}

static void task_waker_wake(void *data)
{
	struct td_task *t = data;
	if (t == td_tls_polling_task) {
		/* Its own poll on this thread (td_task_run holds a reference,
		 * so this one is never the last). */
		td_tls_self_woken = true;
		td_task_unref(t);
		return;
	}
	switch (td_state_wake_by_val(&t->state)) {
	case TD_WAKE_SUBMIT:
		wake_submit(t);
		break;
	case TD_WAKE_DEALLOC:
		td_task_dealloc(t);
		break;
	case TD_WAKE_NOTHING:
		break;
	}
}

static void task_waker_wake_by_ref(const void *data)
{
	struct td_task *t = (struct td_task *)data;
	if (t == td_tls_polling_task) {
		/* Its own poll on this thread: td_task_run re-queues it. */
		td_tls_self_woken = true;
		return;
	}
	if (td_state_wake_by_ref(&t->state) == TD_WAKE_SUBMIT)
		wake_submit(t);
}

static void task_waker_drop(void *data)
{
	td_task_unref(data);
}

static const td_waker_vtable task_waker_vtable = {
	.clone = task_waker_clone,
	.wake = task_waker_wake,
	.wake_by_ref = task_waker_wake_by_ref,
	.drop = task_waker_drop,
};

td_waker td_task_waker(struct td_task *t)
{
	td_task_ref(t);
	return (td_waker){&task_waker_vtable, t};
}

/* ---- join handles ---------------------------------------------------- */

/* Give up a join handle's interest and reference. */
static void release_join(struct td_task *t)
{
	if (td_state_drop_join_handle(&t->state, NULL))
		td_task_dealloc(t);
}

uint64_t td_join_handle_id(const td_join_handle *h)
{
	return h && h->task ? h->task->id : 0;
}

bool td_join_handle_is_finished(const td_join_handle *h)
{
	if (!h || !h->task)
		return false;
	uint64_t s = atomic_load_explicit(&h->task->state,
					  memory_order_acquire);
	return (s & TD_ST_COMPLETE) != 0;
}

void td_join_handle_abort(const td_join_handle *h)
{
	if (!h || !h->task)
		return;
	if (td_state_cancel(&h->task->state) == TD_WAKE_SUBMIT)
		wake_submit(h->task);
}

void td_join_handle_detach(td_join_handle *h)
{
	if (!h || !h->task)
		return;
	release_join(h->task);
	h->task = NULL;
}

static td_poll td_join_poll(td_future *f, td_context *cx)
{
	td_join *j = (td_join *)f;
	struct td_task *t = j->task;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_JOIN, .task_id = t ? t->id : 0);
	if (!t)
		return TD_READY; /* empty handle, or already joined */

	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
	if (!(s & TD_ST_COMPLETE)) {
		if (s & TD_ST_JOIN_WAKER) {
			if (td_waker_will_wake(&t->join_waker, cx->waker))
				return TD_PENDING;
			/* Take the slot back to store a different waker. */
			if (!td_state_unset_join_waker(&t->state))
				goto done;
		}
		/* JOIN_WAKER is clear: the slot is ours. */
		td_waker_drop(&t->join_waker);
		t->join_waker = td_waker_clone(cx->waker);
		if (td_state_set_join_waker(&t->state))
			return TD_PENDING;
		/* Completed meanwhile; the slot stays ours until dealloc. */
	}
done:
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	j->output = *td_task_output(t);
	j->error = (atomic_load_explicit(&t->flags, memory_order_relaxed) &
		    TD_TASK_F_CANCELLED_OUTPUT)
			   ? -ECANCELED
			   : 0;
	j->task = NULL;
	release_join(t);
	return TD_READY;
}

static void join_drop(td_future *f)
{
	td_join *j = (td_join *)f;
	if (j->task) {
		release_join(j->task);
		j->task = NULL;
	}
}

static const td_future_vtable join_vtable = {
	.poll = td_join_poll,
	.drop = join_drop,
	.type_name = "td_join",
};

int td_join_init(td_join *j, td_join_handle *h)
{
	j->base.vtable = &join_vtable;
	j->output = NULL;
	j->error = 0;
	j->task = h ? h->task : NULL;
	if (!j->task) {
		j->error = -EINVAL;
		return -EINVAL;
	}
	h->task = NULL;
	return 0;
}
