/* test_dump_chains.c - dumps of known await chains, on both flavors.
 *
 * Tasks with a known shape, each parked on a known leaf:
 *   chain    chain_one -> chain_two -> chain_three -> chain_four -> sleep
 *   fan      fan_poll -> join_all -> {fan_nap -> sleep,
 *                                     fan_recv -> oneshot,
 *                                     fan_wait -> notify}
 *   race     race_poll -> select -> {sleep, notify}
 *   napper   napper_poll -> sleep
 * The dump must list exactly these function names, outermost first, with
 * this file and the line of each TD_AWAIT for the test's own frames, the
 * join_all's three traces sharing their prefix up to the join_all frame,
 * and the right wait descriptions.  Per task: id, name, state, spawn
 * site, polls, idle_ms, worker; per runtime and per dump: the headline
 * facts.  A second dump must find the tasks exactly as the first left
 * them (no poll, no wake-up caused by tracing), and afterwards the
 * combinators' children must still react to their own wake-ups.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/oneshot.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define HOUR_MS (3600u * 1000u)
#define THIS_FILE "test_dump_chains.c"

/* Lines of the awaits, written by the first polls. */
static atomic_int line_one, line_two, line_three, line_four;
static atomic_int line_fan, line_nap, line_recv, line_wait;
static atomic_int line_race, line_napper;

/* What the test controls and observes. */
struct shared {
	td_notify fan_go;     /* fan_wait's notify */
	td_notify race_go;    /* the select's notify child */
	td_oneshot *fan_ch;   /* fan_recv's channel */
	atomic_int race_winner; /* -1 until the race completed */
	atomic_int fan_recv_value;
};

/* ---- the four-level chain ---------------------------------------------- */

typedef struct chain_four {
	td_future base;
	td_async as;
	td_sleep nap;
} chain_four;

static td_poll chain_four_poll(td_future *f, td_context *cx)
{
	chain_four *c = (chain_four *)f;
	TD_BEGIN(&c->as);
	td_sleep_init(&c->nap, HOUR_MS);
	FX_AWAIT_AT(line_four, &c->as, &c->nap, cx);
	TD_END(&c->as);
}

static void chain_four_drop(td_future *f)
{
	td_async_drop(&((chain_four *)f)->as);
}

static const td_future_vtable chain_four_vt = {.poll = chain_four_poll,
					       .drop = chain_four_drop};

typedef struct chain_three {
	td_future base;
	td_async as;
	chain_four inner;
} chain_three;

static td_poll chain_three_poll(td_future *f, td_context *cx)
{
	chain_three *c = (chain_three *)f;
	TD_BEGIN(&c->as);
	c->inner = (chain_four){.base = {&chain_four_vt}};
	FX_AWAIT_AT(line_three, &c->as, &c->inner, cx);
	TD_END(&c->as);
}

static void chain_three_drop(td_future *f)
{
	td_async_drop(&((chain_three *)f)->as);
}

static const td_future_vtable chain_three_vt = {.poll = chain_three_poll,
						.drop = chain_three_drop};

typedef struct chain_two {
	td_future base;
	td_async as;
	chain_three inner;
} chain_two;

static td_poll chain_two_poll(td_future *f, td_context *cx)
{
	chain_two *c = (chain_two *)f;
	TD_BEGIN(&c->as);
	c->inner = (chain_three){.base = {&chain_three_vt}};
	FX_AWAIT_AT(line_two, &c->as, &c->inner, cx);
	TD_END(&c->as);
}

static void chain_two_drop(td_future *f)
{
	td_async_drop(&((chain_two *)f)->as);
}

static const td_future_vtable chain_two_vt = {.poll = chain_two_poll,
					      .drop = chain_two_drop};

typedef struct chain_one {
	td_future base;
	td_async as;
	chain_two inner;
} chain_one;

static td_poll chain_one_poll(td_future *f, td_context *cx)
{
	chain_one *c = (chain_one *)f;
	TD_BEGIN(&c->as);
	c->inner = (chain_two){.base = {&chain_two_vt}};
	FX_AWAIT_AT(line_one, &c->as, &c->inner, cx);
	TD_END(&c->as);
}

