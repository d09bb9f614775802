/* test_dump_noeffect.c - dumps do not change what a program computes.
 *
 * One workload mixing every kind of leaf, run once plain and once with a
 * plain thread dumping the runtime all along (at least a hundred dumps
 * while it runs; every tenth symbolized and written out), on both
 * flavors.  Both runs must produce exactly the same results:
 *
 *   echo      a loopback TCP echo server (accept, a handler task per
 *             connection) and two clients writing and reading back
 *             messages: byte counts and a checksum;
 *   ticker    500 sleeps of 2 ms (it also paces the workload);
 *   timeouts  timeouts that must expire (around a notify nobody fires)
 *             and timeouts that must not (around a short sleep);
 *   lockers   four tasks incrementing a counter under a mutex, yielding
 *             while they hold it (FIFO hand-offs);
 *   channel   three producers through a bounded mpsc channel into a
 *             consumer: the sum;
 *   combos    in lockstep with a "kicker" task: a join_all over an mpsc
 *             receive, a notify and a sleep, then a select between a
 *             10 s sleep and a notify - children with wakers of their
 *             own, which a tracing poll must leave armed.
 *
 * A tracing poll that consumed a wake-up or a registration would hang
 * the dumped run (the test's time-outs catch that) or change a result.
 * Under ThreadSanitizer both runs must be free of reports.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/combinators.h"
#include "taskdump/io.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define NCLIENTS 2
#define MSGS 60
#define MSG_LEN 16
#define TICKS 500
#define TIMEOUT_ROUNDS 10
#define NLOCKERS 4
#define LOCK_ROUNDS 40
#define NPROD 3
#define CHAN_N 200
#define COMBO_ROUNDS 40

struct results {
	uint64_t echo_bytes;
	uint64_t echo_sum;
	int handlers;
	int ticks;
	int timed_out;
	int not_timed_out;
	int counter;
	uint64_t chan_sum;
	uint64_t combo_sum;
	int select_winners;
};

/* Everything the tasks share.  Plain fields are written by one task at
 * a time (the runtime's hand-offs order them) and read after block_on. */
struct work {
	td_runtime *rt;
	struct results res;
	atomic_int started;
	bool dump_at_spawn;   /* the run with dumps: one more, see work_main */
	int seen_at_spawn;    /* tasks that dump listed */
	atomic_int ticks;     /* progress, read by the dumper */
	td_notify go;         /* the workload starts (see work_main) */
	uint64_t client_bytes[NCLIENTS], client_sum[NCLIENTS]; /* per client */
	uint16_t port;
	int listen_fd;
	td_mutex mutex;
	td_notify never;      /* nobody notifies it */
	td_mpsc *chan;        /* producers -> consumer (int) */
	td_mpsc *combo_x;     /* kicker -> combo (int), capacity 1 */
	td_mpsc *combo_ack;   /* combo -> kicker (int), capacity 1 */
	td_notify combo_n, combo_n2;
};

/* Every task here is spawned on the runtime given explicitly (never
 * NULL), and registers descriptors with it explicitly: a dump may run a
 * never-polled task's first statements on the dumping thread (see
 * test_dump_states.c, test_never_polled). */
#define SPAWN(w, name, fut, h) \
	ck_assert_int_eq(td_spawn_named((w)->rt, name, fut, h), 0)

/* ---- echo ---------------------------------------------------------------- */

typedef struct handler {
	td_future base;
	td_async as;
	struct work *w;
	int fd;
	td_io io;
	char buf[64];
	td_io_read rd;
	td_io_write wr;
} handler;

static td_poll handler_poll(td_future *f, td_context *cx)
{
	handler *h = (handler *)f;
	TD_BEGIN(&h->as);
	ck_assert_int_eq(td_io_register(h->w->rt, &h->io, h->fd), 0);
	for (;;) {
		td_io_read_init(&h->rd, &h->io, h->buf, sizeof(h->buf));
		TD_AWAIT(&h->as, &h->rd, cx);
		if (h->rd.result <= 0)
			break;
		td_io_write_init(&h->wr, &h->io, h->buf, (size_t)h->rd.result);
		TD_AWAIT(&h->as, &h->wr, cx);
		ck_assert_int_eq(h->wr.result, h->rd.result);
	}
	ck_assert_int_eq(h->rd.result, 0);
	td_io_close(&h->io);
	TD_END(&h->as);
}

static const td_future_vtable handler_vt = {.poll = handler_poll};

