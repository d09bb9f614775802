/* test_local_queue.c - a worker's bounded run queue (sched/local_queue.h):
 * FIFO order, overflow into the injection queue, steal-half, index
 * wrap-around, and the owner racing one to three stealers (every task seen
 * exactly once).
 *
 * The tasks are calloc'd struct td_task records that are never polled: the
 * queue only stores pointers, and the injection queue links them through
 * queue_next.  A task's identity is its index in the array.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/inject.h"
#include "sched/local_queue.h"
#include "task/core.h"
#include "task/state.h"
#include "test_util.h"

#define CAP TD_LOCAL_QUEUE_CAP
#define HALF (TD_LOCAL_QUEUE_CAP / 2)

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,       \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

static struct td_task *tasks_new(size_t n)
{
	struct td_task *t = calloc(n, sizeof(struct td_task));
	ck_assert_ptr_nonnull(t);
	return t;
}

static size_t idx(struct td_task *base, struct td_task *t)
{
	return (size_t)(t - base);
}

static struct td_local_queue *queue_new(void)
{
	struct td_local_queue *q = malloc(sizeof(*q));
	ck_assert_ptr_nonnull(q);
	td_local_queue_init(q);
	return q;
}

/* Start the queue's indices at `start` (all three equal), to exercise the
 * u32 wrap-around without four billion operations. */
static void queue_set_indices(struct td_local_queue *q, uint32_t start)
{
	atomic_store(&q->head, ((uint64_t)start << 32) | start);
	atomic_store(&q->tail, start);
}

static const uint32_t starts[] = {0, 0xffffff00u, 0xfffffff0u, 0x7fffffffu};
#define NSTARTS (sizeof(starts) / sizeof(starts[0]))

/* ---- single-threaded ---------------------------------------------------- */

START_TEST(push_pop_fifo)
{
	struct td_local_queue *q = queue_new();
	struct td_inject inj;
	struct td_task *t = tasks_new(CAP);
	td_inject_init(&inj);
	queue_set_indices(q, starts[_i]);

	ck_assert_ptr_null(td_local_queue_pop(q));
	ck_assert_uint_eq(td_local_queue_len(q), 0);
	/* Interleaved pushes and pops keep FIFO order across many laps of
	 * the ring (and across the u32 wrap for the high starts). */
	size_t pushed = 0, popped = 0;
	for (int lap = 0; lap < 40; lap++) {
		size_t burst = (size_t)(lap * 37 % CAP) + 1;
		if (burst > CAP - (pushed - popped))
			burst = CAP - (pushed - popped); /* no overflow */
		for (size_t k = 0; k < burst; k++) {
			ck_assert(td_local_queue_push(q, &t[pushed % CAP], &inj));
			pushed++;
		}
		ck_assert_uint_eq(td_local_queue_len(q), pushed - popped);
		size_t drain = lap % 3 ? burst : burst / 2;
		for (size_t k = 0; k < drain; k++) {
			struct td_task *p = td_local_queue_pop(q);
			ck_assert_ptr_eq(p, &t[popped % CAP]);
			popped++;
		}
	}
	while (popped < pushed) {
		ck_assert_ptr_eq(td_local_queue_pop(q), &t[popped % CAP]);
		popped++;
	}
	ck_assert_ptr_null(td_local_queue_pop(q));
	ck_assert(td_inject_is_empty(&inj));
	td_inject_destroy(&inj);
	free(t);
	free(q);
}
END_TEST

static void collect(struct td_task *t, void *arg)
{
	struct td_task ***out = arg;
	*(*out)++ = t;
}

