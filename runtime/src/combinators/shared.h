/* shared.h - internal: the per-child waker block of join_all and select.
 *
 * A combinator with n children owns one heap block holding n child slots.
 * Child i is polled with a waker whose data pointer is &slots[i]; waking it
 * sets slots[i].woken and wakes the parent task through the waker stored in
 * the block.  Leaves may clone a child's waker and keep it anywhere, on any
 * thread, for as long as they like, so the block is reference counted: the
 * combinator holds one reference until it is READY or dropped, every clone
 * of a child waker holds one more, and the last release frees the block.
 *
 * Who touches what:
 *   refs     atomic; anyone.
 *   woken    atomic; set by child wakers (any thread), cleared by the
 *            combinator's real polls (the owner).
 *   done,    the owner only (polls and drop of one future are
 *   retry    serialised).
 *   parent,  under `lock`: written by the owner's polls and by detach,
 *   closed   read by child wakers on any thread.
 */
#ifndef TD_COMBINATORS_SHARED_H
#define TD_COMBINATORS_SHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "taskdump/combinators.h"
#include "taskdump/future.h"
#include "taskdump/waker.h"
#include "trace/leaf.h"

struct td_comb_slot {
	struct td_comb_shared *shared; /* the block this slot lives in */
	atomic_bool woken;             /* child i must be polled again */
	bool done;                     /* child i returned READY (owner) */
	bool retry;                    /* re-poll: READY ignored (owner) */
};

struct td_comb_shared {
	atomic_size_t refs;     /* owner (until put) + live child wakers */
	pthread_mutex_t lock;   /* protects parent and closed */
	td_waker parent;        /* the task to wake; empty once closed */
	bool closed;            /* the owner is gone: wakes reach nobody */
	struct td_comb_slot slots[];
};

/* A new block for n children, each marked woken (so the first poll polls
 * them all) and not done, holding the owner's reference.  NULL when out of
 * memory. */
struct td_comb_shared *td_comb_shared_new(size_t n);

/* Store (a clone of) the parent waker unless it already wakes the same
 * task.  Must happen before the poll scans the woken marks, so that a child
 * wake either is seen by the scan or reaches the new waker. */
void td_comb_shared_set_parent(struct td_comb_shared *sh, const td_waker *w);

/* The owner is finishing (READY or dropped): drop the parent waker and
 * make later child wakes reach nobody.  The block stays valid. */
void td_comb_shared_detach(struct td_comb_shared *sh);

/* Release the owner's reference; the block may be freed on return. */
void td_comb_shared_put(struct td_comb_shared *sh);

/* detach + put: the owner lets go of the block for good. */
static inline void td_comb_shared_close(struct td_comb_shared *sh)
{
	td_comb_shared_detach(sh);
	td_comb_shared_put(sh);
}

/* Child i's waker, borrowed from the block for a poll context: valid while
 * the owner holds its reference; leaves that keep it clone it. */
td_waker td_comb_child_waker(struct td_comb_shared *sh, size_t i);

/* Consume child i's woken mark (real polls only): true when it was set. */
static inline bool td_comb_take_woken(struct td_comb_shared *sh, size_t i)
{
	/* acq_rel: the acquire pairs with the waker's release, so the child
	 * poll that follows sees whatever its waker's caller did before
	 * waking (the release half keeps this RMW in the release sequence). */
	return atomic_exchange_explicit(&sh->slots[i].woken, false,
					memory_order_acq_rel);
}

/* Child i's READY was ignored by a tracing poll: make the next real poll
 * poll it again.  An owner-only flag rather than the woken mark, so that it
 * cannot make a later wake of the child skip waking the parent. */
static inline void td_comb_set_retry(struct td_comb_shared *sh, size_t i)
{
	sh->slots[i].retry = true;
}

/* Real polls only: should child i be polled now?  Consumes its woken mark
 * and retry flag.  Never true for a finished child. */
static inline bool td_comb_should_poll(struct td_comb_shared *sh, size_t i)
{
	struct td_comb_slot *slot = &sh->slots[i];
	bool retry = slot->retry;

	if (slot->done)
		return false;
	slot->retry = false;
	return td_comb_take_woken(sh, i) || retry;
}

/* True while a trace capture runs on this thread for a poll with `cx`. */
static inline bool td_comb_tracing(const td_context *cx)
{
#ifdef TD_TRACING_DISABLED
	(void)cx;
	return false;
#else
	return td_capture_on(cx);
#endif
}

/* Poll `child` with context `cx`.  Through the vtable and never in tail
 * position, so the combinator's frame stays in task traces. */
static inline td_poll td_comb_poll(td_future *child, td_context *cx)
{
	return td_async_poll_child(child, cx);
}

/* Poll child i of a block with its own waker (and the parent context's
 * no_capture). */
static inline td_poll td_comb_poll_child(struct td_comb_shared *sh, size_t i,
					 td_future *child,
					 const td_context *cx)
{
	td_waker w = td_comb_child_waker(sh, i);
	td_context ccx = {.waker = &w, .no_capture = cx->no_capture};

	return td_comb_poll(child, &ccx);
}

#endif /* TD_COMBINATORS_SHARED_H */
