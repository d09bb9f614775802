/* sync_test.h - helpers shared by the sync primitive tests.
 *
 * Futures are polled by hand with counting wakers (tests/common): after a
 * poll, tw.refs counts the clones the primitive kept (its registered
 * wakers) and tw.wakes counts the wakes it delivered.
 */
#ifndef TD_SYNC_TEST_H
#define TD_SYNC_TEST_H

#include <check.h>
#include <sched.h>
#include <stdatomic.h>

#include "taskdump/future.h"
#include "taskdump/trace.h"
#include "task/core.h"
#include "task/current.h"
#include "test_util.h"
#include "test_waker.h"
#include "trace/leaf.h"

/* Poll `fut` once with a fresh waker for `tw` (released after the poll,
 * so tw->refs afterwards counts only what the future kept). */
static inline td_poll poll_tw(void *fut, test_waker *tw)
{
	td_waker w = test_waker_make(tw);
	td_context cx = test_context(&w);
	td_poll r = td_future_poll((td_future *)fut, &cx);

	td_waker_drop(&w);
	return r;
}

static inline int wakes(test_waker *tw)
{
	return atomic_load(&tw->wakes);
}

static inline int refs(test_waker *tw)
{
	return atomic_load(&tw->refs);
}

struct trace_poll_arg {
	void *fut;
	test_waker *tw;
	td_poll result;
};

static inline void trace_poll_fn(void *arg)
{
	struct trace_poll_arg *a = arg;
	a->result = poll_tw(a->fut, a->tw);
}

/* Poll `fut` once inside a trace capture and check the capture's
 * invariants: TD_PENDING, no waker kept, no wake, exactly one backtrace.
 * Returns the trace (free it) for the caller's checks of the td_wait. */
static inline td_trace *trace_poll(void *fut)
{
	test_waker tw;
	struct trace_poll_arg a = {fut, &tw, TD_READY};

	test_waker_init(&tw);
	td_trace *t = td_trace_capture(trace_poll_fn, &a);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(a.result, TD_PENDING);
	ck_assert_int_eq(refs(&tw), 0);
	ck_assert_int_eq(wakes(&tw), 0);
	ck_assert_uint_eq(td_trace_count(t), 1);
	ck_assert_ptr_nonnull(td_trace_get(t, 0));
	return t;
}

/* Run with td_task_current_id() == id (0: outside any task), as the task
 * harness would: a fake task record is enough for the id. */
static inline void set_current_task(struct td_task *fake, uint64_t id)
{
	if (id == 0) {
		td_tls_current_task = NULL;
		return;
	}
	fake->id = id;
	td_tls_current_task = fake;
}

/* Busy-poll `fut` until READY from a plain thread: after a TD_PENDING,
 * wait for the waker to fire (a lost wake hangs, and the test times
 * out).  Returns the number of polls. */
static inline int poll_until_ready(void *fut, test_waker *tw)
{
	int polls = 0;

	for (;;) {
		int before = wakes(tw);
		polls++;
		if (poll_tw(fut, tw) == TD_READY)
			return polls;
		while (wakes(tw) == before)
			sched_yield();
	}
}

/* A small xorshift PRNG for the stress tests (per thread). */
static inline unsigned rnd(unsigned *s)
{
	unsigned x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif /* TD_SYNC_TEST_H */
