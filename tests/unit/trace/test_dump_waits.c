/* test_dump_waits.c - what a dump says a task waits on, on both flavors.
 *
 *   holder   locks a mutex, then waits on a notify while holding it
 *   locker   waits for that mutex: wait.task_id must be the holder's id
 *   target   waits on a notify; its result is joined by ...
 *   joiner   waits on target's join handle: TD_WAIT_JOIN, task_id = target
 *   reader   reads a socket with nothing to read: TD_WAIT_IO, fd, read
 *
 * Each trace is exactly [the task's own poll function, the leaf], with
 * this file and the await's line on the first frame.  After two dumps the
 * test releases everything (notify, write to the socket): every task must
 * then complete with the right result - the tracing polls consumed no
 * registration and no wake-up.
 *
 * test_connect_completes: many loopback connects (td_io_connect) on a
 * 2-worker runtime must all complete; one that does not is shown by a
 * dump (a regression test: before 7726db1 a connect could lose its
 * readiness to another worker's event processing and wait forever).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/io.h"
#include "taskdump/mutex.h"
#include "taskdump/task.h"
#include "test_util.h"

#define THIS_FILE "test_dump_waits.c"

static atomic_int line_holder, line_locker, line_target, line_joiner;
static atomic_int line_reader;

struct shared {
	td_mutex mutex;
	td_notify release;     /* holder: unlock now */
	td_notify target_go;   /* target: finish now */
	atomic_int holder_has_lock;
	atomic_int locker_done;
	atomic_int joined_value; /* target's output seen by the joiner */
	atomic_int joined_error;
	atomic_int read_bytes;
	atomic_int reader_registered;
	char read_buf[16];
};

/* ---- mutex holder and waiter ------------------------------------------- */

typedef struct holder {
	td_future base;
	td_async as;
	struct shared *sh;
	td_mutex_lock lk;
	td_notified go;
} holder;

static td_poll holder_poll(td_future *f, td_context *cx)
{
	holder *h = (holder *)f;
	TD_BEGIN(&h->as);
	td_mutex_lock_init(&h->lk, &h->sh->mutex);
	TD_AWAIT(&h->as, &h->lk, cx);
	td_notified_init(&h->go, &h->sh->release);
	atomic_store(&h->sh->holder_has_lock, 1);
	FX_AWAIT_AT(line_holder, &h->as, &h->go, cx);
	td_mutex_unlock(&h->sh->mutex);
	TD_END(&h->as);
}

static void holder_drop(td_future *f)
{
	td_async_drop(&((holder *)f)->as);
}

static const td_future_vtable holder_vt = {.poll = holder_poll,
					   .drop = holder_drop};

typedef struct locker {
	td_future base;
	td_async as;
	struct shared *sh;
	td_mutex_lock lk;
} locker;

static td_poll locker_poll(td_future *f, td_context *cx)
{
	locker *l = (locker *)f;
	TD_BEGIN(&l->as);
	td_mutex_lock_init(&l->lk, &l->sh->mutex);
	FX_AWAIT_AT(line_locker, &l->as, &l->lk, cx);
	atomic_store(&l->sh->locker_done, 1);
	td_mutex_unlock(&l->sh->mutex);
	TD_END(&l->as);
}

static void locker_drop(td_future *f)
{
	td_async_drop(&((locker *)f)->as);
}

static const td_future_vtable locker_vt = {.poll = locker_poll,
					   .drop = locker_drop};

/* ---- a joined task and its joiner --------------------------------------- */

typedef struct target {
	td_future base;
	td_async as;
	struct shared *sh;
	td_notified go;
} target;

static td_poll target_poll(td_future *f, td_context *cx)
{
	target *t = (target *)f;
	TD_BEGIN(&t->as);
	td_notified_init(&t->go, &t->sh->target_go);
	FX_AWAIT_AT(line_target, &t->as, &t->go, cx);
	TD_END(&t->as);
}

static void target_drop(td_future *f)
{
	td_async_drop(&((target *)f)->as);
}

static void *target_output(td_future *f)
{
	(void)f;
	return (void *)(uintptr_t)77;
}

static const td_future_vtable target_vt = {
	.poll = target_poll, .drop = target_drop, .output = target_output};

typedef struct joiner {
	td_future base;
	td_async as;
	struct shared *sh;
	td_join_handle h;
	td_join j;
} joiner;

static td_poll joiner_poll(td_future *f, td_context *cx)
{
	joiner *p = (joiner *)f;
	TD_BEGIN(&p->as);
	ck_assert_int_eq(td_join_init(&p->j, &p->h), 0);
	FX_AWAIT_AT(line_joiner, &p->as, &p->j, cx);
	atomic_store(&p->sh->joined_error, p->j.error);
	atomic_store(&p->sh->joined_value, (int)(uintptr_t)p->j.output);
	TD_END(&p->as);
}