typedef struct server {
	td_future base;
	td_async as;
	struct work *w;
	td_io io;
	td_io_accept acc;
	td_join_handle hs[NCLIENTS];
	td_join join;
	int i;
} server;

static td_poll server_poll(td_future *f, td_context *cx)
{
	server *s = (server *)f;
	TD_BEGIN(&s->as);
	ck_assert_int_eq(td_io_register(s->w->rt, &s->io, s->w->listen_fd), 0);
	for (s->i = 0; s->i < NCLIENTS; s->i++) {
		td_io_accept_init(&s->acc, &s->io);
		TD_AWAIT(&s->as, &s->acc, cx);
		ck_assert_int_ge(s->acc.result, 0);
		handler h = {.base = {&handler_vt}, .w = s->w,
			     .fd = s->acc.result};
		SPAWN(s->w, "handler", &h, &s->hs[s->i]);
	}
	td_io_close(&s->io);
	for (s->i = 0; s->i < NCLIENTS; s->i++) {
		td_join_init(&s->join, &s->hs[s->i]);
		TD_AWAIT(&s->as, &s->join, cx);
		ck_assert_int_eq(s->join.error, 0);
		s->w->res.handlers++;
	}
	TD_END(&s->as);
}

static const td_future_vtable server_vt = {.poll = server_poll};

typedef struct client {
	td_future base;
	td_async as;
	struct work *w;
	int id, m;
	size_t got;
	td_io io;
	td_io_connect conn;
	td_io_write wr;
	td_io_read rd;
	char out[32];
	char in[MSG_LEN];
} client;

static td_poll client_poll(td_future *f, td_context *cx)
{
	client *c = (client *)f;
	struct sockaddr_storage addr;
	socklen_t len;
	TD_BEGIN(&c->as);
	{
		int fd = td_tcp_socket_for(NULL, c->w->port, &addr, &len);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(td_io_register(c->w->rt, &c->io, fd), 0);
		td_io_connect_init(&c->conn, &c->io, (struct sockaddr *)&addr,
				   len);
	}
	TD_AWAIT(&c->as, &c->conn, cx);
	ck_assert_int_eq(c->conn.result, 0);
	for (c->m = 0; c->m < MSGS; c->m++) {
		snprintf(c->out, sizeof(c->out), "c%u:%013u",
			 (unsigned)c->id % 10u, (unsigned)c->m);
		td_io_write_init(&c->wr, &c->io, c->out, MSG_LEN);
		TD_AWAIT(&c->as, &c->wr, cx);
		ck_assert_int_eq(c->wr.result, MSG_LEN);
		for (c->got = 0; c->got < MSG_LEN;) {
			td_io_read_init(&c->rd, &c->io, c->in + c->got,
					MSG_LEN - c->got);
			TD_AWAIT(&c->as, &c->rd, cx);
			ck_assert_int_gt(c->rd.result, 0);
			c->got += (size_t)c->rd.result;
		}
		ck_assert_int_eq(memcmp(c->in, c->out, MSG_LEN), 0);
		c->w->client_bytes[c->id] += MSG_LEN;
		for (int k = 0; k < MSG_LEN; k++)
			c->w->client_sum[c->id] +=
				(uint64_t)(unsigned char)c->in[k] *
				(uint64_t)(c->m + 1);
	}
	td_io_close(&c->io);
	TD_END(&c->as);
}

static const td_future_vtable client_vt = {.poll = client_poll};

/* ---- timers ---------------------------------------------------------------- */

typedef struct ticker {
	td_future base;
	td_async as;
	struct work *w;
	td_sleep nap;
	int i;
} ticker;

static td_poll ticker_poll(td_future *f, td_context *cx)
{
	ticker *t = (ticker *)f;
	TD_BEGIN(&t->as);
	for (t->i = 0; t->i < TICKS; t->i++) {
		td_sleep_init(&t->nap, 2);
		TD_AWAIT(&t->as, &t->nap, cx);
		t->w->res.ticks++;
		atomic_store(&t->w->ticks, t->i + 1);
	}
	TD_END(&t->as);
}

static const td_future_vtable ticker_vt = {.poll = ticker_poll};

typedef struct timeouts {
	td_future base;
	td_async as;
	struct work *w;
	td_notified never;
	td_sleep short_nap;
	td_timeout to;
	int i;
} timeouts;

