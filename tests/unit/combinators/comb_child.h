/* comb_child.h - child futures for the combinator tests.
 *
 * ctl_child: a leaf whose readiness the test controls from any thread.  Its
 * poll starts with td_trace_leaf (TD_WAIT_OTHER, label = its name), counts
 * real polls, registers the waker it is polled with and stays pending
 * until ctl_fire().  Drops are counted.
 *
 * user_child: a non-leaf future of "user code" with no trace hook: READY as
 * soon as its flag is set (even under tracing), without being woken.
 *
 * poke_in_trace: wraps a ctl_child; under tracing it wakes the waker it is
 * polled with before polling the inner child (a wake that arrives while a
 * capture runs).
 */
#ifndef COMB_CHILD_H
#define COMB_CHILD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "taskdump/future.h"
#include "taskdump/trace.h"
#include "taskdump/waker.h"

typedef struct ctl_child {
	td_future base;
	pthread_mutex_t lock;
	bool ready;       /* under lock */
	td_waker waker;   /* under lock: the registered waker */
	const char *label;
	atomic_int polls; /* real polls (not the tracing ones) */
	atomic_int drops;
	atomic_int readies; /* polls that returned READY */
} ctl_child;

void ctl_init(ctl_child *c, const char *label);
/* Make it ready and wake its registered waker (any thread). */
void ctl_fire(ctl_child *c);
/* Wake its registered waker without making it ready (any thread). */
void ctl_poke(ctl_child *c);
/* A clone of its registered waker (empty if none). */
td_waker ctl_clone_waker(ctl_child *c);
/* Release what is left (the registered waker) and the lock. */
void ctl_destroy(ctl_child *c);

/* The poll function of ctl_child, for address-range checks. */
td_poll ctl_poll(td_future *f, td_context *cx);

typedef struct user_child {
	td_future base;
	atomic_bool ready;
	atomic_int polls; /* every poll, tracing or not */
	atomic_int drops;
	td_waker waker;   /* owner only */
} user_child;

void user_init(user_child *u);
void user_destroy(user_child *u);

typedef struct poke_in_trace {
	td_future base;
	ctl_child *inner;
} poke_in_trace;

void poke_init(poke_in_trace *p, ctl_child *inner);

/* Spin (yielding the CPU) until *counter != old; false after 10 s. */
bool wait_change(atomic_int *counter, int old);

#endif /* COMB_CHILD_H */
