/* bench_dump.c - dump_latency: how long a task dump of n idle tasks takes.
 *
 * As ../shared/anchors/tokio-bench/src/dump.rs: n tasks split evenly over
 * three await chains, level1 -> level2 -> level3, ending in a sleep of an
 * hour, a oneshot receive or an mpsc receive (senders kept alive).  Once
 * every task has parked, the benchmark task (on a worker) dumps the
 * runtime and writes the text to a byte-counting sink, twice: the first
 * dump is "cold" (debug information not yet read), the second "warm".
 * The dumps are taken from a thread of their own, outside the runtime,
 * which keeps running meanwhile, in the mode TASKDUMP_BENCH_MODE says
 * (incremental, the default, or stop).
 *
 *   pause_ms      stop: workers stopped at the gate; incremental: the
 *                 longest any worker was held (td_dump_runtime.pause_ms)
 *   span_ms       first task looked at to the last
 *   capture_ms    tracing polls of every task
 *   symbolize_ms  addresses to frames, after the workers resumed
 *   format_ms     writing the text
 *   total_ms      from the request to the last byte written
 *
 * and where the rest of total_ms went (td_dump's phases, which with
 * format_ms add up to it; other_ms is what is left, the calls' own cost):
 *
 *   prepare_ms    before the pause: the dump lock, memory
 *   stop_ms       the pause before the capture: threads coming to a stop
 *   assemble_ms   after the pause: task entries in id order
 *   diagnose_ms   wait-for graph, deadlocks, task warnings
 *   finish_ms     the header, scratch memory put back
 *   other_ms      total_ms minus the dump's total and format_ms
 *
 * and for the second dump also json_ms and json_bytes: the same dump
 * written as JSON (after its text; not in any total).
 *
 * With TASKDUMP_BENCH_DUMP_TO=<prefix> in the environment, a third dump is
 * written to <prefix>.txt and <prefix>.json, and a fourth, right after it,
 * to <prefix>-later.txt and <prefix>-later.json (real dumps of n tasks
 * for the tool's benchmark, bench/tool_scale.sh; the pair for `diff`).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "taskdump/dump.h"

enum leaf_kind { LEAF_SLEEP, LEAF_ONESHOT, LEAF_MPSC };

struct dl_shared {
	size_t n;
	atomic_size_t parked;
	td_notify all_parked;
};

static struct dl_shared *dl;

/* dump_hold: SIGTERM / SIGINT end the hold. */
static atomic_int hold_stop;

typedef struct level3 {
	td_future base;
	td_async as;
	enum leaf_kind kind;
	void *ch; /* td_oneshot * or td_mpsc * */
	union {
		td_sleep sleep;
		td_oneshot_recv oneshot;
		td_mpsc_recv mpsc;
	} leaf;
	uint64_t value;
} level3;

static td_poll level3_poll(td_future *f, td_context *cx)
{
	level3 *l = (level3 *)f;
	TD_BEGIN(&l->as);
	if (atomic_fetch_add(&dl->parked, 1) + 1 == dl->n)
		td_notify_one(&dl->all_parked);
	switch (l->kind) {
	case LEAF_SLEEP:
		td_sleep_init(&l->leaf.sleep, 3600 * 1000);
		break;
	case LEAF_ONESHOT:
		td_oneshot_recv_init(&l->leaf.oneshot, l->ch);
		break;
	case LEAF_MPSC:
		td_mpsc_recv_init(&l->leaf.mpsc, l->ch, &l->value);
		break;
	}
	TD_AWAIT(&l->as, &l->leaf, cx);
	TD_END(&l->as);
}

static void level3_drop(td_future *f)
{
	td_async_drop(&((level3 *)f)->as);
}

static const td_future_vtable level3_vtable = {
	.poll = level3_poll, .drop = level3_drop, .type_name = "level3"};

typedef struct level2 {
	td_future base;
	td_async as;
	level3 inner;
} level2;

static td_poll level2_poll(td_future *f, td_context *cx)
{
	level2 *l = (level2 *)f;
	TD_BEGIN(&l->as);
	TD_AWAIT(&l->as, &l->inner, cx);
	TD_END(&l->as);
}

