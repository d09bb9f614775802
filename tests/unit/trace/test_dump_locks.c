/* test_dump_locks.c - the locks each task holds, whoever waits for them,
 * and the semaphore edges of the wait-for graph, in live dumps of both
 * flavors (README.md, "Held locks").
 *
 *   mutex_no_waiters  a task holds a mutex (and has unlocked another) and
 *                     sleeps: it lists that one mutex, 0 waiting, a
 *                     plausible held time that grows; no deadlock;
 *   sem_holder        a task holds 2 permits and sleeps, another wants
 *                     2 of the 1 left: the holder lists its permits with
 *                     1 waiting, the waiter's edge names it; no deadlock;
 *   sem_mutex_cycle   a holds the permit and waits for the mutex, b holds
 *                     the mutex and waits for the permit: one deadlock;
 *   sem_outside       the same cycle, but one of the permits is held by
 *                     the test thread (outside tasks): the waiter has no
 *                     edge, the holder lists "1 more held by others", no
 *                     deadlock (the thread may release it);
 *   sem_foreign       the same, but a task gave back a permit it never
 *                     took: nobody can say whose it was, so no holder is
 *                     listed, no edge, no deadlock.
 *
 * Each situation is broken at the end from the test thread and every task
 * must complete: the dumps consumed nothing.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_actors.h"
#include "dump_fixtures.h"
#include "test_util.h"

static bool text_has(const char *text, const char *part)
{
	return strstr(text, part) != NULL;
}

/* Tasks ids[0..n) idle and polled, and the first trace of ids[i] waits
 * on kinds[i]. */
struct want {
	uint64_t ids[4];
	td_wait_kind kinds[4];
	size_t n;
};

static bool waiting_as(const td_dump *d, void *arg)
{
	const struct want *w = arg;
	if (!fx_tasks_idle(fx_only_runtime(d), w->ids, w->n, 1))
		return false;
	for (size_t i = 0; i < w->n; i++)
		if (task_of(d, w->ids[i])->traces[0].wait.kind != w->kinds[i])
			return false;
	return true;
}

static const char *sem_why(const td_semaphore *s, char *buf, size_t size)
{
	snprintf(buf, size, "semaphore %p permits held", (const void *)s);
	return buf;
}

/* Task `id` holds exactly: permits of semaphore s, `waiters` waiting,
 * `others` held by others. */
static void assert_sem_holds(const td_dump *d, uint64_t id,
			     const td_semaphore *s, size_t permits,
			     size_t waiters, size_t others)
{
	const td_dump_task *t = task_of(d, id);
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(t->nholds == 1, "task %llu holds %zu locks, expected 1",
		      (unsigned long long)id, t->nholds);
	ck_assert_int_eq(t->holds[0].kind, TD_WAIT_SEMAPHORE);
	ck_assert_ptr_eq(t->holds[0].object, s);
	ck_assert_uint_eq(t->holds[0].permits, permits);
	ck_assert_uint_eq(t->holds[0].waiters, waiters);
	ck_assert_uint_eq(t->holds[0].others, others);
	ck_assert_uint_lt(t->holds[0].held_ms, 60000);
}

