/* dump_fixtures.c - helpers shared by the task-dump tests. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "test_util.h"

const struct fx_flavor fx_flavors[FX_NFLAVORS] = {
	{TD_FLAVOR_CURRENT_THREAD, 0, 1, "current_thread"},
	{TD_FLAVOR_MULTI_THREAD, 2, 2, "multi_thread"},
};

td_runtime *fx_runtime_new(int i, const char *name)
{
	td_runtime_config cfg = {.flavor = fx_flavors[i].flavor,
				 .workers = fx_flavors[i].workers,
				 .name = name};
	td_runtime *rt = NULL;

	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	ck_assert_ptr_nonnull(rt);
	return rt;
}

/* ---- the block_on driver ------------------------------------------------ */

typedef struct fx_main {
	td_future base;
	td_async as;
	td_notified stopped;
	struct fx_driver *d;
} fx_main;

struct fx_driver {
	td_runtime *rt;
	pthread_t thread;
	td_notify stop;
	fx_main main;
	atomic_int polled;
	int result;
};

/* Written by the main future's first poll (any thread), read by tests. */
static atomic_int main_await_line;

int fx_main_await_line(void)
{
	return atomic_load_explicit(&main_await_line, memory_order_relaxed);
}

static td_poll fx_main_poll(td_future *f, td_context *cx)
{
	fx_main *m = (fx_main *)f;

	TD_BEGIN(&m->as);
	td_notified_init(&m->stopped, &m->d->stop);
	atomic_store(&m->d->polled, 1);
	FX_AWAIT_AT(main_await_line, &m->as, &m->stopped, cx);
	TD_END(&m->as);
}

static void fx_main_drop(td_future *f)
{
	td_async_drop(&((fx_main *)f)->as);
}

static const td_future_vtable fx_main_vtable = {
	.poll = fx_main_poll, .drop = fx_main_drop, .type_name = "fx_main"};

static void *driver_thread(void *arg)
{
	fx_driver *d = arg;

	d->result = td_runtime_block_on(d->rt, &d->main.base, NULL);
	return NULL;
}

static bool main_polled(void *arg)
{
	return atomic_load(&((fx_driver *)arg)->polled) != 0;
}

fx_driver *fx_driver_start(td_runtime *rt)
{
	fx_driver *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	d->rt = rt;
	td_notify_init(&d->stop);
	d->main.base.vtable = &fx_main_vtable;
	d->main.d = d;
	ck_assert_int_eq(pthread_create(&d->thread, NULL, driver_thread, d),
			 0);
	ck_assert_msg(fx_wait_until(main_polled, d, 20000),
		      "block_on never polled its future");
	return d;
}

void fx_driver_stop(fx_driver *d)
{
	td_notify_one(&d->stop);
	ck_assert_int_eq(pthread_join(d->thread, NULL), 0);
	ck_assert_int_eq(d->result, 0);
	td_notify_destroy(&d->stop);
	free(d);
}

/* ---- polling ------------------------------------------------------------ */

void fx_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

bool fx_wait_until(bool (*cond)(void *arg), void *arg, unsigned timeout_ms)
{
	uint64_t end = test_now_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (test_now_ms() >= end)
			return cond(arg);
		fx_sleep_ms(1);
	}
}

struct count_arg {
	atomic_int *counter;
	int want;
};

static bool count_reached(void *arg)
{
	struct count_arg *a = arg;
	return atomic_load(a->counter) >= a->want;
}

bool fx_wait_count(atomic_int *counter, int want, unsigned timeout_ms)
{
	struct count_arg a = {counter, want};
	return fx_wait_until(count_reached, &a, timeout_ms);
}

td_dump *fx_dump_until(td_runtime *rt, const td_dump_options *o,
		       bool (*ok)(const td_dump *d, void *arg), void *arg,
		       unsigned timeout_ms, const char *what)
{
	uint64_t end = test_now_ms() + timeout_ms;
	td_dump *d = NULL;

	for (;;) {
		ck_assert_int_eq(td_runtime_dump(rt, o, &d), 0);
		ck_assert_ptr_nonnull(d);
		fx_check_consistent(d, what);
		if (ok(d, arg))
			return d;
		if (test_now_ms() >= end)
			break;
		td_dump_free(d);
		fx_sleep_ms(2);
	}
	fx_print(d, what);
	td_dump_free(d);
	ck_abort_msg("no dump showed: %s", what);
	return NULL;
}