static void level2_drop(td_future *f)
{
	td_async_drop(&((level2 *)f)->as);
}

static const td_future_vtable level2_vtable = {
	.poll = level2_poll, .drop = level2_drop, .type_name = "level2"};

typedef struct level1 {
	td_future base;
	td_async as;
	level2 inner;
} level1;

static td_poll level1_poll(td_future *f, td_context *cx)
{
	level1 *l = (level1 *)f;
	TD_BEGIN(&l->as);
	TD_AWAIT(&l->as, &l->inner, cx);
	TD_END(&l->as);
}

static void level1_drop(td_future *f)
{
	td_async_drop(&((level1 *)f)->as);
}

static const td_future_vtable level1_vtable = {
	.poll = level1_poll, .drop = level1_drop, .type_name = "level1"};

/* A FILE that counts what is written to it and keeps nothing. */
static ssize_t count_write(void *cookie, const char *buf, size_t size)
{
	(void)buf;
	*(size_t *)cookie += size;
	return (ssize_t)size;
}

struct round {
	double pause_ms, capture_ms, symbolize_ms, format_ms, total_ms;
	double prepare_ms, stop_ms, assemble_ms, diagnose_ms, finish_ms;
	double other_ms, span_ms;
	size_t tasks, bytes;
	double json_ms;
	size_t json_bytes;
};

/* Write d to a counting sink as text (json false) or JSON: the bytes,
 * and the time in *ms. */
static int write_counted(const td_dump *d, bool json, size_t *bytes,
			 double *ms)
{
	double t0 = bench_now();
	cookie_io_functions_t io = {.write = count_write};
	*bytes = 0;
	FILE *f = fopencookie(bytes, "w", io);
	if (!f)
		return -1;
	static char buf[1 << 16];
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	int err = json ? td_dump_write_json(d, f)
		       : td_dump_write_text(d, f, NULL);
	fclose(f);
	*ms = (bench_now() - t0) * 1e3;
	return err;
}

static td_dump_options bench_opts;

/* One dump and its text (and with `json` its JSON too), timed. */
static int dump_round(td_runtime *rt, struct round *r, bool json)
{
	double t0 = bench_now();
	td_dump *d;
	int err = td_runtime_dump(rt, &bench_opts, &d);
	if (err)
		return err;
	double t1 = bench_now();
	size_t bytes = 0;
	double text_ms;
	err = write_counted(d, false, &bytes, &text_ms);
	double t2 = bench_now();
	r->json_ms = 0;
	r->json_bytes = 0;
	if (!err && json)
		err = write_counted(d, true, &r->json_bytes, &r->json_ms);
	r->pause_ms = d->pause_ms;
	r->span_ms = d->span_ms;
	r->capture_ms = d->capture_ms;
	r->symbolize_ms = d->symbolize_ms;
	r->format_ms = (t2 - t1) * 1e3;
	r->total_ms = (t2 - t0) * 1e3;
	r->prepare_ms = d->prepare_ms;
	r->stop_ms = d->stop_ms;
	r->assemble_ms = d->assemble_ms;
	r->diagnose_ms = d->diagnose_ms;
	r->finish_ms = d->finish_ms;
	r->other_ms = r->total_ms - d->total_ms - r->format_ms;
	r->tasks = d->ntasks;
	r->bytes = bytes;
	td_dump_free(d);
	return err;
}

/* Dump the runtime once more and write it to <prefix>.txt and
 * <prefix>.json.  Returns 0, or -1 (with a message on stderr). */
static int dump_to_files(td_runtime *rt, const char *prefix)
{
	static const char *const ext[2] = {".txt", ".json"};
	td_dump *d;
	int rc = 0;

	if (td_runtime_dump(rt, &bench_opts, &d) != 0)
		return -1;
	for (int k = 0; k < 2 && rc == 0; k++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s%s", prefix, ext[k]);
		f = fopen(path, "w");
		if (!f ||
		    (k == 0 ? td_dump_write_text(d, f, NULL) :
			      td_dump_write_json(d, f)) != 0 ||
		    fclose(f) != 0) {
			fprintf(stderr, "dump_latency: cannot write %s\n",
				path);
			rc = -1;
		}
	}
	td_dump_free(d);
	return rc;
}

