/* write_json.c - a dump as JSON (README.md (dump file formats), "JSON format").
 *
 * Written by hand (the runtime must not depend on a JSON library) in a
 * compact form: no spaces, a line per worker and per task, so that the
 * file of a 100 000-task dump stays small and greppable.  Every key the
 * format lists is always present; unknown or inapplicable values are
 * null.  Strings are escaped by td_wbuf_json_str (always valid JSON, even
 * from invalid UTF-8); times in ms have three decimals, independent of
 * the C locale.
 */
#include <errno.h>
#include <string.h>

#include "trace/write_buf.h"
#include "trace/write_cache.h"

/* ---- values ---------------------------------------------------------- */

static void put_null(struct td_wbuf *b)
{
	td_wbuf_lit(b, "null");
}

static void put_bool(struct td_wbuf *b, bool v)
{
	if (v)
		td_wbuf_lit(b, "true");
	else
		td_wbuf_lit(b, "false");
}

static void put_ms(struct td_wbuf *b, double ms)
{
	if (!td_wbuf_ms3(b, ms))
		put_null(b);
}

/* A hex number as a JSON string: "0x1a2b". */
static void put_hex_str(struct td_wbuf *b, uint64_t v)
{
	td_wbuf_putc(b, '"');
	td_wbuf_hex(b, v);
	td_wbuf_putc(b, '"');
}

/* Before the i-th element of a list written one per line. */
static void put_sep(struct td_wbuf *b, size_t i)
{
	if (i)
		td_wbuf_putc(b, ',');
	td_wbuf_putc(b, '\n');
}

/* `,"key":` - keys are literals and need no escaping. */
#define KEY(b, k) td_wbuf_lit((b), ",\"" k "\":")

/* ---- frames and traces ----------------------------------------------- */

static void put_frame(struct td_wbuf *b, const void *arg)
{
	const td_dump_frame *fr = arg;

	td_wbuf_lit(b, "{\"function\":");
	if (fr->function && fr->function[0])
		td_wbuf_json_str(b, fr->function);
	else
		put_hex_str(b, fr->ip); /* as the text format shows it */
	KEY(b, "file");
	td_wbuf_json_str(b, fr->file ? td_dump_file_name(fr->file) : NULL);
	KEY(b, "line");
	if (fr->line > 0)
		td_wbuf_i64(b, fr->line);
	else
		put_null(b);
	KEY(b, "inlined");
	put_bool(b, fr->inlined);
	KEY(b, "module");
	td_wbuf_json_str(b, fr->module);
	KEY(b, "offset");
	if (fr->module)
		put_hex_str(b, fr->module_offset);
	else
		put_null(b);
	KEY(b, "ip");
	put_hex_str(b, fr->ip);
	td_wbuf_putc(b, '}');
}

/* Frames repeat across tasks with the same strings and addresses: each
 * is rendered once and copied afterwards (write_cache.h). */
static void put_frames(struct td_wbuf *b, const td_dump_frame *frames,
		       size_t n)
{
	size_t i;

	td_wbuf_putc(b, '[');
	for (i = 0; frames && i < n; i++) {
		const td_dump_frame *fr = &frames[i];
		struct td_wcache_key k = {
			{fr->function, fr->file, fr->module},
			(uint64_t)(uint32_t)fr->line << 1 | fr->inlined,
			fr->module_offset,
			fr->ip,
		};

		if (i)
			td_wbuf_putc(b, ',');
		td_wbuf_cached(b, &k, put_frame, fr);
	}
	td_wbuf_putc(b, ']');
}

static void put_u64_if(struct td_wbuf *b, bool known, uint64_t v)
{
	if (known)
		td_wbuf_u64(b, v);
	else
		put_null(b);
}

static void put_events(struct td_wbuf *b, uint32_t events)
{
	td_wbuf_putc(b, '[');
	if (events & TD_WAIT_READ)
		td_wbuf_lit(b, "\"read\"");
	if ((events & TD_WAIT_READ) && (events & TD_WAIT_WRITE))
		td_wbuf_putc(b, ',');
	if (events & TD_WAIT_WRITE)
		td_wbuf_lit(b, "\"write\"");
	td_wbuf_putc(b, ']');
}

/* What a leaf waits on.  Each numeric field is non-null only for the
 * kinds trace.h defines it for (0 is a meaningful count, fd or value);
 * a mutex's holder task 0 means "none" and is null. */
