/* taskdump/trace.h - the leaf hook and trace capture.
 *
 * Every leaf future (sleep, yield, I/O readiness, join, mutex, semaphore,
 * channels, oneshot, notify, and any leaf a user writes) starts its poll
 * with the leaf hook, describing what it is about to wait on:
 *
 *     static td_poll my_leaf_poll(td_future *f, td_context *cx)
 *     {
 *         my_leaf *self = (my_leaf *)f;
 *         td_wait w = {.kind = TD_WAIT_OTHER, .object = self->thing,
 *                      .label = "my thing"};
 *         if (td_trace_leaf(cx, &w))
 *             return TD_PENDING;
 *         ...
 *     }
 *
 * While no trace capture is running on this thread td_trace_leaf() returns
 * false at the cost of a call and a branch (in a context the runtime made
 * for a real poll, no_capture) or a thread-local load.  During a capture
 * it records the native return addresses from the leaf up to the innermost
 * trace root (the task's top-level poll), records the wait description and
 * returns true: the leaf must then return TD_PENDING at once, with no side
 * effect (no waker registered, nothing consumed).
 *
 * Use td_tracing() first when building the description costs something.
 */
#ifndef TASKDUMP_TRACE_H
#define TASKDUMP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a leaf waits on. */
typedef enum td_wait_kind {
	TD_WAIT_NONE = 0,
	TD_WAIT_SLEEP,      /* deadline_ms */
	TD_WAIT_YIELD,      /* - */
	TD_WAIT_IO,         /* fd, events (TD_WAIT_READ | TD_WAIT_WRITE) */
	TD_WAIT_JOIN,       /* task_id: the task joined */
	TD_WAIT_MUTEX,      /* object: the mutex; task_id: holder (0: none) */
	TD_WAIT_SEMAPHORE,  /* object; count: permits wanted; value: available */
	TD_WAIT_CHAN_SEND,  /* object: the channel; count: queued; value: cap */
	TD_WAIT_CHAN_RECV,  /* object: the channel; count: queued */
	TD_WAIT_ONESHOT,    /* object: the oneshot channel */
	TD_WAIT_NOTIFY,     /* object: the notify */
	TD_WAIT_OTHER,      /* object, label */
} td_wait_kind;

/* td_wait.events bits for TD_WAIT_IO. */
#define TD_WAIT_READ 1u
#define TD_WAIT_WRITE 2u

/* A description of what a leaf is about to wait on.  Only the fields its
 * kind names are meaningful; zero the rest. */
typedef struct td_wait {
	td_wait_kind kind;
	uint32_t flags;        /* TD_WAIT_GRANTED, TD_WAIT_NO_SENDER */
	const void *object;    /* the primitive waited on, for identity */
	const char *label;     /* optional static text, e.g. "accept" */
	union {
		uint64_t deadline_ms; /* TD_WAIT_SLEEP: td_now_ms() clock */
		uint64_t since_ms;    /* TD_WAIT_MUTEX: when the holder took
				       * it (the runtime's coarse monotonic
				       * clock, milliseconds modulo 2^32),
				       * 0 unknown */
	};
	uint64_t task_id;      /* TD_WAIT_JOIN, TD_WAIT_MUTEX */
	uint64_t count;
	uint64_t value;
	int fd;                /* TD_WAIT_IO */
	uint32_t events;       /* TD_WAIT_IO */
} td_wait;

/* td_wait.flags: the lock was already handed to the waiting task (its
 * next poll completes: it waits for nobody). */
#define TD_WAIT_GRANTED 1u
/* td_wait.flags: a receive with no sender left (it completes, closed). */
#define TD_WAIT_NO_SENDER 2u

/* The name of a wait kind ("sleep", "io", "mutex", ...). */
TD_API const char *td_wait_kind_name(td_wait_kind kind);

/* Format `w` as one human-readable line ("sleep until +59.9s",
 * "mutex 0x... held by task 7", ...) into buf.  `now_ms` (td_now_ms clock)
 * makes deadlines relative; 0 leaves them absolute.  Returns the length
 * snprintf would have produced. */
TD_API int td_wait_format(const td_wait *w, uint64_t now_ms, char *buf,
			  size_t size);

/* The leaf hook; see above.  `cx` is the poll context of the leaf. */
TD_API bool td_trace_leaf(td_context *cx, const td_wait *what);

/* True while a trace capture runs on this thread. */
TD_API bool td_tracing(void);

/* ---- capture --------------------------------------------------------- */

/* One backtrace: the return addresses from the leaf (ips[0]) up to the
 * frame just below the trace root (ips[n-1]), and what the leaf waits on. */
typedef struct td_backtrace {
	const uintptr_t *ips;
	size_t n;
	td_wait wait;
	bool truncated; /* the root was not reached within the frame limit */
	/* The name of the runtime leaf's poll function when ips[0] is an
	 * address inside it (the runtime's own leaves), else NULL (leaves
	 * that call td_trace_leaf: ips[0] returns into the leaf). */
	const char *leaf_function;
} td_backtrace;

/* The result of a capture: one backtrace per leaf reached. */
typedef struct td_trace td_trace;

/* Run fn(arg) with a collector installed on this thread and return what the
 * leaves it reached recorded (a task waiting in a join_all of three pending
 * children gives three backtraces).  Only raw addresses are stored.
 * Captures nest: an inner capture has its own collector and the outer one
 * resumes afterwards.  Futures that fn polls must be given contexts of its
 * own making (or their children's), not the context of the poll that calls
 * td_trace_capture: that one has no_capture set (future.h), and leaves
 * polled with it would neither be captured nor stay pending.  Returns NULL
 * only when out of memory. */
TD_API td_trace *td_trace_capture(void (*fn)(void *arg), void *arg);

/* Poll `future` once inside a trace root with a collector installed, with
 * a copy of `cx` as its context (no_capture cleared; NULL: a no-op waker),
 * and return the trace. */
TD_API td_trace *td_trace_future(td_future *future, td_context *cx);

/* Number of backtraces in a trace. */
TD_API size_t td_trace_count(const td_trace *t);

/* Backtrace i (0 <= i < td_trace_count). */
TD_API const td_backtrace *td_trace_get(const td_trace *t, size_t i);

/* Free a trace (NULL is ignored). */
TD_API void td_trace_free(td_trace *t);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_TRACE_H */