static void chain_one_drop(td_future *f)
{
	td_async_drop(&((chain_one *)f)->as);
}

static const td_future_vtable chain_one_vt = {.poll = chain_one_poll,
					      .drop = chain_one_drop,
					      .type_name = "chain_one"};

/* ---- join_all over three pending children ------------------------------ */

typedef struct fan_nap {
	td_future base;
	td_async as;
	td_sleep nap;
} fan_nap;

static td_poll fan_nap_poll(td_future *f, td_context *cx)
{
	fan_nap *c = (fan_nap *)f;
	TD_BEGIN(&c->as);
	td_sleep_init(&c->nap, HOUR_MS);
	FX_AWAIT_AT(line_nap, &c->as, &c->nap, cx);
	TD_END(&c->as);
}

static void fan_nap_drop(td_future *f)
{
	td_async_drop(&((fan_nap *)f)->as);
}

static const td_future_vtable fan_nap_vt = {.poll = fan_nap_poll,
					    .drop = fan_nap_drop};

typedef struct fan_recv {
	td_future base;
	td_async as;
	struct shared *sh;
	td_oneshot_recv rx;
} fan_recv;

static td_poll fan_recv_poll(td_future *f, td_context *cx)
{
	fan_recv *c = (fan_recv *)f;
	TD_BEGIN(&c->as);
	td_oneshot_recv_init(&c->rx, c->sh->fan_ch);
	FX_AWAIT_AT(line_recv, &c->as, &c->rx, cx);
	ck_assert_int_eq(c->rx.error, 0);
	atomic_store(&c->sh->fan_recv_value, (int)(uintptr_t)c->rx.value);
	TD_END(&c->as);
}

static void fan_recv_drop(td_future *f)
{
	td_async_drop(&((fan_recv *)f)->as);
}

static const td_future_vtable fan_recv_vt = {.poll = fan_recv_poll,
					     .drop = fan_recv_drop};

typedef struct fan_wait {
	td_future base;
	td_async as;
	struct shared *sh;
	td_notified go;
} fan_wait;

static td_poll fan_wait_poll(td_future *f, td_context *cx)
{
	fan_wait *c = (fan_wait *)f;
	TD_BEGIN(&c->as);
	td_notified_init(&c->go, &c->sh->fan_go);
	FX_AWAIT_AT(line_wait, &c->as, &c->go, cx);
	TD_END(&c->as);
}

static void fan_wait_drop(td_future *f)
{
	td_async_drop(&((fan_wait *)f)->as);
}

static const td_future_vtable fan_wait_vt = {.poll = fan_wait_poll,
					     .drop = fan_wait_drop};

typedef struct fan {
	td_future base;
	td_async as;
	struct shared *sh;
	fan_nap a;
	fan_recv b;
	fan_wait c;
	td_future *kids[3];
	td_join_all all;
} fan;

static td_poll fan_poll(td_future *f, td_context *cx)
{
	fan *p = (fan *)f;
	TD_BEGIN(&p->as);
	p->a = (fan_nap){.base = {&fan_nap_vt}};
	p->b = (fan_recv){.base = {&fan_recv_vt}, .sh = p->sh};
	p->c = (fan_wait){.base = {&fan_wait_vt}, .sh = p->sh};
	p->kids[0] = &p->a.base;
	p->kids[1] = &p->b.base;
	p->kids[2] = &p->c.base;
	td_join_all_init(&p->all, p->kids, 3);
	FX_AWAIT_AT(line_fan, &p->as, &p->all, cx);
	TD_END(&p->as);
}

static void fan_drop(td_future *f)
{
	td_async_drop(&((fan *)f)->as);
}

static const td_future_vtable fan_vt = {.poll = fan_poll, .drop = fan_drop,
					.type_name = "fan"};

/* ---- select between a long sleep and a notify --------------------------- */

typedef struct race {
	td_future base;
	td_async as;
	struct shared *sh;
	td_sleep nap;
	td_notified go;
	td_future *kids[2];
	td_select sel;
} race;

