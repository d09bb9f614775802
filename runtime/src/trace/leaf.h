/* leaf.h - internal: the leaf hook and the cooperative budget, as used by
 * the runtime's own leaf futures.
 *
 * Every leaf poll function in the runtime begins with
 *
 *     TD_LEAF_HOOK(cx, .kind = TD_WAIT_SLEEP, .deadline_ms = self->deadline);
 *
 * which, when no capture runs on this thread, is one thread-local load and
 * a not-taken branch (the td_wait is only built when tracing).  During a
 * capture it records the backtrace and makes the poll function return
 * TD_PENDING at once.
 *
 * Leaves that are about to complete without waiting then call
 * td_coop_proceed(cx): when the task has used up its budget for this poll,
 * it wakes the task and returns false, and the leaf returns TD_PENDING
 * without side effects, so one busy task cannot starve the others.
 */
#ifndef TD_TRACE_LEAF_H
#define TD_TRACE_LEAF_H

#include <stdatomic.h>
#include <stdbool.h>

#include "taskdump/future.h"
#include "taskdump/trace.h"

struct td_collector;

/* This thread's capture in progress, or NULL (the common case). */
extern __thread struct td_collector *td_tls_collector
	__attribute__((tls_model("initial-exec")));

/* For the poll function of a leaf: GCC keeps a leaf's frame setup off its
 * fast path only when the frame pointer may be omitted.  Leaves need no
 * frame pointer of their own: trace captures unwind with DWARF, and a
 * stuck worker is stuck in user code, not in a leaf. */
#if defined(__GNUC__) && !defined(__clang__)
#define TD_LEAF_FN __attribute__((optimize("omit-frame-pointer")))
#else
#define TD_LEAF_FN
#endif

/* Slow path of the hook: record a backtrace for `what` into the current
 * collector.  Always returns true (the leaf must return TD_PENDING). */
bool td_trace_record_leaf(const td_wait *what);

/* Where the hook builds its wait description.  Thread-local rather than a
 * local variable: a stack object on the (cold) tracing path would make
 * every leaf set up a stack frame on its hot path too. */
extern __thread td_wait td_tls_leaf_wait
	__attribute__((tls_model("initial-exec")));

#ifdef TD_TRACING_DISABLED
/* Built with -Dtracing=false: the hook compiles to nothing. */
#define TD_LEAF_HOOK(cx, ...) ((void)(cx))
#else
#define TD_LEAF_HOOK(cx, ...)                                                 \
	do {                                                                  \
		(void)(cx);                                                   \
		if (__builtin_expect(td_tls_collector != NULL, 0)) {          \
			td_tls_leaf_wait = (td_wait){__VA_ARGS__};            \
			td_trace_record_leaf(&td_tls_leaf_wait);              \
			return TD_PENDING;                                    \
		}                                                             \
	} while (0)
#endif

/* Operations left in the current poll's budget; negative: unlimited
 * (outside the runtime's schedulers). */
extern __thread int td_tls_budget __attribute__((tls_model("initial-exec")));

/* See above.  Consumes one unit of budget when it returns true. */
static inline bool td_coop_proceed(td_context *cx)
{
	if (td_tls_budget < 0)
		return true;
	if (td_tls_budget == 0) {
		td_waker_wake_by_ref(cx->waker);
		return false;
	}
	td_tls_budget--;
	return true;
}

#endif /* TD_TRACE_LEAF_H */
