/* agree_app.c DIR - one live dump written in both formats, for
 * test_agree.sh: readers of the text and of the JSON dump must reach the
 * same groups and the same waits, task by task.
 *
 * Tasks whose traces have the same frames but waits that tell them apart
 * (or not), all polled by one async function (`waiter_poll`, one await
 * line per kind of wait):
 *   reader x3     td_io_read, each on a socket of its own
 *   guarded x2    td_timeout(td_io_read) on sockets of their own, with
 *                 different time limits: an io and a sleep leaf each
 *   locker x3     td_mutex_lock of one mutex (held by the main thread)
 *   locker2 x2    td_mutex_lock of two other mutexes, one each
 *   sleeper x3    sleeps of one, two and three hours
 *   notified x2   one notify
 *   noleaf x2     a leaf of its own without a hook: traced, no trace
 *   gate x1       a TD_WAIT_OTHER leaf with a label and no object
 *   gate_obj x2   TD_WAIT_OTHER leaves with the same label and object
 * The dump (one td_dump_all, once every task has been polled) is written
 * to DIR/dump.txt (ungrouped), DIR/dump-grouped.txt (the runtime's own
 * grouping) and DIR/dump.json.  Exit status 0, or 1 with a line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/dump.h"
#include "taskdump/taskdump.h"

#define HOUR_MS (3600u * 1000u)

enum mode { M_READ, M_GUARDED, M_LOCK, M_SLEEP, M_NOTIFY, M_NOLEAF, M_OTHER };

/* A leaf of a user's own: waits forever; with `hook`, describes itself. */
typedef struct own_leaf {
	td_future base;
	bool hook;
	const void *object;
} own_leaf;

static td_poll own_leaf_poll(td_future *f, td_context *cx)
{
	own_leaf *l = (own_leaf *)f;
	td_wait w = {.kind = TD_WAIT_OTHER, .object = l->object,
		     .label = "gate"};

	if (l->hook && td_trace_leaf(cx, &w))
		return TD_PENDING;
	return TD_PENDING; /* nothing ever wakes it: the test ends first */
}

static const td_future_vtable own_leaf_vt = {.poll = own_leaf_poll};

typedef struct waiter {
	td_future base;
	td_async as;
	int mode;
	td_io *io;
	td_mutex *mutex;
	td_notify *notify;
	uint64_t ms;
	const void *object;
	char buf[8];
	td_io_read read;
	td_timeout guard;
	td_mutex_lock lock;
	td_sleep nap;
	td_notified wait;
	own_leaf leaf;
} waiter;

static td_poll waiter_poll(td_future *f, td_context *cx)
{
	waiter *s = (waiter *)f;
	TD_BEGIN(&s->as);
	/* An if chain: the awaits' case labels must not land in a switch of
	 * the function's own. */
	if (s->mode == M_READ) {
		td_io_read_init(&s->read, s->io, s->buf, sizeof(s->buf));
		TD_AWAIT(&s->as, &s->read, cx);
	} else if (s->mode == M_GUARDED) {
		td_io_read_init(&s->read, s->io, s->buf, sizeof(s->buf));
		td_timeout_init(&s->guard, &s->read.base, s->ms);
		TD_AWAIT(&s->as, &s->guard, cx);
	} else if (s->mode == M_LOCK) {
		td_mutex_lock_init(&s->lock, s->mutex);
		TD_AWAIT(&s->as, &s->lock, cx);
	} else if (s->mode == M_SLEEP) {
		td_sleep_init(&s->nap, s->ms);
		TD_AWAIT(&s->as, &s->nap, cx);
	} else if (s->mode == M_NOTIFY) {
		td_notified_init(&s->wait, s->notify);
		TD_AWAIT(&s->as, &s->wait, cx);
	} else {
		s->leaf = (own_leaf){.base = {&own_leaf_vt},
				     .hook = s->mode == M_OTHER,
				     .object = s->object};
		TD_AWAIT(&s->as, &s->leaf, cx);
	}
	TD_END(&s->as);
}

static void waiter_drop(td_future *f)
{
	td_async_drop(&((waiter *)f)->as);
}

static const td_future_vtable waiter_vt = {.poll = waiter_poll,
					   .drop = waiter_drop};

#define NTASKS 20
#define NSOCKS 5

static bool settled(const td_dump *d)
{
	size_t n = 0;

	if (d->nruntimes != 1)
		return false;
	for (size_t i = 0; i < d->runtimes[0].ntasks; i++) {
		const td_dump_task *t = &d->runtimes[0].tasks[i];
		if (!t->is_block_on && (!t->traced || t->polls == 0))
			return false;
		n += !t->is_block_on;
	}
	return n == NTASKS;
}

