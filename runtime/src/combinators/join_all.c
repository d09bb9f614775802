/* join_all.c - wait for every one of several child futures.
 *
 * A real poll stores the task's waker in the shared block, then polls each
 * unfinished child whose own waker has been woken since its last poll (all
 * of them the first time), in index order.  A child woken while the pass
 * runs (or by itself, as td_yield does) has also woken the task, so the
 * next poll picks it up: one pass per poll keeps a self-waking child from
 * spinning inside a single poll.
 *
 * A tracing poll (see combinators.h) visits every unfinished child with the
 * same waker a real poll would give it, and writes nothing but the retry
 * flag of a child that returned READY anyway.
 */
#include <errno.h>

#include "combinators/shared.h"

static td_poll td_join_all_poll(td_future *f, td_context *cx);
static void join_all_drop(td_future *f);

static const td_future_vtable join_all_vtable = {
	.poll = td_join_all_poll,
	.drop = join_all_drop,
	.output = NULL,
	.type_name = "td_join_all",
};

void td_join_all_init(td_join_all *j, td_future **children, size_t n)
{
	j->base.vtable = &join_all_vtable;
	j->children = children;
	j->n = n;
	j->remaining = n;
	j->error = 0;
	j->shared = NULL;
}

/* Drop every child not known to be finished. */
static void drop_unfinished(td_join_all *j)
{
	for (size_t i = 0; i < j->n; i++) {
		if (!j->shared || !j->shared->slots[i].done)
			td_future_drop(j->children[i]);
	}
	j->remaining = 0;
}

/* Tracing: poll every unfinished child; record nothing. */
static td_poll td_join_all_trace(td_join_all *j, td_context *cx)
{
	struct td_comb_shared *sh = j->shared;

	for (size_t i = 0; i < j->n && j->remaining > 0; i++) {
		if (!sh) {
			/* Never polled for real: no child wakers yet, and
			 * allocating them would be a side effect.  The next
			 * real poll polls every child anyway. */
			(void)td_comb_poll(j->children[i], cx);
			continue;
		}
		if (sh->slots[i].done)
			continue;
		if (td_comb_poll_child(sh, i, j->children[i], cx) == TD_READY)
			td_comb_set_retry(sh, i);
	}
	return TD_PENDING;
}

static td_poll td_join_all_poll(td_future *f, td_context *cx)
{
	td_join_all *j = (td_join_all *)f;
	struct td_comb_shared *sh;

	if (td_comb_tracing(cx))
		return td_join_all_trace(j, cx);
	if (j->remaining == 0)
		return TD_READY; /* n == 0, or polled again after READY */
	if (!j->shared) {
		j->shared = td_comb_shared_new(j->n);
		if (!j->shared) {
			drop_unfinished(j);
			j->error = -ENOMEM;
			return TD_READY;
		}
	}
	sh = j->shared;
	td_comb_shared_set_parent(sh, cx->waker);
	for (size_t i = 0; i < j->n; i++) {
		if (!td_comb_should_poll(sh, i))
			continue;
		if (td_comb_poll_child(sh, i, j->children[i], cx) == TD_READY) {
			sh->slots[i].done = true;
			j->remaining--;
		}
	}
	if (j->remaining > 0)
		return TD_PENDING;
	j->shared = NULL;
	td_comb_shared_close(sh);
	return TD_READY;
}

static void join_all_drop(td_future *f)
{
	td_join_all *j = (td_join_all *)f;
	struct td_comb_shared *sh = j->shared;

	if (j->remaining == 0)
		return; /* READY (or empty): holds nothing */
	/* Detach the parent first, so that wakes the children's drops may
	 * cause reach nobody; the block stays valid for drop_unfinished. */
	if (sh)
		td_comb_shared_detach(sh);
	drop_unfinished(j);
	j->shared = NULL;
	if (sh)
		td_comb_shared_put(sh);
}