/* Two dumps, one after the other: <prefix>.* and <prefix>-later.*. */
static int dump_pair(td_runtime *rt, const char *prefix)
{
	char later[4096];

	snprintf(later, sizeof(later), "%s-later", prefix);
	return dump_to_files(rt, prefix) != 0 ? -1 : dump_to_files(rt, later);
}

/* The dumping thread: both rounds (and the files), then `done`. */
struct dumper {
	td_runtime *rt;
	struct round cold, warm;
	int failed;
	atomic_int done;
};

static void *dumper_main(void *arg)
{
	struct dumper *dp = arg;
	const char *to = getenv("TASKDUMP_BENCH_DUMP_TO");
	dp->failed = dump_round(dp->rt, &dp->cold, false) ||
		     dump_round(dp->rt, &dp->warm, true) ||
		     (to && dump_pair(dp->rt, to) != 0);
	atomic_store(&dp->done, 1);
	return NULL;
}

typedef struct dl_body {
	td_future base;
	td_async as;
	struct bench_ctx *ctx;
	bool hold; /* dump_hold: wait for SIGTERM instead of dumping */
	void **channels; /* the senders' side, kept alive */
	td_notified all;
	td_sleep settle;
	uint64_t rss0, rss1;
	double t0, spawn_el, ready_el;
	struct dumper dp;
	pthread_t th;
} dl_body;

static td_poll dl_body_poll(td_future *f, td_context *cx)
{
	dl_body *b = (dl_body *)f;
	size_t n = b->ctx->n;

	TD_BEGIN(&b->as);
	b->rss0 = bench_proc_status_kib("VmRSS");
	b->t0 = bench_now();
	for (size_t i = 0; i < n; i++) {
		level1 t = {.base = {&level1_vtable}};
		t.inner.base.vtable = &level2_vtable;
		level3 *l3 = &t.inner.inner;
		l3->base.vtable = &level3_vtable;
		l3->kind = (enum leaf_kind)(i % 3);
		if (l3->kind == LEAF_ONESHOT)
			l3->ch = td_oneshot_new();
		else if (l3->kind == LEAF_MPSC)
			l3->ch = td_mpsc_bounded(sizeof(uint64_t), 1);
		b->channels[i] = l3->ch;
		if ((l3->kind != LEAF_SLEEP && !l3->ch) ||
		    td_spawn(NULL, &t, NULL) != 0)
			abort();
	}
	b->spawn_el = bench_now() - b->t0;
	if (n > 0) {
		td_notified_init(&b->all, &dl->all_parked);
		TD_AWAIT(&b->as, &b->all, cx);
	}
	b->ready_el = bench_now() - b->t0;
	b->rss1 = bench_proc_status_kib("VmRSS");
	td_sleep_init(&b->settle, 20); /* let the last polls finish */
	TD_AWAIT(&b->as, &b->settle, cx);
	if (b->hold) {
		fprintf(stderr, "dump_hold: %zu tasks ready, pid %d\n", n,
			(int)getpid());
		while (!atomic_load(&hold_stop)) {
			td_sleep_init(&b->settle, 50);
			TD_AWAIT(&b->as, &b->settle, cx);
		}
		bench_appendf(b->ctx, "held=1 tasks=%zu", n);
		TD_RETURN(&b->as);
	}
	b->dp.rt = b->ctx->rt;
	if (pthread_create(&b->th, NULL, dumper_main, &b->dp) != 0)
		abort();
	/* The runtime runs on while the other thread dumps it. */
	while (!atomic_load(&b->dp.done)) {
		td_sleep_init(&b->settle, 2);
		TD_AWAIT(&b->as, &b->settle, cx);
	}
	pthread_join(b->th, NULL);
	if (b->dp.failed)
		abort();
	{
		const struct round cold = b->dp.cold, warm = b->dp.warm;
		bench_appendf(
			b->ctx,
			"pause_ms=%.3f capture_ms=%.3f symbolize_ms=%.3f "
			"format_ms=%.3f total_ms=%.3f tasks=%zu bytes=%zu "
			"warm_pause_ms=%.3f warm_capture_ms=%.3f "
			"warm_symbolize_ms=%.3f warm_format_ms=%.3f "
			"warm_total_ms=%.3f spawn_ms=%.3f ready_ms=%.3f "
			"rss_bytes_per_task=%.0f prepare_ms=%.3f stop_ms=%.3f "
			"assemble_ms=%.3f diagnose_ms=%.3f finish_ms=%.3f "
			"other_ms=%.3f warm_prepare_ms=%.3f warm_stop_ms=%.3f "
			"warm_assemble_ms=%.3f warm_diagnose_ms=%.3f "
			"warm_finish_ms=%.3f warm_other_ms=%.3f "
			"warm_bytes=%zu json_ms=%.3f json_bytes=%zu "
			"mode=%s span_ms=%.3f warm_span_ms=%.3f",
			cold.pause_ms, cold.capture_ms, cold.symbolize_ms,
			cold.format_ms, cold.total_ms, cold.tasks, cold.bytes,
			warm.pause_ms, warm.capture_ms, warm.symbolize_ms,
			warm.format_ms, warm.total_ms, b->spawn_el * 1e3,
			b->ready_el * 1e3,
			(double)(b->rss1 > b->rss0 ? b->rss1 - b->rss0 : 0) *
				1024.0 / (double)(n ? n : 1),
			cold.prepare_ms, cold.stop_ms, cold.assemble_ms,
			cold.diagnose_ms, cold.finish_ms, cold.other_ms,
			warm.prepare_ms, warm.stop_ms, warm.assemble_ms,
			warm.diagnose_ms, warm.finish_ms, warm.other_ms,
			warm.bytes, warm.json_ms, warm.json_bytes,
			bench_opts.mode == TD_DUMP_MODE_STOP ? "stop"
							     : "incremental",
			cold.span_ms, warm.span_ms);
	}
	TD_END(&b->as);
}