static void finish(td_runtime *rt, fx_driver *drv, atomic_int *done, int n,
		   td_join_handle *hs, size_t nh)
{
	ck_assert(fx_wait_count(done, n, 20000));
	for (size_t i = 0; i < nh; i++)
		td_join_handle_detach(&hs[i]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
}

/* ---- a mutex nobody waits for ------------------------------------------ */

START_TEST(test_mutex_no_waiters)
{
	td_mutex m, other;
	td_notify go;
	atomic_int ready = 0, done = 0;
	td_join_handle h;
	char line[256];

	td_mutex_init(&m);
	td_mutex_init(&other);
	td_notify_init(&go);
	td_runtime *rt = fx_runtime_new(_i, "lonely");
	fx_driver *drv = fx_driver_start(rt);
	const struct op ops[] = {LOCK(&other), UNLOCK(&other), LOCK(&m),
				 MARK(&ready), WAIT(&go), UNLOCK(&m)};
	struct want w = {.n = 1, .kinds = {TD_WAIT_NOTIFY}};
	w.ids[0] = spawn_actor(rt, "holder", ops, 6, 0, &done, &h);
	ck_assert(fx_wait_count(&ready, 1, 20000));

	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, waiting_as, &w, 20000,
				   "the holder waiting on its notify");
	fx_print(d, "mutex without waiters");
	ck_assert_uint_eq(d->ndeadlocks, 0);
	assert_holds(d, w.ids[0], &m, 0);
	const td_dump_task *t = task_of(d, w.ids[0]);
	ck_assert_uint_eq(t->nwaits_for, 0);
	uint64_t held = t->holds[0].held_ms;
	ck_assert_uint_lt(held, 20000);
	char *text = fx_text(d);
	snprintf(line, sizeof(line), " holds=\"mutex %p held %llu ms, 0 "
		 "waiting\"\n", (void *)&m, (unsigned long long)held);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	ck_assert(!text_has(text, "\ndeadlock"));
	free(text);
	char *json = fx_json(d);
	snprintf(line, sizeof(line),
		 "\"holds\":[{\"kind\":\"mutex\",\"object\":\"%p\","
		 "\"held_ms\":%llu,\"waiters\":0,\"permits\":null,"
		 "\"others\":null}]",
		 (void *)&m, (unsigned long long)held);
	ck_assert_msg(text_has(json, line), "no %s in\n%s", line, json);
	free(json);
	td_dump_free(d);

	/* The time counts from the lock, not from the dump. */
	fx_sleep_ms(120);
	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	assert_holds(d, w.ids[0], &m, 0);
	ck_assert_uint_ge(task_of(d, w.ids[0])->holds[0].held_ms, held + 100);
	td_dump_free(d);

	/* Unlocked, it is listed no more. */
	td_notify_one(&go);
	finish(rt, drv, &done, 1, &h, 1);
	ck_assert(!td_mutex_is_locked(&m));
	td_mutex_destroy(&m);
	td_mutex_destroy(&other);
	td_notify_destroy(&go);
}
END_TEST

/* ---- a semaphore's holder ---------------------------------------------- */

START_TEST(test_sem_holder)
{
	td_semaphore s;
	td_notify go;
	atomic_int ready = 0, done = 0;
	td_join_handle h[2];
	char why[80], line[256];

	td_semaphore_init(&s, 3);
	td_notify_init(&go);
	td_runtime *rt = fx_runtime_new(_i, "semholder");
	fx_driver *drv = fx_driver_start(rt);
	const struct op holder[] = {ACQ(&s, 1), ACQ(&s, 1), MARK(&ready),
				    WAIT(&go), REL(&s, 2)};
	const struct op waiter[] = {ACQ(&s, 2), REL(&s, 2)};
	struct want w = {.n = 2, .kinds = {TD_WAIT_NOTIFY, TD_WAIT_SEMAPHORE}};
	w.ids[0] = spawn_actor(rt, "holder", holder, 5, 0, &done, &h[0]);
	ck_assert(fx_wait_count(&ready, 1, 20000));
	w.ids[1] = spawn_actor(rt, "waiter", waiter, 2, 0, &done, &h[1]);

	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, waiting_as, &w, 20000,
				   "holder idle, waiter at the semaphore");
	fx_print(d, "semaphore holder");
	ck_assert_uint_eq(d->ndeadlocks, 0);
	assert_sem_holds(d, w.ids[0], &s, 2, 1, 0);
	ck_assert_uint_eq(task_of(d, w.ids[1])->nholds, 0);
	assert_edge(d, w.ids[1], w.ids[0], sem_why(&s, why, sizeof(why)));
	ck_assert_uint_eq(task_of(d, w.ids[0])->nwaits_for, 0);
	uint64_t held = task_of(d, w.ids[0])->holds[0].held_ms;
	char *text = fx_text(d);
	snprintf(line, sizeof(line),
		 " holds=\"semaphore %p 2 permits held %llu ms, 1 waiting\"\n",
		 (void *)&s, (unsigned long long)held);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	snprintf(line, sizeof(line), " waits_for=\"task %llu: %s\"",
		 (unsigned long long)w.ids[0], why);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	free(text);
	char *json = fx_json(d);
	snprintf(line, sizeof(line),
		 "\"holds\":[{\"kind\":\"semaphore\",\"object\":\"%p\","
		 "\"held_ms\":%llu,\"waiters\":1,\"permits\":2,\"others\":0}]",
		 (void *)&s, (unsigned long long)held);
	ck_assert_msg(text_has(json, line), "no %s in\n%s", line, json);
	free(json);
	td_dump_free(d);

	td_notify_one(&go);
	finish(rt, drv, &done, 2, h, 2);
	ck_assert_uint_eq(td_semaphore_available(&s), 3);
	td_semaphore_destroy(&s);
	td_notify_destroy(&go);
}
END_TEST

