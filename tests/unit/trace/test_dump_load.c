/* test_dump_load.c - big dumps, and dumps of a runtime under load.
 *
 * test_ten_thousand: 10 000 parked tasks (a third each on a sleep, a
 *   notify and a mutex held by the test thread), every one listed and
 *   traced, with the right frames and waits and the right counts; then
 *   every notify and mutex waiter is released and must finish.
 * test_dumps_under_load: tasks spawned, finishing and waking each other
 *   all the time (waves of short-lived children joined by a spawner,
 *   tokens through an mpsc channel, ping-pong pairs over bounded
 *   channels), while two plain threads take dumps back to back
 *   (td_runtime_dump and td_dump_all, some symbolized and written out in
 *   both formats).  Every dump must be internally consistent, and the
 *   workload must complete with exactly the expected results.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define HOUR_MS (3600u * 1000u)

/* ---- 10 000 tasks ------------------------------------------------------ */

#define NBIG 10000

enum big_kind { BIG_SLEEP, BIG_NOTIFY, BIG_MUTEX };

struct big {
	td_notify notify;
	td_mutex mutex;
	atomic_int parked;
	atomic_int finished;
};

typedef struct big_inner {
	td_future base;
	td_async as;
	struct big *b;
	enum big_kind kind;
	union {
		td_sleep nap;
		td_notified go;
		td_mutex_lock lk;
	} leaf;
} big_inner;

static td_poll big_inner_poll(td_future *f, td_context *cx)
{
	big_inner *p = (big_inner *)f;
	TD_BEGIN(&p->as);
	switch (p->kind) {
	case BIG_SLEEP:
		td_sleep_init(&p->leaf.nap, HOUR_MS);
		break;
	case BIG_NOTIFY:
		td_notified_init(&p->leaf.go, &p->b->notify);
		break;
	case BIG_MUTEX:
		td_mutex_lock_init(&p->leaf.lk, &p->b->mutex);
		break;
	}
	atomic_fetch_add(&p->b->parked, 1);
	TD_AWAIT(&p->as, &p->leaf, cx);
	if (p->kind == BIG_MUTEX)
		td_mutex_unlock(&p->b->mutex);
	atomic_fetch_add(&p->b->finished, 1);
	TD_END(&p->as);
}

static void big_inner_drop(td_future *f)
{
	td_async_drop(&((big_inner *)f)->as);
}

static const td_future_vtable big_inner_vt = {.poll = big_inner_poll,
					      .drop = big_inner_drop};

typedef struct big_outer {
	td_future base;
	td_async as;
	big_inner inner;
} big_outer;

static td_poll big_outer_poll(td_future *f, td_context *cx)
{
	big_outer *p = (big_outer *)f;
	TD_BEGIN(&p->as);
	TD_AWAIT(&p->as, &p->inner, cx);
	TD_END(&p->as);
}

static void big_outer_drop(td_future *f)
{
	td_async_drop(&((big_outer *)f)->as);
}

static const td_future_vtable big_outer_vt = {.poll = big_outer_poll,
					      .drop = big_outer_drop};

static bool all_big_idle(const td_dump *d, void *arg)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	size_t idle = 0;
	(void)arg;
	for (size_t i = 0; i < r->ntasks; i++)
		idle += !r->tasks[i].is_block_on &&
			r->tasks[i].state == TD_DUMP_IDLE &&
			r->tasks[i].traced && r->tasks[i].ntraces == 1;
	return idle == NBIG;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static const char *big_leaf(enum big_kind k)
{
	return k == BIG_SLEEP ? FX_LEAF_SLEEP
			      : k == BIG_NOTIFY ? FX_LEAF_NOTIFY : FX_LEAF_MUTEX;
}

