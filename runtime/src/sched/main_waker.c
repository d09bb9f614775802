/* main_waker.c - the waker of a td_runtime_block_on future.
 *
 * Heap-allocated and reference counted, because the future may store
 * clones of its waker anywhere, to be woken after block_on has returned.
 * Waking sets `woken` and unparks `target` (the current-thread driver's
 * parker, or the block_on thread's own).  While any clone lives it holds a
 * runtime reference, so the target parker's memory stays valid.
 */
#include <stdlib.h>

#include "sched/main_waker.h"
#include "sched/runtime_impl.h"

static const td_waker_vtable main_waker_vtable;

struct td_main_waker *td_main_waker_new(struct td_runtime *rt,
					struct td_parker *target)
{
	struct td_main_waker *mw = malloc(sizeof(*mw));
	if (!mw)
		return NULL;
	atomic_init(&mw->refs, 1);
	atomic_init(&mw->woken, true);
	td_parker_init(&mw->own);
	mw->target = target ? target : &mw->own;
	mw->driver_rt = target ? rt : NULL;
	mw->rt = rt;
	td_runtime_ref(rt);
	return mw;
}

static void release(struct td_main_waker *mw)
{
	if (atomic_fetch_sub_explicit(&mw->refs, 1, memory_order_acq_rel) ==
	    1) {
		td_runtime_unref(mw->rt);
		free(mw);
	}
}

void td_main_waker_release(struct td_main_waker *mw)
{
	release(mw);
}

td_waker td_main_waker_borrow(struct td_main_waker *mw)
{
	return (td_waker){&main_waker_vtable, mw};
}

bool td_main_waker_take(struct td_main_waker *mw)
{
	return atomic_exchange_explicit(&mw->woken, false,
					memory_order_acq_rel);
}

static td_waker mw_clone(const void *data)
{
	struct td_main_waker *mw = (struct td_main_waker *)data;
	atomic_fetch_add_explicit(&mw->refs, 1, memory_order_relaxed);
	return (td_waker){&main_waker_vtable, mw};
}

static void mw_wake_by_ref(const void *data)
{
	struct td_main_waker *mw = (struct td_main_waker *)data;
	atomic_store_explicit(&mw->woken, true, memory_order_release);
	td_parker_unpark(mw->target, mw->driver_rt);
}

static void mw_wake(void *data)
{
	mw_wake_by_ref(data);
	release(data);
}

static void mw_drop(void *data)
{
	release(data);
}

static const td_waker_vtable main_waker_vtable = {
	.clone = mw_clone,
	.wake = mw_wake,
	.wake_by_ref = mw_wake_by_ref,
	.drop = mw_drop,
};