START_TEST(overflow_moves_half_in_order)
{
	struct td_local_queue *q = queue_new();
	struct td_inject inj;
	struct td_task *t = tasks_new(3 * CAP);
	td_inject_init(&inj);
	queue_set_indices(q, starts[_i]);

	/* Fill exactly to capacity: nothing overflows. */
	for (size_t k = 0; k < CAP; k++)
		ck_assert(td_local_queue_push(q, &t[k], &inj));
	ck_assert_uint_eq(td_local_queue_len(q), CAP);
	ck_assert(td_inject_is_empty(&inj));

	/* One more: the oldest half plus the new task move to inject, in
	 * order (oldest first, the new one last). */
	ck_assert(td_local_queue_push(q, &t[CAP], &inj));
	ck_assert_uint_eq(td_local_queue_len(q), CAP - HALF);
	ck_assert_uint_eq(atomic_load(&inj.len), HALF + 1);
	for (size_t k = 0; k < HALF; k++)
		ck_assert_ptr_eq(td_inject_pop(&inj), &t[k]);
	ck_assert_ptr_eq(td_inject_pop(&inj), &t[CAP]);
	ck_assert_ptr_null(td_inject_pop(&inj));

	/* The local queue keeps the newer half, in order; the snapshot for
	 * dumps lists the same. */
	struct td_task *snap[CAP], **sp = snap;
	td_local_queue_for_each(q, collect, &sp);
	ck_assert_int_eq(sp - snap, CAP - HALF);
	for (size_t k = 0; k < CAP - HALF; k++)
		ck_assert_ptr_eq(snap[k], &t[HALF + k]);

	/* Room again: fill up and overflow a second time; the overflow
	 * batch is appended behind what inject already holds. */
	ck_assert(td_inject_push(&inj, &t[2 * CAP]));
	for (size_t k = 0; k < HALF; k++)
		ck_assert(td_local_queue_push(q, &t[CAP + 1 + k], &inj));
	ck_assert_uint_eq(td_local_queue_len(q), CAP);
	ck_assert(td_local_queue_push(q, &t[2 * CAP + 1], &inj));
	ck_assert_ptr_eq(td_inject_pop(&inj), &t[2 * CAP]);
	for (size_t k = 0; k < HALF; k++)
		ck_assert_ptr_eq(td_inject_pop(&inj), &t[HALF + k]);
	ck_assert_ptr_eq(td_inject_pop(&inj), &t[2 * CAP + 1]);
	ck_assert(td_inject_is_empty(&inj));
	for (size_t k = 0; k < HALF; k++)
		ck_assert_ptr_eq(td_local_queue_pop(q), &t[CAP + 1 + k]);
	ck_assert_ptr_null(td_local_queue_pop(q));
	td_inject_destroy(&inj);
	free(t);
	free(q);
}
END_TEST

START_TEST(steal_moves_half)
{
	struct td_inject inj;
	struct td_task *t = tasks_new(CAP);
	td_inject_init(&inj);
	static const uint32_t sizes[] = {1, 2, 3, 7, 64, 127, 128, 129, 255, CAP};

	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		uint32_t n = sizes[si];
		struct td_local_queue *src = queue_new(), *dst = queue_new();
		queue_set_indices(src, starts[_i]);
		queue_set_indices(dst, starts[(_i + 1) % NSTARTS]);
		for (uint32_t k = 0; k < n; k++)
			ck_assert(td_local_queue_push(src, &t[k], &inj));

		/* The stealer takes the oldest ceil(n/2): the last of them
		 * is returned to run now, the others land in dst in order;
		 * the owner keeps the newest floor(n/2). */
		uint32_t take = n - n / 2;
		struct td_task *got = td_local_queue_steal_into(src, dst);
		ck_assert_ptr_eq(got, &t[take - 1]);
		ck_assert_uint_eq(td_local_queue_len(dst), take - 1);
		ck_assert_uint_eq(td_local_queue_len(src), n / 2);
		for (uint32_t k = 0; k + 1 < take; k++)
			ck_assert_ptr_eq(td_local_queue_pop(dst), &t[k]);
		ck_assert_ptr_null(td_local_queue_pop(dst));
		for (uint32_t k = take; k < n; k++)
			ck_assert_ptr_eq(td_local_queue_pop(src), &t[k]);
		ck_assert_ptr_null(td_local_queue_pop(src));
		/* The victim's `steal` caught up: it can fill up again. */
		for (uint32_t k = 0; k < CAP; k++)
			ck_assert(td_local_queue_push(src, &t[k], &inj));
		ck_assert(td_inject_is_empty(&inj));
		free(src);
		free(dst);
	}
	td_inject_destroy(&inj);
	free(t);
}
END_TEST