static void check_big(const td_dump *d, const uint64_t *ids, struct big *b)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	size_t count[3] = {0, 0, 0};

	ck_assert_uint_eq(r->ntasks, NBIG + 1);
	ck_assert_uint_eq(d->ntasks, NBIG + 1);
	ck_assert_uint_eq(r->traced, NBIG + 1);
	ck_assert(r->tasks[0].is_block_on);
	for (size_t i = 0; i < NBIG; i++) {
		const td_dump_task *t = &r->tasks[i + 1];
		/* All listed: the ids are exactly the spawned ones. */
		ck_assert_uint_eq(t->id, ids[i]);
		ck_assert_str_eq(t->name, "big");
		ck_assert_int_eq(t->state, TD_DUMP_IDLE);
		ck_assert(t->traced);
		ck_assert_uint_eq(t->ntraces, 1);
		ck_assert_uint_eq(t->polls, 1);
		const td_dump_trace *tr = &t->traces[0];
		enum big_kind k = tr->wait.kind == TD_WAIT_SLEEP ? BIG_SLEEP
				  : tr->wait.kind == TD_WAIT_NOTIFY ? BIG_NOTIFY
								    : BIG_MUTEX;
		const char *names[3] = {"big_outer_poll", "big_inner_poll",
					big_leaf(k)};
		fx_assert_names(tr, names, 3);
		if (k == BIG_MUTEX) {
			ck_assert_int_eq(tr->wait.kind, TD_WAIT_MUTEX);
			ck_assert_ptr_eq(tr->wait.object, &b->mutex);
			ck_assert_uint_eq(tr->wait.task_id, 0); /* a thread */
		} else if (k == BIG_NOTIFY) {
			ck_assert_ptr_eq(tr->wait.object, &b->notify);
		}
		count[k]++;
	}
	/* Spawned round-robin over the three kinds. */
	ck_assert_uint_eq(count[BIG_SLEEP], (NBIG + 2) / 3);
	ck_assert_uint_eq(count[BIG_NOTIFY], (NBIG + 1) / 3);
	ck_assert_uint_eq(count[BIG_MUTEX], NBIG / 3);
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		n += strncmp(p, prefix, len) == 0;
	}
	return n;
}

START_TEST(test_ten_thousand)
{
	struct big *b = calloc(1, sizeof(*b));
	uint64_t *ids = calloc(NBIG, sizeof(*ids));
	td_runtime *rt = fx_runtime_new(_i, "big");
	fx_driver *drv = fx_driver_start(rt);

	td_notify_init(&b->notify);
	td_mutex_init(&b->mutex);
	ck_assert(td_mutex_try_lock(&b->mutex)); /* held by this thread */
	for (int i = 0; i < NBIG; i++) {
		big_outer o = {.base = {&big_outer_vt},
			       .inner = {.base = {&big_inner_vt}, .b = b,
					 .kind = (enum big_kind)(i % 3)}};
		td_join_handle h;
		ck_assert_int_eq(td_spawn_named(rt, "big", &o, &h), 0);
		ids[i] = td_join_handle_id(&h);
		td_join_handle_detach(&h);
	}
	ck_assert(fx_wait_count(&b->parked, NBIG, 40000));
	td_dump_options quick = {.no_symbolize = true, .timeout_ms = 5000};
	td_dump_free(fx_dump_until(rt, &quick, all_big_idle, NULL, 20000,
				   "10 000 tasks parked"));

	td_dump *d = NULL;
	ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
	fx_check_consistent(d, "10 000 tasks");
	qsort(ids, NBIG, sizeof(*ids), cmp_u64);
	check_big(d, ids, b);
	fprintf(stderr, "%s: 10 000 tasks: pause %.3f ms, capture %.3f ms, "
			"symbolize %.3f ms, total %.3f ms\n",
		fx_flavors[_i].flavor_name, d->pause_ms, d->capture_ms,
		d->symbolize_ms, d->total_ms);
	char *text = fx_text(d);
	ck_assert_uint_eq(count_lines(text, "task "), NBIG + 1);
	free(text);
	td_dump_free(d);

	/* Release the notify and mutex waiters: all of them finish. */
	td_notify_waiters(&b->notify);
	td_mutex_unlock(&b->mutex);
	ck_assert_msg(fx_wait_count(&b->finished, NBIG / 3 + (NBIG + 1) / 3,
				    40000),
		      "only %d of the released tasks finished",
		      atomic_load(&b->finished));
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&b->notify);
	td_mutex_destroy(&b->mutex);
	free(ids);
	free(b);
}
END_TEST