/* ---- a semaphore and a mutex, taken in opposite orders ------------------ */

/* a: permit, then mutex; b: mutex, then `want` permits.  Both wait for
 * their second lock when the returned dump is taken. */
struct cycle {
	td_mutex m;
	td_semaphore s;
	td_notify go_a, go_b;
	atomic_int ready, done;
	td_join_handle h[3];
	struct want w;
	td_runtime *rt;
	fx_driver *drv;
};

static void cycle_start(struct cycle *c, int flavor, size_t permits,
			size_t want)
{
	memset(c, 0, sizeof(*c));
	td_mutex_init(&c->m);
	td_semaphore_init(&c->s, permits);
	td_notify_init(&c->go_a);
	td_notify_init(&c->go_b);
	c->rt = fx_runtime_new(flavor, "semcycle");
	c->drv = fx_driver_start(c->rt);
	const struct op a[] = {ACQ(&c->s, 1), MARK(&c->ready), WAIT(&c->go_a),
			       LOCK(&c->m), UNLOCK(&c->m), REL(&c->s, 1)};
	const struct op b[] = {LOCK(&c->m), MARK(&c->ready), WAIT(&c->go_b),
			       ACQ(&c->s, want), REL(&c->s, want),
			       UNLOCK(&c->m)};
	c->w = (struct want){.n = 2,
			     .kinds = {TD_WAIT_MUTEX, TD_WAIT_SEMAPHORE}};
	c->w.ids[0] = spawn_actor(c->rt, "a", a, 6, 0, &c->done, &c->h[0]);
	c->w.ids[1] = spawn_actor(c->rt, "b", b, 6, 0, &c->done, &c->h[1]);
	ck_assert(fx_wait_count(&c->ready, 2, 20000));
}

static td_dump *cycle_dump(struct cycle *c, const char *title)
{
	td_notify_one(&c->go_a);
	td_notify_one(&c->go_b);
	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(c->rt, &o, waiting_as, &c->w, 20000,
				   "a at the mutex, b at the semaphore");
	fx_print(d, title);
	return d;
}

/* Break it (the mutex, from the test thread; b's own unlock at the end
 * then finds it unlocked) and let everyone complete. */
static void cycle_end(struct cycle *c, int tasks, size_t handles)
{
	td_mutex_unlock(&c->m);
	finish(c->rt, c->drv, &c->done, tasks, c->h, handles);
	td_mutex_destroy(&c->m);
	td_semaphore_destroy(&c->s);
	td_notify_destroy(&c->go_a);
	td_notify_destroy(&c->go_b);
}

START_TEST(test_sem_mutex_cycle)
{
	struct cycle c;
	char why[80], line[256];

	cycle_start(&c, _i, 1, 1);
	td_dump *d = cycle_dump(&c, "semaphore and mutex");
	uint64_t a = c.w.ids[0], b = c.w.ids[1];
	ck_assert_uint_eq(d->ndeadlocks, 1);
	assert_cycle(&d->deadlocks[0], c.w.ids, 2);
	assert_edge(d, a, b, mutex_why(&c.m, why, sizeof(why)));
	assert_edge(d, b, a, sem_why(&c.s, why, sizeof(why)));
	assert_sem_holds(d, a, &c.s, 1, 1, 0);
	assert_holds(d, b, &c.m, 1);
	char *text = fx_text(d);
	snprintf(line, sizeof(line),
		 "deadlock 1 task=%llu name=\"a\" holds=\"semaphore %p 1 "
		 "permit held ",
		 (unsigned long long)a, (void *)&c.s);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	snprintf(line, sizeof(line),
		 "deadlock 1 task=%llu name=\"b\" holds=\"mutex %p held ",
		 (unsigned long long)b, (void *)&c.m);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	snprintf(line, sizeof(line), "waits_for=\"task %llu: %s\"\n",
		 (unsigned long long)a, why);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	free(text);
	char *json = fx_json(d);
	snprintf(line, sizeof(line),
		 "\"waits_for\":{\"task\":%llu,\"why\":\"%s\"}}",
		 (unsigned long long)a, why);
	ck_assert_msg(text_has(json, line), "no %s in\n%s", line, json);
	free(json);
	td_dump_free(d);
	cycle_end(&c, 2, 2);
}
END_TEST

