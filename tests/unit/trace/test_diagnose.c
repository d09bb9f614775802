/* test_diagnose.c - trace/diagnose.c on hand-built dumps: the cases a live
 * program cannot produce on demand.
 *
 *   granted      a lock handed to a task that has not run since: it holds
 *                the lock and waits for nobody (not a self-deadlock);
 *   self         a task locking a mutex it holds: a deadlock of one;
 *   any_leaf     a task that also sleeps may go on: no deadlock;
 *   escape       a cycle one of whose members also waits for a task that
 *                may go on: no deadlock;
 *   behind       a task waiting for a deadlocked one is not a member;
 *   shared       a component with two cycles through one task: both
 *                reported, every member on one, ordered by first id;
 *   outside      a wait for a running task, for one not in the dump, or
 *                for a mutex held outside any task: no edge into a cycle;
 *   no_sender    a receive with no sender left: an edge to nobody;
 *   waiters      a mutex with three waiters: one holder entry, 3 waiting,
 *                the held time from the wait's since_ms;
 *   big_cycle    100 000 tasks joining each other in a ring: one deadlock
 *                of all of them, in ring order (no recursion, no square);
 *   star         one task waiting for 5 000 that each wait for it: 5 000
 *                cycles, TD_DUMP_MAX_DEADLOCKS of them listed, quickly;
 *   noted_mutex  the registries' notes: a mutex nobody waits for is held
 *                with 0 waiting; one a wait names is listed once; a note
 *                of a task not in the dump, or of another runtime's
 *                pause, lists nothing; a time after the capture is 0;
 *   sem_edges    a semaphore's waiter waits for each of its holders (a
 *                cycle through them is a deadlock), and the holders list
 *                their permits and the waiters;
 *   sem_unknown  permits held by others, a closed semaphore, notes of
 *                another runtime's pause only, or a granted wait: no
 *                edge, no deadlock.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "taskdump/dump.h"
#include "test_util.h"
#include "trace/arena.h"
#include "trace/diagnose.h"

#define MAXT 8
#define MAXTR 3
#define M1 ((const void *)(uintptr_t)0x1000)
#define M2 ((const void *)(uintptr_t)0x2000)
#define S1 ((const void *)(uintptr_t)0x3000)
#define NOW 10000

struct fixture {
	td_dump d;
	td_dump_runtime rt;
	td_dump_task tasks[MAXT];
	td_dump_trace traces[MAXT][MAXTR];
	td_dump_task *list[MAXT];
	struct td_held_note held[MAXT];
	size_t nheld;
	td_dump_runtime other; /* a runtime whose pause a note may be of */
	struct td_arena arena;
};

static struct fixture fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.d.runtimes = &fx.rt;
	fx.d.nruntimes = 1;
	fx.rt.tasks = fx.tasks;
	td_arena_init(&fx.arena);
}

static void teardown(void)
{
	td_arena_free(&fx.arena);
}

/* A task (ids must be added in increasing order), idle and traced. */
static td_dump_task *task(uint64_t id)
{
	td_dump_task *t = &fx.tasks[fx.rt.ntasks++];
	t->id = id;
	t->state = TD_DUMP_IDLE;
	t->traced = true;
	t->traces = fx.traces[t - fx.tasks];
	return t;
}

static void wait_on(td_dump_task *t, td_wait w)
{
	ck_assert_uint_lt(t->ntraces, MAXTR);
	t->traces[t->ntraces++].wait = w;
}

static void mutex_wait(td_dump_task *t, const void *m, uint64_t holder)
{
	wait_on(t, (td_wait){.kind = TD_WAIT_MUTEX, .object = m,
			     .task_id = holder, .since_ms = NOW - 250});
}

static void join_wait(td_dump_task *t, uint64_t joined)
{
	wait_on(t, (td_wait){.kind = TD_WAIT_JOIN, .task_id = joined});
}

/* Diagnose, giving the diagnosis every entry with a wait that may give an
 * edge (as the dump builder does). */
static void diagnose(void)
{
	size_t n = 0;
	for (size_t i = 0; i < fx.rt.ntasks; i++)
		for (size_t k = 0; k < fx.tasks[i].ntraces; k++)
			if (td_wait_may_edge(&fx.tasks[i].traces[k].wait)) {
				fx.list[n++] = &fx.tasks[i];
				break;
			}
	ck_assert_int_eq(td_dump_diagnose(&fx.d, &fx.arena, NOW, fx.list, n,
					  fx.held, fx.nheld),
			 0);
}

