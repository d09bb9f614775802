/* test_dump_deadlock.c - the wait-for graph, held locks and deadlocks of
 * live dumps, on both flavors.
 *
 * Every task here is an "actor" running a little script of steps (lock,
 * unlock, wait on a notify, join, sleep, mark: dump_actors.h), so that
 * each situation is a few lines:
 *
 *   two_mutex     left locks A then B, right locks B then A: one deadlock
 *                 of exactly those two, each holding one mutex with one
 *                 waiter and waiting for the other;
 *   join_cycle    t1 locks M and joins t2, t2 joins t3, t3 locks M: one
 *                 deadlock of three, in cycle order t3 > t1 > t2 > t3;
 *   self          a task locks a mutex it holds: a deadlock of one (not
 *                confused with a lock handed to a task that has not run
 *                since, which the unlock at the end then exercises);
 *   sleeper       a task holds M and sleeps, another waits for M: the
 *                 holder is listed with the lock (one waiter, held time
 *                 growing), the waiter's edge names it, no deadlock;
 *   healthy       workers that lock two mutexes in one order, joiners,
 *                 hand-offs: 20 dumps, never a deadlock.
 *
 * Deadlocks are broken at the end by unlocking from the test thread (any
 * thread may unlock a td_mutex), and every task must then complete: the
 * dumps consumed nothing.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_actors.h"
#include "dump_fixtures.h"
#include "taskdump/mutex.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

/* With TD_DEADLOCK_SAVE=<dir>: the dump as <dir>/<name>.txt and .json
 * (fixtures for the tool's tests). */
static void save(const td_dump *d, const char *name)
{
	const char *dir = getenv("TD_DEADLOCK_SAVE");
	char path[512];
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(d, f, NULL), 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_json(d, f), 0);
	fclose(f);
}

static bool text_has(const char *text, const char *part)
{
	return strstr(text, part) != NULL;
}

/* ---- two mutexes, opposite orders ------------------------------------ */

struct two {
	uint64_t left, right;
};

static bool both_stuck(const td_dump *d, void *arg)
{
	const struct two *w = arg;
	uint64_t ids[2] = {w->left, w->right};
	return fx_tasks_idle(fx_only_runtime(d), ids, 2, 1) &&
	       task_of(d, w->left)->traces[0].wait.kind == TD_WAIT_MUTEX &&
	       task_of(d, w->right)->traces[0].wait.kind == TD_WAIT_MUTEX;
}

