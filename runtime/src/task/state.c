/* state.c - task state transitions (see state.h for the state word).
 *
 * Every transition is a compare-and-swap loop over the whole word, so flag
 * changes and reference counting are one atomic step.  acq_rel on success:
 * the future's memory is handed between pollers through RUNNING, and the
 * output / join waker are published through COMPLETE / JOIN_WAKER.
 */
#include <sched.h>

#include "sched/dump_gate.h"
#include "task/state.h"

static inline bool cas(_Atomic uint64_t *st, uint64_t *cur, uint64_t next)
{
	return td_state_cas(st, cur, next);
}

void td_state_wait_for_tracer(_Atomic uint64_t *st)
{
	uint64_t t0 = td_gate_now_ns();
	while (atomic_load_explicit(st, memory_order_acquire) & TD_ST_TRACING)
		sched_yield();
	td_hold_note(td_gate_now_ns() - t0);
}

uint64_t td_state_to_complete(_Atomic uint64_t *st)
{
	const uint64_t delta = TD_ST_RUNNING | TD_ST_COMPLETE;
	return atomic_fetch_xor_explicit(st, delta, memory_order_acq_rel) ^
	       delta;
}

bool td_state_to_complete_release(_Atomic uint64_t *st, uint64_t n,
				  uint64_t *now)
{
	const uint64_t flip = TD_ST_RUNNING | TD_ST_COMPLETE;
	const uint64_t joiner = TD_ST_JOIN_INTEREST | TD_ST_JOIN_WAKER;
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if ((s & joiner) == joiner) {
			*now = td_state_to_complete(st);
			return false;
		}
		/* RUNNING is ours and COMPLETE clear: the xor flips both. */
		uint64_t next = (s ^ flip) - n * TD_ST_REF_ONE;
		if (cas(st, &s, next)) {
			*now = next;
			return true;
		}
	}
}

enum td_wake_action td_state_wake_by_val(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		uint64_t n;
		enum td_wake_action act;
		if (s & TD_ST_RUNNING) {
			/* The poller re-queues it; the running holder keeps
			 * a reference, so this is never the last one. */
			n = (s | TD_ST_NOTIFIED) - TD_ST_REF_ONE;
			act = TD_WAKE_NOTHING;
		} else if (s & (TD_ST_COMPLETE | TD_ST_NOTIFIED)) {
			n = s - TD_ST_REF_ONE;
			act = td_st_refs(n) == 0 ? TD_WAKE_DEALLOC
						 : TD_WAKE_NOTHING;
		} else {
			/* The waker's reference becomes the Notified one. */
			n = s | TD_ST_NOTIFIED;
			act = TD_WAKE_SUBMIT;
		}
		if (cas(st, &s, n))
			return act;
	}
}

enum td_wake_action td_state_cancel(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		uint64_t n;
		enum td_wake_action act = TD_WAKE_NOTHING;
		if (s & (TD_ST_COMPLETE | TD_ST_CANCELLED))
			return TD_WAKE_NOTHING;
		if (s & TD_ST_RUNNING) {
			n = s | TD_ST_CANCELLED | TD_ST_NOTIFIED;
		} else if (s & TD_ST_NOTIFIED) {
			n = s | TD_ST_CANCELLED;
		} else {
			n = (s | TD_ST_CANCELLED | TD_ST_NOTIFIED) +
			    TD_ST_REF_ONE;
			act = TD_WAKE_SUBMIT;
		}
		if (cas(st, &s, n))
			return act;
	}
}

bool td_state_to_shutdown(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & TD_ST_TRACING) {
			td_state_wait_for_tracer(st);
			s = atomic_load_explicit(st, memory_order_acquire);
			continue;
		}
		uint64_t n = s | TD_ST_CANCELLED;
		bool idle = !(s & (TD_ST_RUNNING | TD_ST_COMPLETE));
		if (idle)
			n |= TD_ST_RUNNING;
		if (cas(st, &s, n))
			return idle;
	}
}

bool td_state_trace_begin(_Atomic uint64_t *st, uint64_t *seen)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & (TD_ST_RUNNING | TD_ST_COMPLETE | TD_ST_TRACING))
			return false;
		if (cas(st, &s, s | TD_ST_TRACING)) {
			*seen = s;
			return true;
		}
	}
}

void td_state_trace_end(_Atomic uint64_t *st)
{
	atomic_fetch_and_explicit(st, ~TD_ST_TRACING, memory_order_acq_rel);
}

bool td_state_set_join_waker(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & TD_ST_COMPLETE)
			return false;
		if (cas(st, &s, s | TD_ST_JOIN_WAKER))
			return true;
	}
}

bool td_state_unset_join_waker(_Atomic uint64_t *st)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		if (s & TD_ST_COMPLETE)
			return false;
		if (cas(st, &s, s & ~TD_ST_JOIN_WAKER))
			return true;
	}
}

bool td_state_drop_join_handle(_Atomic uint64_t *st, uint64_t *prev)
{
	uint64_t s = atomic_load_explicit(st, memory_order_acquire);
	for (;;) {
		uint64_t n = (s & ~TD_ST_JOIN_INTEREST) - TD_ST_REF_ONE;
		if (!(s & TD_ST_COMPLETE))
			n &= ~TD_ST_JOIN_WAKER;
		if (cas(st, &s, n)) {
			if (prev)
				*prev = s;
			return td_st_refs(n) == 0;
		}
	}
}