/* The registries saw lock `obj` held by `holder` during rt's pause. */
static struct td_held_note *note(const td_dump_runtime *rt, td_wait_kind k,
				 const void *obj, uint64_t holder,
				 uint32_t since)
{
	ck_assert_uint_lt(fx.nheld, MAXT);
	struct td_held_note *h = &fx.held[fx.nheld++];
	*h = (struct td_held_note){
		.f = {.object = obj, .kind = k, .holder = holder,
		      .since = since},
		.rt = rt};
	return h;
}

static void sem_note(uint64_t holder, size_t permits, size_t others)
{
	struct td_held_note *h = note(&fx.rt, TD_WAIT_SEMAPHORE, S1, holder,
				      NOW - 40);
	h->f.permits = permits;
	h->f.others = others;
}

static void sem_wait(td_dump_task *t, uint32_t flags)
{
	wait_on(t, (td_wait){.kind = TD_WAIT_SEMAPHORE, .object = S1,
			     .count = 1, .flags = flags});
}

static void assert_deadlock(size_t k, const uint64_t *ids, size_t n)
{
	ck_assert_uint_lt(k, fx.d.ndeadlocks);
	const td_dump_deadlock *dl = &fx.d.deadlocks[k];
	ck_assert_uint_eq(dl->ntasks, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(dl->tasks[i]->id, ids[i]);
		const td_dump_edge *e = &dl->tasks[i]->waits_for[dl->edges[i]];
		ck_assert(e->has_task);
		ck_assert_uint_eq(e->task_id, ids[(i + 1) % n]);
	}
}

START_TEST(test_granted)
{
	td_dump_task *a = task(2), *b = task(3);
	/* 2 was handed the lock (the holder is 2 now), 3 waits behind. */
	wait_on(a, (td_wait){.kind = TD_WAIT_MUTEX, .object = M1,
			     .task_id = 2, .since_ms = NOW - 5,
			     .flags = TD_WAIT_GRANTED});
	mutex_wait(b, M1, 2);
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(a->nwaits_for, 0);
	ck_assert_uint_eq(a->nholds, 1);
	ck_assert_ptr_eq(a->holds[0].object, M1);
	ck_assert_uint_eq(a->holds[0].waiters, 1);
	ck_assert_uint_eq(a->holds[0].held_ms, 5);
	ck_assert_uint_eq(b->nwaits_for, 1);
	ck_assert_uint_eq(b->waits_for[0].task_id, 2);
	ck_assert_str_eq(b->waits_for[0].why, "mutex 0x1000 held");
}
END_TEST

START_TEST(test_self)
{
	task(1);
	td_dump_task *t = task(5);
	mutex_wait(t, M1, 5);
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 1);
	uint64_t ids[] = {5};
	assert_deadlock(0, ids, 1);
	ck_assert_uint_eq(t->nholds, 1);
	ck_assert_uint_eq(t->holds[0].waiters, 1);
}
END_TEST

START_TEST(test_any_leaf)
{
	td_dump_task *a = task(1), *b = task(2);
	mutex_wait(a, M1, 2); /* a join_all: the lock, and a sleep */
	wait_on(a, (td_wait){.kind = TD_WAIT_SLEEP, .deadline_ms = NOW + 9});
	mutex_wait(b, M2, 1);
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_ptr_null(fx.d.deadlocks);
	ck_assert_uint_eq(a->nwaits_for, 1);
	ck_assert_uint_eq(b->nwaits_for, 1);
	ck_assert_uint_eq(a->nholds, 1);
	ck_assert_uint_eq(b->nholds, 1);
}
END_TEST

START_TEST(test_escape)
{
	td_dump_task *a = task(1), *b = task(2), *c = task(3);
	mutex_wait(a, M1, 2); /* a join_all: b's lock, or c finishing */
	join_wait(a, 3);
	mutex_wait(b, M2, 1);
	join_wait(c, 2);      /* c also sleeps: it goes on, and so may a */
	wait_on(c, (td_wait){.kind = TD_WAIT_SLEEP, .deadline_ms = NOW + 9});
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(a->nwaits_for, 2);
}
END_TEST