static void put_wait(struct td_wbuf *b, const td_dump_trace *tr)
{
	const td_wait *w = &tr->wait;
	td_wait_kind k = w->kind;
	char tmp[256];

	td_wbuf_lit(b, "{\"kind\":");
	td_wbuf_json_str(b, td_wait_kind_name(k));
	KEY(b, "text");
	td_wbuf_json_str(b, td_dump_wait_text(tr, tmp, sizeof(tmp)));
	KEY(b, "object");
	if (w->object)
		put_hex_str(b, (uintptr_t)w->object);
	else
		put_null(b);
	KEY(b, "deadline_ms");
	put_u64_if(b, k == TD_WAIT_SLEEP, w->deadline_ms);
	KEY(b, "task_id");
	put_u64_if(b, k == TD_WAIT_JOIN || (k == TD_WAIT_MUTEX && w->task_id),
		   w->task_id);
	KEY(b, "fd");
	if (k == TD_WAIT_IO)
		td_wbuf_i64(b, w->fd);
	else
		put_null(b);
	KEY(b, "events");
	if (k == TD_WAIT_IO)
		put_events(b, w->events);
	else
		put_null(b);
	KEY(b, "count");
	put_u64_if(b, k == TD_WAIT_SEMAPHORE || k == TD_WAIT_CHAN_SEND ||
			      k == TD_WAIT_CHAN_RECV,
		   w->count);
	KEY(b, "value");
	put_u64_if(b, k == TD_WAIT_SEMAPHORE || k == TD_WAIT_CHAN_SEND,
		   w->value);
	KEY(b, "label");
	td_wbuf_json_str(b, w->label);
	td_wbuf_putc(b, '}');
}

static void put_trace(struct td_wbuf *b, const td_dump_trace *tr)
{
	td_wbuf_lit(b, "{\"wait\":");
	put_wait(b, tr);
	KEY(b, "truncated");
	put_bool(b, tr->truncated);
	KEY(b, "frames");
	put_frames(b, tr->frames, tr->nframes);
	td_wbuf_putc(b, '}');
}

/* ---- tasks, workers, runtimes ---------------------------------------- */

/* `"spawned":{...} or null,"type":...`: the spawn site and the future's
 * type, which most tasks share with many others. */
static void render_spawned(struct td_wbuf *b, const void *arg)
{
	const td_dump_task *t = arg;

	td_wbuf_lit(b, "\"spawned\":");
	if (!t->spawn_file && !t->spawn_function) {
		put_null(b);
		KEY(b, "type");
		td_wbuf_json_str(b, t->type_name);
		return;
	}
	td_wbuf_lit(b, "{\"file\":");
	td_wbuf_json_str(b, t->spawn_file ? td_dump_file_name(t->spawn_file)
					  : NULL);
	KEY(b, "line");
	if (t->spawn_line > 0)
		td_wbuf_i64(b, t->spawn_line);
	else
		put_null(b);
	KEY(b, "function");
	td_wbuf_json_str(b, t->spawn_function);
	td_wbuf_putc(b, '}');
	KEY(b, "type");
	td_wbuf_json_str(b, t->type_name);
}

/* Where the task was spawned and its type: from the cache for all but
 * the first task of a site and type. */
static void put_spawned(struct td_wbuf *b, const td_dump_task *t)
{
	static const char tag; /* tells this key from a frame's */
	struct td_wcache_key k = {
		{t->spawn_file, t->spawn_function, &tag},
		(uint64_t)(uint32_t)t->spawn_line,
		(uint64_t)(uintptr_t)t->type_name, 0,
	};

	td_wbuf_cached(b, &k, render_spawned, t);
}

/* {"task":4,"why":"mutex 0x... held"}; "task" is null for nobody. */
static void put_edge(struct td_wbuf *b, const td_dump_edge *e)
{
	td_wbuf_lit(b, "{\"task\":");
	if (e->has_task)
		td_wbuf_u64(b, e->task_id);
	else
		put_null(b);
	KEY(b, "why");
	td_wbuf_json_str(b, e->why ? e->why : "unknown");
	td_wbuf_putc(b, '}');
}

/* [{"kind":"mutex","object":"0x...","held_ms":120,"waiters":2,
 *   "permits":null,"others":null},...] */
