/* scale_app.c DIR N - a real dump of N idle tasks, for test_scale.sh: the
 * tool on dumps of 100 000 tasks.
 *
 * Every task awaits, through one async function, either a sleep of an
 * hour (even tasks: the same trace for all of them) or a notify of its
 * own (odd tasks: a trace of its own each, by the wait's object, so the
 * text writer's groups are as many as those tasks).  Once every task has
 * been polled, one dump is written to DIR/dump.txt (ungrouped) and
 * DIR/dump.json.  Exit status 0, or 1 with a line on stderr. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taskdump/dump.h"
#include "taskdump/taskdump.h"

/* Tasks that have reached their await. */
static atomic_size_t parked;

typedef struct idler {
	td_future base;
	td_async as;
	td_notify *notify;  /* NULL: sleep */
	td_sleep nap;
	td_notified wait;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *s = (idler *)f;
	TD_BEGIN(&s->as);
	atomic_fetch_add(&parked, 1);
	if (!s->notify) {
		td_sleep_init(&s->nap, 3600u * 1000u);
		TD_AWAIT(&s->as, &s->nap, cx);
	} else {
		td_notified_init(&s->wait, s->notify);
		TD_AWAIT(&s->as, &s->wait, cx);
	}
	TD_END(&s->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vt = {.poll = idler_poll,
					  .drop = idler_drop};

/* Write d to dir/name as text (ungrouped) or JSON.  Returns 0 or -errno. */
static int write_file(const char *dir, const char *name, const td_dump *d,
		      bool json)
{
	char path[4096];
	td_write_options o = {.group = false};
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		return -errno;
	err = json ? td_dump_write_json(d, f) : td_dump_write_text(d, f, &o);
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}

int main(int argc, char **argv)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_notify *notifies;
	td_runtime *rt;
	td_dump *d = NULL;
	size_t n;
	int rc = 0, err;

	if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: scale_app DIR N\n");
		return 1;
	}
	notifies = calloc(n, sizeof(*notifies));
	if (!notifies || td_runtime_new(&cfg, &rt) != 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		idler w = {.base = {&idler_vt},
			   .notify = i % 2 ? &notifies[i] : NULL};

		td_notify_init(&notifies[i]);
		if (td_spawn(rt, &w, NULL) != 0) {
			fprintf(stderr, "scale_app: cannot spawn\n");
			return 1;
		}
	}
	for (int t = 0; t < 3000 && atomic_load(&parked) < n; t++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	/* The last polls may still be returning: let them. */
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	if (atomic_load(&parked) < n || td_dump_all(NULL, &d) != 0) {
		fprintf(stderr, "scale_app: the tasks did not all park\n");
		rc = 1;
	} else if ((err = write_file(argv[1], "dump.txt", d, false)) ||
		   (err = write_file(argv[1], "dump.json", d, true))) {
		fprintf(stderr, "scale_app: writing: %s\n", strerror(-err));
		rc = 1;
	}
	td_dump_free(d);
	td_runtime_free(rt);
	for (size_t i = 0; i < n; i++)
		td_notify_destroy(&notifies[i]);
	free(notifies);
	return rc;
}