static td_poll race_poll(td_future *f, td_context *cx)
{
	race *r = (race *)f;
	TD_BEGIN(&r->as);
	td_sleep_init(&r->nap, HOUR_MS);
	td_notified_init(&r->go, &r->sh->race_go);
	r->kids[0] = &r->nap.base;
	r->kids[1] = &r->go.base;
	td_select_init(&r->sel, r->kids, 2);
	FX_AWAIT_AT(line_race, &r->as, &r->sel, cx);
	atomic_store(&r->sh->race_winner, (int)r->sel.winner);
	TD_END(&r->as);
}

static void race_drop(td_future *f)
{
	race *r = (race *)f;
	td_async_drop(&r->as);
}

static const td_future_vtable race_vt = {.poll = race_poll,
					 .drop = race_drop};

/* ---- a plain sleep -------------------------------------------------------- */

typedef struct napper {
	td_future base;
	td_async as;
	td_sleep nap;
} napper;

static td_poll napper_poll(td_future *f, td_context *cx)
{
	napper *n = (napper *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->nap, HOUR_MS);
	FX_AWAIT_AT(line_napper, &n->as, &n->nap, cx);
	TD_END(&n->as);
}

static void napper_drop(td_future *f)
{
	td_async_drop(&((napper *)f)->as);
}

static const td_future_vtable napper_vt = {.poll = napper_poll,
					   .drop = napper_drop};

/* ---- the test -------------------------------------------------------------- */

enum { T_CHAIN, T_FAN, T_RACE, T_NAP, NT };

static const char *const task_names[NT] = {"chain", "fan", "race",
					   "napper"};
/* Their futures' type names (td_future_vtable.type_name; NULL: none). */
static const char *const task_types[NT] = {"chain_one", "fan", NULL, NULL};

struct ctx {
	uint64_t ids[NT];
	int spawn_line[NT];
	const char *spawn_fn;
	uint64_t rt_id;
	int flavor;
	td_dump_mode mode;
};

static bool all_idle(const td_dump *d, void *arg)
{
	struct ctx *c = arg;
	return fx_tasks_idle(fx_only_runtime(d), c->ids, NT, 1);
}

static void check_sleep_wait(const td_dump_trace *tr, uint64_t now)
{
	ck_assert_int_eq(tr->wait.kind, TD_WAIT_SLEEP);
	/* An hour from the first poll, give or take the test's age. */
	ck_assert_uint_gt(tr->wait.deadline_ms, now + HOUR_MS - 120000);
	ck_assert_uint_le(tr->wait.deadline_ms, now + HOUR_MS + 1000);
	ck_assert_msg(strncmp(tr->wait_text, "sleep, ", 7) == 0 &&
			      strstr(tr->wait_text, " left"),
		      "wait text %s", tr->wait_text);
}

static void check_chain(const td_dump_task *t, uint64_t now)
{
	static const char *const names[] = {"chain_one_poll", "chain_two_poll",
					    "chain_three_poll",
					    "chain_four_poll", FX_LEAF_SLEEP};
	ck_assert_uint_eq(t->ntraces, 1);
	const td_dump_trace *tr = &t->traces[0];
	fx_assert_names(tr, names, 5);
	fx_assert_frame_at(tr, "chain_one_poll", THIS_FILE,
			   atomic_load(&line_one));
	fx_assert_frame_at(tr, "chain_two_poll", THIS_FILE,
			   atomic_load(&line_two));
	fx_assert_frame_at(tr, "chain_three_poll", THIS_FILE,
			   atomic_load(&line_three));
	fx_assert_frame_at(tr, "chain_four_poll", THIS_FILE,
			   atomic_load(&line_four));
	ck_assert_str_eq(fx_basename(tr->frames[4].file), "sleep.c");
	ck_assert(!tr->frames[0].inlined); /* called through the root */
	check_sleep_wait(tr, now);
}