/* ---- dumps under load --------------------------------------------------- */

#define WAVE 40        /* children per round */
#define MIN_ROUNDS 20
#define MIN_DUMPS 100
#define PINGS 1500     /* exchanges per ping-pong pair */
#define NPAIRS 2

struct load {
	td_mpsc *tokens;       /* children -> collector (uint64_t) */
	atomic_int dumps;      /* taken so far (both dumper threads) */
	atomic_int done;       /* the workload finished */
	atomic_int started;    /* load_main's first real poll began */
	/* Results, written by the workload's tasks. */
	uint64_t collected;    /* sum of tokens */
	uint64_t ncollected;
	int pongs[NPAIRS];
	int rounds;
	uint64_t expected;
};

typedef struct child {
	td_future base;
	td_async as;
	td_mpsc *tx;           /* our own sender handle */
	uint64_t token;
	td_yield y;
	td_sleep nap;
	td_mpsc_send send;
} child;

static td_poll child_poll(td_future *f, td_context *cx)
{
	child *c = (child *)f;
	TD_BEGIN(&c->as);
	td_yield_init(&c->y);
	TD_AWAIT(&c->as, &c->y, cx);
	if (c->token % 3 == 0) {
		td_sleep_init(&c->nap, c->token % 2);
		TD_AWAIT(&c->as, &c->nap, cx);
	}
	td_mpsc_send_init(&c->send, c->tx, &c->token);
	TD_AWAIT(&c->as, &c->send, cx);
	ck_assert_int_eq(c->send.error, 0);
	td_mpsc_sender_release(c->tx);
	c->tx = NULL;
	TD_END(&c->as);
}

static void child_drop(td_future *f)
{
	child *c = (child *)f;
	td_async_drop(&c->as);
	if (c->tx)
		td_mpsc_sender_release(c->tx);
}

static const td_future_vtable child_vt = {.poll = child_poll,
					  .drop = child_drop};

typedef struct collector {
	td_future base;
	td_async as;
	struct load *l;
	uint64_t v;
	td_mpsc_recv rx;
} collector;

static td_poll collector_poll(td_future *f, td_context *cx)
{
	collector *c = (collector *)f;
	TD_BEGIN(&c->as);
	for (;;) {
		td_mpsc_recv_init(&c->rx, c->l->tokens, &c->v);
		TD_AWAIT(&c->as, &c->rx, cx);
		if (c->rx.error)
			break;
		c->l->collected += c->v;
		c->l->ncollected++;
	}
	td_mpsc_receiver_release(c->l->tokens);
	TD_END(&c->as);
}

static void collector_drop(td_future *f)
{
	td_async_drop(&((collector *)f)->as);
}

static const td_future_vtable collector_vt = {.poll = collector_poll,
					      .drop = collector_drop};

/* One side of a ping-pong pair: (recv then send) or (send then recv). */
typedef struct pinger {
	td_future base;
	td_async as;
	td_mpsc *in, *out;
	bool serve;            /* receive first */
	int *count;
	int i, v;
	td_mpsc_recv rx;
	td_mpsc_send tx;
} pinger;

