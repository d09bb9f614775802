/* state.h - internal: the task state word and its transitions.
 *
 * One atomic 64-bit word per task:
 *
 *   bit 0  RUNNING        someone has exclusive access to the future (a
 *                         real poll, a tracing poll, or cancellation)
 *   bit 1  COMPLETE       the future is finished or dropped; final
 *   bit 2  NOTIFIED       a Notified reference exists: the task is in (or
 *                         on its way to) a run queue, or - while RUNNING -
 *                         it must be re-queued after the poll
 *   bit 3  CANCELLED      abort or shutdown asked for: drop instead of poll
 *   bit 4  JOIN_INTEREST  a join handle exists
 *   bit 5  JOIN_WAKER     join_waker is set and owned by the runtime side
 *   bit 6  TRACING        a dump is polling the future in tracing mode; a
 *                         worker that pops the task meanwhile waits for it
 *                         (tracing polls take microseconds), so tracing
 *                         never consumes or delays a Notified reference
 *   bits 7.. reference count
 *
 * References: the owned-task list holds one until the task completes and
 * is released; the join handle one; every Notified (queue entry) one; every
 * task waker one.  The allocation is freed when the count reaches zero.
 *
 * Invariant: NOTIFIED && !RUNNING && !COMPLETE  <=>  exactly one Notified
 * reference is in a queue (or being handed to one).  A wake of a RUNNING
 * task only sets NOTIFIED; whoever clears RUNNING then creates the Notified
 * reference and schedules it.
 */
#ifndef TD_TASK_STATE_H
#define TD_TASK_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define TD_ST_RUNNING ((uint64_t)1 << 0)
#define TD_ST_COMPLETE ((uint64_t)1 << 1)
#define TD_ST_NOTIFIED ((uint64_t)1 << 2)
#define TD_ST_CANCELLED ((uint64_t)1 << 3)
#define TD_ST_JOIN_INTEREST ((uint64_t)1 << 4)
#define TD_ST_JOIN_WAKER ((uint64_t)1 << 5)
#define TD_ST_TRACING ((uint64_t)1 << 6)
#define TD_ST_REF_SHIFT 7
#define TD_ST_REF_ONE ((uint64_t)1 << TD_ST_REF_SHIFT)
#define TD_ST_FLAGS (TD_ST_REF_ONE - 1)

static inline uint64_t td_st_refs(uint64_t s)
{
	return s >> TD_ST_REF_SHIFT;
}

/* Results of the transitions below. */
enum td_to_running {
	TD_TO_RUNNING_OK,        /* poll it */
	TD_TO_RUNNING_CANCELLED, /* we hold RUNNING: cancel it */
	TD_TO_RUNNING_FAILED,    /* already running/complete: drop the ref */
};

enum td_to_idle {
	TD_TO_IDLE_OK,        /* done; the caller's reference was dropped */
	TD_TO_IDLE_NOTIFIED,  /* woken meanwhile: caller re-queues its ref */
	TD_TO_IDLE_CANCELLED, /* aborted meanwhile: caller cancels now */
};

enum td_wake_action {
	TD_WAKE_NOTHING,  /* no queueing needed */
	TD_WAKE_SUBMIT,   /* caller must schedule a Notified ref */
	TD_WAKE_DEALLOC,  /* the last reference went: free the task */
};

/* Every transition is a compare-and-swap loop over the whole word (state.c
 * says why); acq_rel on success, acquire on failure. */
static inline bool td_state_cas(_Atomic uint64_t *st, uint64_t *cur,
				uint64_t next)
{
	return atomic_compare_exchange_weak_explicit(
		st, cur, next, memory_order_acq_rel, memory_order_acquire);
}

/* A tracing poll holds the future for a few microseconds: let it finish
 * (yields the CPU until TRACING is clear; the time is noted as this
 * thread's hold by the dump, sched/dump_gate.h). */
void td_state_wait_for_tracer(_Atomic uint64_t *st);

/* The transitions of every poll and wake are inline (below). */

/* NOTIFIED -> RUNNING (clearing NOTIFIED); see enum td_to_running. */
static inline enum td_to_running td_state_to_running(_Atomic uint64_t *st);

/* RUNNING -> idle after a TD_PENDING poll.  On TD_TO_IDLE_NOTIFIED the
 * NOTIFIED bit stays set and the caller's reference becomes the new
 * Notified reference; on TD_TO_IDLE_OK the caller's reference is dropped
 * in the same atomic step (never the last one: the owned list holds one);
 * on TD_TO_IDLE_CANCELLED RUNNING is kept.  `self_woken`: the poller woke
 * the task itself during the poll (a yield, noted in td_tls_self_woken
 * rather than in the word), so NOTIFIED is set here, as if the word said
 * so. */
static inline enum td_to_idle td_state_to_idle(_Atomic uint64_t *st,
					       bool self_woken);

/* RUNNING -> COMPLETE; returns the new state. */
uint64_t td_state_to_complete(_Atomic uint64_t *st);

