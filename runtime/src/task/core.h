/* core.h - internal: the task allocation and its lifecycle.
 *
 * One allocation per task: this header, then the future's bytes.
 *
 * Who may touch what
 * ------------------
 * - state: atomics only (task/state.h).
 * - the future (and, once complete, the output in its place): only the
 *   holder of the RUNNING bit; the output is published by COMPLETE.
 * - queue_next: whoever holds the task's Notified reference (the queue it
 *   sits in).
 * - owned_index: the owned-task list, under its shard lock.
 * - join_waker: the join handle while JOIN_WAKER is clear; the runtime
 *   (read-only, to wake it) while JOIN_WAKER is set.  Dropped when the task
 *   is freed.
 * - stats (last_poll, polls, worker, busy_ms, slowest_poll_ms,
 *   wait_latest_ms, wait_worst_ms, waits, flags): written by the poller
 *   (the RUNNING holder), read by dumps; relaxed atomics, so a dump that
 *   races a stuck worker reads values that are merely stale.
 * - notified_at: written by whoever sets NOTIFIED on an idle task (the
 *   waker that submits it, before it is queued, or the poller when the
 *   task was woken during its own poll), read by the poller after it
 *   took the task from a queue and by dumps.
 * - origin: at spawn; freed with the task.
 */
#ifndef TD_TASK_CORE_H
#define TD_TASK_CORE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "taskdump/future.h"
#include "taskdump/task.h"

struct td_sched;

/* td_task_alloc sets every field by name (no memset): a new field must be
 * initialized there. */
struct td_task {
	/* Cold: written at spawn, or rarely (join_waker).  First, so that
	 * with tasks allocated back to back the hot fields below never share
	 * a cache line with the end of the previous task's future (which its
	 * own worker writes on every poll): malloc's 16-byte chunk header
	 * plus these 48 bytes put one line between them. */
	uintptr_t origin;                /* spawn site and name: see
					  * td_task_site, td_task_name */
	td_waker join_waker;
	const char *type_name;           /* the future's vtable->type_name,
					  * for dumps; may be NULL */
	/* Counters for the dump's diagnosis (README.md, "Task counters and
	 * warnings"), in milliseconds of the task clock. */
	_Atomic uint32_t notified_at;    /* clock32 when last woken (spawn
					  * included) */
	_Atomic uint32_t busy_ms;        /* total time in real polls */
	_Atomic uint16_t slowest_poll_ms;/* longest real poll (saturating) */
	_Atomic uint16_t wait_latest_ms; /* notified-to-polled, last poll */
	_Atomic uint16_t wait_worst_ms;  /* the longest such (saturating) */
	_Atomic uint16_t waits;          /* polls that did not end woken by
					  * the task itself (wrapping: only
					  * differences are used) */
	/* Hot: touched on every poll, and by a completion's own steps
	 * (output, owned-list removal, state), which then need not fetch
	 * the cold line of a task spawned long ago; only freeing the task
	 * reads it (join_waker, name). */
	_Atomic uint64_t state;          /* task/state.h */
	struct td_task *queue_next;      /* intrusive run-queue link */
	struct td_sched *sched;          /* the scheduler that owns it */
	uint64_t id;                     /* unique in the process, from 1;
					  * hot: the poller publishes it */
	_Atomic uint32_t last_poll;      /* td_task_clock32() at the last poll
					  * start (wrapping milliseconds) */
	_Atomic uint32_t polls;          /* real polls (not tracing polls) */
	_Atomic int16_t worker;          /* worker index of the last poll, -1 */
	_Atomic uint8_t flags;           /* TD_TASK_F_* */
	uint8_t owned_shard;             /* which owned-list shard holds it */
	uint32_t owned_index;            /* slot in its owned-list shard;
					  * TD_OWNED_NONE when not listed */
	/* The task's td_future.  Once the task is complete the future is
	 * dead and its first word holds the output (td_task_output). */
	alignas(16) unsigned char future[];
};

/* td_task.flags: written by the RUNNING holder only. */
#define TD_TASK_F_CANCELLED_OUTPUT 1u /* completed by cancellation */
#define TD_TASK_F_SELF_WOKEN 2u       /* its last poll ended with it
				       * woken by itself */