/* ---- permits held by others: no edge ---------------------------------- */

START_TEST(test_sem_outside)
{
	struct cycle c;
	char why[80];

	/* Two permits: a takes one, this thread (outside tasks) the other. */
	cycle_start(&c, _i, 2, 1);
	ck_assert_int_eq(td_semaphore_try_acquire(&c.s, 1), 0);
	td_dump *d = cycle_dump(&c, "a permit held outside tasks");
	uint64_t a = c.w.ids[0], b = c.w.ids[1];
	ck_assert_uint_eq(d->ndeadlocks, 0);
	ck_assert_uint_eq(task_of(d, b)->nwaits_for, 0);
	assert_edge(d, a, b, mutex_why(&c.m, why, sizeof(why)));
	assert_sem_holds(d, a, &c.s, 1, 1, 1);
	char *text = fx_text(d);
	ck_assert(text_has(text, "1 permit held "));
	ck_assert(text_has(text, " ms, 1 waiting, 1 more held by others\""));
	free(text);
	td_dump_free(d);

	/* The thread's permit back: b goes on (and a after it). */
	td_semaphore_release(&c.s, 1);
	ck_assert(fx_wait_count(&c.done, 2, 20000));
	cycle_end(&c, 2, 2);
}
END_TEST

START_TEST(test_sem_foreign)
{
	struct cycle c;
	char why[80];

	/* Three permits, b wants all three.  a takes one, `taker` one (and
	 * then waits for the mutex b holds, like a), and `giver` gives one
	 * back that it never took: one of a's and taker's is back, but
	 * whose?  Had the dump believed the slots, b would wait for a and
	 * taker, who wait for b: a deadlock claimed on a guess. */
	cycle_start(&c, _i, 3, 3);
	atomic_int took = 0;
	const struct op taker[] = {ACQ(&c.s, 1), MARK(&took), LOCK(&c.m),
				   UNLOCK(&c.m), REL(&c.s, 1)};
	const struct op giver[] = {REL(&c.s, 1)};
	td_join_handle hg;
	c.w.ids[2] = spawn_actor(c.rt, "taker", taker, 5, 0, &c.done, &c.h[2]);
	c.w.kinds[2] = TD_WAIT_MUTEX;
	c.w.n = 3;
	ck_assert(fx_wait_count(&took, 1, 20000));
	spawn_actor(c.rt, "giver", giver, 1, 0, &c.done, &hg);
	ck_assert(fx_wait_count(&c.done, 1, 20000));
	td_join_handle_detach(&hg);
	td_dump *d = cycle_dump(&c, "a permit given back by another task");
	uint64_t a = c.w.ids[0], b = c.w.ids[1];
	ck_assert_uint_eq(d->ndeadlocks, 0);
	ck_assert_uint_eq(task_of(d, b)->nwaits_for, 0);
	ck_assert_uint_eq(task_of(d, a)->nholds, 0);
	ck_assert_uint_eq(task_of(d, c.w.ids[2])->nholds, 0);
	assert_edge(d, a, b, mutex_why(&c.m, why, sizeof(why)));
	assert_edge(d, c.w.ids[2], b, why);
	td_dump_free(d);

	/* giver (done), then taker, a and b once the mutex is broken. */
	cycle_end(&c, 4, 3);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_locks");
	TCase *tc = tcase_create("locks");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, test_mutex_no_waiters, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_sem_holder, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_sem_mutex_cycle, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_sem_outside, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_sem_foreign, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
