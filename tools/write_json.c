/* write_json.c - the JSON format writer (README.md (dump file formats)).
 *
 * Streamed with stdio rather than built as a tree: a dump of 100 000
 * tasks would otherwise cost a few hundred megabytes of objects.  The
 * tool is single-threaded, so the many small writes skip stdio's locking
 * (the *_unlocked calls below).
 * Every string in the model is valid UTF-8 (tdc_arena_clean), so escaping
 * the quote, the backslash and control characters is all JSON needs.
 * Unknown values are written as null, never left out. */
#include "write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define fputs fputs_unlocked
#define fputc fputc_unlocked

static void jstr(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t run = 0;

		/* A run that needs no escape, written at once. */
		while ((unsigned char)s[run] >= 0x20 && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run) {
			fwrite_unlocked(s, 1, run, f);
			s += run - 1;
			continue;
		}

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void ju64(FILE *f, tdc_u64 v)
{
	if (v.set)
		fprintf(f, "%llu", (unsigned long long)v.v);
	else
		fputs("null", f);
}

static void jhex(FILE *f, tdc_u64 v)
{
	if (v.set)
		fprintf(f, "\"0x%llx\"", (unsigned long long)v.v);
	else
		fputs("null", f);
}

/* Times in ms: three decimals like the runtime writes them, unless that
 * would lose digits the value has. */
static void jf64(FILE *f, tdc_f64 v)
{
	char num[40];

	if (!v.set) {
		fputs("null", f);
		return;
	}
	snprintf(num, sizeof(num), "%.3f", fabs(v.v) < 1e15 ? v.v : 0.0);
	if (fabs(v.v) >= 1e15 || strtod(num, NULL) != v.v)
		tdc_format_double(v.v, num, sizeof(num));
	fputs(num, f);
}

static const char *jbool(bool b)
{
	return b ? "true" : "false";
}

static void frame(FILE *f, const tdc_frame *fr)
{
	fputs("{\"function\": ", f);
	jstr(f, fr->function);
	fputs(", \"file\": ", f);
	jstr(f, fr->file);
	fputs(", \"line\": ", f);
	ju64(f, (tdc_u64){fr->line, fr->line != 0});
	fprintf(f, ", \"inlined\": %s, \"module\": ", jbool(fr->inlined));
	jstr(f, fr->module);
	fputs(", \"offset\": ", f);
	jhex(f, fr->offset);
	fputs(", \"ip\": ", f);
	jhex(f, fr->ip);
	fputc('}', f);
}

static void frames(FILE *f, const tdc_frame *const *fr, size_t n,
		   const char *indent)
{
	if (n == 0) {
		fputs("[]", f);
		return;
	}
	fputs("[\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s  ", indent);
		frame(f, fr[i]);
		fputs(i + 1 < n ? ",\n" : "\n", f);
	}
	fprintf(f, "%s]", indent);
}

/* Indentation of task entries and their parts. */
#define IND_TASK "        "
#define IND_FIELD IND_TASK "  "
#define IND_TRACE IND_FIELD "  "
#define IND_TFIELD IND_TRACE "  "

static void wait(FILE *f, const tdc_wait *w)
{
	if (!w->kind && !w->text) {
		fputs("null", f);
		return;
	}
	fputs("{\"kind\": ", f);
	jstr(f, w->kind);
	fputs(", \"text\": ", f);
	jstr(f, w->text);
	fputs(", \"object\": ", f);
	jstr(f, w->object);
	fputs(",\n" IND_TFIELD "         \"deadline_ms\": ", f);
	ju64(f, w->deadline_ms);
	fputs(", \"task_id\": ", f);
	ju64(f, w->task_id);
	fputs(", \"fd\": ", f);
	if (w->has_fd)
		fprintf(f, "%lld", (long long)w->fd);
	else
		fputs("null", f);
	fputs(", \"events\": ", f);
	if (!w->has_events)
		fputs("null", f);
	else
		fprintf(f, "[%s%s%s]",
			w->events & TDC_EV_READ ? "\"read\"" : "",
			(w->events & TDC_EV_READ) &&
			(w->events & TDC_EV_WRITE) ? ", " : "",
			w->events & TDC_EV_WRITE ? "\"write\"" : "");
	fputs(", \"count\": ", f);
	ju64(f, w->count);
	fputs(", \"value\": ", f);
	ju64(f, w->value);
	fputs(", \"label\": ", f);
	jstr(f, w->label);
	fputc('}', f);
}

