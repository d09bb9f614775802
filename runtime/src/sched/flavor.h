/* flavor.h - internal: what differs between the two schedulers, and the
 * per-thread status both keep for dumps. */
#ifndef TD_SCHED_FLAVOR_H
#define TD_SCHED_FLAVOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sched/dump_gate.h"
#include "task/current.h"
#include "taskdump/future.h"

struct td_runtime;
struct td_task;

/* What a scheduler thread is doing, for dumps. */
enum td_worker_activity {
	TD_WORKER_IDLE = 0,    /* no thread (current-thread: nobody drives) */
	TD_WORKER_RUNNING,     /* in the scheduler loop, between polls */
	TD_WORKER_POLLING,     /* polling task `task_id` */
	TD_WORKER_POLLING_MAIN,/* polling a block_on future */
	TD_WORKER_SEARCHING,   /* looking for work to steal */
	TD_WORKER_PARKED,      /* asleep, nothing to do */
	TD_WORKER_DUMP_PARKED, /* stopped at its safe point for a dump */
};

/* Written by the scheduler thread (relaxed atomics), read by dumps. */
struct td_worker_status {
	_Atomic int activity;
	_Atomic uint64_t task_id;   /* the task being polled, or 0 */
	_Atomic pid_t tid;
	_Atomic unsigned long thread; /* pthread_t */
	_Atomic uintptr_t stack_lo, stack_hi; /* the thread's stack */
};

/* A copy of a worker's status. */
struct td_worker_info {
	unsigned index;
	int activity;
	uint64_t task_id;
	pid_t tid;
	pthread_t thread;
	uintptr_t stack_lo, stack_hi;
	unsigned queued; /* tasks in its local queue (+ LIFO slot) */
};

void td_worker_status_init(struct td_worker_status *s);

/* The calling thread is now this worker's thread. */
void td_worker_status_bind_thread(struct td_worker_status *s);

static inline void td_worker_status_enter_poll(struct td_worker_status *s,
					       struct td_task *t);
static inline void td_worker_status_enter_main(struct td_worker_status *s)
{
	td_task_clock_forget(); /* a block_on future's poll may be long */
	atomic_store_explicit(&s->activity, TD_WORKER_POLLING_MAIN,
			      memory_order_relaxed);
}

static inline void td_worker_status_leave_poll(struct td_worker_status *s)
{
	atomic_store_explicit(&s->task_id, 0, memory_order_relaxed);
	atomic_store_explicit(&s->activity, TD_WORKER_RUNNING,
			      memory_order_relaxed);
}

void td_worker_status_read(struct td_worker_status *s, unsigned index,
			   struct td_worker_info *out);

/* Stop at the dump gate as worker `index`, showing it in the status. */
void td_worker_gate_wait(struct td_dump_gate *g, struct td_worker_status *s,
			 int index);

struct td_flavor_ops {
	int (*block_on)(struct td_runtime *rt, td_future *f, void **out);
	/* Stop the threads that poll tasks (after `shutdown` is set). */
	void (*stop_threads)(struct td_runtime *rt);
	/* Drop every queued Notified reference (after stop_threads). */
	void (*drain_queues)(struct td_runtime *rt);
	/* Wake every thread that may be parked, so it reaches a safe point. */
	void (*unpark_all)(struct td_runtime *rt);
	/* Free flavor state (last). */
	void (*destroy)(struct td_runtime *rt);
	/* Status of worker i (false: no such worker). */
	bool (*worker_status)(struct td_runtime *rt, unsigned i,
			      struct td_worker_info *out);
	/* Visit the tasks queued on worker i (LIFO slot flagged).  Current-
	 * thread: only on its thread, or while it is stopped at the dump
	 * gate.  Multi-thread: at any time (the slots are atomics; what is
	 * seen is each entry's position at some moment, entries compared by
	 * address only, never dereferenced). */
	void (*for_each_queued)(struct td_runtime *rt, unsigned i,
				void (*fn)(struct td_task *t, bool lifo,
					   void *arg),
				void *arg);
	/* Whether a thread currently runs the scheduler (always true for the
	 * multi-thread flavor; the current-thread flavor only while a thread
	 * is inside block_on). */
	bool (*has_thread)(struct td_runtime *rt);
	/* Wake one thread asleep on its futex (not in the driver), so that
	 * it takes the free driver (sched/park.h); NULL: no such thread. */
	void (*wake_driver_waiter)(struct td_runtime *rt);
};

/* ---- inline bodies --------------------------------------------------- */

#include "task/core.h"

static inline void td_worker_status_enter_poll(struct td_worker_status *s,
					       struct td_task *t)
{
	atomic_store_explicit(&s->task_id, t->id, memory_order_relaxed);
	atomic_store_explicit(&s->activity, TD_WORKER_POLLING,
			      memory_order_relaxed);
}

#endif /* TD_SCHED_FLAVOR_H */
