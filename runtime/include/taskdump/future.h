/* taskdump/future.h - futures, poll contexts and async functions in C.
 *
 * A future is a C struct whose first member is a td_future (a pointer to its
 * vtable).  Polling it either finishes it (TD_READY) or leaves it waiting
 * (TD_PENDING); a future that returns TD_PENDING has arranged for the waker
 * in the poll context to be woken when polling again can make progress.
 *
 * A future's result lives in its own struct: after TD_READY the owner reads
 * whatever fields the future documents.  The top-level future of a task may
 * also report a pointer-sized result through vtable->output, which the task's
 * join handle hands to whoever awaits it.
 *
 * Futures must not move in memory once polled (timers and waiter lists point
 * into them).  td_spawn copies a future into its task before the first poll.
 *
 * Async functions
 * ---------------
 * An async function is a future struct with a td_async member and a poll
 * function written between TD_BEGIN and TD_END.  Children are embedded in the
 * parent struct and awaited with TD_AWAIT, so while a task is polled the
 * native call stack is its await chain - which is what makes task dumps work:
 *
 *     typedef struct {
 *         td_future base;
 *         td_async  as;
 *         td_sleep  nap;          // child future, embedded
 *         int       rounds;       // state that survives across awaits
 *     } ticker;
 *
 *     static td_poll ticker_poll(td_future *f, td_context *cx)
 *     {
 *         ticker *self = (ticker *)f;
 *         TD_BEGIN(&self->as);
 *         for (self->rounds = 0; self->rounds < 3; self->rounds++) {
 *             td_sleep_init(&self->nap, 100);
 *             TD_AWAIT(&self->as, &self->nap, cx);
 *         }
 *         TD_END(&self->as);
 *     }
 *
 * The macros build a switch statement (as protothreads do), so local
 * variables do not survive a TD_AWAIT - keep state in the struct - and at
 * most one TD_AWAIT may stand on a source line.  Dropping a suspended async
 * function drops the child it is waiting on: call td_async_drop() from the
 * struct's drop function.
 */
#ifndef TASKDUMP_FUTURE_H
#define TASKDUMP_FUTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "taskdump/export.h"
#include "taskdump/waker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The result of a poll. */
typedef enum td_poll {
	TD_PENDING = 0, /* not finished; the context's waker will be woken */
	TD_READY = 1,   /* finished; the result is in the future's struct */
} td_poll;

typedef struct td_future td_future;
typedef struct td_context td_context;

/* What a kind of future can do. */
typedef struct td_future_vtable {
	/* Required.  Advance the future; see td_poll. */
	td_poll (*poll)(td_future *self, td_context *cx);
	/* Optional.  Abandon a future that has not returned TD_READY (it may
	 * never have been polled): release its registrations and resources.
	 * After TD_READY a future holds nothing that needs dropping. */
	void (*drop)(td_future *self);
	/* Optional.  The pointer-sized result a task's join handle reports;
	 * called once, right after the task's future returned TD_READY. */
	void *(*output)(td_future *self);
	/* Optional.  A name for this kind of future, for diagnostics: task
	 * dumps show it for a task's (or block_on's) top-level future. */
	const char *type_name;
} td_future_vtable;

/* The first member of every future. */
struct td_future {
	const td_future_vtable *vtable;
};

/* td_context.no_capture in the contexts of the runtime's real polls. */
#define TD_NO_CAPTURE 0x6e6f6361u

/* Passed to every poll: who to wake when the future can make progress.
 * Build your own as `td_context cx = {.waker = &w};` (no_capture 0). */
struct td_context {
	const td_waker *waker;
	/* TD_NO_CAPTURE only in the contexts the runtime makes for its real
	 * polls (and carried into the contexts its combinators make for their
	 * children): no trace capture is running for this poll, so leaf hooks
	 * need not look for one.  Any other value (0 in a context of your
	 * own; a magic value, so that a stray one is not taken for it) makes
	 * them look.  A future polled inside td_trace_capture() must not be
	 * given a context that has it (its leaves would not be captured and
	 * would run for real); td_trace_future() clears it itself. */
	uint32_t no_capture;
};

/* Poll `f` once. */
static inline td_poll td_future_poll(td_future *f, td_context *cx)
{
	return f->vtable->poll(f, cx);
}

/* Drop (abandon) `f`: see td_future_vtable.drop. */
static inline void td_future_drop(td_future *f)
{
	if (f->vtable->drop)
		f->vtable->drop(f);
}

/* ---- async functions ------------------------------------------------- */

/* The resume state of an async function; zero-initialise it (or call
 * td_async_init) before the first poll. */
typedef struct td_async {
	int resume;           /* 0: start; a line number: suspended there */
	td_future *awaiting;  /* the child being awaited, or NULL */
} td_async;

#define TD_ASYNC__DONE (-1)

/* Reset an async state to "not started". */
static inline void td_async_init(td_async *as)
{
	as->resume = 0;
	as->awaiting = NULL;
}

/* True once the async function has reached TD_END or TD_RETURN. */
static inline bool td_async_done(const td_async *as)
{
	return as->resume == TD_ASYNC__DONE;
}

/* Drop the child the async function is suspended on, if any.  Call it from
 * the drop function of every async function that awaits children. */
static inline void td_async_drop(td_async *as)
{
	if (as->awaiting) {
		td_future *child = as->awaiting;
		as->awaiting = NULL;
		td_future_drop(child);
	}
}

/* Aborts the process with a message naming file:line: an async function was
 * polled again after it had returned TD_READY. */
TD_API TD_NORETURN void td_async_polled_after_completion(const char *file, int line);

/* Poll a child from an await point.  The empty asm after the call keeps the
 * call out of tail position, so the awaiting function keeps its own stack
 * frame - and its place in task traces - at any optimisation level. */
static inline td_poll td_async_poll_child(td_future *child, td_context *cx)
{
	td_poll r = child->vtable->poll(child, cx);
	__asm__ volatile("" ::: "memory");
	return r;
}

#define TD_BEGIN(as)                 \
	switch ((as)->resume) {      \
	case 0:

/* Await `child` (a td_future *, usually &self->some_child): poll it, and
 * return TD_PENDING from the enclosing poll function until it is ready.
 *
 * The empty asm that names __LINE__ makes the code after each await's call
 * differ from every other await's: without it an optimiser that merges
 * identical code tails (GCC's cross-jumping and tail merging, at -O2, -O3
 * and -Os) folds two equal TD_AWAITs - the two branches of an `if` - into
 * one call, and a dump would show both at one line.  It emits nothing and
 * needs no compiler flag. */
#define TD_AWAIT(as, child, cx)                                                \
	do {                                                                   \
		(as)->awaiting = (td_future *)(child);                         \
		(as)->resume = __LINE__;                                       \
		__attribute__((fallthrough));                                  \
	case __LINE__:                                                         \
		if (td_async_poll_child((as)->awaiting, (cx)) == TD_PENDING) { \
			__asm__ volatile("" : : "i"(__LINE__));                \
			return TD_PENDING;                                     \
		}                                                              \
		(as)->awaiting = NULL;                                         \
	} while (0)

/* Finish early: the async function is ready. */
#define TD_RETURN(as)                             \
	do {                                      \
		(as)->resume = TD_ASYNC__DONE;    \
		return TD_READY;                  \
	} while (0)

#define TD_END(as)                                                        \
	(as)->resume = TD_ASYNC__DONE;                                    \
	return TD_READY;                                                  \
	default:                                                          \
		td_async_polled_after_completion(__FILE__, __LINE__);     \
	}

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_FUTURE_H */