START_TEST(steal_edge_cases)
{
	struct td_local_queue *src = queue_new(), *dst = queue_new();
	struct td_inject inj;
	struct td_task *t = tasks_new(2 * CAP);
	td_inject_init(&inj);

	/* Nothing to steal. */
	ck_assert_ptr_null(td_local_queue_steal_into(src, dst));
	ck_assert_uint_eq(td_local_queue_len(dst), 0);

	/* dst without room for half of a full src: refused, nothing moves. */
	for (uint32_t k = 0; k < CAP; k++)
		ck_assert(td_local_queue_push(src, &t[k], &inj));
	for (uint32_t k = 0; k < HALF + 1; k++)
		ck_assert(td_local_queue_push(dst, &t[CAP + k], &inj));
	ck_assert_ptr_null(td_local_queue_steal_into(src, dst));
	ck_assert_uint_eq(td_local_queue_len(src), CAP);
	ck_assert_uint_eq(td_local_queue_len(dst), HALF + 1);

	/* A steal in progress (steal != real) makes others back off and
	 * makes a full owner overflow just the new task. */
	uint64_t h = atomic_load(&src->head);
	uint32_t real = (uint32_t)h;
	atomic_store(&src->head, ((uint64_t)real << 32) | (real + 4));
	struct td_local_queue *dst2 = queue_new();
	ck_assert_ptr_null(td_local_queue_steal_into(src, dst2));
	/* tail - steal == CAP still: the new task alone goes to inject. */
	ck_assert(td_local_queue_push(src, &t[CAP + HALF + 1], &inj));
	ck_assert_uint_eq(atomic_load(&inj.len), 1);
	ck_assert_ptr_eq(td_inject_pop(&inj), &t[CAP + HALF + 1]);
	/* The owner can still pop past the claimed entries, but must not
	 * reuse their slots until the stealer is done: `steal` stays, and
	 * the queue still counts as full for pushes. */
	ck_assert_ptr_eq(td_local_queue_pop(src), &t[4]);
	ck_assert_uint_eq(atomic_load(&src->head) >> 32, real);
	ck_assert(td_local_queue_push(src, &t[CAP + HALF + 2], &inj));
	ck_assert_ptr_eq(td_inject_pop(&inj), &t[CAP + HALF + 2]);
	for (uint32_t k = 0; k < CAP; k++) /* the claimed slots are intact */
		ck_assert_ptr_eq(atomic_load(&src->slots[(real + k) &
							  TD_LOCAL_QUEUE_MASK]),
				 &t[k]);
	/* The claim ends; the queue is consistent again. */
	h = atomic_load(&src->head);
	atomic_store(&src->head, ((uint64_t)(uint32_t)h << 32) | (uint32_t)h);
	ck_assert_uint_eq(td_local_queue_len(src), CAP - 5);

	td_inject_destroy(&inj);
	free(t);
	free(src);
	free(dst);
	free(dst2);
}
END_TEST

/* ---- overflow into a closed injection queue (shutdown) ----------------- */

static atomic_int closed_drops;

static td_poll never_poll(td_future *f, td_context *cx)
{
	(void)f;
	(void)cx;
	return TD_PENDING;
}

static void never_drop(td_future *f)
{
	(void)f;
	atomic_fetch_add(&closed_drops, 1);
}