static void check_fan(const td_dump_task *t, struct shared *sh, uint64_t now)
{
	static const char *const kid[3] = {"fan_nap_poll", "fan_recv_poll",
					   "fan_wait_poll"};
	static const char *const leaf[3] = {FX_LEAF_SLEEP, FX_LEAF_ONESHOT,
					    FX_LEAF_NOTIFY};
	atomic_int *kid_line[3] = {&line_nap, &line_recv, &line_wait};

	/* Three traces: the same prefix up to the join_all frame (same
	 * functions, same lines), then each child and its leaf. */
	ck_assert_uint_eq(t->ntraces, 3);
	for (int k = 0; k < 3; k++) {
		const td_dump_trace *tr = &t->traces[k];
		const char *names[4] = {"fan_poll", "td_join_all_poll", kid[k],
					leaf[k]};
		fx_assert_names(tr, names, 4);
		for (size_t j = 0; j < 2; j++) {
			ck_assert_int_eq(tr->frames[j].line,
					 t->traces[0].frames[j].line);
			ck_assert_uint_eq(tr->frames[j].ip,
					  t->traces[0].frames[j].ip);
		}
		ck_assert_uint_ne(tr->frames[2].ip, t->traces[(k + 1) % 3].frames[2].ip);
		fx_assert_frame_at(tr, "fan_poll", THIS_FILE,
				   atomic_load(&line_fan));
		fx_assert_frame_at(tr, kid[k], THIS_FILE,
				   atomic_load(kid_line[k]));
	}
	check_sleep_wait(&t->traces[0], now);
	ck_assert_int_eq(t->traces[1].wait.kind, TD_WAIT_ONESHOT);
	ck_assert_ptr_eq(t->traces[1].wait.object, sh->fan_ch);
	ck_assert_msg(strncmp(t->traces[1].wait_text, "oneshot 0x", 10) == 0 &&
			      strstr(t->traces[1].wait_text, " recv"),
		      "wait text %s", t->traces[1].wait_text);
	ck_assert_int_eq(t->traces[2].wait.kind, TD_WAIT_NOTIFY);
	ck_assert_ptr_eq(t->traces[2].wait.object, &sh->fan_go);
	ck_assert_msg(strncmp(t->traces[2].wait_text, "notify 0x", 9) == 0,
		      "wait text %s", t->traces[2].wait_text);
}

static void check_race(const td_dump_task *t, struct shared *sh,
		       uint64_t now)
{
	static const char *const leaf[2] = {FX_LEAF_SLEEP, FX_LEAF_NOTIFY};

	/* The select's children are leaves: two traces that diverge right
	 * below the select frame. */
	ck_assert_uint_eq(t->ntraces, 2);
	for (int k = 0; k < 2; k++) {
		const td_dump_trace *tr = &t->traces[k];
		const char *names[3] = {"race_poll", "td_select_poll", leaf[k]};
		fx_assert_names(tr, names, 3);
		fx_assert_frame_at(tr, "race_poll", THIS_FILE,
				   atomic_load(&line_race));
	}
	ck_assert_uint_eq(t->traces[0].frames[1].ip, t->traces[1].frames[1].ip);
	check_sleep_wait(&t->traces[0], now);
	ck_assert_int_eq(t->traces[1].wait.kind, TD_WAIT_NOTIFY);
	ck_assert_ptr_eq(t->traces[1].wait.object, &sh->race_go);
}

static void check_napper(const td_dump_task *t, uint64_t now)
{
	static const char *const names[] = {"napper_poll", FX_LEAF_SLEEP};
	ck_assert_uint_eq(t->ntraces, 1);
	fx_assert_names(&t->traces[0], names, 2);
	fx_assert_frame_at(&t->traces[0], "napper_poll", THIS_FILE,
			   atomic_load(&line_napper));
	check_sleep_wait(&t->traces[0], now);
}