/* ---- looking into a dump ---------------------------------------------- */

const td_dump_runtime *fx_find_runtime(const td_dump *d, uint64_t id)
{
	for (size_t i = 0; i < d->nruntimes; i++)
		if (d->runtimes[i].id == id)
			return &d->runtimes[i];
	return NULL;
}

const td_dump_task *fx_find_task(const td_dump_runtime *r, uint64_t id)
{
	for (size_t i = 0; i < r->ntasks; i++)
		if (!r->tasks[i].is_block_on && r->tasks[i].id == id)
			return &r->tasks[i];
	return NULL;
}

const td_dump_task *fx_find_block_on(const td_dump_runtime *r)
{
	for (size_t i = 0; i < r->ntasks; i++)
		if (r->tasks[i].is_block_on)
			return &r->tasks[i];
	return NULL;
}

const td_dump_runtime *fx_only_runtime(const td_dump *d)
{
	ck_assert_uint_eq(d->nruntimes, 1);
	ck_assert_ptr_nonnull(d->runtimes);
	return &d->runtimes[0];
}

bool fx_tasks_idle(const td_dump_runtime *r, const uint64_t *ids, size_t n,
		   uint64_t min_polls)
{
	for (size_t i = 0; i < n; i++) {
		const td_dump_task *t = fx_find_task(r, ids[i]);
		if (!t || t->state != TD_DUMP_IDLE || !t->traced ||
		    t->ntraces == 0 || t->polls < min_polls)
			return false;
	}
	return true;
}

const char *fx_basename(const char *path)
{
	const char *s;

	if (!path)
		return "(null)";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- trace shapes ------------------------------------------------------- */

const char *fx_trace_names(const td_dump_trace *t, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->nframes && len < size; i++) {
		int n = snprintf(buf + len, size - len, "%s%s",
				 i ? " > " : "", t->frames[i].function);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	return buf;
}

void fx_assert_names(const td_dump_trace *t, const char *const *names,
		     size_t n)
{
	char got[2048], want[2048];
	size_t len = 0;

	want[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(want); i++) {
		int k = snprintf(want + len, sizeof(want) - len, "%s%s",
				 i ? " > " : "", names[i]);
		if (k < 0)
			break;
		len += (size_t)k;
	}
	fx_trace_names(t, got, sizeof(got));
	ck_assert_msg(!t->truncated, "trace truncated: %s", got);
	ck_assert_msg(strcmp(got, want) == 0, "trace is\n  %s\nexpected\n  %s",
		      got, want);
}

int fx_frame_index(const td_dump_trace *t, const char *fn, size_t from)
{
	for (size_t i = from; i < t->nframes; i++)
		if (strcmp(t->frames[i].function, fn) == 0)
			return (int)i;
	return -1;
}

void fx_assert_frame_at(const td_dump_trace *t, const char *fn,
			const char *file, int line)
{
	int i = fx_frame_index(t, fn, 0);
	char names[2048];

	ck_assert_msg(i >= 0, "no frame %s in %s", fn,
		      fx_trace_names(t, names, sizeof(names)));
	ck_assert_msg(t->frames[i].file &&
			      strcmp(fx_basename(t->frames[i].file), file) == 0,
		      "frame %s: file %s, expected %s", fn,
		      t->frames[i].file ? t->frames[i].file : "(null)", file);
	ck_assert_msg(t->frames[i].line == line,
		      "frame %s: line %d, expected %d", fn, t->frames[i].line,
		      line);
}

bool fx_frames_contain(const td_dump_frame *f, size_t n, const char *fn)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].function && strcmp(f[i].function, fn) == 0)
			return true;
	return false;
}

/* ---- invariants -------------------------------------------------------- */

static bool is_worker_state(const char *s)
{
	return s && (strcmp(s, "paused") == 0 || strcmp(s, "busy") == 0 ||
		     strcmp(s, "idle") == 0 || strcmp(s, "running") == 0);
}

