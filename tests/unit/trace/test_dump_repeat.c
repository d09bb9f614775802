/* test_dump_repeat.c - dumps taken one after the other see the same tasks
 * the same way, whatever memory the earlier ones left behind.
 *
 * Dumps reuse their big buffers (trace/bigmem.h: the pause's records, the
 * collector, the dump's own arena) and share a wait's text among equal
 * waits, so a dump must not depend on what a previous dump wrote there,
 * nor on a fork() in between (the pool is wiped in the child).  With
 * tasks that wait on things without a clock (oneshots, one shared
 * notify), every fact but the times must repeat exactly: ids, states,
 * spawn sites, wait texts, frames.  And the phases of every dump add up
 * to its total_ms.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/notify.h"
#include "taskdump/oneshot.h"
#include "taskdump/task.h"
#include "test_util.h"

/* Enough tasks that the dump's buffers are mappings (>= 1 MiB). */
#define NTASKS 12000

static atomic_int polled;

typedef struct waiter {
	td_future base;
	td_async as;
	td_oneshot *ch; /* NULL: waits on the shared notify */
	td_notify *shared;
	union {
		td_oneshot_recv rx;
		td_notified nd;
	} leaf;
	void *value;
} waiter;

static td_poll waiter_poll(td_future *f, td_context *cx)
{
	waiter *w = (waiter *)f;
	TD_BEGIN(&w->as);
	atomic_fetch_add(&polled, 1);
	if (w->ch) {
		td_oneshot_recv_init(&w->leaf.rx, w->ch);
		TD_AWAIT(&w->as, &w->leaf.rx, cx);
	} else {
		td_notified_init(&w->leaf.nd, w->shared);
		TD_AWAIT(&w->as, &w->leaf.nd, cx);
	}
	TD_END(&w->as);
}

static void waiter_drop(td_future *f)
{
	td_async_drop(&((waiter *)f)->as);
}

static const td_future_vtable waiter_vtable = {
	.poll = waiter_poll, .drop = waiter_drop, .type_name = "waiter"};

struct workload {
	td_runtime *rt;
	fx_driver *driver;
	td_oneshot *chans[NTASKS];
	td_notify shared;
};

/* NTASKS waiters, two of three on a oneshot of their own, the rest on
 * one notify; returns once every one has parked. */
static void start(struct workload *wl, int flavor)
{
	atomic_store(&polled, 0);
	wl->rt = fx_runtime_new(flavor, "repeat");
	wl->driver = fx_driver_start(wl->rt);
	td_notify_init(&wl->shared);
	for (int i = 0; i < NTASKS; i++) {
		waiter w = {.base = {&waiter_vtable}, .shared = &wl->shared};
		wl->chans[i] = i % 3 ? td_oneshot_new() : NULL;
		w.ch = wl->chans[i];
		ck_assert(i % 3 == 0 || w.ch);
		ck_assert_int_eq(td_spawn(wl->rt, &w, NULL), 0);
	}
	ck_assert(fx_wait_count(&polled, NTASKS, 20000));
}

static void stop(struct workload *wl)
{
	for (int i = 0; i < NTASKS; i++)
		if (wl->chans[i])
			td_oneshot_sender_release(wl->chans[i]);
	td_notify_waiters(&wl->shared);
	fx_driver_stop(wl->driver);
	td_runtime_free(wl->rt);
}

/* Every fact of the dump's one runtime that does not move with time
 * (idle_ms, woken_ms, sleeps' texts...), one line per task; malloc'ed. */