/* The facts of every task entry, and of the runtime and the dump. */
static void check_entries(const td_dump *d, const struct ctx *c,
			  uint64_t age_ms)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	const struct fx_flavor *fl = &fx_flavors[c->flavor];

	bool stop = c->mode == TD_DUMP_MODE_STOP;
	ck_assert_str_eq(d->mode, stop ? "stop" : "incremental");
	/* Incremental: nobody is held unless it popped a task while it was
	 * traced (then for microseconds). */
	ck_assert(stop ? d->pause_ms > 0.0 : d->pause_ms < 100.0);
	ck_assert(d->total_ms > 0.0);
	ck_assert(d->total_ms >= d->pause_ms);
	ck_assert(d->span_ms >= 0.0 && d->span_ms <= d->total_ms);
	ck_assert(stop ? r->pause_ms > 0.0 : r->pause_ms == d->pause_ms);
	ck_assert_uint_eq(d->nruntimes, 1);
	ck_assert_uint_eq(r->id, c->rt_id);
	ck_assert_str_eq(r->name, "chains");
	ck_assert_str_eq(r->flavor, fl->flavor_name);
	ck_assert_uint_eq(r->nworkers, fl->nworkers);
	for (size_t w = 0; w < r->nworkers; w++)
		ck_assert_str_eq(r->workers[w].state,
				 stop ? "paused" : "running");
	/* The block_on future and our tasks, nothing else. */
	ck_assert_uint_eq(r->ntasks, NT + 1);
	ck_assert_uint_eq(d->ntasks, NT + 1);
	ck_assert_uint_eq(r->traced, NT + 1);
	ck_assert(r->tasks[0].is_block_on);
	ck_assert_str_eq(r->tasks[0].type_name, "fx_main");
	for (int k = 0; k < NT; k++) {
		const td_dump_task *t = &r->tasks[k + 1];
		ck_assert_uint_eq(t->id, c->ids[k]);
		ck_assert_str_eq(t->name, task_names[k]);
		if (task_types[k])
			ck_assert_str_eq(t->type_name, task_types[k]);
		else
			ck_assert_ptr_null(t->type_name);
		ck_assert(!t->is_block_on);
		ck_assert_int_eq(t->state, TD_DUMP_IDLE);
		ck_assert_int_eq(t->queue, TD_DUMP_QUEUE_NONE);
		ck_assert_int_eq(t->queue_worker, -1);
		ck_assert_str_eq(fx_basename(t->spawn_file), THIS_FILE);
		ck_assert_int_eq(t->spawn_line, c->spawn_line[k]);
		ck_assert_str_eq(t->spawn_function, c->spawn_fn);
		/* One real poll took each to its leaf. */
		ck_assert_uint_eq(t->polls, 1);
		ck_assert_uint_le(t->idle_ms, age_ms + 20);
		ck_assert_int_ge(t->worker, 0);
		ck_assert_int_lt(t->worker, (int)fl->nworkers);
		ck_assert(t->traced);
		ck_assert_ptr_null(t->not_traced);
	}
}

