/* test_sync_runtime.c - the sync primitives used by real tasks on real
 * runtimes (both flavors), and what a task dump shows of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "taskdump/combinators.h"
#include "taskdump/dump.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/notify.h"
#include "taskdump/oneshot.h"
#include "taskdump/runtime.h"
#include "taskdump/semaphore.h"
#include "taskdump/task.h"
#include "test_util.h"

static td_runtime *make_rt(td_flavor flavor, unsigned workers)
{
	td_runtime_config cfg = {.flavor = flavor, .workers = workers};
	td_runtime *rt = NULL;

	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	return rt;
}

/* Plain checks in the hot loop: every passing ck_assert writes a record
 * to Check's log file, which would dominate the timing. */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,       \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

/* ---- join every handle in order ---------------------------------------- */

typedef struct joiner {
	td_future base;
	td_async as;
	td_join_handle *handles;
	size_t n, i;
	uintptr_t sum; /* of the outputs */
	td_join join;
} joiner;

static td_poll joiner_poll(td_future *f, td_context *cx)
{
	joiner *j = (joiner *)f;

	TD_BEGIN(&j->as);
	for (j->i = 0; j->i < j->n; j->i++) {
		td_join_init(&j->join, &j->handles[j->i]);
		TD_AWAIT(&j->as, &j->join, cx);
		REQUIRE(j->join.error == 0);
		j->sum += (uintptr_t)j->join.output;
	}
	TD_END(&j->as);
}

static void joiner_drop(td_future *f)
{
	td_async_drop(&((joiner *)f)->as);
}

static const td_future_vtable joiner_vtable = {
	.poll = joiner_poll, .drop = joiner_drop, .type_name = "joiner"};

static uintptr_t join_all(td_runtime *rt, td_join_handle *h, size_t n)
{
	joiner j = {.base = {&joiner_vtable}, .handles = h, .n = n};

	ck_assert_int_eq(td_runtime_block_on(rt, &j.base, NULL), 0);
	return j.sum;
}

/* ---- mpsc ping-pong ---------------------------------------------------- */

typedef struct player {
	td_future base;
	td_async as;
	td_mpsc *in, *out;
	bool serves;
	long n, i, v;
	td_mpsc_recv r;
	td_mpsc_send s;
} player;

static td_poll player_poll(td_future *f, td_context *cx)
{
	player *p = (player *)f;

	TD_BEGIN(&p->as);
	for (p->i = 0; p->i < p->n; p->i++) {
		if (p->serves) {
			p->v = p->i;
			td_mpsc_send_init(&p->s, p->out, &p->v);
			TD_AWAIT(&p->as, &p->s, cx);
			REQUIRE(p->s.error == 0);
			td_mpsc_recv_init(&p->r, p->in, &p->v);
			TD_AWAIT(&p->as, &p->r, cx);
			REQUIRE(p->r.error == 0);
			REQUIRE(p->v == p->i);
		} else {
			td_mpsc_recv_init(&p->r, p->in, &p->v);
			TD_AWAIT(&p->as, &p->r, cx);
			REQUIRE(p->r.error == 0);
			td_mpsc_send_init(&p->s, p->out, &p->v);
			TD_AWAIT(&p->as, &p->s, cx);
			REQUIRE(p->s.error == 0);
		}
	}
	TD_END(&p->as);
}

static void player_drop(td_future *f)
{
	td_async_drop(&((player *)f)->as);
}

static const td_future_vtable player_vtable = {
	.poll = player_poll, .drop = player_drop, .type_name = "player"};