static char *facts(const td_dump *d)
{
	const td_dump_runtime *r = fx_only_runtime(d);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s %s tasks %zu traced %zu\n", r->name, r->flavor,
		r->ntasks, r->traced);
	for (size_t i = 0; i < r->ntasks; i++) {
		const td_dump_task *t = &r->tasks[i];
		if (t->is_block_on)
			continue; /* the driver's: its polls move */
		fprintf(f, "%llu %s %s %s:%d polls %llu traces %zu",
			(unsigned long long)t->id,
			td_dump_task_state_name(t->state),
			t->type_name ? t->type_name : "-",
			t->spawn_file ? t->spawn_file : "-", t->spawn_line,
			(unsigned long long)t->polls, t->ntraces);
		for (size_t k = 0; k < t->ntraces; k++) {
			const td_dump_trace *tr = &t->traces[k];
			fprintf(f, " [%s]", tr->wait_text ? tr->wait_text : "-");
			for (size_t j = 0; j < tr->nframes; j++)
				fprintf(f, " %s:%d", tr->frames[j].function,
					tr->frames[j].line);
		}
		fputc('\n', f);
	}
	fclose(f);
	return out;
}

/* The phases add up to total_ms (to a few microseconds of rounding). */
static void check_phases(const td_dump *d)
{
	const double ph[] = {d->prepare_ms,  d->stop_ms,     d->capture_ms,
			     d->assemble_ms, d->symbolize_ms, d->diagnose_ms,
			     d->finish_ms};
	double sum = 0;
	for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
		ck_assert_msg(ph[i] >= -0.001, "phase %zu is %.3f ms", i,
			      ph[i]);
		sum += ph[i];
	}
	ck_assert_msg(sum <= d->total_ms + 0.01 && sum >= d->total_ms - 0.01,
		      "phases %.3f ms, total %.3f ms", sum, d->total_ms);
	ck_assert(d->pause_ms <= d->stop_ms + d->capture_ms + 0.01);
}

static td_dump *dump(td_runtime *rt)
{
	td_dump *d = NULL;
	ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
	fx_check_consistent(d, "repeat");
	check_phases(d);
	return d;
}

/* Two dumps in a row, and a third after a fork child dumped: identical
 * facts.  The child dumps a runtime of its own twice, and the inherited
 * one (whose threads are the parent's) gives an error, not a hang. */
START_TEST(test_dumps_repeat)
{
	struct workload *wl = calloc(1, sizeof(*wl));
	ck_assert_ptr_nonnull(wl);
	start(wl, _i);

	td_dump *d1 = dump(wl->rt);
	char *f1 = facts(d1);
	ck_assert_int_ge(fx_only_runtime(d1)->traced, NTASKS);
	td_dump_free(d1);
	td_dump *d2 = dump(wl->rt);
	char *f2 = facts(d2);
	ck_assert_str_eq(f1, f2);
	/* A dump still held while the next is made: it stays intact. */
	td_dump *d3 = dump(wl->rt);
	char *f3 = facts(d3);
	ck_assert_str_eq(f1, f3);
	char *f2b = facts(d2);
	ck_assert_str_eq(f2b, f2);
	free(f2b);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;
		/* The dump made before the fork reads the same here. */
		char *again = facts(d2);
		bad |= strcmp(again, f2) != 0;
		td_dump *inh = NULL;
		bad |= td_runtime_dump(wl->rt, NULL, &inh) != 0;
		bad |= !inh || !inh->nruntimes || !inh->runtimes[0].error;
		td_dump_free(inh);
		struct workload *own = calloc(1, sizeof(*own));
		start(own, _i);
		td_dump *c1 = dump(own->rt);
		char *g1 = facts(c1);
		td_dump_free(c1);
		td_dump *c2 = dump(own->rt);
		bad |= strcmp(g1, facts(c2)) != 0;
		bad |= fx_only_runtime(c2)->traced < NTASKS;
		stop(own);
		_exit(bad ? 3 : 0);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	td_dump_free(d2);
	td_dump_free(d3);

	td_dump *d4 = dump(wl->rt);
	char *f4 = facts(d4);
	ck_assert_str_eq(f1, f4);
	td_dump_free(d4);

	free(f1);
	free(f2);
	free(f3);
	free(f4);
	stop(wl);
	free(wl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dump_repeat");
	TCase *tc = tcase_create("repeat");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_dumps_repeat, 0, FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