START_TEST(test_known_chains)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	/* Each flavor in each mode. */
	struct ctx c = {.flavor = _i % FX_NFLAVORS, .spawn_fn = __func__,
			.mode = _i < FX_NFLAVORS ? TD_DUMP_MODE_INCREMENTAL
						 : TD_DUMP_MODE_STOP};
	td_join_handle h[NT];
	uint64_t t0 = test_now_ms();

	td_notify_init(&sh->fan_go);
	td_notify_init(&sh->race_go);
	sh->fan_ch = td_oneshot_new();
	atomic_store(&sh->race_winner, -1);
	td_runtime *rt = fx_runtime_new(c.flavor, "chains");
	c.rt_id = td_runtime_id(rt);
	fx_driver *drv = fx_driver_start(rt);

	chain_one ch = {.base = {&chain_one_vt}};
	fan fa = {.base = {&fan_vt}, .sh = sh};
	race ra = {.base = {&race_vt}, .sh = sh};
	napper na = {.base = {&napper_vt}};
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_CHAIN], rt, "chain", &ch,
					 &h[T_CHAIN]),
			 0);
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_FAN], rt, "fan", &fa,
					 &h[T_FAN]),
			 0);
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_RACE], rt, "race", &ra,
					 &h[T_RACE]),
			 0);
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_NAP], rt, "napper", &na,
					 &h[T_NAP]),
			 0);
	for (int k = 0; k < NT; k++)
		c.ids[k] = td_join_handle_id(&h[k]);

	/* Every worker must be found paused (check_entries): give a worker
	 * slowed by a loaded machine more than the default 10 ms. */
	td_dump_options o = {.timeout_ms = 5000, .grace_ms = 2000,
			     .mode = c.mode};
	td_dump *d1 = fx_dump_until(rt, &o, all_idle, &c, 20000,
				    "every task parked");
	uint64_t now = td_now_ms();
	fx_print(d1, "chains");
	check_entries(d1, &c, test_now_ms() - t0);
	const td_dump_runtime *r = fx_only_runtime(d1);
	check_chain(fx_find_task(r, c.ids[T_CHAIN]), now);
	check_fan(fx_find_task(r, c.ids[T_FAN]), sh, now);
	check_race(fx_find_task(r, c.ids[T_RACE]), sh, now);
	check_napper(fx_find_task(r, c.ids[T_NAP]), now);

	/* The block_on future is listed first, traced into the fixture. */
	const td_dump_task *bo = fx_find_block_on(r);
	ck_assert_ptr_eq(bo, &r->tasks[0]);
	ck_assert_uint_eq(bo->id, 0);
	ck_assert_int_eq(bo->state, TD_DUMP_IDLE);
	ck_assert_uint_ge(bo->polls, 1);
	ck_assert_uint_eq(bo->ntraces, 1);
	static const char *const bo_names[] = {FX_MAIN_POLL, FX_LEAF_NOTIFY};
	fx_assert_names(&bo->traces[0], bo_names, 2);
	fx_assert_frame_at(&bo->traces[0], FX_MAIN_POLL, "dump_fixtures.c",
			   fx_main_await_line());
	ck_assert_int_eq(bo->traces[0].wait.kind, TD_WAIT_NOTIFY);

	/* A later dump finds everything as it was: tracing polled nothing
	 * for real and woke nobody; idle times have grown. */
	fx_sleep_ms(120);
	td_dump *d2 = NULL;
	ck_assert_int_eq(td_runtime_dump(rt, &o, &d2), 0);
	fx_check_consistent(d2, "second dump");
	check_entries(d2, &c, test_now_ms() - t0);
	for (int k = 0; k < NT; k++) {
		const td_dump_task *a = fx_find_task(r, c.ids[k]);
		const td_dump_task *b = fx_find_task(fx_only_runtime(d2),
						     c.ids[k]);
		ck_assert_uint_eq(b->polls, a->polls);
		ck_assert_uint_eq(b->ntraces, a->ntraces);
		ck_assert_uint_ge(b->idle_ms, a->idle_ms + 100);
	}
	check_chain(fx_find_task(fx_only_runtime(d2), c.ids[T_CHAIN]), now);
	td_dump_free(d1);
	td_dump_free(d2);

	/* The combinators' children still answer their own wakers. */
	ck_assert_int_eq(td_oneshot_send(sh->fan_ch, (void *)(uintptr_t)42), 0);
	td_notify_one(&sh->fan_go);
	td_notify_one(&sh->race_go);
	ck_assert(fx_wait_count(&sh->fan_recv_value, 42, 20000));
	ck_assert(fx_wait_count(&sh->race_winner, 1, 20000));
	ck_assert_int_eq(atomic_load(&sh->race_winner), 1);
	/* The fan task now waits on its sleep only, the race is over. */
	struct ctx c2 = c;
	c2.ids[T_RACE] = c.ids[T_NAP];
	td_dump *d3 = fx_dump_until(rt, &o, all_idle, &c2, 20000,
				    "fan re-parked");
	const td_dump_task *fa3 = fx_find_task(fx_only_runtime(d3),
					       c.ids[T_FAN]);
	ck_assert_uint_eq(fa3->ntraces, 1);
	ck_assert_str_eq(fa3->traces[0].frames[fa3->traces[0].nframes - 1]
				 .function,
			 FX_LEAF_SLEEP);
	ck_assert_ptr_null(fx_find_task(fx_only_runtime(d3), c.ids[T_RACE]));
	td_dump_free(d3);

	for (int k = 0; k < NT; k++)
		td_join_handle_detach(&h[k]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&sh->fan_go);
	td_notify_destroy(&sh->race_go);
	free(sh);
}
END_TEST