static void put_holds(struct td_wbuf *b, const td_dump_task *t)
{
	td_wbuf_putc(b, '[');
	for (size_t i = 0; t->holds && i < t->nholds; i++) {
		const td_dump_held *h = &t->holds[i];
		if (i)
			td_wbuf_putc(b, ',');
		td_wbuf_lit(b, "{\"kind\":");
		td_wbuf_json_str(b, td_wait_kind_name(h->kind));
		td_wbuf_lit(b, ",\"object\":\"");
		td_wbuf_hex(b, (uint64_t)(uintptr_t)h->object);
		td_wbuf_putc(b, '"');
		KEY(b, "held_ms");
		td_wbuf_u64(b, h->held_ms);
		KEY(b, "waiters");
		td_wbuf_u64(b, h->waiters);
		/* Semaphores only: null for a mutex. */
		KEY(b, "permits");
		if (h->kind == TD_WAIT_SEMAPHORE)
			td_wbuf_u64(b, h->permits);
		else
			put_null(b);
		KEY(b, "others");
		if (h->kind == TD_WAIT_SEMAPHORE)
			td_wbuf_u64(b, h->others);
		else
			put_null(b);
		td_wbuf_putc(b, '}');
	}
	td_wbuf_putc(b, ']');
}

/* The task's counters (README.md, "Task counters"); null for a
 * block_on future, wakers null when not known. */
static void put_counters(struct td_wbuf *b, const td_dump_task *t)
{
	bool known = !t->is_block_on;
	KEY(b, "busy_ms");
	put_u64_if(b, known, t->busy_ms);
	KEY(b, "slowest_poll_ms");
	put_u64_if(b, known, t->slowest_poll_ms);
	KEY(b, "wakes");
	put_u64_if(b, known, t->wakes);
	KEY(b, "woken_ms");
	put_u64_if(b, known, t->woken_ms);
	KEY(b, "wait_ms");
	put_u64_if(b, known, t->wait_ms);
	KEY(b, "wait_worst_ms");
	put_u64_if(b, known, t->wait_worst_ms);
	KEY(b, "wakers");
	put_u64_if(b, known && t->wakers >= 0, (uint64_t)t->wakers);
}

static void put_task(struct td_wbuf *b, const td_dump_task *t)
{
	bool has_qw = (t->queue == TD_DUMP_QUEUE_LIFO ||
		       t->queue == TD_DUMP_QUEUE_LOCAL) && t->queue_worker >= 0;
	size_t i;

	td_wbuf_lit(b, "{\"id\":");
	td_wbuf_u64(b, t->id);
	KEY(b, "name");
	td_wbuf_json_str(b, t->name);
	KEY(b, "block_on");
	put_bool(b, t->is_block_on);
	KEY(b, "state");
	td_wbuf_json_str(b, td_dump_task_state_name(t->state));
	KEY(b, "queue");
	td_wbuf_json_str(b, t->queue == TD_DUMP_QUEUE_NONE
				    ? NULL
				    : td_dump_queue_name(t->queue));
	KEY(b, "queue_worker");
	if (has_qw)
		td_wbuf_i64(b, t->queue_worker);
	else
		put_null(b);
	KEY(b, "polls");
	td_wbuf_u64(b, t->polls);
	KEY(b, "idle_ms");
	td_wbuf_u64(b, t->idle_ms);
	KEY(b, "worker");
	if (t->worker >= 0)
		td_wbuf_i64(b, t->worker);
	else
		put_null(b);
	td_wbuf_putc(b, ',');
	put_spawned(b, t);
	KEY(b, "traced");
	put_bool(b, t->traced);
	KEY(b, "not_traced");
	td_wbuf_json_str(b, t->traced ? NULL
				      : (t->not_traced ? t->not_traced
						       : "unknown"));
	KEY(b, "traces");
	td_wbuf_putc(b, '[');
	for (i = 0; t->traces && i < t->ntraces; i++) {
		if (i)
			td_wbuf_putc(b, ',');
		put_trace(b, &t->traces[i]);
	}
	td_wbuf_lit(b, "],\"waits_for\":[");
	for (i = 0; t->waits_for && i < t->nwaits_for; i++) {
		if (i)
			td_wbuf_putc(b, ',');
		put_edge(b, &t->waits_for[i]);
	}
	td_wbuf_lit(b, "],\"holds\":");
	put_holds(b, t);
	put_counters(b, t);
	td_wbuf_putc(b, '}');
}