static td_poll pinger_poll(td_future *f, td_context *cx)
{
	pinger *p = (pinger *)f;
	TD_BEGIN(&p->as);
	for (p->i = 0; p->i < PINGS; p->i++) {
		if (p->serve) {
			td_mpsc_recv_init(&p->rx, p->in, &p->v);
			TD_AWAIT(&p->as, &p->rx, cx);
			ck_assert_int_eq(p->rx.error, 0);
			ck_assert_int_eq(p->v, p->i);
			if (p->count)
				(*p->count)++;
		}
		p->v = p->i;
		td_mpsc_send_init(&p->tx, p->out, &p->v);
		TD_AWAIT(&p->as, &p->tx, cx);
		ck_assert_int_eq(p->tx.error, 0);
		if (!p->serve) {
			td_mpsc_recv_init(&p->rx, p->in, &p->v);
			TD_AWAIT(&p->as, &p->rx, cx);
			ck_assert_int_eq(p->rx.error, 0);
			ck_assert_int_eq(p->v, p->i);
		}
	}
	TD_END(&p->as);
}

static void pinger_drop(td_future *f)
{
	td_async_drop(&((pinger *)f)->as);
}

static const td_future_vtable pinger_vt = {.poll = pinger_poll,
					   .drop = pinger_drop};

/* The block_on future: starts everything, runs waves until enough
 * rounds and dumps, joins everything, checks nothing (the test does). */
typedef struct load_main {
	td_future base;
	td_async as;
	struct load *l;
	td_mpsc *pipes[NPAIRS][2];
	td_join_handle coll, pp[NPAIRS][2], kids[WAVE];
	td_join join;
	int k, p, s;
} load_main;

static td_poll load_main_poll(td_future *f, td_context *cx)
{
	load_main *m = (load_main *)f;
	struct load *l = m->l;
	TD_BEGIN(&m->as);
	atomic_store(&l->started, 1);
	{
		collector c = {.base = {&collector_vt}, .l = l};
		ck_assert_int_eq(td_spawn_named(NULL, "collector", &c, &m->coll),
				 0);
	}
	for (m->p = 0; m->p < NPAIRS; m->p++) {
		m->pipes[m->p][0] = td_mpsc_bounded(sizeof(int), 1);
		m->pipes[m->p][1] = td_mpsc_bounded(sizeof(int), 1);
		for (m->s = 0; m->s < 2; m->s++) {
			pinger g = {.base = {&pinger_vt},
				    .in = m->pipes[m->p][m->s],
				    .out = m->pipes[m->p][1 - m->s],
				    .serve = m->s == 1,
				    .count = m->s == 1 ? &l->pongs[m->p] : NULL};
			ck_assert_int_eq(td_spawn_named(NULL, "pinger", &g,
							&m->pp[m->p][m->s]),
					 0);
		}
	}
	while (l->rounds < MIN_ROUNDS ||
	       atomic_load(&l->dumps) < MIN_DUMPS) {
		for (m->k = 0; m->k < WAVE; m->k++) {
			uint64_t token = (uint64_t)l->rounds * WAVE + m->k + 1;
			child c = {.base = {&child_vt},
				   .tx = td_mpsc_sender_clone(l->tokens),
				   .token = token};
			l->expected += token;
			ck_assert_int_eq(td_spawn_named(NULL, "child", &c,
							&m->kids[m->k]),
					 0);
		}
		for (m->k = 0; m->k < WAVE; m->k++) {
			td_join_init(&m->join, &m->kids[m->k]);
			TD_AWAIT(&m->as, &m->join, cx);
			ck_assert_int_eq(m->join.error, 0);
		}
		l->rounds++;
	}
	td_mpsc_sender_release(l->tokens); /* the collector sees the end */
	td_join_init(&m->join, &m->coll);
	TD_AWAIT(&m->as, &m->join, cx);
	for (m->p = 0; m->p < NPAIRS; m->p++) {
		for (m->s = 0; m->s < 2; m->s++) {
			td_join_init(&m->join, &m->pp[m->p][m->s]);
			TD_AWAIT(&m->as, &m->join, cx);
			ck_assert_int_eq(m->join.error, 0);
		}
		for (m->s = 0; m->s < 2; m->s++) {
			td_mpsc_sender_release(m->pipes[m->p][m->s]);
			td_mpsc_receiver_release(m->pipes[m->p][m->s]);
		}
	}
	TD_END(&m->as);
}