static const td_future_vtable dl_body_vtable = {.poll = dl_body_poll,
						.type_name = "dump_latency"};

static void on_hold_signal(int sig)
{
	(void)sig;
	atomic_store(&hold_stop, 1);
}

static td_future *dl_make(struct bench_ctx *ctx)
{
	const char *mode = getenv("TASKDUMP_BENCH_MODE");
	bench_opts.mode = mode && strcmp(mode, "stop") == 0
				  ? TD_DUMP_MODE_STOP
				  : TD_DUMP_MODE_INCREMENTAL;
	dl_body *b = calloc(1, sizeof(*b));
	dl = calloc(1, sizeof(*dl));
	if (!b || !dl)
		return NULL;
	dl->n = ctx->n;
	td_notify_init(&dl->all_parked);
	b->base.vtable = &dl_body_vtable;
	b->ctx = ctx;
	b->channels = calloc(ctx->n ? ctx->n : 1, sizeof(*b->channels));
	if (!b->channels)
		return NULL;
	ctx->state = b;
	return &b->base;
}

/* After the runtime is gone (the receivers with it): the senders. */
static void dl_cleanup(struct bench_ctx *ctx)
{
	dl_body *b = ctx->state;
	for (size_t i = 0; i < ctx->n; i++) {
		if (i % 3 == LEAF_ONESHOT)
			td_oneshot_sender_release(b->channels[i]);
		else if (i % 3 == LEAF_MPSC)
			td_mpsc_sender_release(b->channels[i]);
	}
	free(b->channels);
	free(b);
	td_notify_destroy(&dl->all_parked);
	free(dl);
}

const struct bench_workload bench_dump_latency = {
	.name = "dump_latency", .make = dl_make, .cleanup = dl_cleanup};

/* dump_hold: the same n tasks, then wait (for SIGTERM or SIGINT) while
 * something outside dumps the process - the agent, say:
 * bench/agent_latency.sh measures the dump from signal to file. */
static td_future *dh_make(struct bench_ctx *ctx)
{
	struct sigaction sa = {.sa_handler = on_hold_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	td_future *f = dl_make(ctx);
	if (f)
		((dl_body *)f)->hold = true;
	return f;
}

const struct bench_workload bench_dump_hold = {
	.name = "dump_hold", .make = dh_make, .cleanup = dl_cleanup};
