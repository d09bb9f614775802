/* parse_json.c - the JSON dump parser (README.md (dump file formats), "JSON format").
 *
 * json-c reads the document (incrementally, at most TDC_MAX_JSON bytes,
 * nesting at most JSON_DEPTH deep, strict syntax, valid UTF-8), then the
 * object tree is walked into the model.  Unknown keys are ignored; a
 * missing key means the same as null; a value of the wrong type is an
 * error that names its path, e.g. "runtimes[0].tasks[3].polls". */
#include "input.h"
#include "textfmt.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

/* The format nests 9 levels deep; leave room, refuse absurd nesting. */
#define JSON_DEPTH 32

typedef struct jp {
	tdc_dump *d;
	tdc_err *e;
	const char *name;
	char path[256];
} jp;

/* Error "<file>: <path>.<key>: <what>". */
static int jfail(jp *j, const char *key, const char *what)
{
	tdc_seterr(j->e, "%s: %s%s%s: %s", j->name, j->path,
		   j->path[0] && key ? "." : "", key ? key : "", what);
	return -1;
}

/* Append "[i]" or ".key[i]" to the path; returns the old length. */
static size_t path_push(jp *j, const char *key, size_t i)
{
	size_t old = strlen(j->path);

	snprintf(j->path + old, sizeof(j->path) - old, "%s%s[%zu]",
		 old && key[0] ? "." : "", key, i);
	return old;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v; /* NULL for a JSON null, too */
}