START_TEST(test_two_mutex_deadlock)
{
	td_mutex a, b;
	td_notify go_l, go_r;
	atomic_int ready = 0, done = 0;
	td_join_handle hl, hr;
	char why[64], line[256];

	td_mutex_init(&a);
	td_mutex_init(&b);
	td_notify_init(&go_l);
	td_notify_init(&go_r);
	td_runtime *rt = fx_runtime_new(_i, "deadlock");
	fx_driver *drv = fx_driver_start(rt);
	const struct op left[] = {LOCK(&a), MARK(&ready), WAIT(&go_l),
				  LOCK(&b), UNLOCK(&b), UNLOCK(&a)};
	const struct op right[] = {LOCK(&b), MARK(&ready), WAIT(&go_r),
				   LOCK(&a), UNLOCK(&a), UNLOCK(&b)};
	struct two w;
	w.left = spawn_actor(rt, "left", left, 6, 0, &done, &hl);
	w.right = spawn_actor(rt, "right", right, 6, 0, &done, &hr);
	ck_assert(fx_wait_count(&ready, 2, 20000));
	td_notify_one(&go_l);
	td_notify_one(&go_r);

	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, both_stuck, &w, 20000,
				   "both tasks waiting for a mutex");
	fx_print(d, "two mutexes");
	save(d, fx_flavors[_i].flavor_name);
	ck_assert_uint_eq(d->ndeadlocks, 1);
	uint64_t cyc[2] = {w.left, w.right};
	assert_cycle(&d->deadlocks[0], cyc, 2);
	assert_edge(d, w.left, w.right, mutex_why(&b, why, sizeof(why)));
	assert_edge(d, w.right, w.left, mutex_why(&a, why, sizeof(why)));
	assert_holds(d, w.left, &a, 1);
	assert_holds(d, w.right, &b, 1);

	/* Both formats say it at the top. */
	char *text = fx_text(d);
	snprintf(line, sizeof(line),
		 "\ndeadlocks 1\ndeadlock 1 task=%llu name=\"left\" "
		 "holds=\"mutex %p held ",
		 (unsigned long long)w.left, (void *)&a);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	ck_assert(strstr(text, line) < strstr(text, "\nruntime "));
	snprintf(line, sizeof(line),
		 " ms, 1 waiting\" waits_for=\"task %llu: mutex %p held\"\n"
		 "deadlock 1 task=%llu name=\"right\"",
		 (unsigned long long)w.right, (void *)&b,
		 (unsigned long long)w.right);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	snprintf(line, sizeof(line), "waits_for=\"task %llu: mutex %p held\"",
		 (unsigned long long)w.left, (void *)&a);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	free(text);
	char *json = fx_json(d);
	snprintf(line, sizeof(line),
		 "\"deadlocks\":[{\"tasks\":[{\"task\":%llu,\"name\":\"left\","
		 "\"holds\":[{\"kind\":\"mutex\",\"object\":\"%p\",\"held_ms\":",
		 (unsigned long long)w.left, (void *)&a);
	ck_assert_msg(text_has(json, line), "no %s in\n%s", line, json);
	snprintf(line, sizeof(line),
		 "\"waits_for\":{\"task\":%llu,\"why\":\"mutex %p held\"}}",
		 (unsigned long long)w.right, (void *)&b);
	ck_assert_msg(text_has(json, line), "no %s in\n%s", line, json);
	free(json);
	td_dump_free(d);

	/* Break it: both complete. */
	td_mutex_unlock(&a);
	ck_assert(fx_wait_count(&done, 2, 20000));
	td_join_handle_detach(&hl);
	td_join_handle_detach(&hr);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	ck_assert(!td_mutex_is_locked(&a) && !td_mutex_is_locked(&b));
	td_mutex_destroy(&a);
	td_mutex_destroy(&b);
	td_notify_destroy(&go_l);
	td_notify_destroy(&go_r);
}
END_TEST

/* ---- join, join, mutex ----------------------------------------------- */

struct three {
	uint64_t t1, t2, t3;
};

static bool three_stuck(const td_dump *d, void *arg)
{
	const struct three *w = arg;
	uint64_t ids[3] = {w->t1, w->t2, w->t3};
	return fx_tasks_idle(fx_only_runtime(d), ids, 3, 1) &&
	       task_of(d, w->t3)->traces[0].wait.kind == TD_WAIT_MUTEX;
}

START_TEST(test_join_mutex_cycle)
{
	td_mutex m;
	td_notify go;
	atomic_int ready = 0, done = 0;
	td_join_handle h1, h2, h3;
	char why[64];

	td_mutex_init(&m);
	td_notify_init(&go);
	td_runtime *rt = fx_runtime_new(_i, "cycle3");
	fx_driver *drv = fx_driver_start(rt);
	const struct op s3[] = {WAIT(&go), LOCK(&m), UNLOCK(&m)};
	const struct op s2[] = {JOIN(&h3)};
	const struct op s1[] = {LOCK(&m), MARK(&ready), JOIN(&h2),
				UNLOCK(&m)};
	struct three w;
	w.t3 = spawn_actor(rt, "t3", s3, 3, 0, &done, &h3);
	w.t2 = spawn_actor(rt, "t2", s2, 1, 0, &done, &h2);
	w.t1 = spawn_actor(rt, "t1", s1, 4, 0, &done, &h1);
	ck_assert(fx_wait_count(&ready, 1, 20000));
	td_notify_one(&go);

	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, three_stuck, &w, 20000,
				   "the three tasks in their cycle");
	fx_print(d, "join cycle");
	save(d, _i ? "cycle3-multi_thread" : "cycle3-current_thread");
	ck_assert_uint_eq(d->ndeadlocks, 1);
	/* From the smallest id (t3, spawned first), along the edges. */
	uint64_t cyc[3] = {w.t3, w.t1, w.t2};
	assert_cycle(&d->deadlocks[0], cyc, 3);
	assert_edge(d, w.t3, w.t1, mutex_why(&m, why, sizeof(why)));
	assert_edge(d, w.t1, w.t2, "join");
	assert_edge(d, w.t2, w.t3, "join");
	assert_holds(d, w.t1, &m, 1);
	ck_assert_uint_eq(task_of(d, w.t2)->nholds, 0);
	ck_assert_uint_eq(task_of(d, w.t3)->nholds, 0);
	char *text = fx_text(d);
	char line[160];
	snprintf(line, sizeof(line),
		 "deadlock 1 task=%llu name=\"t2\" waits_for=\"task %llu: "
		 "join\"\n",
		 (unsigned long long)w.t2, (unsigned long long)w.t3);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	free(text);
	td_dump_free(d);

	td_mutex_unlock(&m);
	ck_assert(fx_wait_count(&done, 3, 20000));
	td_join_handle_detach(&h1);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_mutex_destroy(&m);
	td_notify_destroy(&go);
}
END_TEST