START_TEST(test_behind)
{
	td_dump_task *a = task(1), *b = task(2), *c = task(3);
	mutex_wait(a, M1, 2);
	mutex_wait(b, M2, 1);
	mutex_wait(c, M2, 1); /* behind the deadlock, not in it */
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 1);
	uint64_t ids[] = {1, 2};
	assert_deadlock(0, ids, 2);
	ck_assert_uint_eq(a->holds[0].waiters, 2);
	ck_assert_uint_eq(c->nwaits_for, 1);
}
END_TEST

START_TEST(test_shared)
{
	td_dump_task *a = task(1), *b = task(2), *c = task(3);
	mutex_wait(a, M1, 2);
	mutex_wait(b, M2, 1); /* b waits for both a and c */
	join_wait(b, 3);
	join_wait(c, 2);
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 2);
	uint64_t first[] = {1, 2}, second[] = {2, 3};
	assert_deadlock(0, first, 2);
	assert_deadlock(1, second, 2);
	ck_assert_uint_eq(b->nwaits_for, 2);
	ck_assert_str_eq(b->waits_for[1].why, "join");
}
END_TEST

START_TEST(test_outside)
{
	td_dump_task *a = task(1), *b = task(2), *c = task(3), *r = task(4);
	join_wait(a, 2);
	mutex_wait(b, M1, 4);   /* 4 is running */
	r->state = TD_DUMP_RUNNING;
	r->traced = false;
	join_wait(c, 99);       /* not in the dump */
	mutex_wait(c, M2, 0);   /* held by a thread or a block_on future */
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(r->nholds, 1);
	ck_assert_uint_eq(c->nwaits_for, 1);
	ck_assert_uint_eq(c->waits_for[0].task_id, 99);
}
END_TEST

START_TEST(test_no_sender)
{
	td_dump_task *a = task(1);
	wait_on(a, (td_wait){.kind = TD_WAIT_ONESHOT,
			     .object = (const void *)(uintptr_t)0x3000,
			     .flags = TD_WAIT_NO_SENDER});
	wait_on(a, (td_wait){.kind = TD_WAIT_CHAN_RECV,
			     .object = (const void *)(uintptr_t)0x4000});
	diagnose();
	ck_assert_uint_eq(a->nwaits_for, 1);
	ck_assert(!a->waits_for[0].has_task);
	ck_assert_str_eq(a->waits_for[0].why, "oneshot 0x3000 no sender left");
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
}
END_TEST

START_TEST(test_waiters)
{
	td_dump_task *h = task(1);
	wait_on(h, (td_wait){.kind = TD_WAIT_NOTIFY});
	for (uint64_t id = 2; id <= 4; id++)
		mutex_wait(task(id), M2, 1);
	mutex_wait(&fx.tasks[1], M1, 1); /* task 2 also waits for M1 */
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(h->nholds, 2); /* by object address */
	ck_assert_ptr_eq(h->holds[0].object, M1);
	ck_assert_uint_eq(h->holds[0].waiters, 1);
	ck_assert_ptr_eq(h->holds[1].object, M2);
	ck_assert_uint_eq(h->holds[1].waiters, 3);
	ck_assert_uint_eq(h->holds[1].held_ms, 250);
	/* One edge per distinct reason: two mutexes of the same holder. */
	ck_assert_uint_eq(fx.tasks[1].nwaits_for, 2);
	ck_assert_str_eq(fx.tasks[1].waits_for[0].why, "mutex 0x2000 held");
	ck_assert_str_eq(fx.tasks[1].waits_for[1].why, "mutex 0x1000 held");
}
END_TEST

/* A dump of n tasks with ids 1..n, each with `per` trace slots. */
struct big {
	td_dump d;
	td_dump_runtime rt;
	td_dump_task **list;
	struct td_arena arena;
};

static void big_init(struct big *b, size_t n, size_t per)
{
	memset(b, 0, sizeof(*b));
	b->d.runtimes = &b->rt;
	b->d.nruntimes = 1;
	b->rt.tasks = calloc(n, sizeof(*b->rt.tasks));
	b->rt.ntasks = n;
	b->list = calloc(n, sizeof(*b->list));
	ck_assert(b->rt.tasks && b->list);
	for (size_t i = 0; i < n; i++) {
		td_dump_task *t = &b->rt.tasks[i];
		t->id = i + 1;
		t->state = TD_DUMP_IDLE;
		t->traced = true;
		t->traces = calloc(per, sizeof(*t->traces));
		ck_assert_ptr_nonnull(t->traces);
		b->list[i] = t;
	}
	td_arena_init(&b->arena);
}