static td_poll timeouts_poll(td_future *f, td_context *cx)
{
	timeouts *t = (timeouts *)f;
	TD_BEGIN(&t->as);
	for (t->i = 0; t->i < TIMEOUT_ROUNDS; t->i++) {
		td_notified_init(&t->never, &t->w->never);
		td_timeout_init(&t->to, &t->never.base, 3);
		TD_AWAIT(&t->as, &t->to, cx);
		t->w->res.timed_out += t->to.timed_out;
		td_sleep_init(&t->short_nap, 1);
		td_timeout_init(&t->to, &t->short_nap.base, 10000);
		TD_AWAIT(&t->as, &t->to, cx);
		t->w->res.not_timed_out += !t->to.timed_out;
	}
	TD_END(&t->as);
}

static const td_future_vtable timeouts_vt = {.poll = timeouts_poll};

/* ---- mutex hand-offs --------------------------------------------------------- */

typedef struct locker {
	td_future base;
	td_async as;
	struct work *w;
	td_mutex_lock lk;
	td_yield y;
	int i, v;
} locker;

static td_poll locker_poll(td_future *f, td_context *cx)
{
	locker *l = (locker *)f;
	TD_BEGIN(&l->as);
	for (l->i = 0; l->i < LOCK_ROUNDS; l->i++) {
		td_mutex_lock_init(&l->lk, &l->w->mutex);
		TD_AWAIT(&l->as, &l->lk, cx);
		l->v = l->w->res.counter;
		td_yield_init(&l->y); /* the others queue up meanwhile */
		TD_AWAIT(&l->as, &l->y, cx);
		l->w->res.counter = l->v + 1;
		td_mutex_unlock(&l->w->mutex);
	}
	TD_END(&l->as);
}

static const td_future_vtable locker_vt = {.poll = locker_poll};

/* ---- a channel ---------------------------------------------------------------- */

typedef struct producer {
	td_future base;
	td_async as;
	td_mpsc *tx; /* own sender handle */
	td_mpsc_send send;
	int v;
} producer;

static td_poll producer_poll(td_future *f, td_context *cx)
{
	producer *p = (producer *)f;
	TD_BEGIN(&p->as);
	for (p->v = 1; p->v <= CHAN_N; p->v++) {
		td_mpsc_send_init(&p->send, p->tx, &p->v);
		TD_AWAIT(&p->as, &p->send, cx);
		ck_assert_int_eq(p->send.error, 0);
	}
	td_mpsc_sender_release(p->tx);
	TD_END(&p->as);
}

static const td_future_vtable producer_vt = {.poll = producer_poll};

typedef struct consumer {
	td_future base;
	td_async as;
	struct work *w;
	td_mpsc_recv rx;
	int v;
} consumer;

static td_poll consumer_poll(td_future *f, td_context *cx)
{
	consumer *c = (consumer *)f;
	TD_BEGIN(&c->as);
	for (;;) {
		td_mpsc_recv_init(&c->rx, c->w->chan, &c->v);
		TD_AWAIT(&c->as, &c->rx, cx);
		if (c->rx.error)
			break;
		c->w->res.chan_sum += (uint64_t)c->v;
	}
	TD_END(&c->as);
}

static const td_future_vtable consumer_vt = {.poll = consumer_poll};

/* ---- combinators in lockstep with a kicker ----------------------------------- */

typedef struct kicker {
	td_future base;
	td_async as;
	struct work *w;
	td_sleep nap;
	td_mpsc_send send;
	td_mpsc_recv ack;
	int r, v;
} kicker;

static td_poll kicker_poll(td_future *f, td_context *cx)
{
	kicker *k = (kicker *)f;
	TD_BEGIN(&k->as);
	for (k->r = 0; k->r < COMBO_ROUNDS; k->r++) {
		td_sleep_init(&k->nap, 1);
		TD_AWAIT(&k->as, &k->nap, cx);
		k->v = k->r + 1;
		td_mpsc_send_init(&k->send, k->w->combo_x, &k->v);
		TD_AWAIT(&k->as, &k->send, cx);
		td_notify_one(&k->w->combo_n);
		td_notify_one(&k->w->combo_n2);
		td_mpsc_recv_init(&k->ack, k->w->combo_ack, &k->v);
		TD_AWAIT(&k->as, &k->ack, cx);
		ck_assert_int_eq(k->ack.error, 0);
		ck_assert_int_eq(k->v, k->r + 1);
	}
	TD_END(&k->as);
}

static const td_future_vtable kicker_vt = {.poll = kicker_poll};

typedef struct combo {
	td_future base;
	td_async as;
	struct work *w;
	int r, v;
	td_mpsc_recv rx;
	td_notified n, n2;
	td_sleep nap, long_nap;
	td_future *kids[3];
	td_join_all all;
	td_select sel;
	td_mpsc_send ack;
} combo;