static int write_file(const char *dir, const char *name, const td_dump *d,
		      int how)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	td_write_options o = {.group = how == 1};
	int err = how == 2 ? td_dump_write_json(d, f)
			   : td_dump_write_text(d, f, &o);
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: agree_app DIR\n");
		return 1;
	}
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	if (td_runtime_new(&cfg, &rt) != 0)
		return 1;

	static td_io io[NSOCKS];
	int peer[NSOCKS];
	for (int i = 0; i < NSOCKS; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
		    td_io_register(rt, &io[i], sv[0]) != 0) {
			fprintf(stderr, "agree_app: no socket\n");
			return 1;
		}
		peer[i] = sv[1];
	}
	static td_mutex mutexes[3];
	for (int i = 0; i < 3; i++) {
		td_mutex_init(&mutexes[i]);
		if (!td_mutex_try_lock(&mutexes[i]))
			return 1;
	}
	static td_notify notify = TD_NOTIFY_INITIALIZER;
	static const char gate_object[1];

	static const struct {
		const char *name;
		int mode, sock, mutex;
		uint64_t ms;
		bool object;
	} spec[NTASKS] = {
		{"reader", M_READ, 0, 0, 0, 0},
		{"reader", M_READ, 1, 0, 0, 0},
		{"reader", M_READ, 2, 0, 0, 0},
		{"guarded", M_GUARDED, 3, 0, HOUR_MS, 0},
		{"guarded", M_GUARDED, 4, 0, 2 * HOUR_MS, 0},
		{"locker", M_LOCK, 0, 0, 0, 0},
		{"locker", M_LOCK, 0, 0, 0, 0},
		{"locker", M_LOCK, 0, 0, 0, 0},
		{"locker2", M_LOCK, 0, 1, 0, 0},
		{"locker2", M_LOCK, 0, 2, 0, 0},
		{"sleeper", M_SLEEP, 0, 0, HOUR_MS, 0},
		{"sleeper", M_SLEEP, 0, 0, 2 * HOUR_MS, 0},
		{"sleeper", M_SLEEP, 0, 0, 3 * HOUR_MS, 0},
		{"notified", M_NOTIFY, 0, 0, 0, 0},
		{"notified", M_NOTIFY, 0, 0, 0, 0},
		{"noleaf", M_NOLEAF, 0, 0, 0, 0},
		{"noleaf", M_NOLEAF, 0, 0, 0, 0},
		{"gate", M_OTHER, 0, 0, 0, 0},
		{"gate_obj", M_OTHER, 0, 0, 0, 1},
		{"gate_obj", M_OTHER, 0, 0, 0, 1},
	};
	td_join_handle h[NTASKS];
	for (int i = 0; i < NTASKS; i++) {
		waiter w = {.base = {&waiter_vt},
			    .mode = spec[i].mode,
			    .io = &io[spec[i].sock],
			    .mutex = &mutexes[spec[i].mutex],
			    .notify = &notify,
			    .ms = spec[i].ms,
			    .object = spec[i].object ? gate_object : NULL};
		if (td_spawn_named(rt, spec[i].name, &w, &h[i]) != 0)
			return 1;
	}

	td_dump *d = NULL;
	for (int tries = 0; tries < 1000; tries++) {
		td_dump_free(d);
		d = NULL;
		if (td_dump_all(NULL, &d) == 0 && settled(d))
			break;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	int rc = 0;
	if (!d || !settled(d)) {
		fprintf(stderr, "agree_app: no complete dump within 10 s\n");
		rc = 1;
	} else {
		int err = write_file(argv[1], "dump.txt", d, 0);
		if (!err)
			err = write_file(argv[1], "dump-grouped.txt", d, 1);
		if (!err)
			err = write_file(argv[1], "dump.json", d, 2);
		if (err) {
			fprintf(stderr, "agree_app: writing: %s\n",
				strerror(-err));
			rc = 1;
		}
	}
	td_dump_free(d);
	for (int i = 0; i < NTASKS; i++) {
		td_join_handle_abort(&h[i]);
		td_join_handle_detach(&h[i]);
	}
	td_runtime_free(rt);
	for (int i = 0; i < NSOCKS; i++) {
		td_io_close(&io[i]);
		close(peer[i]);
	}
	for (int i = 0; i < 3; i++) {
		td_mutex_unlock(&mutexes[i]);
		td_mutex_destroy(&mutexes[i]);
	}
	td_notify_destroy(&notify);
	return rc;
}
