/* dump_actors.c - the actors of dump tests and checks of their dumps
 * (dump_actors.h). */
#include <stdio.h>
#include <string.h>

#include "dump_actors.h"
#include "dump_fixtures.h"
#include "test_util.h"

typedef struct actor {
	td_future base;
	td_async as;
	struct op ops[NOPS];
	size_t nops, pc, loops, loop;
	union {
		td_mutex_lock lk;
		td_semaphore_acquire aq;
		td_notified nf;
		td_join j;
		td_sleep sl;
	} u;
	atomic_int *done;
} actor;

/* The steps run in order, `loops` times (0: once).  Not a switch: the
 * awaits' case labels must belong to TD_BEGIN's. */
static td_poll actor_poll(td_future *f, td_context *cx)
{
	actor *a = (actor *)f;
	TD_BEGIN(&a->as);
	for (; a->loop <= a->loops; a->loop++) {
		for (a->pc = 0; a->pc < a->nops; a->pc++) {
			if (a->ops[a->pc].k == OP_LOCK) {
				td_mutex_lock_init(&a->u.lk, a->ops[a->pc].m);
				TD_AWAIT(&a->as, &a->u.lk, cx);
			} else if (a->ops[a->pc].k == OP_UNLOCK) {
				td_mutex_unlock(a->ops[a->pc].m);
			} else if (a->ops[a->pc].k == OP_ACQ) {
				td_semaphore_acquire_init(&a->u.aq,
							  a->ops[a->pc].s,
							  a->ops[a->pc].permits);
				TD_AWAIT(&a->as, &a->u.aq, cx);
			} else if (a->ops[a->pc].k == OP_REL) {
				td_semaphore_release(a->ops[a->pc].s,
						     a->ops[a->pc].permits);
			} else if (a->ops[a->pc].k == OP_WAIT) {
				td_notified_init(&a->u.nf, a->ops[a->pc].n);
				TD_AWAIT(&a->as, &a->u.nf, cx);
			} else if (a->ops[a->pc].k == OP_JOIN) {
				td_join_init(&a->u.j, a->ops[a->pc].h);
				TD_AWAIT(&a->as, &a->u.j, cx);
			} else if (a->ops[a->pc].k == OP_SLEEP) {
				td_sleep_init(&a->u.sl, a->ops[a->pc].ms);
				TD_AWAIT(&a->as, &a->u.sl, cx);
			} else {
				atomic_fetch_add(a->ops[a->pc].ctr, 1);
			}
		}
	}
	if (a->done)
		atomic_fetch_add(a->done, 1);
	TD_END(&a->as);
}

static void actor_drop(td_future *f)
{
	td_async_drop(&((actor *)f)->as);
}

static const td_future_vtable actor_vt = {.poll = actor_poll,
					  .drop = actor_drop,
					  .type_name = "actor"};

/* Spawn an actor running ops[0..n) (the future is copied: ops too). */
uint64_t spawn_actor(td_runtime *rt, const char *name,
			    const struct op *ops, size_t n, size_t loops,
			    atomic_int *done, td_join_handle *h)
{
	actor a = {.base = {&actor_vt}, .nops = n, .loops = loops,
		   .done = done};
	ck_assert_uint_le(n, NOPS);
	memcpy(a.ops, ops, n * sizeof(*ops));
	ck_assert_int_eq(td_spawn_named(rt, name, &a, h), 0);
	return td_join_handle_id(h);
}

/* ---- looking into the diagnosis -------------------------------------- */

const td_dump_task *task_of(const td_dump *d, uint64_t id)
{
	for (size_t r = 0; r < d->nruntimes; r++) {
		const td_dump_task *t = fx_find_task(&d->runtimes[r], id);
		if (t)
			return t;
	}
	return NULL;
}

/* Task `id` has exactly one edge: to `to` (0: nobody), for `why`. */
void assert_edge(const td_dump *d, uint64_t id, uint64_t to,
			const char *why)
{
	const td_dump_task *t = task_of(d, id);
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(t->nwaits_for == 1, "task %llu: %zu edges, expected 1",
		      (unsigned long long)id, t->nwaits_for);
	ck_assert_int_eq(t->waits_for[0].has_task, to != 0);
	ck_assert_uint_eq(t->waits_for[0].task_id, to);
	ck_assert_str_eq(t->waits_for[0].why, why);
}

/* Task `id` holds exactly mutex m, with `waiters` waiting. */
void assert_holds(const td_dump *d, uint64_t id, const td_mutex *m,
			 size_t waiters)
{
	const td_dump_task *t = task_of(d, id);
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(t->nholds == 1, "task %llu holds %zu locks, expected 1",
		      (unsigned long long)id, t->nholds);
	ck_assert_int_eq(t->holds[0].kind, TD_WAIT_MUTEX);
	ck_assert_ptr_eq(t->holds[0].object, m);
	ck_assert_uint_eq(t->holds[0].waiters, waiters);
}

const char *mutex_why(const td_mutex *m, char *buf, size_t size)
{
	snprintf(buf, size, "mutex %p held", (const void *)m);
	return buf;
}

/* The deadlock's members are ids[0..n), in this order, each with the
 * edge it has in its task's waits_for. */
void assert_cycle(const td_dump_deadlock *dl, const uint64_t *ids,
			 size_t n)
{
	ck_assert_uint_eq(dl->ntasks, n);
	for (size_t i = 0; i < n; i++) {
		const td_dump_task *t = dl->tasks[i];
		ck_assert_uint_eq(t->id, ids[i]);
		ck_assert_uint_lt(dl->edges[i], t->nwaits_for);
		const td_dump_edge *e = &t->waits_for[dl->edges[i]];
		ck_assert(e->has_task);
		ck_assert_uint_eq(e->task_id, ids[(i + 1) % n]);
	}
}