/* RUNNING -> COMPLETE and, in the same atomic step, drop `n` references -
 * unless a joiner waits (JOIN_INTEREST and JOIN_WAKER both set), whose
 * waker must be read before the references go.  Returns true when the
 * references were dropped (*now: the new state; td_st_refs(*now) == 0
 * means they were the last).  Returns false when a joiner waited: then
 * only COMPLETE was set (*now), and the caller wakes the joiner if *now
 * still shows one and drops the n references itself. */
bool td_state_to_complete_release(_Atomic uint64_t *st, uint64_t n,
				  uint64_t *now);

/* A wake that consumes the waker's reference. */
enum td_wake_action td_state_wake_by_val(_Atomic uint64_t *st);

/* A wake that keeps the waker's reference (takes a new one on SUBMIT). */
static inline enum td_wake_action td_state_wake_by_ref(_Atomic uint64_t *st);

/* Abort: set CANCELLED; returns TD_WAKE_SUBMIT when the task was idle and
 * the caller must schedule the new Notified reference (the scheduler then
 * cancels it). */
enum td_wake_action td_state_cancel(_Atomic uint64_t *st);

/* Shutdown: set CANCELLED, and RUNNING when the task is idle.  Returns true
 * when the caller now holds RUNNING and must cancel the task. */
bool td_state_to_shutdown(_Atomic uint64_t *st);

/* Tracing: set TRACING if the task is neither running nor complete
 * (notified or not).  On success stores the state seen in *seen.  Wakes
 * and aborts during the tracing poll follow their usual idle-task paths. */
bool td_state_trace_begin(_Atomic uint64_t *st, uint64_t *seen);

/* Tracing done: clear TRACING. */
void td_state_trace_end(_Atomic uint64_t *st);

/* Add a reference. */
static inline void td_state_ref_inc(_Atomic uint64_t *st)
{
	/* Relaxed suffices: the caller already holds a reference. */
	atomic_fetch_add_explicit(st, TD_ST_REF_ONE, memory_order_relaxed);
}

/* Drop `n` references; true when they were the last. */
static inline bool td_state_ref_dec(_Atomic uint64_t *st, uint64_t n)
{
	uint64_t prev = atomic_fetch_sub_explicit(st, n * TD_ST_REF_ONE,
						  memory_order_acq_rel);
	return td_st_refs(prev) == n;
}

/* Join handle: try to publish join_waker (sets JOIN_WAKER).  Fails when
 * the task completed meanwhile (then the output is ready). */
bool td_state_set_join_waker(_Atomic uint64_t *st);

/* Join handle: take join_waker back to change it (clears JOIN_WAKER).
 * Fails when the task completed meanwhile. */
bool td_state_unset_join_waker(_Atomic uint64_t *st);

/* Join handle dropped: clear JOIN_INTEREST (and JOIN_WAKER unless
 * complete) and drop the handle's reference, in one step.  Returns true
 * when that was the last reference; stores the state before in *prev
 * (may be NULL). */
bool td_state_drop_join_handle(_Atomic uint64_t *st, uint64_t *prev);

/* ---- inline bodies --------------------------------------------------- */

static inline enum td_to_running td_state_to_running(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & TD_ST_TRACING) {
			td_state_wait_for_tracer(st);
			s = atomic_load_explicit(st, memory_order_acquire);
			continue;
		}
		if (s & (TD_ST_RUNNING | TD_ST_COMPLETE))
			return TD_TO_RUNNING_FAILED;
		uint64_t n = (s & ~TD_ST_NOTIFIED) | TD_ST_RUNNING;
		if (td_state_cas(st, &s, n))
			return (n & TD_ST_CANCELLED) ? TD_TO_RUNNING_CANCELLED
						     : TD_TO_RUNNING_OK;
	}
}

static inline enum td_to_idle td_state_to_idle(_Atomic uint64_t *st,
					       bool self_woken)
{
	const uint64_t woken = self_woken ? TD_ST_NOTIFIED : 0;
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & TD_ST_CANCELLED)
			return TD_TO_IDLE_CANCELLED;
		uint64_t n = (s & ~TD_ST_RUNNING) | woken;
		bool notified = (n & TD_ST_NOTIFIED) != 0;
		if (!notified)
			n -= TD_ST_REF_ONE;
		if (td_state_cas(st, &s, n))
			return notified ? TD_TO_IDLE_NOTIFIED : TD_TO_IDLE_OK;
	}
}

static inline enum td_wake_action td_state_wake_by_ref(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		uint64_t n;
		enum td_wake_action act;
		if (s & (TD_ST_COMPLETE | TD_ST_NOTIFIED))
			return TD_WAKE_NOTHING;
		if (s & TD_ST_RUNNING) {
			n = s | TD_ST_NOTIFIED;
			act = TD_WAKE_NOTHING;
		} else {
			n = (s | TD_ST_NOTIFIED) + TD_ST_REF_ONE;
			act = TD_WAKE_SUBMIT;
		}
		if (td_state_cas(st, &s, n))
			return act;
	}
}

#endif /* TD_TASK_STATE_H */