static const td_future_vtable never_vtable = {.poll = never_poll,
					      .drop = never_drop};

/* local_queue.h says that when the overflow cannot go to a closed
 * injection queue "the caller then still owns t (and nothing else was
 * moved)"; local_queue.c instead drops the Notified references of the
 * half it had claimed.  Both are safe at shutdown; what must hold either
 * way: push returns false, t is untouched, and every other task is either
 * still queued or had exactly its Notified reference dropped - none lost,
 * none dropped twice. */
START_TEST(overflow_into_closed_inject)
{
	struct td_local_queue *q = queue_new();
	struct td_inject inj;
	struct td_task *t[CAP + 1];
	td_future fut = {&never_vtable};
	td_inject_init(&inj);
	atomic_store(&closed_drops, 0);

	for (size_t k = 0; k <= CAP; k++) {
		/* Unbound tasks (no scheduler): refs = owned + notified. */
		t[k] = td_task_alloc(&fut, sizeof(fut), NULL, false);
		ck_assert_ptr_nonnull(t[k]);
	}
	for (size_t k = 0; k < CAP; k++)
		ck_assert(td_local_queue_push(q, t[k], &inj));
	ck_assert_ptr_null(td_inject_close(&inj));

	ck_assert(!td_local_queue_push(q, t[CAP], &inj));
	ck_assert_uint_eq(td_st_refs(atomic_load(&t[CAP]->state)), 2);
	ck_assert(td_inject_is_empty(&inj));

	bool queued[CAP] = {false};
	struct td_task *p;
	while ((p = td_local_queue_pop(q))) {
		size_t k = 0;
		while (k < CAP && t[k] != p)
			k++;
		ck_assert_uint_lt(k, CAP);
		ck_assert(!queued[k]);
		queued[k] = true;
	}
	size_t still = 0;
	for (size_t k = 0; k < CAP; k++) {
		uint64_t refs = td_st_refs(atomic_load(&t[k]->state));
		if (queued[k]) {
			still++;
			ck_assert_uint_eq(refs, 2);
		} else {
			ck_assert_uint_eq(refs, 1); /* Notified dropped once */
		}
	}
	if (still != CAP)
		fprintf(stderr, "note: overflow into a closed inject dropped "
				"%zu queued tasks (local_queue.h says nothing "
				"else is moved)\n",
			CAP - still);
	ck_assert_int_eq(atomic_load(&closed_drops), 0);
	/* Release what is left: an unbound task's dealloc drops its future. */
	for (size_t k = 0; k <= CAP; k++) {
		uint64_t refs = td_st_refs(atomic_load(&t[k]->state));
		for (uint64_t r = 0; r < refs; r++)
			td_task_unref(t[k]);
	}
	ck_assert_int_eq(atomic_load(&closed_drops), CAP + 1);
	td_inject_destroy(&inj);
	free(q);
}
END_TEST

/* ---- owner vs. stealers --------------------------------------------------- */

#define MAX_STEALERS 3

struct race {
	struct td_local_queue *victim;
	struct td_inject inject;
	struct td_task *tasks;
	_Atomic unsigned char *seen; /* per task: times taken */
	size_t n;
	_Atomic int owner_done;
	_Atomic long stolen_batches;
	_Atomic long taken;
};

static void take(struct race *r, struct td_task *t)
{
	REQUIRE(t >= r->tasks && t < r->tasks + r->n);
	REQUIRE(atomic_fetch_add(&r->seen[idx(r->tasks, t)], 1) == 0);
	atomic_fetch_add(&r->taken, 1);
}

struct stealer_arg {
	struct race *r;
	struct td_local_queue *own;
};