static void run_pingpong(td_flavor flavor, unsigned workers, long n)
{
	td_runtime *rt = make_rt(flavor, workers);
	td_mpsc *ab = td_mpsc_bounded(sizeof(long), 1);
	td_mpsc *ba = td_mpsc_bounded(sizeof(long), 1);
	player a = {.base = {&player_vtable}, .in = ba, .out = ab,
		    .serves = true, .n = n};
	player b = {.base = {&player_vtable}, .in = ab, .out = ba, .n = n};
	td_join_handle hb;
	struct timespec t0, t1;

	ck_assert_int_eq(td_spawn(rt, &b, &hb), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(td_runtime_block_on(rt, &a.base, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	join_all(rt, &hb, 1);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		     (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
	fprintf(stderr, "mpsc ping-pong, %s x%u: %.0f ns per round trip\n",
		flavor == TD_FLAVOR_CURRENT_THREAD ? "current_thread"
						   : "multi_thread",
		td_runtime_workers(rt), ns);
	ck_assert_uint_eq(td_mpsc_len(ab) + td_mpsc_len(ba), 0);
	td_runtime_free(rt);
	for (int i = 0; i < 2; i++) {
		td_mpsc *ch = i ? ab : ba;
		td_mpsc_sender_release(ch);
		td_mpsc_receiver_release(ch);
	}
}

START_TEST(test_pingpong_current_thread)
{
	run_pingpong(TD_FLAVOR_CURRENT_THREAD, 0, 200000);
}
END_TEST

START_TEST(test_pingpong_multi_thread)
{
	run_pingpong(TD_FLAVOR_MULTI_THREAD, 2, 50000);
}
END_TEST

/* ---- mutex: exact counter, holder is the running task ------------------ */

enum { LOCKERS = 8, LOCK_ITERS = 500 };

struct shared {
	td_mutex m;
	long counter; /* under m */
};

typedef struct locker {
	td_future base;
	td_async as;
	struct shared *sh;
	int i;
	td_mutex_lock lk;
	td_yield y;
} locker;

static td_poll locker_poll(td_future *f, td_context *cx)
{
	locker *l = (locker *)f;

	TD_BEGIN(&l->as);
	for (l->i = 0; l->i < LOCK_ITERS; l->i++) {
		td_mutex_lock_init(&l->lk, &l->sh->m);
		TD_AWAIT(&l->as, &l->lk, cx);
		REQUIRE(td_mutex_holder_id(&l->sh->m) ==
			td_task_current_id());
		l->sh->counter++;
		if (l->i % 8 == 0) { /* keep it across a yield: others queue */
			td_yield_init(&l->y);
			TD_AWAIT(&l->as, &l->y, cx);
		}
		td_mutex_unlock(&l->sh->m);
	}
	TD_END(&l->as);
}

static void locker_drop(td_future *f)
{
	td_async_drop(&((locker *)f)->as);
}

static const td_future_vtable locker_vtable = {
	.poll = locker_poll, .drop = locker_drop, .type_name = "locker"};

static void run_mutex(td_flavor flavor, unsigned workers)
{
	td_runtime *rt = make_rt(flavor, workers);
	struct shared sh = {.counter = 0};
	td_join_handle h[LOCKERS];

	td_mutex_init(&sh.m);
	for (int i = 0; i < LOCKERS; i++) {
		locker l = {.base = {&locker_vtable}, .sh = &sh};
		ck_assert_int_eq(td_spawn(rt, &l, &h[i]), 0);
	}
	join_all(rt, h, LOCKERS);
	ck_assert_int_eq(sh.counter, (long)LOCKERS * LOCK_ITERS);
	ck_assert(!td_mutex_is_locked(&sh.m));
	td_runtime_free(rt);
	td_mutex_destroy(&sh.m);
}

START_TEST(test_mutex_current_thread)
{
	run_mutex(TD_FLAVOR_CURRENT_THREAD, 0);
}
END_TEST

START_TEST(test_mutex_multi_thread)
{
	run_mutex(TD_FLAVOR_MULTI_THREAD, 4);
}
END_TEST

/* ---- oneshot: many idle receivers --------------------------------------- */

enum { ONESHOTS = 2000 };

typedef struct receiver {
	td_future base;
	td_oneshot_recv r;
} receiver;

static td_poll receiver_poll(td_future *f, td_context *cx)
{
	receiver *t = (receiver *)f;
	return td_async_poll_child(&t->r.base, cx);
}

static void receiver_drop(td_future *f)
{
	td_future_drop(&((receiver *)f)->r.base);
}

static void *receiver_output(td_future *f)
{
	receiver *t = (receiver *)f;
	return t->r.error ? NULL : t->r.value;
}

static const td_future_vtable receiver_vtable = {.poll = receiver_poll,
						 .drop = receiver_drop,
						 .output = receiver_output,
						 .type_name = "receiver"};

static void run_oneshots(td_flavor flavor, unsigned workers)
{
	td_runtime *rt = make_rt(flavor, workers);
	td_oneshot **chs = calloc(ONESHOTS, sizeof(*chs));
	td_join_handle *h = calloc(ONESHOTS, sizeof(*h));
	uintptr_t want = 0;

	for (int i = 0; i < ONESHOTS; i++) {
		receiver t = {.base = {&receiver_vtable}};
		chs[i] = td_oneshot_new();
		td_oneshot_recv_init(&t.r, chs[i]);
		ck_assert_int_eq(td_spawn(rt, &t, &h[i]), 0);
	}
	usleep(10000); /* let (some of) them park first */
	for (int i = 0; i < ONESHOTS; i++) {
		ck_assert_int_eq(td_oneshot_send(chs[i], (void *)(uintptr_t)i),
				 0);
		want += (uintptr_t)i;
	}
	ck_assert_uint_eq(join_all(rt, h, ONESHOTS), want);
	td_runtime_free(rt);
	free(chs);
	free(h);
}

START_TEST(test_oneshot_current_thread)
{
	run_oneshots(TD_FLAVOR_CURRENT_THREAD, 0);
}
END_TEST

START_TEST(test_oneshot_multi_thread)
{
	run_oneshots(TD_FLAVOR_MULTI_THREAD, 2);
}
END_TEST

/* ---- a dump of tasks blocked on each primitive ------------------------- */

struct blockers {
	td_mutex m;
	td_semaphore sem;
	td_notify n;
	td_mpsc *ch;
	td_oneshot *go;
};

/* One task body per primitive, chosen by `kind`. */
typedef struct blocked {
	td_future base;
	td_async as;
	struct blockers *b;
	int kind; /* 0 holder, 1 mutex, 2 semaphore, 3 notify, 4 recv */
	long v;
	union {
		td_mutex_lock lk;
		td_semaphore_acquire acq;
		td_notified nf;
		td_mpsc_recv r;
	} u;
	td_oneshot_recv go;
} blocked;

static td_poll blocked_poll(td_future *f, td_context *cx)
{
	blocked *t = (blocked *)f;
	struct blockers *b = t->b;

	/* No switch here: TD_AWAIT's case labels must belong to TD_BEGIN's. */
	TD_BEGIN(&t->as);
	if (t->kind <= 1) {
		td_mutex_lock_init(&t->u.lk, &b->m);
		TD_AWAIT(&t->as, &t->u.lk, cx);
		if (t->kind == 0)
			TD_AWAIT(&t->as, &t->go, cx);
		td_mutex_unlock(&b->m);
	} else if (t->kind == 2) {
		td_semaphore_acquire_init(&t->u.acq, &b->sem, 2);
		TD_AWAIT(&t->as, &t->u.acq, cx);
		REQUIRE(t->u.acq.error == 0);
		td_semaphore_release(&b->sem, 2);
	} else if (t->kind == 3) {
		td_notified_init(&t->u.nf, &b->n);
		TD_AWAIT(&t->as, &t->u.nf, cx);
	} else {
		td_mpsc_recv_init(&t->u.r, b->ch, &t->v);
		TD_AWAIT(&t->as, &t->u.r, cx);
		REQUIRE(t->u.r.error == 0);
		REQUIRE(t->v == 77);
	}
	TD_END(&t->as);
}

static void blocked_drop(td_future *f)
{
	blocked *t = (blocked *)f;
	td_async_drop(&t->as);
	if (t->kind == 0)
		td_future_drop(&t->go.base);
}

static const td_future_vtable blocked_vtable = {
	.poll = blocked_poll, .drop = blocked_drop, .type_name = "blocked"};

static const td_dump_task *find_task(const td_dump *d, uint64_t id)
{
	for (size_t r = 0; r < d->nruntimes; r++)
		for (size_t i = 0; i < d->runtimes[r].ntasks; i++)
			if (d->runtimes[r].tasks[i].id == id)
				return &d->runtimes[r].tasks[i];
	return NULL;
}

/* The single wait the dump shows for task `id`, or NULL (not there yet). */
static const td_wait *wait_of(const td_dump *d, uint64_t id)
{
	const td_dump_task *t = find_task(d, id);

	if (!t || !t->traced || t->ntraces != 1)
		return NULL;
	return &t->traces[0].wait;
}

START_TEST(test_dump_shows_waits)
{
	td_runtime *rt = make_rt(TD_FLAVOR_MULTI_THREAD, 2);
	struct blockers b;
	td_join_handle h[5];
	uint64_t id[5];
	td_dump *d = NULL;
	bool seen = false;

	td_mutex_init(&b.m);
	td_semaphore_init(&b.sem, 1);
	td_notify_init(&b.n);
	b.ch = td_mpsc_bounded(sizeof(long), 4);
	b.go = td_oneshot_new();
	for (int k = 0; k < 5; k++) {
		blocked t = {.base = {&blocked_vtable}, .b = &b, .kind = k};
		if (k == 0)
			td_oneshot_recv_init(&t.go, b.go);
		ck_assert_int_eq(td_spawn(rt, &t, &h[k]), 0);
		id[k] = td_join_handle_id(&h[k]);
		if (k == 0) /* the holder first */
			while (td_mutex_holder_id(&b.m) != id[0])
				usleep(1000);
	}
	for (int tries = 0; tries < 200 && !seen; tries++) {
		td_dump_free(d);
		d = NULL;
		usleep(5000);
		td_dump_options o = {.no_symbolize = true};
		ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
		seen = true;
		for (int k = 0; k < 5; k++)
			if (!wait_of(d, id[k]))
				seen = false;
	}
	ck_assert_msg(seen, "the dump never showed every task waiting");
	const td_wait *w = wait_of(d, id[0]);
	ck_assert_int_eq(w->kind, TD_WAIT_ONESHOT);
	ck_assert_ptr_eq(w->object, b.go);
	w = wait_of(d, id[1]);
	ck_assert_int_eq(w->kind, TD_WAIT_MUTEX);
	ck_assert_ptr_eq(w->object, &b.m);
	ck_assert_uint_eq(w->task_id, id[0]);
	w = wait_of(d, id[2]);
	ck_assert_int_eq(w->kind, TD_WAIT_SEMAPHORE);
	ck_assert_uint_eq(w->count, 2);
	ck_assert_uint_eq(w->value, 1);
	w = wait_of(d, id[3]);
	ck_assert_int_eq(w->kind, TD_WAIT_NOTIFY);
	ck_assert_ptr_eq(w->object, &b.n);
	w = wait_of(d, id[4]);
	ck_assert_int_eq(w->kind, TD_WAIT_CHAN_RECV);
	ck_assert_ptr_eq(w->object, b.ch);
	ck_assert_uint_eq(w->count, 0);
	td_dump_free(d);

	/* The tracing polls consumed nothing: release everyone. */
	long v = 77;
	ck_assert_int_eq(td_oneshot_send(b.go, NULL), 0);
	td_semaphore_release(&b.sem, 1);
	td_notify_one(&b.n);
	ck_assert_int_eq(td_mpsc_try_send(b.ch, &v), 0);
	join_all(rt, h, 5);
	ck_assert(!td_mutex_is_locked(&b.m));
	ck_assert_uint_eq(td_semaphore_available(&b.sem), 2);
	td_runtime_free(rt);
	td_mpsc_sender_release(b.ch);
	td_mpsc_receiver_release(b.ch);
	td_mutex_destroy(&b.m);
	td_semaphore_destroy(&b.sem);
	td_notify_destroy(&b.n);
}
END_TEST

static Suite *sync_runtime_suite(void)
{
	Suite *s = suite_create("sync_runtime");
	TCase *tc = tcase_create("runtime");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pingpong_current_thread);
	tcase_add_test(tc, test_pingpong_multi_thread);
	tcase_add_test(tc, test_mutex_current_thread);
	tcase_add_test(tc, test_mutex_multi_thread);
	tcase_add_test(tc, test_oneshot_current_thread);
	tcase_add_test(tc, test_oneshot_multi_thread);
	tcase_add_test(tc, test_dump_shows_waits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sync_runtime_suite());
}