static void joiner_drop(td_future *f)
{
	joiner *p = (joiner *)f;
	td_async_drop(&p->as);
	td_join_handle_detach(&p->h); /* if never polled */
}

static const td_future_vtable joiner_vt = {.poll = joiner_poll,
					   .drop = joiner_drop};

/* ---- a socket read -------------------------------------------------------- */

typedef struct reader {
	td_future base;
	td_async as;
	struct shared *sh;
	int fd;
	bool registered;
	td_io io;
	td_io_read rd;
} reader;

static td_poll reader_poll(td_future *f, td_context *cx)
{
	reader *r = (reader *)f;
	TD_BEGIN(&r->as);
	ck_assert_int_eq(td_io_register(NULL, &r->io, r->fd), 0);
	r->registered = true;
	atomic_store(&r->sh->reader_registered, 1);
	td_io_read_init(&r->rd, &r->io, r->sh->read_buf,
			sizeof(r->sh->read_buf));
	FX_AWAIT_AT(line_reader, &r->as, &r->rd, cx);
	atomic_store(&r->sh->read_bytes, (int)r->rd.result);
	td_io_close(&r->io);
	r->registered = false;
	TD_END(&r->as);
}

static void reader_drop(td_future *f)
{
	reader *r = (reader *)f;
	td_async_drop(&r->as);
	if (r->registered)
		td_io_close(&r->io);
}

static const td_future_vtable reader_vt = {.poll = reader_poll,
					   .drop = reader_drop};

/* ---- the test ----------------------------------------------------------------- */

enum { T_HOLDER, T_LOCKER, T_TARGET, T_JOINER, T_READER, NT };

static const char *const names[NT] = {"holder", "locker", "target",
				      "joiner", "reader"};
static const char *const polls_fn[NT] = {"holder_poll", "locker_poll",
					 "target_poll", "joiner_poll",
					 "reader_poll"};
static const char *const leaves[NT] = {FX_LEAF_NOTIFY, FX_LEAF_MUTEX,
				       FX_LEAF_NOTIFY, FX_LEAF_JOIN,
				       FX_LEAF_READ};
static atomic_int *const lines[NT] = {&line_holder, &line_locker,
				      &line_target, &line_joiner,
				      &line_reader};

struct ctx {
	uint64_t ids[NT];
	int spawn_line[NT];
};

static bool all_idle(const td_dump *d, void *arg)
{
	struct ctx *c = arg;
	return fx_tasks_idle(fx_only_runtime(d), c->ids, NT, 1);
}

static bool holder_locked(void *arg)
{
	return atomic_load(&((struct shared *)arg)->holder_has_lock) != 0;
}

static void check_dump(const td_dump *d, const struct ctx *c,
		       struct shared *sh, int sock, int flavor)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	char text[160];

	ck_assert_str_eq(r->flavor, fx_flavors[flavor].flavor_name);
	ck_assert_uint_eq(r->ntasks, NT + 1); /* and the block_on future */
	ck_assert_uint_eq(r->traced, NT + 1);
	for (int k = 0; k < NT; k++) {
		const td_dump_task *t = fx_find_task(r, c->ids[k]);
		const char *fn[2] = {polls_fn[k], leaves[k]};
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t->name, names[k]);
		ck_assert_int_eq(t->state, TD_DUMP_IDLE);
		ck_assert_str_eq(fx_basename(t->spawn_file), THIS_FILE);
		ck_assert_int_eq(t->spawn_line, c->spawn_line[k]);
		ck_assert_uint_eq(t->ntraces, 1);
		fx_assert_names(&t->traces[0], fn, 2);
		fx_assert_frame_at(&t->traces[0], polls_fn[k], THIS_FILE,
				   atomic_load(lines[k]));
	}
	const td_dump_trace *tr;

	/* The mutex waiter names the holder. */
	tr = &fx_find_task(r, c->ids[T_LOCKER])->traces[0];
	ck_assert_int_eq(tr->wait.kind, TD_WAIT_MUTEX);
	ck_assert_ptr_eq(tr->wait.object, &sh->mutex);
	ck_assert_uint_eq(tr->wait.task_id, c->ids[T_HOLDER]);
	snprintf(text, sizeof(text), "mutex %p held by task %llu",
		 (void *)&sh->mutex, (unsigned long long)c->ids[T_HOLDER]);
	ck_assert_str_eq(tr->wait_text, text);

	/* The holder waits on its notify. */
	tr = &fx_find_task(r, c->ids[T_HOLDER])->traces[0];
	ck_assert_int_eq(tr->wait.kind, TD_WAIT_NOTIFY);
	ck_assert_ptr_eq(tr->wait.object, &sh->release);

	/* The joiner names the joined task. */
	tr = &fx_find_task(r, c->ids[T_JOINER])->traces[0];
	ck_assert_int_eq(tr->wait.kind, TD_WAIT_JOIN);
	ck_assert_uint_eq(tr->wait.task_id, c->ids[T_TARGET]);
	snprintf(text, sizeof(text), "join task %llu",
		 (unsigned long long)c->ids[T_TARGET]);
	ck_assert_str_eq(tr->wait_text, text);

	/* The reader: its descriptor, for reading. */
	tr = &fx_find_task(r, c->ids[T_READER])->traces[0];
	ck_assert_int_eq(tr->wait.kind, TD_WAIT_IO);
	ck_assert_int_eq(tr->wait.fd, sock);
	ck_assert_uint_eq(tr->wait.events, TD_WAIT_READ);
	/* ... named by its registration, the wait's identity. */
	ck_assert_ptr_nonnull(tr->wait.object);
	snprintf(text, sizeof(text), "io %p fd %d readable", tr->wait.object,
		 sock);
	ck_assert_msg(strncmp(tr->wait_text, text, strlen(text)) == 0,
		      "wait text %s, expected %s...", tr->wait_text, text);
}

