/* leaf.h - internal: the leaf hook and the cooperative budget, as used by
 * the runtime's own leaf futures.
 *
 * Every leaf poll function in the runtime begins with
 *
 *     TD_LEAF_HOOK(cx, .kind = TD_WAIT_SLEEP, .deadline_ms = self->deadline);
 *
 * which, in a real poll by the runtime, is a test of the context's
 * no_capture flag and a not-taken branch (in other contexts also one
 * thread-local load), and needs no stack frame; the td_wait is only built
 * when tracing.  During a capture it records the backtrace and makes the
 * poll function return TD_PENDING at once.
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

/* True when `cx` may be polled under a trace capture on this thread: a
 * context the runtime made for a real poll says it cannot (no_capture, two
 * instructions); any other context costs a look at td_tls_collector. */
static inline bool td_capture_on(const td_context *cx)
{
	return __builtin_expect(cx->no_capture != TD_NO_CAPTURE, 0) &&
	       td_tls_collector != NULL;
}

/* For the poll function of a leaf: GCC keeps a leaf's frame setup off its
 * fast path only when the frame pointer may be omitted, and the hook's slow
 * path below is a tail call only when sibling calls are allowed (the
 * project turns them off so that async functions keep their frames).
 * Leaves need no frame of their own: trace captures unwind with DWARF and
 * name the leaf by the hook's address, and a stuck worker is stuck in user
 * code, not in a leaf. */
#if defined(__GNUC__) && !defined(__clang__)
#define TD_LEAF_FN                                                            \
	__attribute__((optimize("omit-frame-pointer", "optimize-sibling-calls")))
#else
#define TD_LEAF_FN
#endif

/* Slow path of the public td_trace_leaf(): record a backtrace for `what`
 * into the current collector, the caller of td_trace_leaf first.  Always
 * returns true (the leaf must return TD_PENDING). */
bool td_trace_record_leaf(const td_wait *what);

/* Slow path of TD_LEAF_HOOK: record a backtrace for `what` whose first
 * frame is `leaf_ip` (an address inside the leaf, plus one, so that it
 * symbolizes like a return address into the leaf), followed by the leaf's
 * callers up to the innermost root.  `leaf_function` is the leaf's name
 * (its __func__): the address may lie in a helper inlined into the hook's
 * arguments (peek_len() in a channel's count), and the dump shows the leaf
 * itself as the last frame, whatever the compiler inlined there.  Returns
 * TD_PENDING, which the leaf returns.
 *
 * The hook enters it by a tail call, so that the leaf's fast path needs no
 * stack frame (a call would make GCC set one up on entry to every leaf).
 * The leaf's frame is then gone from the native stack, hence leaf_ip; when
 * the compiler did not make it a tail call (-O0, sanitizers) the leaf's
 * frame is still there, and is recognised by its function's address range
 * and skipped. */
td_poll td_trace_record_leaf_at(const td_wait *what, const void *leaf_ip,
				const char *leaf_function);

/* Where the hook builds its wait description.  Thread-local rather than a
 * local variable: a stack object would keep the slow path from being a
 * tail call, and make every leaf set up a stack frame on its hot path. */
extern __thread td_wait td_tls_leaf_wait
	__attribute__((tls_model("initial-exec")));

#ifdef TD_TRACING_DISABLED
/* Built with -Dtracing=false: the hook compiles to nothing. */
#define TD_LEAF_HOOK(cx, ...) ((void)(cx))
#else
/* td_leaf_here labels the slow path (a local label and its address are GNU
 * extensions): its address names the leaf in the backtrace.  Nothing here
 * may need the leaf's stack frame (__builtin_return_address would). */
#define TD_LEAF_HOOK(cx, ...)                                                 \
	do {                                                                  \
		if (td_capture_on(cx)) {                                      \
			__label__ td_leaf_here;                               \
		td_leaf_here:                                                 \
			td_tls_leaf_wait = (td_wait){__VA_ARGS__};            \
			return td_trace_record_leaf_at(                       \
				&td_tls_leaf_wait,                            \
				(const char *)&&td_leaf_here + 1, __func__);  \
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