/* ---- a task locking what it holds ----------------------------------- */

static bool self_stuck(const td_dump *d, void *arg)
{
	const uint64_t *id = arg;
	return fx_tasks_idle(fx_only_runtime(d), id, 1, 1) &&
	       task_of(d, *id)->traces[0].wait.kind == TD_WAIT_MUTEX;
}

START_TEST(test_self_deadlock)
{
	td_mutex m;
	atomic_int ready = 0, done = 0;
	td_join_handle h;
	char why[64];

	td_mutex_init(&m);
	td_runtime *rt = fx_runtime_new(_i, "self");
	fx_driver *drv = fx_driver_start(rt);
	const struct op ops[] = {LOCK(&m), MARK(&ready), LOCK(&m),
				 UNLOCK(&m)};
	uint64_t id = spawn_actor(rt, "relocker", ops, 4, 0, &done, &h);
	ck_assert(fx_wait_count(&ready, 1, 20000));
	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, self_stuck, &id, 20000,
				   "the task waiting for its own mutex");
	fx_print(d, "self");
	ck_assert_uint_eq(d->ndeadlocks, 1);
	assert_cycle(&d->deadlocks[0], &id, 1);
	assert_edge(d, id, id, mutex_why(&m, why, sizeof(why)));
	assert_holds(d, id, &m, 1);
	td_dump_free(d);

	/* The unlock hands the lock to the task's second lock future. */
	td_mutex_unlock(&m);
	ck_assert(fx_wait_count(&done, 1, 20000));
	ck_assert(!td_mutex_is_locked(&m));
	td_join_handle_detach(&h);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_mutex_destroy(&m);
}
END_TEST

/* ---- a holder that sleeps -------------------------------------------- */

static bool holder_and_waiter(const td_dump *d, void *arg)
{
	const struct two *w = arg;
	uint64_t ids[2] = {w->left, w->right};
	return fx_tasks_idle(fx_only_runtime(d), ids, 2, 1) &&
	       task_of(d, w->left)->traces[0].wait.kind == TD_WAIT_SLEEP &&
	       task_of(d, w->right)->traces[0].wait.kind == TD_WAIT_MUTEX;
}