/* ---- timeout: one node over both of its branches ----------------------- */

static atomic_int line_guard;

typedef struct guard {
	td_future base;
	td_async as;
	td_notify *go;
	td_notified wait;
	td_timeout limit;
} guard;

static td_poll guard_poll(td_future *f, td_context *cx)
{
	guard *g = (guard *)f;
	TD_BEGIN(&g->as);
	td_notified_init(&g->wait, g->go);
	td_timeout_init(&g->limit, &g->wait.base, HOUR_MS);
	FX_AWAIT_AT(line_guard, &g->as, &g->limit, cx);
	TD_END(&g->as);
}

static void guard_drop(td_future *f)
{
	td_async_drop(&((guard *)f)->as);
}

static const td_future_vtable guard_vt = {.poll = guard_poll,
					  .drop = guard_drop};

static bool guard_finished(void *arg)
{
	return td_join_handle_is_finished(arg);
}

static bool guard_idle(const td_dump *d, void *arg)
{
	return fx_tasks_idle(fx_only_runtime(d), arg, 1, 1);
}

/* td_timeout(notified): the inner future and the timer are two leaves
 * under one td_timeout_poll frame (one call site polls both), so the tree
 * shows one timeout node with two children, not two timeout nodes. */
START_TEST(test_timeout_one_node)
{
	td_notify go;
	td_join_handle h;

	td_notify_init(&go);
	td_runtime *rt = fx_runtime_new(_i, "timeout");
	fx_driver *drv = fx_driver_start(rt);
	guard g = {.base = {&guard_vt}, .go = &go};
	ck_assert_int_eq(td_spawn_named(rt, "guard", &g, &h), 0);
	uint64_t id = td_join_handle_id(&h);

	td_dump *d = fx_dump_until(rt, NULL, guard_idle, &id, 20000,
				   "the guard parked");
	const td_dump_task *t = fx_find_task(fx_only_runtime(d), id);
	ck_assert_uint_eq(t->ntraces, 2);
	static const char *const inner[] = {"guard_poll", "td_timeout_poll",
					    FX_LEAF_NOTIFY};
	static const char *const timer[] = {"guard_poll", "td_timeout_poll",
					    FX_LEAF_SLEEP};
	fx_assert_names(&t->traces[0], inner, 3);
	fx_assert_names(&t->traces[1], timer, 3);
	fx_assert_frame_at(&t->traces[0], "guard_poll", THIS_FILE,
			   atomic_load(&line_guard));
	int a = fx_frame_index(&t->traces[0], "td_timeout_poll", 0);
	int b = fx_frame_index(&t->traces[1], "td_timeout_poll", 0);
	const td_dump_frame *fa = &t->traces[0].frames[a];
	const td_dump_frame *fb = &t->traces[1].frames[b];
	ck_assert_str_eq(fa->file, fb->file);
	ck_assert_msg(fa->line == fb->line,
		      "td_timeout_poll polls its branches at lines %d and %d",
		      fa->line, fb->line);
	char *text = fx_text(d);
	const char *entry = strstr(text, "name=\"guard\"");
	ck_assert_ptr_nonnull(entry);
	const char *at = strstr(entry, "td_timeout_poll at ");
	ck_assert_ptr_nonnull(at);
	ck_assert_msg(!strstr(at + 1, "td_timeout_poll at "),
		      "two timeout nodes:\n%s", entry);
	free(text);
	td_dump_free(d);

	/* The inner branch still answers its own wake-up. */
	td_notify_one(&go);
	ck_assert(fx_wait_until(guard_finished, &h, 20000));
	td_join_handle_detach(&h);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	td_notify_destroy(&go);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_chains");
	TCase *tc = tcase_create("chains");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_known_chains, 0, 2 * FX_NFLAVORS);
	tcase_add_loop_test(tc, test_timeout_one_node, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