static void *stealer_main(void *p)
{
	struct stealer_arg *a = p;
	struct race *r = a->r;
	for (;;) {
		bool done = atomic_load(&r->owner_done);
		struct td_task *t = td_local_queue_steal_into(r->victim, a->own);
		if (t) {
			atomic_fetch_add(&r->stolen_batches, 1);
			take(r, t);
			/* Run the stolen batch from our own queue. */
			while ((t = td_local_queue_pop(a->own)))
				take(r, t);
		} else if (done) {
			break;
		} else {
			sched_yield();
		}
	}
	REQUIRE(td_local_queue_len(a->own) == 0);
	return NULL;
}

static void run_owner_vs_stealers(int nstealers, size_t n, uint32_t start)
{
	struct race r = {0};
	r.victim = queue_new();
	queue_set_indices(r.victim, start);
	td_inject_init(&r.inject);
	r.tasks = tasks_new(n);
	r.seen = calloc(n, 1);
	r.n = n;

	struct stealer_arg args[MAX_STEALERS];
	pthread_t th[MAX_STEALERS];
	for (int i = 0; i < nstealers; i++) {
		args[i].r = &r;
		args[i].own = queue_new();
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, stealer_main, &args[i]), 0);
	}

	/* The owner: pushes in bursts (sometimes past capacity, so the
	 * overflow path races the stealers), pops some, and now and then
	 * drains the injection queue as a worker would. */
	unsigned x = 0x2545f491u ^ start;
	size_t next = 0;
	bool waited = false;
	while (next < n) {
		/* Halfway, make sure the stealers got a go at a full queue
		 * (on a busy machine they might otherwise not run at all
		 * before the owner is done). */
		if (!waited && next >= n / 2 && nstealers > 0) {
			waited = true;
			uint64_t t0 = test_now_ms();
			while (td_local_queue_len(r.victim) < CAP / 2 &&
			       next < n)
				REQUIRE(td_local_queue_push(r.victim,
							    &r.tasks[next++],
							    &r.inject));
			while (atomic_load(&r.stolen_batches) == 0 &&
			       test_now_ms() - t0 < 5000)
				sched_yield();
		}
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t burst = 1 + x % 300;
		for (size_t k = 0; k < burst && next < n; k++)
			REQUIRE(td_local_queue_push(r.victim, &r.tasks[next++],
						    &r.inject));
		size_t pops = (x >> 9) % 200;
		for (size_t k = 0; k < pops; k++) {
			struct td_task *t = td_local_queue_pop(r.victim);
			if (!t)
				break;
			take(&r, t);
		}
		if ((x & 0x700) == 0) {
			struct td_task *t;
			while ((t = td_inject_pop(&r.inject)))
				take(&r, t);
		}
		if ((x & 0x3000) == 0)
			sched_yield();
	}
	/* Drain what is left: the local queue and the injection queue. */
	struct td_task *t;
	while ((t = td_local_queue_pop(r.victim)))
		take(&r, t);
	atomic_store(&r.owner_done, 1);
	for (int i = 0; i < nstealers; i++)
		pthread_join(th[i], NULL);
	while ((t = td_local_queue_pop(r.victim)))
		take(&r, t);
	while ((t = td_inject_pop(&r.inject)))
		take(&r, t);

	/* Every task exactly once (take() checked "at most"). */
	ck_assert_int_eq(atomic_load(&r.taken), (long)n);
	for (size_t k = 0; k < n; k++)
		REQUIRE(atomic_load(&r.seen[k]) == 1);
	if (nstealers > 0)
		ck_assert_int_gt(atomic_load(&r.stolen_batches), 0);
	for (int i = 0; i < nstealers; i++)
		free(args[i].own);
	td_inject_destroy(&r.inject);
	free((void *)r.seen);
	free(r.tasks);
	free(r.victim);
}

START_TEST(owner_vs_stealers)
{
	/* _i = number of stealers (1..3), at both index origins. */
	run_owner_vs_stealers(_i, 300000, 0);
	run_owner_vs_stealers(_i, 300000, 0xfffff000u);
}
END_TEST