static bool all_finished(void *arg)
{
	td_join_handle *h = arg;
	for (int k = 0; k < NT; k++)
		if (k != T_TARGET && !td_join_handle_is_finished(&h[k]))
			return false;
	return true;
}

START_TEST(test_wait_descriptions)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct ctx c;

	memset(&c, 0, sizeof(c));
	td_join_handle h[NT];
	int sv[2];

	td_mutex_init(&sh->mutex);
	td_notify_init(&sh->release);
	td_notify_init(&sh->target_go);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	td_runtime *rt = fx_runtime_new(_i, "waits");
	fx_driver *drv = fx_driver_start(rt);

	holder ho = {.base = {&holder_vt}, .sh = sh};
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_HOLDER], rt, "holder", &ho,
					 &h[T_HOLDER]),
			 0);
	ck_assert(fx_wait_until(holder_locked, sh, 20000));
	locker lo = {.base = {&locker_vt}, .sh = sh};
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_LOCKER], rt, "locker", &lo,
					 &h[T_LOCKER]),
			 0);
	target ta = {.base = {&target_vt}, .sh = sh};
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_TARGET], rt, "target", &ta,
					 &h[T_TARGET]),
			 0);
	c.ids[T_TARGET] = td_join_handle_id(&h[T_TARGET]);
	joiner jo = {.base = {&joiner_vt}, .sh = sh, .h = h[T_TARGET]};
	h[T_TARGET].task = NULL; /* moved into the joiner */
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_JOINER], rt, "joiner", &jo,
					 &h[T_JOINER]),
			 0);
	reader re = {.base = {&reader_vt}, .sh = sh, .fd = sv[0]};
	ck_assert_int_eq(FX_SPAWN_NAMED(c.spawn_line[T_READER], rt, "reader", &re,
					 &h[T_READER]),
			 0);
	for (int k = 0; k < NT; k++)
		if (k != T_TARGET)
			c.ids[k] = td_join_handle_id(&h[k]);

	/* Dumps trace tasks that were never polled; the reader's first
	 * statements must not run in a dump (see test_dump_states.c,
	 * test_never_polled). */
	ck_assert(fx_wait_count(&sh->reader_registered, 1, 20000));
	td_dump_options o = {.timeout_ms = 5000};
	td_dump *d = fx_dump_until(rt, &o, all_idle, &c, 20000,
				   "every task parked");
	fx_print(d, "waits");
	check_dump(d, &c, sh, sv[0], _i);
	td_dump_free(d);
	/* Once more: tracing changed nothing the next dump could see. */
	ck_assert_int_eq(td_runtime_dump(rt, &o, &d), 0);
	fx_check_consistent(d, "second dump");
	check_dump(d, &c, sh, sv[0], _i);
	for (int k = 0; k < NT; k++)
		if (k != T_READER) /* epoll may report the socket writable */
			ck_assert_uint_eq(
				fx_find_task(fx_only_runtime(d), c.ids[k])->polls,
				1);
	td_dump_free(d);

	/* Release everything: every wait must still be armed. */
	td_notify_one(&sh->release);
	td_notify_one(&sh->target_go);
	ck_assert_int_eq(write(sv[1], "ping", 4), 4);
	ck_assert_msg(fx_wait_until(all_finished, h, 20000),
		      "a task never finished after its release");
	ck_assert_int_eq(atomic_load(&sh->locker_done), 1);
	ck_assert_int_eq(atomic_load(&sh->joined_error), 0);
	ck_assert_int_eq(atomic_load(&sh->joined_value), 77);
	ck_assert_int_eq(atomic_load(&sh->read_bytes), 4);
	ck_assert_int_eq(memcmp(sh->read_buf, "ping", 4), 0);
	ck_assert(!td_mutex_is_locked(&sh->mutex));

	for (int k = 0; k < NT; k++)
		td_join_handle_detach(&h[k]);
	fx_driver_stop(drv);
	td_runtime_free(rt);
	close(sv[1]);
	td_mutex_destroy(&sh->mutex);
	td_notify_destroy(&sh->release);
	td_notify_destroy(&sh->target_go);
	free(sh);
}
END_TEST