static void check_worker(const td_dump_runtime *r, size_t i, const char *ctx)
{
	const td_dump_worker *w = &r->workers[i];

	ck_assert_msg(w->index == i, "%s: worker %zu has index %u", ctx, i,
		      w->index);
	ck_assert_msg(is_worker_state(w->state), "%s: worker %zu state %s",
		      ctx, i, w->state ? w->state : "(null)");
	ck_assert_msg(w->paused == (strcmp(w->state, "paused") == 0),
		      "%s: worker %zu paused flag vs state %s", ctx, i,
		      w->state);
	if (strcmp(w->state, "busy") == 0) {
		ck_assert_msg(w->stack || w->stack_error,
			      "%s: busy worker %zu: no stack, no reason", ctx,
			      i);
		for (size_t k = 0; k < w->nstack; k++)
			ck_assert_ptr_nonnull(w->stack[k].function);
	} else {
		ck_assert_msg(w->nstack == 0 && !w->stack_error,
			      "%s: worker %zu (%s) has a stack", ctx, i,
			      w->state);
	}
}

static void check_trace(const td_dump_trace *tr, const char *ctx,
			uint64_t id)
{
	ck_assert_msg(tr->nframes > 0 || tr->truncated,
		      "%s: task %llu has a trace without frames", ctx,
		      (unsigned long long)id);
	ck_assert_msg(tr->wait_text != NULL, "%s: task %llu: no wait text",
		      ctx, (unsigned long long)id);
	ck_assert_msg(tr->wait.kind >= TD_WAIT_NONE &&
			      tr->wait.kind <= TD_WAIT_OTHER,
		      "%s: task %llu: wait kind %d", ctx,
		      (unsigned long long)id, (int)tr->wait.kind);
	for (size_t k = 0; k < tr->nframes; k++)
		ck_assert_msg(tr->frames[k].function != NULL,
			      "%s: task %llu: frame %zu has no function", ctx,
			      (unsigned long long)id, k);
}

static void check_task(const td_dump_runtime *r, const td_dump_task *t,
		       const char *ctx)
{
	unsigned long long id = (unsigned long long)t->id;

	ck_assert_msg(t->state >= TD_DUMP_IDLE &&
			      t->state <= TD_DUMP_COMPLETE,
		      "%s: task %llu: state %d", ctx, id, (int)t->state);
	if (t->traced) {
		ck_assert_msg(t->not_traced == NULL,
			      "%s: task %llu traced with a reason", ctx, id);
		ck_assert_msg(t->state != TD_DUMP_RUNNING,
			      "%s: task %llu traced while running", ctx, id);
		ck_assert_msg(t->ntraces == 0 || t->traces,
			      "%s: task %llu: traces missing", ctx, id);
		for (size_t k = 0; k < t->ntraces; k++)
			check_trace(&t->traces[k], ctx, t->id);
	} else {
		ck_assert_msg(t->not_traced && t->not_traced[0],
			      "%s: task %llu neither traced nor explained",
			      ctx, id);
		ck_assert_msg(t->ntraces == 0,
			      "%s: task %llu untraced with traces", ctx, id);
	}
	bool queued_state = t->state == TD_DUMP_NOTIFIED ||
			    t->state == TD_DUMP_CANCELLED;
	ck_assert_msg(queued_state || t->queue == TD_DUMP_QUEUE_NONE,
		      "%s: task %llu (%s) in queue %s", ctx, id,
		      td_dump_task_state_name(t->state),
		      td_dump_queue_name(t->queue));
	if (t->queue == TD_DUMP_QUEUE_LIFO || t->queue == TD_DUMP_QUEUE_LOCAL)
		ck_assert_msg(t->queue_worker >= 0 &&
				      (size_t)t->queue_worker < r->nworkers,
			      "%s: task %llu: queue_worker %d", ctx, id,
			      t->queue_worker);
	else
		ck_assert_msg(t->queue_worker == -1,
			      "%s: task %llu: queue_worker %d for queue %s",
			      ctx, id, t->queue_worker,
			      td_dump_queue_name(t->queue));
	if (t->is_block_on) {
		ck_assert_msg(t->id == 0, "%s: block_on entry with id %llu",
			      ctx, id);
		ck_assert_msg(t->worker == -1, "%s: block_on with worker %d",
			      ctx, t->worker);
	} else if (t->polls == 0) {
		ck_assert_msg(t->worker == -1,
			      "%s: task %llu never polled, worker %d", ctx, id,
			      t->worker);
	} else {
		ck_assert_msg(t->worker >= 0 && (size_t)t->worker < r->nworkers,
			      "%s: task %llu: worker %d", ctx, id, t->worker);
	}
}