static const td_future_vtable load_main_vt = {.poll = load_main_poll};

struct load_run {
	td_runtime *rt;
	struct load *l;
	load_main m;
	int result;
};

static void *load_thread(void *arg)
{
	struct load_run *run = arg;
	run->result = td_runtime_block_on(run->rt, &run->m.base, NULL);
	atomic_store(&run->l->done, 1);
	return NULL;
}

struct dumper_arg {
	td_runtime *rt;
	struct load *l;
	int which;
};

static void *dumper_thread(void *arg)
{
	struct dumper_arg *a = arg;
	int n = 0;

	while (!atomic_load(&a->l->done)) {
		td_dump_options o = {.no_symbolize = n % 4 != 3,
				     .timeout_ms = 5000};
		td_dump *d = NULL;
		int err = (a->which + n) % 2 ? td_dump_all(&o, &d)
					     : td_runtime_dump(a->rt, &o, &d);
		ck_assert_int_eq(err, 0);
		fx_check_consistent(d, "dump under load");
		ck_assert_uint_eq(d->nruntimes, 1);
		ck_assert_uint_eq(d->runtimes[0].id, td_runtime_id(a->rt));
		if (n % 8 == 7) {
			free(fx_text(d));
			free(fx_json(d));
		}
		td_dump_free(d);
		atomic_fetch_add(&a->l->dumps, 1);
		n++;
	}
	return NULL;
}

START_TEST(test_dumps_under_load)
{
	struct load *l = calloc(1, sizeof(*l));
	struct load_run run = {.l = l};
	struct dumper_arg da[2];
	pthread_t lt, dt[2];
	uint64_t t0 = test_now_ms();

	l->tokens = td_mpsc_unbounded(sizeof(uint64_t));
	ck_assert_ptr_nonnull(l->tokens);
	run.rt = fx_runtime_new(_i, "load");
	run.m = (load_main){.base = {&load_main_vt}, .l = l};
	ck_assert_int_eq(pthread_create(&lt, NULL, load_thread, &run), 0);
	/* Not before: a dump would run the block_on future's first
	 * statements (spawns) on the dumping thread, see test_dump_states.c,
	 * test_never_polled. */
	ck_assert(fx_wait_count(&l->started, 1, 20000));
	for (int i = 0; i < 2; i++) {
		da[i] = (struct dumper_arg){run.rt, l, i};
		ck_assert_int_eq(pthread_create(&dt[i], NULL, dumper_thread,
						&da[i]),
				 0);
	}
	ck_assert_int_eq(pthread_join(lt, NULL), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(dt[i], NULL), 0);
	ck_assert_int_eq(run.result, 0);

	/* Nothing lost: every token, every ping. */
	ck_assert_int_ge(l->rounds, MIN_ROUNDS);
	ck_assert_uint_eq(l->ncollected, (uint64_t)l->rounds * WAVE);
	ck_assert_uint_eq(l->collected, l->expected);
	for (int p = 0; p < NPAIRS; p++)
		ck_assert_int_eq(l->pongs[p], PINGS);
	ck_assert_int_ge(atomic_load(&l->dumps), MIN_DUMPS);
	fprintf(stderr, "%s: %d dumps under load, %d rounds, %llu ms\n",
		fx_flavors[_i].flavor_name, atomic_load(&l->dumps), l->rounds,
		(unsigned long long)(test_now_ms() - t0));
	td_runtime_free(run.rt);
	free(l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_load");
	TCase *tc = tcase_create("load");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_ten_thousand, 0, FX_NFLAVORS);
	tcase_add_loop_test(tc, test_dumps_under_load, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
