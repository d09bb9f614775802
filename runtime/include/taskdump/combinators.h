/* taskdump/combinators.h - join_all, select and yield_now.
 *
 * td_join_all waits for every one of several child futures, td_select for
 * the first of them; both run their children inside the task that polls
 * them, so a task dump shows one backtrace per pending child.  td_yield
 * gives the other tasks a turn.
 *
 * The children are embedded elsewhere (usually next to the combinator in the
 * parent's struct); the combinator only holds an array of pointers to them,
 * which must stay valid (and the children must not move) until the
 * combinator is READY or dropped:
 *
 *     typedef struct {
 *         td_future      base;
 *         td_async       as;
 *         td_join_handle handle;      // a task spawned earlier
 *         td_sleep       nap;         // children, embedded
 *         td_join        worker;
 *         td_future     *kids[2];     // the combinator's view of them
 *         td_join_all    all;
 *     } gather;
 *
 *     static td_poll gather_poll(td_future *f, td_context *cx)
 *     {
 *         gather *self = (gather *)f;
 *         TD_BEGIN(&self->as);
 *         td_sleep_init(&self->nap, 100);
 *         td_join_init(&self->worker, &self->handle);
 *         self->kids[0] = &self->nap.base;
 *         self->kids[1] = &self->worker.base;
 *         td_join_all_init(&self->all, self->kids, 2);
 *         TD_AWAIT(&self->as, &self->all, cx);
 *         // both children are READY: read their results from their
 *         // structs (self->worker.output, self->worker.error)
 *         TD_END(&self->as);
 *     }
 *
 *     static void gather_drop(td_future *f)
 *     {
 *         td_async_drop(&((gather *)f)->as); // drops `all`, which drops
 *     }                                      // its unfinished children
 *
 * Per-child wakers
 * ----------------
 * Each child is polled with a waker of its own.  Waking it marks only that
 * child for re-polling and wakes the task, so a poll of the combinator polls
 * just the children that were woken (every child on the first poll) - a
 * join_all of 1000 children does not poll 1000 futures per wake-up.  The
 * wakers live in a small reference-counted heap block allocated on the first
 * poll: leaves may keep clones of a child's waker (timer entries, waiter
 * lists) and wake them from any thread at any time, even after the
 * combinator has finished or been dropped, when the wake does nothing.
 *
 * Task dumps
 * ----------
 * While a trace capture runs on the polling thread (td_tracing()), join_all
 * and select poll every unfinished child, woken or not, so that the dump
 * sees every leaf, and change nothing: woken marks are kept, no child is
 * recorded as finished, select picks no winner and drops nothing, the task
 * waker stored for later wake-ups is kept, and the combinator returns
 * TD_PENDING.  The next real poll behaves as if the tracing poll had not
 * happened.  The runtime's leaves never complete under tracing; should a
 * child of your own nevertheless return TD_READY during a tracing poll, the
 * combinator ignores that result and marks the child for re-polling, so the
 * child is polled again by the next real poll (it must then report READY
 * once more: a plain TD_BEGIN/TD_END async function would abort, so such a
 * child should check td_tracing() itself before completing).
 *
 * Thread safety: a combinator is polled and dropped by one task at a time,
 * like any future; its children's wakers may be used from any thread.
 */
#ifndef TASKDUMP_COMBINATORS_H
#define TASKDUMP_COMBINATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/export.h"
#include "taskdump/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The per-child waker block; private to the runtime. */
struct td_comb_shared;

/* ---- join_all --------------------------------------------------------- */

/* Wait for all of `n` children.  READY once every child has returned
 * TD_READY; each child is polled until it is READY and never after. */
typedef struct td_join_all {
	td_future base;
	td_future **children;          /* the children, not owned */
	size_t n;
	size_t remaining;              /* children not READY yet */
	int error;                     /* after READY: 0, or -ENOMEM (see
					* td_join_all_init) */
	struct td_comb_shared *shared; /* private: NULL until the first poll
					* and again after READY or drop */
} td_join_all;

/* Prepare `j` to wait for children[0..n-1] (the array and the children must
 * outlive the join_all's use; no allocation happens here).  Any `n` works:
 * with n == 0 the join_all is READY at its first poll.  Call it on a fresh
 * struct or one that is READY or dropped, never on one still in use.
 *
 * Dropping the join_all (td_future_drop) drops every child that is not READY
 * yet, once.  The first poll allocates the children's waker block; if that
 * fails the join_all drops all its children and completes at once with
 * error -ENOMEM. */
TD_API void td_join_all_init(td_join_all *j, td_future **children, size_t n);

/* ---- select ----------------------------------------------------------- */

/* td_select.winner before READY, and after READY with an error. */
#define TD_SELECT_NONE SIZE_MAX

/* Wait for the first of `n` children.  The first child found READY wins:
 * its index is stored in `winner` and every other child is dropped
 * (td_future_drop) at once, before the select returns READY; they are never
 * polled again.  The winner itself is not dropped (it is READY).
 *
 * Fairness: each poll scans the woken children starting one index further
 * than the previous poll did (round-robin), so no child wins ties forever
 * and a child that is always ready cannot starve the others.  A biased
 * select (td_select_init_biased) scans in index order, so that among the
 * children ready at the same poll the lowest index wins, like Tokio's
 * `select! { biased; ... }`. */
typedef struct td_select {
	td_future base;
	td_future **children;          /* the children, not owned */
	size_t n;
	size_t winner;                 /* TD_SELECT_NONE, or after READY the
					* index of the winning child */
	int error;                     /* after READY: 0, -EINVAL (n == 0) or
					* -ENOMEM (see td_join_all_init);
					* -ECANCELED once dropped */
	bool biased;                   /* scan in index order every poll */
	size_t next_start;             /* private: round-robin position */
	struct td_comb_shared *shared; /* private, as in td_join_all */
} td_select;

/* Prepare `s` to race children[0..n-1] (round-robin, see td_select).  As
 * td_join_all_init otherwise.  With n == 0 the select completes at its
 * first poll with winner TD_SELECT_NONE and error -EINVAL.  On -ENOMEM
 * every child is dropped and winner stays TD_SELECT_NONE.  Dropping a
 * select that is not READY drops every child once. */
TD_API void td_select_init(td_select *s, td_future **children, size_t n);

/* As td_select_init, but in index order: lower indices win ties. */
TD_API void td_select_init_biased(td_select *s, td_future **children,
				  size_t n);

/* ---- yield_now -------------------------------------------------------- */

/* Give other tasks a turn: the first poll wakes the task (so it is queued
 * again behind the tasks already runnable) and returns TD_PENDING, the
 * second returns TD_READY.  A leaf: dumps show it as "yield".  Holds
 * nothing, so dropping it is a no-op. */
typedef struct td_yield {
	td_future base;
	bool yielded; /* the first poll has happened */
} td_yield;

/* Prepare `y` (a fresh yield point; re-initialise it to yield again). */
TD_API void td_yield_init(td_yield *y);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_COMBINATORS_H */