static td_poll combo_poll(td_future *f, td_context *cx)
{
	combo *c = (combo *)f;
	TD_BEGIN(&c->as);
	for (c->r = 0; c->r < COMBO_ROUNDS; c->r++) {
		td_mpsc_recv_init(&c->rx, c->w->combo_x, &c->v);
		td_notified_init(&c->n, &c->w->combo_n);
		td_sleep_init(&c->nap, 1);
		c->kids[0] = &c->rx.base;
		c->kids[1] = &c->n.base;
		c->kids[2] = &c->nap.base;
		td_join_all_init(&c->all, c->kids, 3);
		TD_AWAIT(&c->as, &c->all, cx);
		ck_assert_int_eq(c->all.error, 0);
		ck_assert_int_eq(c->rx.error, 0);
		c->w->res.combo_sum += (uint64_t)c->v;

		td_sleep_init(&c->long_nap, 10000);
		td_notified_init(&c->n2, &c->w->combo_n2);
		c->kids[0] = &c->long_nap.base;
		c->kids[1] = &c->n2.base;
		td_select_init(&c->sel, c->kids, 2);
		TD_AWAIT(&c->as, &c->sel, cx);
		c->w->res.select_winners += (int)c->sel.winner;

		c->v = c->r + 1;
		td_mpsc_send_init(&c->ack, c->w->combo_ack, &c->v);
		TD_AWAIT(&c->as, &c->ack, cx);
	}
	TD_END(&c->as);
}

static const td_future_vtable combo_vt = {.poll = combo_poll};

/* ---- the workload ------------------------------------------------------------- */

/* Join handles of the workload's tasks, by role. */
enum {
	H_SERVER,
	H_CLIENT0,
	H_TICKER = H_CLIENT0 + NCLIENTS,
	H_TIMEOUTS,
	H_LOCKER0,
	H_PROD0 = H_LOCKER0 + NLOCKERS,
	H_CONSUMER = H_PROD0 + NPROD,
	H_KICKER,
	H_COMBO,
	NH
};

typedef struct work_main {
	td_future base;
	td_async as;
	struct work *w;
	td_join_handle hs[NH];
	td_join join;
	td_notified go;
	int i;
} work_main;

static td_poll work_main_poll(td_future *f, td_context *cx)
{
	work_main *m = (work_main *)f;
	struct work *w = m->w;
	TD_BEGIN(&m->as);
	/* Both runs wait here for the same signal: at once without dumps,
	 * after the first dump with them (so that the dumps cover the whole
	 * workload however the threads are scheduled). */
	td_notified_init(&m->go, &w->go);
	atomic_store(&w->started, 1);
	TD_AWAIT(&m->as, &m->go, cx);
	{
		server s = {.base = {&server_vt}, .w = w};
		SPAWN(w, "server", &s, &m->hs[H_SERVER]);
		for (int i = 0; i < NCLIENTS; i++) {
			client c = {.base = {&client_vt}, .w = w, .id = i};
			SPAWN(w, "client", &c, &m->hs[H_CLIENT0 + i]);
		}
		ticker t = {.base = {&ticker_vt}, .w = w};
		SPAWN(w, "ticker", &t, &m->hs[H_TICKER]);
		timeouts to = {.base = {&timeouts_vt}, .w = w};
		SPAWN(w, "timeouts", &to, &m->hs[H_TIMEOUTS]);
		for (int i = 0; i < NLOCKERS; i++) {
			locker l = {.base = {&locker_vt}, .w = w};
			SPAWN(w, "locker", &l, &m->hs[H_LOCKER0 + i]);
		}
		for (int i = 0; i < NPROD; i++) {
			producer p = {.base = {&producer_vt},
				      .tx = td_mpsc_sender_clone(w->chan)};
			SPAWN(w, "producer", &p, &m->hs[H_PROD0 + i]);
		}
		td_mpsc_sender_release(w->chan); /* the producers' now */
		consumer c = {.base = {&consumer_vt}, .w = w};
		SPAWN(w, "consumer", &c, &m->hs[H_CONSUMER]);
		kicker k = {.base = {&kicker_vt}, .w = w};
		SPAWN(w, "kicker", &k, &m->hs[H_KICKER]);
		combo co = {.base = {&combo_vt}, .w = w};
		SPAWN(w, "combo", &co, &m->hs[H_COMBO]);
	}
	if (w->dump_at_spawn) {
		/* One dump from inside the workload, with every task just
		 * spawned: the dumper thread's dumps may all fall after the
		 * short-lived tasks are gone when the machine is busy, and
		 * the test wants to know the dumps see the tasks too. */
		td_dump *d = NULL;
		td_dump_options o = {.no_symbolize = true};
		ck_assert_int_eq(td_runtime_dump(w->rt, &o, &d), 0);
		fx_check_consistent(d, "dump as the workload starts");
		w->seen_at_spawn = (int)fx_only_runtime(d)->ntasks;
		td_dump_free(d);
	}
	for (m->i = 0; m->i < NH; m->i++) {
		td_join_init(&m->join, &m->hs[m->i]);
		TD_AWAIT(&m->as, &m->join, cx);
		ck_assert_int_eq(m->join.error, 0);
	}
	TD_END(&m->as);
}

