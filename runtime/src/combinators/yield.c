/* yield.c - td_yield: let the other runnable tasks have a turn.
 *
 * The first poll wakes the task and returns TD_PENDING: the scheduler
 * queues the task again behind whatever is runnable.  Inside join_all or
 * select the wake goes to the child's own waker, which marks that child
 * and wakes the task, so the yield behaves the same there.
 */
#include "taskdump/combinators.h"
#include "trace/leaf.h"

static td_poll td_yield_poll(td_future *f, td_context *cx);

static const td_future_vtable yield_vtable = {
	.poll = td_yield_poll,
	.drop = NULL, /* holds nothing: no registration, no waker */
	.output = NULL,
	.type_name = "td_yield",
};

void td_yield_init(td_yield *y)
{
	y->base.vtable = &yield_vtable;
	y->yielded = false;
}

TD_LEAF_FN static td_poll td_yield_poll(td_future *f, td_context *cx)
{
	td_yield *y = (td_yield *)f;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_YIELD);
	if (y->yielded)
		return TD_READY;
	y->yielded = true;
	td_waker_wake_by_ref(cx->waker);
	return TD_PENDING;
}
