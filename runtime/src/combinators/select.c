/* select.c - wait for the first of several child futures.
 *
 * Same per-child wakers as join_all (shared.c).  A real poll scans the
 * woken children from a start index that advances by one every poll
 * (round-robin) - or from 0 when biased - and the first child that returns
 * READY wins; every other child is then dropped before the poll returns.
 * Children after the winner in the scan are not polled at all: they are
 * about to be dropped.
 *
 * A tracing poll visits every child in index order (so dumps list them in
 * a stable order), picks no winner and drops nothing.
 */
#include <errno.h>

#include "combinators/shared.h"

static td_poll td_select_poll(td_future *f, td_context *cx);
static void select_drop(td_future *f);

static const td_future_vtable select_vtable = {
	.poll = td_select_poll,
	.drop = select_drop,
	.output = NULL,
	.type_name = "td_select",
};

static void select_init(td_select *s, td_future **children, size_t n,
			bool biased)
{
	s->base.vtable = &select_vtable;
	s->children = children;
	s->n = n;
	s->winner = TD_SELECT_NONE;
	s->error = 0;
	s->biased = biased;
	s->next_start = 0;
	s->shared = NULL;
}

void td_select_init(td_select *s, td_future **children, size_t n)
{
	select_init(s, children, n, false);
}

void td_select_init_biased(td_select *s, td_future **children, size_t n)
{
	select_init(s, children, n, true);
}

static bool select_finished(const td_select *s)
{
	return s->winner != TD_SELECT_NONE || s->error != 0;
}

/* Drop every child but `keep` (TD_SELECT_NONE: drop them all). */
static void drop_all_but(td_select *s, size_t keep)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i != keep)
			td_future_drop(s->children[i]);
	}
}

/* Tracing: poll every child; record nothing. */
static td_poll td_select_trace(td_select *s, td_context *cx)
{
	struct td_comb_shared *sh = s->shared;

	if (select_finished(s))
		return TD_PENDING;
	for (size_t i = 0; i < s->n; i++) {
		if (!sh) {
			/* Never polled for real: see join_all_trace. */
			(void)td_comb_poll(s->children[i], cx);
			continue;
		}
		if (td_comb_poll_child(sh, i, s->children[i], cx) == TD_READY)
			td_comb_set_retry(sh, i);
	}
	return TD_PENDING;
}

/* The first poll: allocate the child wakers, or fail the select. */
static bool select_start(td_select *s)
{
	if (s->n == 0) {
		s->error = -EINVAL;
		return false;
	}
	s->shared = td_comb_shared_new(s->n);
	if (!s->shared) {
		drop_all_but(s, TD_SELECT_NONE);
		s->error = -ENOMEM;
		return false;
	}
	return true;
}

/* Child `w` won: detach, drop the losers, let go of the block. */
static void select_finish(td_select *s, size_t w)
{
	struct td_comb_shared *sh = s->shared;

	s->winner = w;
	s->shared = NULL;
	td_comb_shared_detach(sh);
	drop_all_but(s, w);
	td_comb_shared_put(sh);
}

static td_poll td_select_poll(td_future *f, td_context *cx)
{
	td_select *s = (td_select *)f;
	struct td_comb_shared *sh;
	size_t start;

	if (td_comb_tracing(cx))
		return td_select_trace(s, cx);
	if (select_finished(s))
		return TD_READY; /* polled again after READY */
	if (!s->shared && !select_start(s))
		return TD_READY;
	sh = s->shared;
	td_comb_shared_set_parent(sh, cx->waker);
	start = s->biased ? 0 : s->next_start;
	s->next_start = start + 1 < s->n ? start + 1 : 0;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = start + k < s->n ? start + k : start + k - s->n;

		if (!td_comb_should_poll(sh, i))
			continue;
		if (td_comb_poll_child(sh, i, s->children[i], cx) == TD_READY) {
			select_finish(s, i);
			return TD_READY;
		}
	}
	return TD_PENDING;
}

static void select_drop(td_future *f)
{
	td_select *s = (td_select *)f;
	struct td_comb_shared *sh = s->shared;

	if (select_finished(s))
		return; /* READY: the losers are gone, the winner is done */
	if (sh)
		td_comb_shared_detach(sh);
	drop_all_but(s, TD_SELECT_NONE);
	/* Mark the select finished so a second drop is a no-op. */
	s->error = -ECANCELED;
	s->shared = NULL;
	if (sh)
		td_comb_shared_put(sh);
}