/* Small tasks matter: 100 000 idle tasks should cost no more memory than
 * Tokio's.  Keep the header at 96 bytes, the hot part 48 bytes in. */
_Static_assert(sizeof(struct td_task) == 96, "task header grew");
_Static_assert(offsetof(struct td_task, state) == 48,
	       "the hot fields must start a cache line after the cold ones");
_Static_assert(offsetof(struct td_task, id) > offsetof(struct td_task, state) &&
		       offsetof(struct td_task, owned_index) >
			       offsetof(struct td_task, state),
	       "polls and completions must find what they read in the hot part");

#define TD_OWNED_NONE UINT32_MAX

/* Milliseconds on the coarse monotonic clock (a vDSO memory read, no TSC):
 * plenty for "last polled N ms ago" and cheap enough for every poll.  Task
 * and block_on statistics and dumps all use this clock. */
static inline uint64_t td_task_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline td_future *td_task_future(struct td_task *t)
{
	return (td_future *)(void *)t->future;
}

/* The output slot of a completed task (the dead future's first word). */
static inline void **td_task_output(struct td_task *t)
{
	return (void **)(void *)t->future;
}

/* The task clock truncated to 32 bits: differences of two readings less
 * than 49 days apart are right even across the wrap. */
static inline uint32_t td_task_clock32(void)
{
	return (uint32_t)td_task_clock_ms();
}

/* A named task's origin points to this (tagged with bit 0), allocated
 * with the name; an unnamed task's origin is its spawn site itself. */
struct td_task_named {
	const td_spawn_site *site;
	char name[];
};

static inline const td_spawn_site *td_task_site(const struct td_task *t)
{
	if (t->origin & 1u)
		return ((const struct td_task_named *)(t->origin - 1u))->site;
	return (const td_spawn_site *)t->origin;
}

static inline const char *td_task_name(const struct td_task *t)
{
	if (t->origin & 1u)
		return ((const struct td_task_named *)(t->origin - 1u))->name;
	return NULL;
}

/* Saturating millisecond count for the 16-bit counters. */
static inline uint16_t td_task_ms16(uint32_t ms)
{
	return ms > UINT16_MAX ? UINT16_MAX : (uint16_t)ms;
}

/* Allocate a task around a copy of `future` (size bytes), with the initial
 * state for a join handle (`joinable`) or a detached task.  The id is
 * assigned here.  Returns NULL when out of memory. */
struct td_task *td_task_alloc(const td_future *future, size_t size,
			      const td_spawn_options *opts, bool joinable);

/* Free the allocation (refcount reached zero): drops the join waker and the
 * name; never touches the future (it was completed or dropped already),
 * except for a task that was never bound to a scheduler, whose future is
 * dropped here. */
void td_task_dealloc(struct td_task *t);

/* Poll the task once for real on this thread (the caller holds its
 * Notified reference, which this consumes).  The cooperative budget
 * (td_tls_budget) is the caller's to set: a scheduler may share one
 * budget among several polls.  Returns true when the task
 * was woken during the poll and must be scheduled again (the caller then
 * owns a new Notified reference and re-queues it, as a yield). */
bool td_task_run(struct td_task *t, int worker);

/* Poll the task once in tracing mode on this thread (the caller holds a
 * plain reference, which is not consumed, and has a collector installed).
 * Returns false, without polling, when the task is running, complete or
 * being traced elsewhere.  No wake-up is consumed: a wake that arrives
 * during the tracing poll queues the task as usual (a worker that pops it
 * waits for the tracing poll to end). */
bool td_task_trace_poll(struct td_task *t);

/* Shut a task down during runtime shutdown: if it is idle, drop its future
 * and complete it as cancelled.  Consumes the caller's reference (the
 * owned list's, handed over when shutdown took the task off the list). */
void td_task_shutdown(struct td_task *t);

/* Reference counting (see task/state.h for the state word). */
void td_task_ref(struct td_task *t);
void td_task_unref(struct td_task *t);
/* Drop a Notified reference of a task that will not be run (shutdown). */
static inline void td_task_drop_notified(struct td_task *t)
{
	td_task_unref(t);
}

/* The task waker for t (takes a reference). */
td_waker td_task_waker(struct td_task *t);

#endif /* TD_TASK_CORE_H */