/* Stealers that steal from each other too: every queue is both a victim
 * (of its peers) and a thief, as in the scheduler.  Each participant owns
 * one queue, pushes its share of tasks and pops/steals until all are
 * taken. */
struct mesh {
	struct td_local_queue *q[MAX_STEALERS + 1];
	struct td_inject inject;
	struct td_task *tasks;
	_Atomic unsigned char *seen;
	size_t n, per;
	int parts;
	_Atomic long taken;
};

struct mesh_arg {
	struct mesh *m;
	int me;
};

static void mesh_take(struct mesh *m, struct td_task *t)
{
	REQUIRE(atomic_fetch_add(&m->seen[idx(m->tasks, t)], 1) == 0);
	atomic_fetch_add(&m->taken, 1);
}

static void *mesh_main(void *p)
{
	struct mesh_arg *a = p;
	struct mesh *m = a->m;
	struct td_local_queue *own = m->q[a->me];
	size_t first = (size_t)a->me * m->per, pushed = 0;
	unsigned x = 0x9e3779b9u * (unsigned)(a->me + 1);

	while (atomic_load(&m->taken) < (long)m->n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		for (size_t k = x % 64; k > 0 && pushed < m->per; k--)
			REQUIRE(td_local_queue_push(own, &m->tasks[first + pushed++],
						    &m->inject));
		struct td_task *t = td_local_queue_pop(own);
		if (t) {
			mesh_take(m, t);
			continue;
		}
		if ((t = td_inject_pop(&m->inject))) {
			mesh_take(m, t);
			continue;
		}
		int victim = (int)((x >> 8) % (unsigned)m->parts);
		if (victim != a->me &&
		    (t = td_local_queue_steal_into(m->q[victim], own)))
			mesh_take(m, t);
		else
			sched_yield();
	}
	return NULL;
}

START_TEST(all_steal_from_all)
{
	struct mesh m = {0};
	m.parts = 1 + _i;
	m.per = 100000;
	m.n = m.per * (size_t)m.parts;
	m.tasks = tasks_new(m.n);
	m.seen = calloc(m.n, 1);
	td_inject_init(&m.inject);
	struct mesh_arg args[MAX_STEALERS + 1];
	pthread_t th[MAX_STEALERS + 1];
	for (int i = 0; i < m.parts; i++) {
		m.q[i] = queue_new();
		queue_set_indices(m.q[i], starts[i % NSTARTS]);
	}
	for (int i = 0; i < m.parts; i++) {
		args[i] = (struct mesh_arg){&m, i};
		pthread_create(&th[i], NULL, mesh_main, &args[i]);
	}
	for (int i = 0; i < m.parts; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&m.taken), (long)m.n);
	for (size_t k = 0; k < m.n; k++)
		REQUIRE(atomic_load(&m.seen[k]) == 1);
	for (int i = 0; i < m.parts; i++) {
		ck_assert_uint_eq(td_local_queue_len(m.q[i]), 0);
		free(m.q[i]);
	}
	ck_assert(td_inject_is_empty(&m.inject));
	td_inject_destroy(&m.inject);
	free((void *)m.seen);
	free(m.tasks);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("local_queue");
	TCase *tc = tcase_create("single");
	tcase_add_loop_test(tc, push_pop_fifo, 0, NSTARTS);
	tcase_add_loop_test(tc, overflow_moves_half_in_order, 0, NSTARTS);
	tcase_add_loop_test(tc, steal_moves_half, 0, NSTARTS);
	tcase_add_test(tc, steal_edge_cases);
	tcase_add_test(tc, overflow_into_closed_inject);
	suite_add_tcase(s, tc);

	TCase *th = tcase_create("threads");
	tcase_set_timeout(th, 60);
	tcase_add_loop_test(th, owner_vs_stealers, 1, MAX_STEALERS + 1);
	tcase_add_loop_test(th, all_steal_from_all, 1, MAX_STEALERS + 1);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