/* Why a worker has no native stack: as the text format's "unavailable"
 * line says it for a busy worker; null when there is a stack. */
static const char *stack_error(const td_dump_worker *w, bool busy,
			       bool has_stack)
{
	if (has_stack)
		return NULL;
	if (w->stack_error)
		return w->stack_error;
	return busy ? "unknown" : NULL;
}

static void put_worker(struct td_wbuf *b, const td_dump_worker *w)
{
	bool busy = w->state && strcmp(w->state, "busy") == 0;
	bool has_stack = w->stack && w->nstack > 0;

	td_wbuf_lit(b, "{\"index\":");
	td_wbuf_u64(b, w->index);
	KEY(b, "state");
	td_wbuf_json_str(b, w->state ? w->state
				     : (w->paused ? "paused" : "unknown"));
	KEY(b, "tid");
	if (w->tid != 0)
		td_wbuf_i64(b, w->tid);
	else
		put_null(b);
	KEY(b, "queued");
	td_wbuf_u64(b, w->queued);
	KEY(b, "held_ms");
	put_ms(b, w->held_ms);
	KEY(b, "task");
	put_u64_if(b, busy, w->task_id);
	KEY(b, "busy_ms");
	put_u64_if(b, busy, w->busy_ms);
	KEY(b, "native_stack");
	if (has_stack)
		put_frames(b, w->stack, w->nstack);
	else
		put_null(b);
	KEY(b, "native_stack_error");
	td_wbuf_json_str(b, stack_error(w, busy, has_stack));
	KEY(b, "native_stack_note");
	td_wbuf_json_str(b, has_stack ? w->stack_note : NULL);
	KEY(b, "syscall");
	if (!w->syscall) {
		put_null(b);
	} else {
		td_wbuf_lit(b, "{\"name\":");
		td_wbuf_json_str(b, w->syscall);
		KEY(b, "fd");
		if (w->syscall_fd >= 0)
			td_wbuf_i64(b, w->syscall_fd);
		else
			put_null(b);
		KEY(b, "fd_target");
		td_wbuf_json_str(b, w->syscall_fd_target);
		KEY(b, "timeout_ms");
		if (w->syscall_timeout_ms >= 0)
			td_wbuf_i64(b, w->syscall_timeout_ms);
		else
			put_null(b);
		td_wbuf_putc(b, '}');
	}
	td_wbuf_putc(b, '}');
}

static void put_runtime(struct td_wbuf *b, const td_dump_runtime *rt)
{
	size_t i;

	td_wbuf_lit(b, "{\"id\":");
	td_wbuf_u64(b, rt->id);
	KEY(b, "name");
	td_wbuf_json_str(b, rt->name);
	KEY(b, "flavor");
	td_wbuf_json_str(b, rt->flavor);
	KEY(b, "tasks_total");
	td_wbuf_u64(b, rt->tasks ? rt->ntasks : 0);
	KEY(b, "traced");
	td_wbuf_u64(b, rt->traced);
	KEY(b, "pause_ms");
	put_ms(b, rt->pause_ms);
	KEY(b, "error");
	td_wbuf_json_str(b, rt->error);
	td_wbuf_lit(b, ",\n\"workers\":[");
	for (i = 0; rt->workers && i < rt->nworkers; i++) {
		put_sep(b, i);
		put_worker(b, &rt->workers[i]);
	}
	td_wbuf_lit(b, "],\n\"tasks\":[");
	for (i = 0; rt->tasks && i < rt->ntasks; i++) {
		if (td_wbuf_failed(b))
			return;
		put_sep(b, i);
		put_task(b, &rt->tasks[i]);
	}
	td_wbuf_lit(b, "]}");
}