static void check_runtime(const td_dump_runtime *r, const char *ctx)
{
	size_t traced = 0;
	bool seen_task = false;
	uint64_t last = 0;

	ck_assert_msg(r->error == NULL, "%s: runtime %llu: error %s", ctx,
		      (unsigned long long)r->id, r->error);
	ck_assert_msg(r->flavor && (strcmp(r->flavor, "current_thread") == 0 ||
				    strcmp(r->flavor, "multi_thread") == 0),
		      "%s: flavor %s", ctx, r->flavor ? r->flavor : "(null)");
	ck_assert_ptr_nonnull(r->name);
	ck_assert_msg(r->nworkers >= 1 && r->workers, "%s: no workers", ctx);
	ck_assert_msg(r->pause_ms >= 0.0, "%s: pause_ms %f", ctx, r->pause_ms);
	for (size_t i = 0; i < r->nworkers; i++)
		check_worker(r, i, ctx);
	ck_assert_msg(r->ntasks == 0 || r->tasks, "%s: tasks missing", ctx);
	for (size_t i = 0; i < r->ntasks; i++) {
		const td_dump_task *t = &r->tasks[i];
		if (t->is_block_on) {
			ck_assert_msg(!seen_task,
				      "%s: block_on entry after tasks", ctx);
		} else {
			ck_assert_msg(t->id > last,
				      "%s: task ids not increasing: %llu "
				      "after %llu",
				      ctx, (unsigned long long)t->id,
				      (unsigned long long)last);
			last = t->id;
			seen_task = true;
		}
		check_task(r, t, ctx);
		traced += t->traced;
	}
	ck_assert_msg(traced == r->traced, "%s: traced %zu, counted %zu", ctx,
		      r->traced, traced);
}

void fx_check_consistent(const td_dump *d, const char *ctx)
{
	size_t ntasks = 0;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->version, TD_DUMP_FORMAT_VERSION);
	ck_assert_int_eq(d->pid, (int)getpid());
	ck_assert_ptr_nonnull(d->program);
	ck_assert_msg(d->total_ms >= d->pause_ms && d->pause_ms >= 0.0,
		      "%s: total_ms %f, pause_ms %f", ctx, d->total_ms,
		      d->pause_ms);
	ck_assert_msg(d->nruntimes == 0 || d->runtimes, "%s: runtimes", ctx);
	for (size_t i = 0; i < d->nruntimes; i++) {
		check_runtime(&d->runtimes[i], ctx);
		ntasks += d->runtimes[i].ntasks;
	}
	ck_assert_msg(ntasks == d->ntasks, "%s: ntasks %zu, counted %zu", ctx,
		      d->ntasks, ntasks);
}

/* ---- output -------------------------------------------------------------- */

char *fx_text(const td_dump *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_text(d, f, NULL), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(strlen(buf), len);
	ck_assert_msg(strncmp(buf, "taskdump 1\n", 11) == 0,
		      "text starts with %.20s", buf);
	return buf;
}

char *fx_json(const td_dump *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(td_dump_write_json(d, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(strlen(buf), len);
	ck_assert_msg(strncmp(buf, "{\"taskdump\":1,", 14) == 0,
		      "JSON starts with %.20s", buf);
	return buf;
}

void fx_print(const td_dump *d, const char *title)
{
	if (!getenv("FX_PRINT") || !d)
		return;
	fprintf(stderr, "==== %s\n", title);
	td_dump_write_text(d, stderr, NULL);
}