static void edge(FILE *f, const tdc_edge *e)
{
	fputs("{\"task\": ", f);
	ju64(f, e->task);
	fputs(", \"why\": ", f);
	jstr(f, e->why);
	fputc('}', f);
}

static void helds(FILE *f, const tdc_held *h, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", {\"kind\": " : "{\"kind\": ", f);
		jstr(f, h[i].kind);
		fputs(", \"object\": ", f);
		jstr(f, h[i].object);
		fputs(", \"held_ms\": ", f);
		ju64(f, h[i].held_ms);
		fputs(", \"waiters\": ", f);
		ju64(f, h[i].waiters);
		fputs(", \"permits\": ", f);
		ju64(f, h[i].permits);
		fputs(", \"others\": ", f);
		ju64(f, h[i].others);
		fputc('}', f);
	}
	fputc(']', f);
}

static void deadlocks(FILE *f, const tdc_dump *d)
{
	fputs(",\n  \"deadlocks\": [", f);
	for (size_t k = 0; k < d->ndeadlocks; k++) {
		const tdc_deadlock *dl = &d->deadlocks[k];

		fputs(k ? ",\n    {\"tasks\": [" : "\n    {\"tasks\": [", f);
		for (size_t i = 0; i < dl->nmembers; i++) {
			const tdc_dl_member *m = &dl->members[i];

			fprintf(f, "%s{\"task\": %llu, \"name\": ",
				i ? ",\n      " : "\n      ",
				(unsigned long long)m->task);
			jstr(f, m->name);
			fputs(", \"holds\": ", f);
			helds(f, m->holds, m->nholds);
			fputs(", \"waits_for\": ", f);
			edge(f, &m->waits_for);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs(d->ndeadlocks ? "\n  ]" : "]", f);
}

static void task_warnings(FILE *f, const tdc_dump *d)
{
	fprintf(f, ",\n  \"task_warnings_found\": %llu, \"task_warnings\": [",
		(unsigned long long)d->task_warnings_found);
	for (size_t i = 0; i < d->ntask_warnings; i++) {
		const tdc_task_warning *w = &d->task_warnings[i];

		fputs(i ? ",\n    {\"kind\": " : "\n    {\"kind\": ", f);
		jstr(f, w->kind);
		fputs(", \"severity\": ", f);
		jstr(f, w->severity);
		fprintf(f, ", \"runtime\": %llu, \"task\": %llu, \"name\": ",
			(unsigned long long)w->runtime,
			(unsigned long long)w->task);
		jstr(f, w->name);
		fputs(", \"evidence\": ", f);
		jstr(f, w->evidence);
		fputc('}', f);
	}
	fputs(d->ntask_warnings ? "\n  ]" : "]", f);
}

static void spawned(FILE *f, const tdc_task *t)
{
	if (!t->spawn_file && !t->spawn_function) {
		fputs("null", f);
		return;
	}
	fputs("{\"file\": ", f);
	jstr(f, t->spawn_file);
	fputs(", \"line\": ", f);
	ju64(f, (tdc_u64){t->spawn_line, t->spawn_line != 0});
	fputs(", \"function\": ", f);
	jstr(f, t->spawn_function);
	fputc('}', f);
}

static void trace(FILE *f, const tdc_trace *tr)
{
	fputs(IND_TRACE "{\n" IND_TFIELD "\"wait\": ", f);
	wait(f, &tr->wait);
	fprintf(f, ",\n" IND_TFIELD "\"truncated\": %s,\n" IND_TFIELD
		"\"frames\": ", jbool(tr->truncated));
	frames(f, tr->frames, tr->nframes, IND_TFIELD);
	fputs("\n" IND_TRACE "}", f);
}

static void task(FILE *f, const tdc_task *t)
{
	fprintf(f, IND_TASK "{\n" IND_FIELD "\"id\": %llu, \"name\": ",
		(unsigned long long)t->id);
	jstr(f, t->name);
	fprintf(f, ", \"block_on\": %s,\n" IND_FIELD "\"state\": ",
		jbool(t->block_on));
	jstr(f, t->state);
	fputs(", \"queue\": ", f);
	jstr(f, t->queue);
	fputs(", \"queue_worker\": ", f);
	ju64(f, t->queue_worker);
	fputs(",\n" IND_FIELD "\"polls\": ", f);
	ju64(f, t->polls);
	fputs(", \"idle_ms\": ", f);
	ju64(f, t->idle_ms);
	fputs(", \"worker\": ", f);
	ju64(f, t->worker);
	fputs(",\n" IND_FIELD "\"spawned\": ", f);
	spawned(f, t);
	fputs(", \"type\": ", f);
	jstr(f, t->type);
	fprintf(f, ",\n" IND_FIELD "\"traced\": %s, \"not_traced\": ",
		jbool(t->traced));
	jstr(f, t->traced ? NULL : t->not_traced ? t->not_traced : "unknown");
	fputs(",\n" IND_FIELD "\"traces\": [", f);
	for (size_t i = 0; i < t->ntraces; i++) {
		fputs(i ? ",\n" : "\n", f);
		trace(f, &t->traces[i]);
	}
	if (t->ntraces)
		fputs("\n" IND_FIELD, f);
	fputs("],\n" IND_FIELD "\"waits_for\": [", f);
	for (size_t i = 0; i < t->nwaits_for; i++) {
		fputs(i ? ", " : "", f);
		edge(f, &t->waits_for[i]);
	}
	fputs("], \"holds\": ", f);
	helds(f, t->holds, t->nholds);
	fputs(",\n" IND_FIELD "\"busy_ms\": ", f);
	ju64(f, t->busy_ms);
	fputs(", \"slowest_poll_ms\": ", f);
	ju64(f, t->slowest_poll_ms);
	fputs(", \"wakes\": ", f);
	ju64(f, t->wakes);
	fputs(",\n" IND_FIELD "\"woken_ms\": ", f);
	ju64(f, t->woken_ms);
	fputs(", \"wait_ms\": ", f);
	ju64(f, t->wait_ms);
	fputs(", \"wait_worst_ms\": ", f);
	ju64(f, t->wait_worst_ms);
	fputs(", \"wakers\": ", f);
	ju64(f, t->wakers);
	fputs("\n" IND_TASK "}", f);
}

static void worker(FILE *f, const tdc_worker *w)
{
	fprintf(f, "        {\"index\": %llu, \"state\": ",
		(unsigned long long)w->index);
	jstr(f, w->state);
	fputs(", \"tid\": ", f);
	ju64(f, w->tid);
	fputs(", \"queued\": ", f);
	ju64(f, w->queued);
	if (w->held_ms.set) {
		fputs(", \"held_ms\": ", f);
		jf64(f, w->held_ms);
	}
	fputs(", \"task\": ", f);
	ju64(f, w->task);
	fputs(", \"busy_ms\": ", f);
	ju64(f, w->busy_ms);
	fputs(",\n         \"native_stack\": ", f);
	if (w->nstack)
		frames(f, w->stack, w->nstack, "         ");
	else
		fputs("null", f);
	fputs(", \"native_stack_error\": ", f);
	jstr(f, w->stack_error);
	fputs(", \"native_stack_note\": ", f);
	jstr(f, w->nstack ? w->stack_note : NULL);
	fputs(",\n         \"syscall\": ", f);
	if (w->syscall) {
		fputs("{\"name\": ", f);
		jstr(f, w->syscall);
		fputs(", \"fd\": ", f);
		ju64(f, w->syscall_fd);
		fputs(", \"fd_target\": ", f);
		jstr(f, w->syscall_fd_target);
		fputs(", \"timeout_ms\": ", f);
		ju64(f, w->syscall_timeout_ms);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputc('}', f);
}

static void runtime(FILE *f, const tdc_runtime *rt)
{
	fprintf(f, "    {\n      \"id\": %llu, \"name\": ",
		(unsigned long long)rt->id);
	jstr(f, rt->name);
	fputs(", \"flavor\": ", f);
	jstr(f, rt->flavor);
	fputs(",\n      \"tasks_total\": ", f);
	ju64(f, rt->tasks_total);
	fputs(", \"traced\": ", f);
	ju64(f, rt->traced);
	fputs(", \"pause_ms\": ", f);
	jf64(f, rt->pause_ms);
	fputs(", \"error\": ", f);
	jstr(f, rt->error);
	fputs(",\n      \"workers\": [", f);
	for (size_t i = 0; i < rt->nworkers; i++) {
		fputs(i ? ",\n" : "\n", f);
		worker(f, &rt->workers[i]);
	}
	fputs(rt->nworkers ? "\n      ],\n      \"tasks\": [" :
			     "],\n      \"tasks\": [", f);
	for (size_t i = 0; i < rt->ntasks; i++) {
		fputs(i ? ",\n" : "\n", f);
		task(f, &rt->tasks[i]);
	}
	fputs(rt->ntasks ? "\n      ]\n    }" : "]\n    }", f);
}

void tdc_write_json(FILE *f, const tdc_dump *d)
{
	fputs("{\n  \"taskdump\": 1,\n  \"pid\": ", f);
	ju64(f, d->pid);
	fputs(",\n  \"program\": ", f);
	jstr(f, d->program);
	fputs(",\n  \"time\": ", f);
	jstr(f, d->time);
	if (d->mode) {
		fputs(",\n  \"mode\": ", f);
		jstr(f, d->mode);
	}
	fputs(",\n  \"pause_ms\": ", f);
	jf64(f, d->pause_ms);
	if (d->span_ms.set) {
		fputs(", \"span_ms\": ", f);
		jf64(f, d->span_ms);
	}
	fputs(", \"capture_ms\": ", f);
	jf64(f, d->capture_ms);
	fputs(", \"symbolize_ms\": ", f);
	jf64(f, d->symbolize_ms);
	fputs(", \"total_ms\": ", f);
	jf64(f, d->total_ms);
	if (d->unconfirmed_deadlocks.set ||
	    d->unconfirmed_lost_wakeups.set) {
		fputs(",\n  \"unconfirmed_deadlocks\": ", f);
		ju64(f, d->unconfirmed_deadlocks);
		fputs(", \"unconfirmed_lost_wakeups\": ", f);
		ju64(f, d->unconfirmed_lost_wakeups);
	}
	fprintf(f, ",\n  \"tasks_total\": %zu, \"note\": ", tdc_dump_ntasks(d));
	jstr(f, d->note);
	fputs(", \"warnings\": [", f);
	for (size_t i = 0; i < d->nwarnings; i++) {
		fputs(i ? ", " : "", f);
		jstr(f, d->warnings[i]);
	}
	fputc(']', f);
	deadlocks(f, d);
	task_warnings(f, d);
	fputs(",\n  \"runtimes\": [", f);
	for (size_t i = 0; i < d->nruntimes; i++) {
		fputs(i ? ",\n" : "\n", f);
		runtime(f, &d->runtimes[i]);
	}
	fputs(d->nruntimes ? "\n  ]\n}\n" : "]\n}\n", f);
}