static const td_future_vtable work_main_vt = {.poll = work_main_poll};

struct dumper {
	struct work *w;
	atomic_int stop;
	int dumps;        /* taken while the workload ran */
	int max_tasks;
	int ticks_first, ticks_last; /* ticker progress at the first/last dump */
};

static void *dumper_thread(void *arg)
{
	struct dumper *dp = arg;

	/* Not before the workload's first poll began (see SPAWN). */
	while (!atomic_load(&dp->w->started) && !atomic_load(&dp->stop))
		fx_sleep_ms(1);
	while (!atomic_load(&dp->stop)) {
		td_dump_options o = {.no_symbolize = dp->dumps % 10 != 9,
				     .timeout_ms = 5000};
		td_dump *d = NULL;
		ck_assert_int_eq(td_runtime_dump(dp->w->rt, &o, &d), 0);
		fx_check_consistent(d, "dump during the workload");
		const td_dump_runtime *r = fx_only_runtime(d);
		if ((int)r->ntasks > dp->max_tasks)
			dp->max_tasks = (int)r->ntasks;
		if (!o.no_symbolize) {
			free(fx_text(d));
			free(fx_json(d));
		}
		td_dump_free(d);
		if (dp->dumps++ == 0) {
			dp->ticks_first = atomic_load(&dp->w->ticks);
			td_notify_one(&dp->w->go);
		}
		dp->ticks_last = atomic_load(&dp->w->ticks);
		fx_sleep_ms(1);
	}
	return NULL;
}

struct block_on_run {
	td_runtime *rt;
	work_main *m;
	int result;
	atomic_int done;
};

static void *block_on_thread(void *arg)
{
	struct block_on_run *run = arg;
	run->result = td_runtime_block_on(run->rt, &run->m->base, NULL);
	atomic_store(&run->done, 1);
	return NULL;
}

static void run_workload(int flavor, bool dumps, struct results *out,
			 int *ndumps)
{
	struct work *w = calloc(1, sizeof(*w));
	struct dumper dp = {.w = w};
	pthread_t th;

	w->rt = fx_runtime_new(flavor, "work");
	w->dump_at_spawn = dumps;
	w->listen_fd = td_tcp_listen(NULL, 0, 16, &w->port);
	ck_assert_int_ge(w->listen_fd, 0);
	td_mutex_init(&w->mutex);
	td_notify_init(&w->never);
	td_notify_init(&w->go);
	td_notify_init(&w->combo_n);
	td_notify_init(&w->combo_n2);
	w->chan = td_mpsc_bounded(sizeof(int), 4);
	w->combo_x = td_mpsc_bounded(sizeof(int), 1);
	w->combo_ack = td_mpsc_bounded(sizeof(int), 1);
	ck_assert(w->chan && w->combo_x && w->combo_ack);

	work_main m = {.base = {&work_main_vt}, .w = w};
	struct block_on_run run = {.rt = w->rt, .m = &m, .result = -1};
	atomic_init(&dp.stop, 0);
	atomic_init(&run.done, 0);
	if (dumps)
		ck_assert_int_eq(pthread_create(&th, NULL, dumper_thread, &dp),
				 0);
	else
		td_notify_one(&w->go);
	pthread_t bt;
	ck_assert_int_eq(pthread_create(&bt, NULL, block_on_thread, &run), 0);
	if (!fx_wait_count(&run.done, 1, 25000)) {
		/* Hung: show where everything waits, then fail. */
		td_dump *d = NULL;
		atomic_store(&dp.stop, 1);
		if (td_runtime_dump(w->rt, NULL, &d) == 0)
			td_dump_write_text(d, stderr, NULL);
		ck_abort_msg("the workload hung (%s, %s dumps; ticks %d)",
			     fx_flavors[flavor].flavor_name,
			     dumps ? "with" : "without",
			     atomic_load(&w->ticks));
	}
	ck_assert_int_eq(pthread_join(bt, NULL), 0);
	int result = run.result;
	if (dumps) {
		atomic_store(&dp.stop, 1);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		*ndumps = dp.dumps;
		/* The dumps covered the workload from its start (no tick yet)
		 * to (nearly) its end, and saw its tasks. */
		if (w->seen_at_spawn > dp.max_tasks)
			dp.max_tasks = w->seen_at_spawn;
		ck_assert_msg(dp.ticks_first == 0 &&
				      dp.ticks_last >= TICKS * 9 / 10 &&
				      dp.max_tasks >= NH / 2,
			      "%d dumps, ticks %d..%d, at most %d tasks seen",
			      dp.dumps, dp.ticks_first, dp.ticks_last,
			      dp.max_tasks);
	}
	ck_assert_int_eq(result, 0);
	*out = w->res;
	for (int i = 0; i < NCLIENTS; i++) {
		out->echo_bytes += w->client_bytes[i];
		out->echo_sum += w->client_sum[i];
	}

	td_runtime_free(w->rt);
	td_mpsc_receiver_release(w->chan);
	td_mpsc_sender_release(w->combo_x);
	td_mpsc_receiver_release(w->combo_x);
	td_mpsc_sender_release(w->combo_ack);
	td_mpsc_receiver_release(w->combo_ack);
	td_mutex_destroy(&w->mutex);
	td_notify_destroy(&w->never);
	td_notify_destroy(&w->go);
	td_notify_destroy(&w->combo_n);
	td_notify_destroy(&w->combo_n2);
	free(w);
}