START_TEST(test_holder_sleeping)
{
	td_mutex m;
	atomic_int ready = 0, done = 0;
	td_join_handle hh, hw;
	char why[64], line[160];

	td_mutex_init(&m);
	td_runtime *rt = fx_runtime_new(_i, "sleeper");
	fx_driver *drv = fx_driver_start(rt);
	const struct op holder[] = {LOCK(&m), MARK(&ready), SLEEP(600000),
				    UNLOCK(&m)};
	const struct op waiter[] = {LOCK(&m), UNLOCK(&m)};
	struct two w;
	w.left = spawn_actor(rt, "holder", holder, 4, 0, &done, &hh);
	ck_assert(fx_wait_count(&ready, 1, 20000));
	w.right = spawn_actor(rt, "waiter", waiter, 2, 0, &done, &hw);

	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, holder_and_waiter, &w, 20000,
				   "holder asleep, waiter at the mutex");
	fx_print(d, "sleeping holder");
	ck_assert_uint_eq(d->ndeadlocks, 0);
	ck_assert_ptr_null(d->deadlocks);
	assert_holds(d, w.left, &m, 1);
	ck_assert_uint_eq(task_of(d, w.left)->nwaits_for, 0);
	assert_edge(d, w.right, w.left, mutex_why(&m, why, sizeof(why)));
	uint64_t held = task_of(d, w.left)->holds[0].held_ms;
	char *text = fx_text(d);
	ck_assert(!text_has(text, "\ndeadlock"));
	snprintf(line, sizeof(line), "holds=\"mutex %p held %llu ms, 1 "
		 "waiting\"\n", (void *)&m, (unsigned long long)held);
	ck_assert_msg(text_has(text, line), "no %s in\n%s", line, text);
	free(text);
	char *json = fx_json(d);
	ck_assert(text_has(json, "\"deadlocks\":[]"));
	free(json);
	td_dump_free(d);

	/* The held time is the time since the lock was taken. */
	fx_sleep_ms(120);
	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	ck_assert_uint_eq(d->ndeadlocks, 0);
	assert_holds(d, w.left, &m, 1);
	ck_assert_uint_ge(task_of(d, w.left)->holds[0].held_ms, held + 100);
	td_dump_free(d);

	/* Shutdown cancels the sleeper; the waiter stays queued till then. */
	td_join_handle_detach(&hh);
	td_join_handle_detach(&hw);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&done), 0);
	td_mutex_destroy(&m); /* still locked: the sleeper was cancelled */
}
END_TEST

/* ---- a healthy program ----------------------------------------------- */

#define NWORKERS 6
#define NDUMPS 20

START_TEST(test_healthy_no_deadlock)
{
	td_mutex a, b;
	atomic_int done = 0;
	td_join_handle hw[NWORKERS], hj[NWORKERS];

	td_mutex_init(&a);
	td_mutex_init(&b);
	td_runtime *rt = fx_runtime_new(_i, "healthy");
	fx_driver *drv = fx_driver_start(rt);
	/* Always a before b; some hold both across a sleep, some a yield
	 * (a 0 ms sleep): waiters queue on both mutexes, hand-offs happen
	 * while dumps look. */
	const struct op ab[] = {LOCK(&a), LOCK(&b), SLEEP(1), UNLOCK(&b),
				UNLOCK(&a)};
	const struct op a_only[] = {LOCK(&a), SLEEP(0), UNLOCK(&a)};
	for (int i = 0; i < NWORKERS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "worker%d", i);
		spawn_actor(rt, name, i % 2 ? ab : a_only, i % 2 ? 5 : 3, 150,
			    &done, &hw[i]);
		/* A joiner per worker: join edges to live tasks. */
		const struct op j[] = {JOIN(&hw[i])};
		spawn_actor(rt, "joiner", j, 1, 0, &done, &hj[i]);
	}
	td_dump_options o = {.timeout_ms = 5000};
	size_t edges = 0, holds = 0;
	for (int k = 0; k < NDUMPS; k++) {
		td_dump *d;
		ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
		fx_check_consistent(d, "healthy");
		if (d->ndeadlocks)
			fx_print(d, "false deadlock");
		ck_assert_msg(d->ndeadlocks == 0,
			      "dump %d: %zu deadlocks in a healthy program", k,
			      d->ndeadlocks);
		const td_dump_runtime *r = fx_only_runtime(d);
		for (size_t i = 0; i < r->ntasks; i++) {
			edges += r->tasks[i].nwaits_for;
			holds += r->tasks[i].nholds;
		}
		td_dump_free(d);
		fx_sleep_ms(5);
	}
	ck_assert(fx_wait_count(&done, 2 * NWORKERS, 60000));
	/* The dumps did see the graph (the joiners' edges at least). */
	ck_assert_uint_gt(edges, 0);
	(void)holds;
	for (int i = 0; i < NWORKERS; i++)
		td_join_handle_detach(&hj[i]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_mutex_destroy(&a);
	td_mutex_destroy(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_deadlock");
	TCase *tc = tcase_create("deadlock");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, test_two_mutex_deadlock, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_join_mutex_cycle, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_self_deadlock, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_holder_sleeping, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_healthy_no_deadlock, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