static void put_top(struct td_wbuf *b, const td_dump *d)
{
	td_wbuf_lit(b, "{\"taskdump\":");
	td_wbuf_u64(b, TD_DUMP_FORMAT_VERSION);
	KEY(b, "pid");
	td_wbuf_i64(b, d->pid);
	KEY(b, "program");
	td_wbuf_json_str(b, d->program);
	KEY(b, "time");
	td_wbuf_putc(b, '"');
	td_wbuf_time(b, d->time_unix_ms);
	td_wbuf_putc(b, '"');
	KEY(b, "mode");
	td_wbuf_json_str(b, d->mode);
	KEY(b, "pause_ms");
	put_ms(b, d->pause_ms);
	KEY(b, "span_ms");
	put_ms(b, d->span_ms);
	KEY(b, "capture_ms");
	put_ms(b, d->capture_ms);
	KEY(b, "symbolize_ms");
	put_ms(b, d->symbolize_ms);
	KEY(b, "total_ms");
	put_ms(b, d->total_ms);
	KEY(b, "tasks_total");
	td_wbuf_u64(b, d->ntasks);
	KEY(b, "unconfirmed_deadlocks");
	td_wbuf_u64(b, d->unconfirmed_deadlocks);
	KEY(b, "unconfirmed_lost_wakeups");
	td_wbuf_u64(b, d->unconfirmed_lost_wakeups);
	/* A sentence about the whole dump; only the agent's dump of a
	 * process without a runtime has one (agent/noruntime.c). */
	KEY(b, "note");
	put_null(b);
	KEY(b, "warnings");
	td_wbuf_putc(b, '[');
	for (size_t i = 0; d->warnings && i < d->nwarnings; i++) {
		if (i)
			td_wbuf_putc(b, ',');
		td_wbuf_json_str(b, d->warnings[i]);
	}
	td_wbuf_putc(b, ']');
	/* Each deadlock: its member tasks in cycle order, each with what it
	 * holds and the edge to the next. */
	td_wbuf_lit(b, ",\n\"deadlocks\":[");
	for (size_t k = 0; d->deadlocks && k < d->ndeadlocks; k++) {
		const td_dump_deadlock *dl = &d->deadlocks[k];
		if (k)
			td_wbuf_putc(b, ',');
		td_wbuf_lit(b, "{\"tasks\":[");
		for (size_t i = 0; i < dl->ntasks; i++) {
			const td_dump_task *t = dl->tasks[i];
			if (i)
				td_wbuf_putc(b, ',');
			td_wbuf_lit(b, "{\"task\":");
			td_wbuf_u64(b, t->id);
			KEY(b, "name");
			td_wbuf_json_str(b, t->name);
			KEY(b, "holds");
			put_holds(b, t);
			KEY(b, "waits_for");
			put_edge(b, &t->waits_for[dl->edges[i]]);
			td_wbuf_putc(b, '}');
		}
		td_wbuf_lit(b, "]}");
	}
	td_wbuf_putc(b, ']');
	/* The task warnings, most severe first (how many were found: more
	 * than are listed when past TD_DUMP_MAX_WARNINGS). */
	KEY(b, "task_warnings_found");
	td_wbuf_u64(b, d->ntask_warnings_found);
	KEY(b, "task_warnings");
	td_wbuf_putc(b, '[');
	for (size_t i = 0; d->task_warnings && i < d->ntask_warnings; i++) {
		const td_dump_warning *w = &d->task_warnings[i];
		if (i)
			td_wbuf_putc(b, ',');
		td_wbuf_lit(b, "{\"kind\":");
		td_wbuf_json_str(b, td_dump_warning_kind_name(w->kind));
		KEY(b, "severity");
		td_wbuf_json_str(b, td_dump_warning_severity(w->kind));
		KEY(b, "runtime");
		td_wbuf_u64(b, w->runtime_id);
		KEY(b, "task");
		td_wbuf_u64(b, w->task->id);
		KEY(b, "name");
		td_wbuf_json_str(b, w->task->name);
		KEY(b, "evidence");
		td_wbuf_json_str(b, w->evidence);
		td_wbuf_putc(b, '}');
	}
	td_wbuf_putc(b, ']');
}

int td_dump_write_json(const td_dump *d, FILE *f)
{
	struct td_wcache cache;
	struct td_wbuf b;
	size_t i;
	int err;

	if (!d || !f)
		return -EINVAL;
	err = td_wbuf_init(&b, f);
	if (err)
		return err;
	err = td_wcache_init(&cache);
	if (err) {
		td_wbuf_finish(&b);
		return err;
	}
	b.cache = &cache;
	put_top(&b, d);
	td_wbuf_lit(&b, ",\n\"runtimes\":[");
	for (i = 0; d->runtimes && i < d->nruntimes; i++) {
		if (td_wbuf_failed(&b))
			break;
		put_sep(&b, i);
		put_runtime(&b, &d->runtimes[i]);
	}
	td_wbuf_lit(&b, "]}\n");
	td_wcache_free(&cache);
	b.cache = NULL;
	return td_wbuf_finish(&b);
}