static void check_expected(const struct results *r)
{
	ck_assert_uint_eq(r->echo_bytes, (uint64_t)NCLIENTS * MSGS * MSG_LEN);
	ck_assert_int_eq(r->handlers, NCLIENTS);
	ck_assert_int_eq(r->ticks, TICKS);
	ck_assert_int_eq(r->timed_out, TIMEOUT_ROUNDS);
	ck_assert_int_eq(r->not_timed_out, TIMEOUT_ROUNDS);
	ck_assert_int_eq(r->counter, NLOCKERS * LOCK_ROUNDS);
	ck_assert_uint_eq(r->chan_sum,
			  (uint64_t)NPROD * CHAN_N * (CHAN_N + 1) / 2);
	ck_assert_uint_eq(r->combo_sum,
			  (uint64_t)COMBO_ROUNDS * (COMBO_ROUNDS + 1) / 2);
	ck_assert_int_eq(r->select_winners, COMBO_ROUNDS); /* always 1 */
}

START_TEST(test_same_results_with_dumps)
{
	struct results plain, dumped;
	int ndumps = 0;
	uint64_t t0 = test_now_ms();

	memset(&plain, 0, sizeof(plain));
	memset(&dumped, 0, sizeof(dumped));
	run_workload(_i, false, &plain, NULL);
	uint64_t t1 = test_now_ms();
	check_expected(&plain);
	run_workload(_i, true, &dumped, &ndumps);
	uint64_t t2 = test_now_ms();
	fprintf(stderr, "%s: plain %llu ms, with %d dumps %llu ms\n",
		fx_flavors[_i].flavor_name, (unsigned long long)(t1 - t0),
		ndumps, (unsigned long long)(t2 - t1));
	check_expected(&dumped);
	ck_assert_uint_eq(dumped.echo_bytes, plain.echo_bytes);
	ck_assert_uint_eq(dumped.echo_sum, plain.echo_sum);
	ck_assert_int_eq(dumped.handlers, plain.handlers);
	ck_assert_int_eq(dumped.ticks, plain.ticks);
	ck_assert_int_eq(dumped.timed_out, plain.timed_out);
	ck_assert_int_eq(dumped.not_timed_out, plain.not_timed_out);
	ck_assert_int_eq(dumped.counter, plain.counter);
	ck_assert_uint_eq(dumped.chan_sum, plain.chan_sum);
	ck_assert_uint_eq(dumped.combo_sum, plain.combo_sum);
	ck_assert_int_eq(dumped.select_winners, plain.select_winners);
	ck_assert_msg(ndumps >= 100, "only %d dumps during the workload",
		      ndumps);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_noeffect");
	TCase *tc = tcase_create("noeffect");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_same_results_with_dumps, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