static int get_str(jp *j, json_object *o, const char *key, const char **out,
		   bool bare)
{
	json_object *v = jget(o, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return jfail(j, key, "expected a string");
	*out = tdc_arena_clean(&j->d->arena, json_object_get_string(v),
			       (size_t)json_object_get_string_len(v), bare);
	return 0;
}

static int get_u64(jp *j, json_object *o, const char *key, tdc_u64 *out)
{
	json_object *v = jget(o, key);

	out->set = false;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return jfail(j, key, "expected a non-negative integer");
	out->v = json_object_get_uint64(v);
	out->set = true;
	return 0;
}

static int get_f64(jp *j, json_object *o, const char *key, tdc_f64 *out)
{
	json_object *v = jget(o, key);

	out->set = false;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return jfail(j, key, "expected a number");
	out->v = json_object_get_double(v);
	if (!isfinite(out->v))
		return jfail(j, key, "expected a finite number");
	out->set = true;
	return 0;
}

static int get_bool(jp *j, json_object *o, const char *key, bool *out)
{
	json_object *v = jget(o, key);

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return jfail(j, key, "expected true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

/* An address: "0x..." (as written) or a plain integer. */
static int get_hex(jp *j, json_object *o, const char *key, tdc_u64 *out)
{
	json_object *v = jget(o, key);

	out->set = false;
	if (v && json_object_is_type(v, json_type_string)) {
		out->set = tdc_parse_hex(json_object_get_string(v),
					 (size_t)json_object_get_string_len(v),
					 &out->v);
		if (!out->set)
			return jfail(j, key, "expected a hex string \"0x...\"");
		return 0;
	}
	return get_u64(j, o, key, out);
}

/* The array at key (NULL: missing or null), checking its type. */
static int get_array(jp *j, json_object *o, const char *key,
		     json_object **arr, size_t *n)
{
	json_object *v = jget(o, key);

	*arr = NULL;
	*n = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return jfail(j, key, "expected an array");
	*arr = v;
	*n = json_object_array_length(v);
	return 0;
}

static int need_object(jp *j, json_object *v)
{
	if (!v || !json_object_is_type(v, json_type_object))
		return jfail(j, NULL, "expected an object");
	return 0;
}

static int frame(jp *j, json_object *o, const tdc_frame **out)
{
	tdc_frame *f = tdc_arena_alloc(&j->d->arena, sizeof(*f));
	tdc_u64 line;

	if (need_object(j, o) < 0 ||
	    get_str(j, o, "function", &f->function, true) < 0 ||
	    get_str(j, o, "file", &f->file, true) < 0 ||
	    get_u64(j, o, "line", &line) < 0 ||
	    get_bool(j, o, "inlined", &f->inlined) < 0 ||
	    get_str(j, o, "module", &f->module, true) < 0 ||
	    get_hex(j, o, "offset", &f->offset) < 0 ||
	    get_hex(j, o, "ip", &f->ip) < 0)
		return -1;
	if (!f->function || !f->function[0])
		return jfail(j, "function", "missing");
	f->line = line.set ? line.v : 0;
	*out = f;
	return 0;
}

static int frames(jp *j, json_object *o, const char *key,
		  const tdc_frame ***out, size_t *n)
{
	json_object *arr;

	if (get_array(j, o, key, &arr, n) < 0)
		return -1;
	if (*n > TDC_MAX_FRAMES)
		return jfail(j, key, "more frames than the limit of "
			     TDC_STR(TDC_MAX_FRAMES));
	*out = tdc_arena_alloc(&j->d->arena, *n * sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		size_t old = path_push(j, key, i);

		if (frame(j, json_object_array_get_idx(arr, i),
			  &(*out)[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	return 0;
}

static int wait(jp *j, json_object *o, tdc_wait *w)
{
	json_object *ev;
	size_t nev;

	if (!o)
		return 0;
	if (need_object(j, o) < 0 ||
	    get_str(j, o, "kind", &w->kind, true) < 0 ||
	    get_str(j, o, "text", &w->text, true) < 0 ||
	    get_str(j, o, "object", &w->object, true) < 0 ||
	    get_str(j, o, "label", &w->label, true) < 0 ||
	    get_u64(j, o, "deadline_ms", &w->deadline_ms) < 0 ||
	    get_u64(j, o, "task_id", &w->task_id) < 0 ||
	    get_u64(j, o, "count", &w->count) < 0 ||
	    get_u64(j, o, "value", &w->value) < 0 ||
	    get_array(j, o, "events", &ev, &nev) < 0)
		return -1;
	if (jget(o, "fd")) {
		json_object *fd = jget(o, "fd");

		if (!json_object_is_type(fd, json_type_int))
			return jfail(j, "fd", "expected an integer");
		w->has_fd = true;
		w->fd = json_object_get_int64(fd);
	}
	w->has_events = ev != NULL;
	for (size_t i = 0; i < nev; i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		const char *s;

		if (!json_object_is_type(e, json_type_string))
			return jfail(j, "events", "expected strings");
		s = json_object_get_string(e);
		if (strcmp(s, "read") == 0)
			w->events |= TDC_EV_READ;
		else if (strcmp(s, "write") == 0)
			w->events |= TDC_EV_WRITE;
	}
	/* The text never contains ']' (it ends a text-format annotation). */
	if (w->text)
		for (char *p = (char *)w->text; (p = strchr(p, ']')); )
			*p = ')';
	return 0;
}

static int trace(jp *j, json_object *o, tdc_trace *t)
{
	size_t old = strlen(j->path);

	if (need_object(j, o) < 0)
		return -1;
	snprintf(j->path + old, sizeof(j->path) - old, ".wait");
	if (wait(j, jget(o, "wait"), &t->wait) < 0)
		return -1;
	j->path[old] = '\0';
	if (get_bool(j, o, "truncated", &t->truncated) < 0 ||
	    frames(j, o, "frames", &t->frames, &t->nframes) < 0)
		return -1;
	return 0;
}

static int spawned(jp *j, json_object *o, tdc_task *t)
{
	json_object *s = jget(o, "spawned");
	tdc_u64 line;
	size_t old = strlen(j->path);
	int rc = 0;

	if (!s)
		return 0;
	snprintf(j->path + old, sizeof(j->path) - old, ".spawned");
	if (need_object(j, s) < 0 ||
	    get_str(j, s, "file", &t->spawn_file, true) < 0 ||
	    get_u64(j, s, "line", &line) < 0 ||
	    get_str(j, s, "function", &t->spawn_function, true) < 0)
		rc = -1;
	else
		t->spawn_line = line.set ? line.v : 0;
	j->path[old] = '\0';
	return rc;
}

/* {"task": N|null, "why": "..."} */
static int edge(jp *j, json_object *o, tdc_edge *e)
{
	if (need_object(j, o) < 0 || get_u64(j, o, "task", &e->task) < 0 ||
	    get_str(j, o, "why", &e->why, true) < 0)
		return -1;
	if (!e->why)
		return jfail(j, "why", "missing");
	return 0;
}

static int edges(jp *j, json_object *o, const char *key, tdc_edge **out,
		 size_t *n)
{
	json_object *arr;

	if (get_array(j, o, key, &arr, n) < 0)
		return -1;
	*out = tdc_arena_alloc(&j->d->arena, *n * sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		size_t old = path_push(j, key, i);

		memset(&(*out)[i], 0, sizeof(**out));
		if (edge(j, json_object_array_get_idx(arr, i), &(*out)[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	return 0;
}

/* [{"kind": "mutex", "object": "0x...", "held_ms": N, "waiters": N}] */
static int helds(jp *j, json_object *o, tdc_held **out, size_t *n)
{
	json_object *arr;

	if (get_array(j, o, "holds", &arr, n) < 0)
		return -1;
	*out = tdc_arena_alloc(&j->d->arena, *n * sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		size_t old = path_push(j, "holds", i);
		json_object *h = json_object_array_get_idx(arr, i);
		tdc_held *x = &(*out)[i];

		memset(x, 0, sizeof(*x));
		if (need_object(j, h) < 0 ||
		    get_str(j, h, "kind", &x->kind, true) < 0 ||
		    get_str(j, h, "object", &x->object, true) < 0 ||
		    get_u64(j, h, "held_ms", &x->held_ms) < 0 ||
		    get_u64(j, h, "waiters", &x->waiters) < 0)
			return -1;
		if (!x->kind || !x->object)
			return jfail(j, x->kind ? "object" : "kind",
				     "missing");
		j->path[old] = '\0';
	}
	return 0;
}

/* "task_warnings": [{"kind", "severity", "runtime", "task", "name",
 * "evidence"}], with "task_warnings_found". */
static int task_warnings(jp *j, json_object *o)
{
	tdc_dump *d = j->d;
	json_object *arr;
	tdc_u64 found = {0};

	if (get_array(j, o, "task_warnings", &arr, &d->ntask_warnings) < 0 ||
	    get_u64(j, o, "task_warnings_found", &found) < 0)
		return -1;
	d->task_warnings = tdc_arena_alloc(
		&d->arena, d->ntask_warnings * sizeof(*d->task_warnings));
	for (size_t k = 0; k < d->ntask_warnings; k++) {
		size_t old = path_push(j, "task_warnings", k);
		json_object *w = json_object_array_get_idx(arr, k);
		tdc_task_warning *x = &d->task_warnings[k];
		tdc_u64 rt, task;

		memset(x, 0, sizeof(*x));
		if (need_object(j, w) < 0 ||
		    get_str(j, w, "kind", &x->kind, true) < 0 ||
		    get_str(j, w, "severity", &x->severity, true) < 0 ||
		    get_u64(j, w, "runtime", &rt) < 0 ||
		    get_u64(j, w, "task", &task) < 0 ||
		    get_str(j, w, "name", &x->name, false) < 0 ||
		    get_str(j, w, "evidence", &x->evidence, false) < 0)
			return -1;
		if (!x->kind || !x->severity || !rt.set || !task.set ||
		    !x->evidence)
			return jfail(j, "kind", "a task warning needs kind, "
				     "severity, runtime, task and evidence");
		x->runtime = rt.v;
		x->task = task.v;
		j->path[old] = '\0';
	}
	d->task_warnings_found = found.set && found.v > d->ntask_warnings
					 ? found.v
					 : d->ntask_warnings;
	return 0;
}

/* "deadlocks": [{"tasks": [{"task", "name", "holds", "waits_for"}]}] */
static int deadlocks(jp *j, json_object *o)
{
	tdc_dump *d = j->d;
	json_object *arr;

	if (get_array(j, o, "deadlocks", &arr, &d->ndeadlocks) < 0)
		return -1;
	d->deadlocks = tdc_arena_alloc(&d->arena,
				       d->ndeadlocks * sizeof(*d->deadlocks));
	for (size_t k = 0; k < d->ndeadlocks; k++) {
		size_t old = path_push(j, "deadlocks", k);
		json_object *dl = json_object_array_get_idx(arr, k), *ms;
		tdc_deadlock *x = &d->deadlocks[k];

		if (need_object(j, dl) < 0 ||
		    get_array(j, dl, "tasks", &ms, &x->nmembers) < 0)
			return -1;
		x->members = tdc_arena_alloc(&d->arena,
					     x->nmembers * sizeof(*x->members));
		for (size_t i = 0; i < x->nmembers; i++) {
			size_t old2 = path_push(j, "tasks", i);
			json_object *m = json_object_array_get_idx(ms, i), *w;
			tdc_dl_member *y = &x->members[i];
			tdc_u64 id;

			memset(y, 0, sizeof(*y));
			if (need_object(j, m) < 0 ||
			    get_u64(j, m, "task", &id) < 0 ||
			    get_str(j, m, "name", &y->name, false) < 0 ||
			    helds(j, m, &y->holds, &y->nholds) < 0)
				return -1;
			if (!id.set)
				return jfail(j, "task", "missing");
			y->task = id.v;
			w = jget(m, "waits_for");
			if (!w)
				return jfail(j, "waits_for", "missing");
			if (edge(j, w, &y->waits_for) < 0)
				return -1;
			j->path[old2] = '\0';
		}
		j->path[old] = '\0';
	}
	return 0;
}

/* The task's counters (README.md, "Task counters"); each may be null
 * or missing (dumps of older versions). */
static int counters(jp *j, json_object *o, tdc_task *t)
{
	if (get_u64(j, o, "busy_ms", &t->busy_ms) < 0 ||
	    get_u64(j, o, "slowest_poll_ms", &t->slowest_poll_ms) < 0 ||
	    get_u64(j, o, "wakes", &t->wakes) < 0 ||
	    get_u64(j, o, "woken_ms", &t->woken_ms) < 0 ||
	    get_u64(j, o, "wait_ms", &t->wait_ms) < 0 ||
	    get_u64(j, o, "wait_worst_ms", &t->wait_worst_ms) < 0 ||
	    get_u64(j, o, "wakers", &t->wakers) < 0)
		return -1;
	return 0;
}

static int task(jp *j, json_object *o, tdc_task *t)
{
	tdc_u64 id;
	json_object *arr;
	bool traced = true;

	if (need_object(j, o) < 0 || get_u64(j, o, "id", &id) < 0 ||
	    get_str(j, o, "name", &t->name, false) < 0 ||
	    get_str(j, o, "type", &t->type, false) < 0 ||
	    get_bool(j, o, "block_on", &t->block_on) < 0 ||
	    get_str(j, o, "state", &t->state, true) < 0 ||
	    get_str(j, o, "queue", &t->queue, true) < 0 ||
	    get_u64(j, o, "queue_worker", &t->queue_worker) < 0 ||
	    get_u64(j, o, "polls", &t->polls) < 0 ||
	    get_u64(j, o, "idle_ms", &t->idle_ms) < 0 ||
	    get_u64(j, o, "worker", &t->worker) < 0 ||
	    spawned(j, o, t) < 0 ||
	    get_str(j, o, "not_traced", &t->not_traced, true) < 0 ||
	    get_bool(j, o, "traced", &traced) < 0 ||
	    edges(j, o, "waits_for", &t->waits_for, &t->nwaits_for) < 0 ||
	    helds(j, o, &t->holds, &t->nholds) < 0 ||
	    counters(j, o, t) < 0 ||
	    get_array(j, o, "traces", &arr, &t->ntraces) < 0)
		return -1;
	if (!id.set)
		return jfail(j, "id", "missing");
	t->id = id.v;
	t->traced = traced && !t->not_traced;
	if (!t->state)
		t->state = "unknown";
	t->traces = tdc_arena_alloc(&j->d->arena,
				    t->ntraces * sizeof(*t->traces));
	for (size_t i = 0; i < t->ntraces; i++) {
		size_t old = path_push(j, "traces", i);

		if (trace(j, json_object_array_get_idx(arr, i),
			  &t->traces[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	return 0;
}

static int worker(jp *j, json_object *o, tdc_worker *w)
{
	tdc_u64 index;

	if (need_object(j, o) < 0 || get_u64(j, o, "index", &index) < 0 ||
	    get_str(j, o, "state", &w->state, true) < 0 ||
	    get_u64(j, o, "tid", &w->tid) < 0 ||
	    get_u64(j, o, "queued", &w->queued) < 0 ||
	    get_u64(j, o, "task", &w->task) < 0 ||
	    get_u64(j, o, "busy_ms", &w->busy_ms) < 0 ||
	    frames(j, o, "native_stack", &w->stack, &w->nstack) < 0 ||
	    get_str(j, o, "native_stack_error", &w->stack_error, true) < 0 ||
	    get_str(j, o, "native_stack_note", &w->stack_note, true) < 0)
		return -1;
	json_object *sc = jget(o, "syscall");
	if (sc) {
		size_t old = strlen(j->path);
		snprintf(j->path + old, sizeof(j->path) - old, "%ssyscall",
			 old ? "." : "");
		if (need_object(j, sc) < 0 ||
		    get_str(j, sc, "name", &w->syscall, true) < 0 ||
		    get_u64(j, sc, "fd", &w->syscall_fd) < 0 ||
		    get_str(j, sc, "fd_target", &w->syscall_fd_target,
			    false) < 0 ||
		    get_u64(j, sc, "timeout_ms", &w->syscall_timeout_ms) < 0)
			return -1;
		if (!w->syscall)
			return jfail(j, "name", "missing");
		j->path[old] = '\0';
	}
	if (!index.set)
		return jfail(j, "index", "missing");
	w->index = index.v;
	if (!w->state)
		w->state = "unknown";
	return 0;
}

static int runtime(jp *j, json_object *o, tdc_runtime *rt)
{
	tdc_u64 id;
	json_object *workers, *tasks;

	if (need_object(j, o) < 0 || get_u64(j, o, "id", &id) < 0 ||
	    get_str(j, o, "name", &rt->name, false) < 0 ||
	    get_str(j, o, "flavor", &rt->flavor, true) < 0 ||
	    get_u64(j, o, "tasks_total", &rt->tasks_total) < 0 ||
	    get_u64(j, o, "traced", &rt->traced) < 0 ||
	    get_f64(j, o, "pause_ms", &rt->pause_ms) < 0 ||
	    get_str(j, o, "error", &rt->error, false) < 0 ||
	    get_array(j, o, "workers", &workers, &rt->nworkers) < 0 ||
	    get_array(j, o, "tasks", &tasks, &rt->ntasks) < 0)
		return -1;
	if (!id.set)
		return jfail(j, "id", "missing");
	rt->id = id.v;
	rt->workers = tdc_arena_alloc(&j->d->arena,
				      rt->nworkers * sizeof(*rt->workers));
	for (size_t i = 0; i < rt->nworkers; i++) {
		size_t old = path_push(j, "workers", i);

		if (worker(j, json_object_array_get_idx(workers, i),
			   &rt->workers[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	rt->tasks = tdc_arena_alloc(&j->d->arena,
				    rt->ntasks * sizeof(*rt->tasks));
	for (size_t i = 0; i < rt->ntasks; i++) {
		size_t old = path_push(j, "tasks", i);

		if (task(j, json_object_array_get_idx(tasks, i),
			 &rt->tasks[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	return 0;
}

static int dump(jp *j, json_object *o)
{
	tdc_dump *d = j->d;
	json_object *v = jget(o, "taskdump"), *arr, *warn;

	if (!json_object_is_type(o, json_type_object) || !v) {
		tdc_seterr(j->e, "%s: not a taskdump dump (a JSON dump is an "
			   "object with a \"taskdump\" key)", j->name);
		return -1;
	}
	if (!json_object_is_type(v, json_type_int))
		return jfail(j, "taskdump", "expected the format version");
	if (json_object_get_int64(v) != 1) {
		tdc_seterr(j->e, "%s: unsupported dump format version %lld "
			   "(this taskdump reads version 1)", j->name,
			   (long long)json_object_get_int64(v));
		return -1;
	}
	d->version = 1;
	if (get_u64(j, o, "pid", &d->pid) < 0 ||
	    get_str(j, o, "program", &d->program, true) < 0 ||
	    get_str(j, o, "time", &d->time, true) < 0 ||
	    get_str(j, o, "note", &d->note, true) < 0 ||
	    get_f64(j, o, "pause_ms", &d->pause_ms) < 0 ||
	    get_f64(j, o, "capture_ms", &d->capture_ms) < 0 ||
	    get_f64(j, o, "symbolize_ms", &d->symbolize_ms) < 0 ||
	    get_f64(j, o, "total_ms", &d->total_ms) < 0 ||
	    get_array(j, o, "runtimes", &arr, &d->nruntimes) < 0 ||
	    get_array(j, o, "warnings", &warn, &d->nwarnings) < 0 ||
	    deadlocks(j, o) < 0 || task_warnings(j, o) < 0)
		return -1;
	if (!arr)
		return jfail(j, "runtimes", "missing");
	d->warnings = tdc_arena_alloc(&d->arena,
				      d->nwarnings * sizeof(*d->warnings));
	for (size_t i = 0; i < d->nwarnings; i++) {
		json_object *s = json_object_array_get_idx(warn, i);
		if (!json_object_is_type(s, json_type_string))
			return jfail(j, "warnings", "expected strings");
		d->warnings[i] = tdc_arena_clean(
			&d->arena, json_object_get_string(s),
			(size_t)json_object_get_string_len(s), true);
	}
	d->runtimes = tdc_arena_alloc(&d->arena,
				      d->nruntimes * sizeof(*d->runtimes));
	for (size_t i = 0; i < d->nruntimes; i++) {
		size_t old = path_push(j, "runtimes", i);

		if (runtime(j, json_object_array_get_idx(arr, i),
			    &d->runtimes[i]) < 0)
			return -1;
		j->path[old] = '\0';
	}
	return 0;
}

/* ---- reading --------------------------------------------------------- */

static unsigned long long count_lines(const char *s, size_t n)
{
	unsigned long long k = 0;

	for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s)));
	     p++)
		k++;
	return k;
}

/* Everything after the document must be white space. */
static int check_trailing(tdc_input *in, const char *rest, size_t n,
			  uint64_t total, unsigned long long line, tdc_err *e)
{
	char chunk[4096];
	long got;

	for (;;) {
		for (size_t i = 0; i < n; i++) {
			if (rest[i] == '\n')
				line++;
			else if (rest[i] != ' ' && rest[i] != '\t' &&
				 rest[i] != '\r') {
				tdc_seterr(e, "%s:%llu: data after the JSON "
					   "document", in->name, line);
				return -1;
			}
		}
		got = tdc_input_read(in, chunk, sizeof(chunk), e);
		if (got <= 0)
			return (int)got;
		total += (uint64_t)got;
		if (total > TDC_MAX_JSON) {
			tdc_seterr(e, "%s: larger than the limit of %llu MiB",
				   in->name, TDC_MAX_JSON >> 20);
			return -1;
		}
		rest = chunk;
		n = (size_t)got;
	}
}

/* How much of buf[0..n) ends on a UTF-8 sequence boundary.  json-c
 * 0.16 rejects a valid sequence split across two json_tokener_parse_ex
 * calls as invalid UTF-8, so an incomplete sequence at the end of a chunk
 * waits for the next one. */
static size_t utf8_boundary(const char *buf, size_t n)
{
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = (unsigned char)buf[n - back];
		size_t need;

		if (c < 0x80)
			return n;
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		return need > back ? n - back : n;
	}
	return n;
}

#define CHUNK 65536

/* json-c 0.17 and later say so themselves when an allocation fails. */
static bool out_of_memory(enum json_tokener_error jerr)
{
#if JSON_C_VERSION_NUM >= ((0 << 16) | (17 << 8))
	return jerr == json_tokener_error_memory;
#else
	(void)jerr;
	return false;
#endif
}

/* Read and tokenize the whole document; returns the root or NULL. */
static json_object *read_json(tdc_input *in, tdc_err *e)
{
	json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	char *chunk = tdc_xmalloc(CHUNK + 4);
	json_object *root = NULL;
	unsigned long long line = 1;
	uint64_t total = 0;
	size_t carry = 0; /* bytes of a split UTF-8 sequence kept back */

	if (!tok)
		tdc_die(TDC_EXIT_SYSTEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	for (;;) {
		long n = tdc_input_read(in, chunk + carry, CHUNK, e);
		enum json_tokener_error jerr;
		size_t len, feed, end;

		if (n < 0)
			break;
		total += (uint64_t)n;
		if (total > TDC_MAX_JSON) {
			tdc_seterr(e, "%s: larger than the limit of %llu MiB",
				   in->name, TDC_MAX_JSON >> 20);
			break;
		}
		len = carry + (size_t)n;
		if (len == 0) {
			tdc_seterr(e, "%s:%llu: JSON document ends too early "
				   "(truncated?)", in->name, line);
			break;
		}
		/* At the end of input a split sequence is fed as it is. */
		feed = n == 0 ? len : utf8_boundary(chunk, len);
		errno = 0;
		root = json_tokener_parse_ex(tok, chunk, (int)feed);
		jerr = json_tokener_get_error(tok);
		/* json-c 0.16 has no error for a failed allocation: it drops
		 * what it could not allocate (a key, part of a string, the
		 * whole document) and reports success.  A failed malloc sets
		 * errno to ENOMEM, which nothing else json-c calls does: that
		 * is how it is noticed, so that a dump is never read wrong.
		 * (malloc may leave ENOMEM behind when it recovers from a
		 * failed mmap, which happens only when memory is all but
		 * gone: the dump is then said not to fit.) */
		if (errno == ENOMEM || out_of_memory(jerr)) {
			if (root)
				json_object_put(root);
			root = NULL;
			tdc_seterr_oom(e, in->name);
			break;
		}
		if (jerr == json_tokener_continue) {
			line += count_lines(chunk, feed);
			if (n == 0) {
				tdc_seterr(e, "%s:%llu: JSON document ends "
					   "too early (truncated?)", in->name,
					   line);
				break;
			}
			carry = len - feed;
			memmove(chunk, chunk + feed, carry);
			continue;
		}
		end = json_tokener_get_parse_end(tok);
		line += count_lines(chunk, end);
		if (jerr != json_tokener_success) {
			tdc_seterr(e, "%s:%llu: bad JSON: %s", in->name, line,
				   json_tokener_error_desc(jerr));
			break;
		}
		if (!root) {
			tdc_seterr(e, "%s: not a taskdump dump (the JSON "
				   "document is null)", in->name);
			break;
		}
		if (check_trailing(in, chunk + end, len - end, total, line,
				   e) < 0) {
			json_object_put(root);
			root = NULL;
		}
		break;
	}
	free(chunk);
	json_tokener_free(tok);
	return root;
}

int tdc_parse_json(tdc_input *in, tdc_dump **out, tdc_err *e)
{
	json_object *root;
	jp j = {.e = e, .name = in->name};

	*out = NULL;
	if (in->size_hint > TDC_MAX_JSON) {
		tdc_seterr(e, "%s: larger than the limit of %llu MiB",
			   in->name, TDC_MAX_JSON >> 20);
		return -1;
	}
	root = read_json(in, e);
	if (!root)
		return -1;
	j.d = tdc_dump_new(in->name, "json");
	if (dump(&j, root) < 0) {
		json_object_put(root);
		tdc_dump_free(j.d);
		return -1;
	}
	json_object_put(root);
	*out = j.d;
	return 0;
}