static void big_free(struct big *b)
{
	for (size_t i = 0; i < b->rt.ntasks; i++)
		free(b->rt.tasks[i].traces);
	free(b->rt.tasks);
	free(b->list);
	td_arena_free(&b->arena);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_big_cycle)
{
	const size_t n = 100000;
	struct big b;
	big_init(&b, n, 1);
	for (size_t i = 0; i < n; i++) {
		td_dump_task *t = &b.rt.tasks[i];
		t->traces[0].wait = (td_wait){.kind = TD_WAIT_JOIN,
					      .task_id = (i + 1) % n + 1};
		t->ntraces = 1;
	}
	double t0 = mono_s();
	ck_assert_int_eq(td_dump_diagnose(&b.d, &b.arena, NOW, b.list, n, NULL, 0), 0);
	double took = mono_s() - t0;
	ck_assert_uint_eq(b.d.ndeadlocks, 1);
	const td_dump_deadlock *dl = &b.d.deadlocks[0];
	ck_assert_uint_eq(dl->ntasks, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(dl->tasks[i]->id, i + 1);
	ck_assert_msg(took < 1.0, "%.3f s for a ring of %zu", took, n);
	big_free(&b);
}
END_TEST

START_TEST(test_star)
{
	const size_t n = 5001;
	struct big b;
	big_init(&b, n, 1);
	/* Task 1 joins all the others (a join_all); each of them waits for
	 * task 1's mutex. */
	td_dump_task *hub = &b.rt.tasks[0];
	free(hub->traces);
	hub->traces = calloc(n, sizeof(*hub->traces));
	ck_assert_ptr_nonnull(hub->traces);
	for (size_t i = 1; i < n; i++) {
		hub->traces[hub->ntraces++].wait =
			(td_wait){.kind = TD_WAIT_JOIN, .task_id = i + 1};
		td_dump_task *t = &b.rt.tasks[i];
		t->traces[0].wait = (td_wait){.kind = TD_WAIT_MUTEX,
					      .object = M1, .task_id = 1};
		t->ntraces = 1;
	}
	double t0 = mono_s();
	ck_assert_int_eq(td_dump_diagnose(&b.d, &b.arena, NOW, b.list, n, NULL, 0), 0);
	double took = mono_s() - t0;
	ck_assert_uint_eq(b.d.ndeadlocks, TD_DUMP_MAX_DEADLOCKS);
	for (size_t k = 0; k < b.d.ndeadlocks; k++) {
		const td_dump_deadlock *dl = &b.d.deadlocks[k];
		ck_assert_uint_eq(dl->ntasks, 2);
		ck_assert_uint_eq(dl->tasks[0]->id, 1);
		ck_assert_uint_eq(dl->tasks[1]->id, k + 2);
	}
	ck_assert_uint_eq(hub->nholds, 1);
	ck_assert_uint_eq(hub->holds[0].waiters, n - 1);
	ck_assert_msg(took < 1.0, "%.3f s for a star of %zu", took, n);
	big_free(&b);
}
END_TEST

START_TEST(test_noted_mutex)
{
	td_dump_task *a = task(2), *b = task(3), *c = task(4);
	wait_on(a, (td_wait){.kind = TD_WAIT_SLEEP});
	mutex_wait(b, M2, 4);
	wait_on(c, (td_wait){.kind = TD_WAIT_SLEEP});
	note(&fx.rt, TD_WAIT_MUTEX, M1, 2, NOW - 300);  /* nobody waits */
	note(&fx.rt, TD_WAIT_MUTEX, M2, 4, NOW - 250);  /* b waits */
	note(&fx.rt, TD_WAIT_MUTEX, (const void *)(uintptr_t)0x5000, 99,
	     NOW - 1);                                  /* not in the dump */
	note(&fx.other, TD_WAIT_MUTEX, (const void *)(uintptr_t)0x6000, 3,
	     NOW - 1);           /* task 3 of the other runtime's pause */
	note(&fx.rt, TD_WAIT_MUTEX, (const void *)(uintptr_t)0x7000, 4,
	     NOW + 20);          /* taken after the capture's clock */
	diagnose();
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(a->nholds, 1);
	ck_assert_int_eq(a->holds[0].kind, TD_WAIT_MUTEX);
	ck_assert_ptr_eq(a->holds[0].object, M1);
	ck_assert_uint_eq(a->holds[0].waiters, 0);
	ck_assert_uint_eq(a->holds[0].held_ms, 300);
	ck_assert_uint_eq(a->holds[0].permits, 0);
	ck_assert_uint_eq(b->nholds, 0);
	ck_assert_uint_eq(c->nholds, 2); /* M2 (from the wait), 0x7000 */
	ck_assert_ptr_eq(c->holds[0].object, M2);
	ck_assert_uint_eq(c->holds[0].waiters, 1);
	ck_assert_ptr_eq(c->holds[1].object, (const void *)(uintptr_t)0x7000);
	ck_assert_uint_eq(c->holds[1].held_ms, 0);
	ck_assert_uint_eq(b->nwaits_for, 1);
	ck_assert_uint_eq(b->waits_for[0].task_id, 4);
}
END_TEST

START_TEST(test_sem_edges)
{
	td_dump_task *a = task(2), *b = task(3), *c = task(4);
	/* 2 and 3 hold permits and wait for the mutex 4 holds; 4 waits for
	 * a permit (and 4 lists M1 as the waits show it). */
	mutex_wait(a, M1, 4);
	mutex_wait(b, M1, 4);
	sem_wait(c, 0);
	sem_note(2, 2, 0);
	sem_note(3, 1, 0);
	diagnose();
	ck_assert_uint_eq(c->nwaits_for, 2);
	ck_assert_uint_eq(c->waits_for[0].task_id, 2);
	ck_assert_uint_eq(c->waits_for[1].task_id, 3);
	ck_assert_str_eq(c->waits_for[0].why, "semaphore 0x3000 permits held");
	ck_assert_uint_eq(a->nholds, 1);
	ck_assert_int_eq(a->holds[0].kind, TD_WAIT_SEMAPHORE);
	ck_assert_uint_eq(a->holds[0].permits, 2);
	ck_assert_uint_eq(a->holds[0].waiters, 1);
	ck_assert_uint_eq(a->holds[0].held_ms, 40);
	ck_assert_uint_eq(b->holds[0].permits, 1);
	ck_assert_uint_eq(c->nholds, 1);
	ck_assert_uint_eq(c->holds[0].waiters, 2);
	ck_assert_uint_eq(fx.d.ndeadlocks, 2);
	const uint64_t one[] = {2, 4}, two[] = {3, 4};
	assert_deadlock(0, one, 2);
	assert_deadlock(1, two, 2);
}
END_TEST

/* The cycle of test_sem_edges, but with `how` making the holders
 * unknown: no edge from the waiter, no deadlock. */
static void sem_unknown(int how)
{
	td_dump_task *a = task(2), *b = task(3), *c = task(4);
	mutex_wait(a, M1, 4);
	mutex_wait(b, M1, 4);
	sem_wait(c, how == 3 ? TD_WAIT_GRANTED : 0);
	sem_note(2, 2, how == 0 ? 1 : 0);
	if (how == 1)
		fx.held[0].f.closed = true;
	sem_note(3, 1, how == 0 ? 1 : 0);
	if (how == 2) /* both seen in another runtime's pause only */
		fx.held[0].rt = fx.held[1].rt = &fx.other;
	diagnose();
	ck_assert_uint_eq(c->nwaits_for, 0);
	ck_assert_uint_eq(fx.d.ndeadlocks, 0);
	ck_assert_uint_eq(b->nholds, how == 2 ? 0 : 1);
	if (how == 2)
		return;
	ck_assert_uint_eq(b->holds[0].others, how == 0 ? 1 : 0);
	ck_assert_uint_eq(b->holds[0].waiters, how == 3 ? 0 : 1);
}

START_TEST(test_sem_unknown)
{
	sem_unknown(_i);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("diagnose");
	TCase *tc = tcase_create("diagnose");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_granted);
	tcase_add_test(tc, test_self);
	tcase_add_test(tc, test_any_leaf);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_behind);
	tcase_add_test(tc, test_shared);
	tcase_add_test(tc, test_outside);
	tcase_add_test(tc, test_no_sender);
	tcase_add_test(tc, test_waiters);
	tcase_add_test(tc, test_noted_mutex);
	tcase_add_test(tc, test_sem_edges);
	tcase_add_loop_test(tc, test_sem_unknown, 0, 4);
	suite_add_tcase(s, tc);
	TCase *big = tcase_create("scale");
	tcase_set_timeout(big, 30);
	tcase_add_test(big, test_big_cycle);
	tcase_add_test(big, test_star);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