/* ---- connects ------------------------------------------------------------- */

#define NCONNECTS 1000

struct conn_shared {
	uint16_t port;
	td_runtime *rt;
	atomic_int done;
};

typedef struct connector {
	td_future base;
	td_async as;
	struct conn_shared *cs;
	bool registered;
	td_io io;
	td_io_connect conn;
} connector;

static td_poll connector_poll(td_future *f, td_context *cx)
{
	connector *c = (connector *)f;
	struct sockaddr_storage addr;
	socklen_t len;
	TD_BEGIN(&c->as);
	{
		int fd = td_tcp_socket_for(NULL, c->cs->port, &addr, &len);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(td_io_register(c->cs->rt, &c->io, fd), 0);
		c->registered = true;
		td_io_connect_init(&c->conn, &c->io, (struct sockaddr *)&addr,
				   len);
	}
	TD_AWAIT(&c->as, &c->conn, cx);
	ck_assert_int_eq(c->conn.result, 0);
	td_io_close(&c->io);
	c->registered = false;
	atomic_fetch_add(&c->cs->done, 1);
	TD_END(&c->as);
}

static void connector_drop(td_future *f)
{
	connector *c = (connector *)f;
	td_async_drop(&c->as);
	if (c->registered)
		td_io_close(&c->io);
}

static const td_future_vtable connector_vt = {.poll = connector_poll,
					      .drop = connector_drop};

/* Accept (and close) whatever is pending on the non-blocking listener. */
static void accept_pending(int lfd)
{
	int fd;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

START_TEST(test_connect_completes)
{
	struct conn_shared cs;
	int lfd = td_tcp_listen(NULL, 0, 1024, &cs.port);
	td_runtime *rt = fx_runtime_new(1, "connects");

	ck_assert_int_ge(lfd, 0);
	cs.rt = rt;
	atomic_init(&cs.done, 0);
	for (int i = 0; i < NCONNECTS; i++) {
		connector c = {.base = {&connector_vt}, .cs = &cs};
		ck_assert_int_eq(td_spawn_named(rt, "connector", &c, NULL), 0);
		if (i % 32 == 31)
			accept_pending(lfd);
	}
	/* Until all completed, or 3 s without progress. */
	int last = -1;
	uint64_t since = test_now_ms();
	while (atomic_load(&cs.done) < NCONNECTS &&
	       test_now_ms() - since < 3000) {
		accept_pending(lfd);
		if (atomic_load(&cs.done) != last) {
			last = atomic_load(&cs.done);
			since = test_now_ms();
		}
		fx_sleep_ms(1);
	}
	int done = atomic_load(&cs.done);
	if (done < NCONNECTS) {
		td_dump *d = NULL;
		ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
		fx_check_consistent(d, "connects");
		const td_dump_runtime *r = fx_only_runtime(d);
		const td_dump_task *t = NULL;
		for (size_t k = 0; k < r->ntasks && !t; k++)
			if (r->tasks[k].ntraces == 1 &&
			    r->tasks[k].traces[0].wait.kind == TD_WAIT_IO)
				t = &r->tasks[k];
		ck_assert_ptr_nonnull(t);
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		bool connected = getpeername(t->traces[0].wait.fd,
					     (struct sockaddr *)&peer, &pl) == 0;
		ck_abort_msg("%d of %d loopback connects never completed on "
			     "a 2-worker runtime; e.g. task %llu, polls=%llu, "
			     "waits '%s', its socket %s connected",
			     NCONNECTS - done, NCONNECTS,
			     (unsigned long long)t->id,
			     (unsigned long long)t->polls,
			     t->traces[0].wait_text,
			     connected ? "IS" : "is not");
		td_dump_free(d);
	}
	td_runtime_free(rt);
	close(lfd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_waits");
	TCase *tc = tcase_create("waits");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_wait_descriptions, 0, FX_NFLAVORS);
	tcase_add_test(tc, test_connect_completes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
