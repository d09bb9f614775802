/* summary.c - `taskdump show --summary`: one screen per dump.
 *
 *   what was dumped (pid, program, time, totals)
 *   the deadlocks, each member with what it holds and waits for (the
 *   first TOP deadlocks, TOP_MEMBERS members of each: one screen)
 *   the task warnings by severity: per kind, how many and the first
 *   TOP_WARNINGS with their evidence
 *   tasks by state, per runtime (and busy workers)
 *   the deepest waits: tasks whose longest trace has the most frames
 *   the longest idle tasks
 *   the most common trace shapes, with how many traces have them
 *
 * Each list shows at most TOP entries. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#define TOP 5
#define TOP_MEMBERS 10
#define TOP_WARNINGS 3

static const char *const states[] = {
	"idle", "notified", "running", "cancelled", "complete",
};

static void state_counts(FILE *f, const tdc_runtime *rt)
{
	size_t ns = sizeof(states) / sizeof(states[0]), other = 0;
	const char *sep = ": ";

	fprintf(f, "%zu task%s", rt->ntasks, rt->ntasks == 1 ? "" : "s");
	for (size_t s = 0; s < ns; s++) {
		size_t n = 0;

		for (size_t i = 0; i < rt->ntasks; i++)
			n += strcmp(rt->tasks[i].state, states[s]) == 0;
		if (n) {
			fprintf(f, "%s%zu %s", sep, n, states[s]);
			sep = ", ";
		}
	}
	for (size_t i = 0; i < rt->ntasks; i++) {
		size_t s;

		for (s = 0; s < ns; s++)
			if (strcmp(rt->tasks[i].state, states[s]) == 0)
				break;
		other += s == ns;
	}
	if (other)
		fprintf(f, "%s%zu in other states", sep, other);
	fputc('\n', f);
}

static void runtimes(FILE *f, const tdc_dump *d)
{
	fputs("\nTasks by state\n", f);
	if (d->nruntimes == 0)
		fputs("  (no runtimes in this process)\n", f);
	for (size_t r = 0; r < d->nruntimes; r++) {
		const tdc_runtime *rt = &d->runtimes[r];

		tdc_buf b = {0};

		if (rt->name)
			tdc_buf_quote(&b, rt->name);
		fprintf(f, "  runtime %llu%s%s", (unsigned long long)rt->id,
			b.p ? " " : "", b.p ? b.p : "");
		tdc_buf_free(&b);
		fprintf(f, " (%s, %zu worker%s): ",
			rt->flavor ? rt->flavor : "unknown flavor",
			rt->nworkers, rt->nworkers == 1 ? "" : "s");
		if (rt->error) {
			tdc_buf_quote(&b, rt->error);
			fprintf(f, "error %s\n", b.p);
			tdc_buf_free(&b);
		}
		else
			state_counts(f, rt);
		for (size_t w = 0; w < rt->nworkers; w++) {
			const tdc_worker *wk = &rt->workers[w];
			char dur[32];

			if (strcmp(wk->state, "busy") != 0)
				continue;
			tdc_format_ms(wk->busy_ms.set ? (double)wk->busy_ms.v :
				      0, dur, sizeof(dur));
			fprintf(f, "    worker %llu busy in task %llu for %s\n",
				(unsigned long long)wk->index,
				(unsigned long long)wk->task.v, dur);
		}
	}
}

/* jstack's "Found one Java-level deadlock", for tasks:
 *
 *   Found 1 deadlock
 *     deadlock 1 (2 tasks):
 *       task 1 "left" holds mutex 0x... (held 8 ms, 1 waiting)
 *         and waits for task 2: mutex 0x... held
 */
static void deadlock_section(FILE *f, const tdc_dump *d)
{
	tdc_buf b = {0};

	if (!d->ndeadlocks)
		return;
	fprintf(f, "\nFound %zu deadlock%s\n", d->ndeadlocks,
		d->ndeadlocks == 1 ? "" : "s");
	for (size_t k = 0; k < d->ndeadlocks && k < TOP; k++) {
		const tdc_deadlock *dl = &d->deadlocks[k];

		fprintf(f, "  deadlock %zu (%zu task%s):\n", k + 1,
			dl->nmembers, dl->nmembers == 1 ? "" : "s");
		for (size_t i = 0; i < dl->nmembers && i < TOP_MEMBERS; i++) {
			const tdc_dl_member *m = &dl->members[i];

			fprintf(f, "    task %llu", (unsigned long long)m->task);
			if (m->name) {
				b.len = 0;
				tdc_buf_quote(&b, m->name);
				fprintf(f, " %s", b.p);
			}
			if (!m->nholds)
				fputs(" holds nothing known", f);
			for (size_t h = 0; h < m->nholds; h++) {
				const tdc_held *x = &m->holds[h];

				fprintf(f, "%s %s %s (", h ? "," : " holds",
					x->kind, x->object);
				if (x->permits.set)
					fprintf(f, "%llu permit%s, ",
						(unsigned long long)x->permits.v,
						x->permits.v == 1 ? "" : "s");
				fprintf(f, "held %llu ms, %llu waiting",
					(unsigned long long)x->held_ms.v,
					(unsigned long long)x->waiters.v);
				if (x->others.set && x->others.v)
					fprintf(f, ", %llu more held by others",
						(unsigned long long)x->others.v);
				fputc(')', f);
			}
			b.len = 0;
			tdc_edge_text(&m->waits_for, &b);
			fprintf(f, "\n      and waits for %s\n", b.p);
		}
		if (dl->nmembers > TOP_MEMBERS)
			fprintf(f, "    (%zu more tasks in this cycle)\n",
				dl->nmembers - TOP_MEMBERS);
	}
	if (d->ndeadlocks > TOP)
		fprintf(f, "  (%zu more deadlocks: taskdump show --deadlocks)\n",
			d->ndeadlocks - TOP);
	tdc_buf_free(&b);
}

/* The kinds in order of severity (README.md, "Task counters and
 * warnings"); a kind this tool does not know comes last. */
static const char *const warning_kinds[] = {
	"lost-wakeup", "busy-loop", "long-poll", "starved", "never-polled",
	"long-wait",
};
#define NKINDS (sizeof(warning_kinds) / sizeof(warning_kinds[0]))

static size_t kind_rank(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kind, warning_kinds[i]) == 0)
			return i;
	return NKINDS;
}

/* tokio-console's warnings, from one dump:
 *
 *   Found 3 task warnings: 1 error, 2 warnings
 *     lost-wakeup (error), 1 task:
 *       task 7 "forgetful": idle 60012 ms after 3 polls, ...
 *     long-poll (warning), 2 tasks:
 *       ...
 */
static void warning_section(FILE *f, const tdc_dump *d)
{
	size_t nsev[3] = {0}, count[NKINDS + 1];
	static const char *const sev[] = {"error", "warning", "info"};
	tdc_buf b = {0};

	if (!d->ntask_warnings)
		return;
	for (size_t i = 0; i < d->ntask_warnings; i++)
		for (size_t s = 0; s < 3; s++)
			nsev[s] += strcmp(d->task_warnings[i].severity,
					  sev[s]) == 0;
	fprintf(f, "\nFound %llu task warning%s",
		(unsigned long long)d->task_warnings_found,
		d->task_warnings_found == 1 ? "" : "s");
	for (size_t s = 0, first = 1; s < 3; s++)
		if (nsev[s]) {
			fprintf(f, "%s%zu %s%s", first ? ": " : ", ", nsev[s],
				sev[s], nsev[s] == 1 ? "" : "s");
			first = 0;
		}
	if (d->task_warnings_found > d->ntask_warnings)
		fprintf(f, " (%zu listed)", d->ntask_warnings);
	fputc('\n', f);
	for (size_t k = 0; k <= NKINDS; k++)
		count[k] = 0;
	for (size_t i = 0; i < d->ntask_warnings; i++)
		count[kind_rank(d->task_warnings[i].kind)]++;
	for (size_t k = 0; k <= NKINDS; k++) {
		size_t shown = 0;
		const tdc_task_warning *first = NULL;

		if (!count[k])
			continue;
		for (size_t i = 0; i < d->ntask_warnings; i++) {
			const tdc_task_warning *w = &d->task_warnings[i];

			if (kind_rank(w->kind) != k)
				continue;
			if (!first) {
				first = w;
				fprintf(f, "  %s (%s), %zu task%s:\n",
					k < NKINDS ? w->kind : "other kinds",
					w->severity, count[k],
					count[k] == 1 ? "" : "s");
			}
			if (shown++ >= TOP_WARNINGS)
				continue;
			fprintf(f, "    task %llu", (unsigned long long)w->task);
			if (w->name) {
				b.len = 0;
				tdc_buf_quote(&b, w->name);
				fprintf(f, " %s", b.p);
			}
			fprintf(f, ": %s\n", w->evidence);
		}
		if (shown > TOP_WARNINGS)
			fprintf(f, "    (%zu more: taskdump show --warnings=%s)\n",
				shown - TOP_WARNINGS,
				k < NKINDS ? warning_kinds[k] : "warning");
	}
	tdc_buf_free(&b);
}

typedef struct item {
	const tdc_task *task;
	const tdc_trace *trace;  /* the one to show, or NULL */
	double key;
	size_t order;
} item;

static int by_key_desc(const void *a, const void *b)
{
	const item *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void show_item(FILE *f, const char *col, const item *it)
{
	tdc_buf b = {0};

	tdc_task_label(it->task, &b);
	fprintf(f, "  %8s  %s (%s", col, b.p, it->task->state);
	if (it->task->polls.set)
		fprintf(f, ", %llu poll%s",
			(unsigned long long)it->task->polls.v,
			it->task->polls.v == 1 ? "" : "s");
	fputs(")", f);
	b.len = 0;
	if (it->trace) {
		tdc_trace_path(it->trace, 3, &b);
		fprintf(f, "\n            %s", b.p);
	} else if (!it->task->traced && it->task->not_traced) {
		fprintf(f, "\n            not traced: %s",
			it->task->not_traced);
	}
	fputc('\n', f);
	tdc_buf_free(&b);
}

/* Keep `it` if it is among the first TOP of v[0..*n) in by_key_desc
 * order (v stays sorted; *n <= TOP). */
static void top_add(item *v, size_t *n, const item *it)
{
	size_t i = *n < TOP ? (*n)++ : TOP;

	if (i == TOP && by_key_desc(it, &v[TOP - 1]) >= 0)
		return;
	if (i == TOP)
		i = TOP - 1;
	/* Shift the worse ones down one place. */
	while (i > 0 && by_key_desc(it, &v[i - 1]) < 0) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = *it;
}

/* The first TOP tasks by their deepest trace (key: frames) or idle time,
 * into v[TOP]: what sorting every task would put first (by_key_desc is a
 * total order: `order` breaks ties), in one pass and no memory per task.
 * *n: how many are in v. */
static void collect(const tdc_dump *d, bool idle, item *v, size_t *n)
{
	size_t seen = 0;

	*n = 0;
	for (size_t r = 0; r < d->nruntimes; r++) {
		for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
			const tdc_task *t = &d->runtimes[r].tasks[i];
			item it = {.task = t, .order = seen};

			for (size_t k = 0; k < t->ntraces; k++)
				if (!it.trace || t->traces[k].nframes >
						 it.trace->nframes)
					it.trace = &t->traces[k];
			if (idle && !t->idle_ms.set)
				continue;
			if (!idle && !it.trace)
				continue;
			it.key = idle ? (double)t->idle_ms.v :
					(double)it.trace->nframes;
			seen++;
			top_add(v, n, &it);
		}
	}
}

static void deepest(FILE *f, const tdc_dump *d)
{
	size_t n;
	item v[TOP];

	collect(d, false, v, &n);

	fputs("\nDeepest waits (frames in the longest trace)\n", f);
	if (n == 0)
		fputs("  (no traced tasks)\n", f);
	for (size_t i = 0; i < n && i < TOP; i++) {
		char col[32];

		snprintf(col, sizeof(col), "%.0f", v[i].key);
		show_item(f, col, &v[i]);
	}
}

static void longest_idle(FILE *f, const tdc_dump *d)
{
	size_t n;
	item v[TOP];

	collect(d, true, v, &n);

	fputs("\nLongest idle (time since the last poll began)\n", f);
	if (n == 0)
		fputs("  (no idle times recorded)\n", f);
	for (size_t i = 0; i < n && i < TOP; i++) {
		char col[32];

		tdc_format_ms(v[i].key, col, sizeof(col));
		show_item(f, col, &v[i]);
	}
}

static void common(FILE *f, const tdc_dump *d)
{
	tdc_shapes s = {0};
	item *v;
	size_t shown = 0;

	tdc_shapes_add_dump(&s, d);
	v = tdc_xmalloc((s.n + 1) * sizeof(*v));
	for (size_t i = 0; i < s.n; i++)
		v[i] = (item){.trace = s.rep[i], .key = (double)s.count[i],
			      .order = i};
	qsort(v, s.n, sizeof(*v), by_key_desc);
	fputs("\nMost common traces (count: traces with that path and wait "
	      "kind)\n", f);
	if (s.n == 0)
		fputs("  (no traces)\n", f);
	for (size_t i = 0; i < s.n && shown < TOP; i++, shown++) {
		tdc_trace t = *v[i].trace;
		tdc_buf b = {0};

		t.wait.text = NULL; /* the kind, not one task's details */
		tdc_trace_path(&t, 4, &b);
		fprintf(f, "  %8.0f  %s\n", v[i].key, b.p);
		tdc_buf_free(&b);
	}
	if (s.n > TOP)
		fprintf(f, "  (%zu more distinct traces)\n", s.n - TOP);
	free(v);
	tdc_shapes_free(&s);
}

void tdc_summary(FILE *f, const tdc_dump *d)
{
	size_t nt = tdc_dump_ntasks(d);

	fprintf(f, "%s: ", d->source);
	if (d->pid.set)
		fprintf(f, "pid %llu ", (unsigned long long)d->pid.v);
	if (d->program)
		fprintf(f, "%s ", d->program);
	if (d->time)
		fprintf(f, "at %s", d->time);
	fprintf(f, "\n  %zu task%s in %zu runtime%s", nt, nt == 1 ? "" : "s",
		d->nruntimes, d->nruntimes == 1 ? "" : "s");
	if (d->pause_ms.set)
		fprintf(f, "; paused %.3f ms", d->pause_ms.v);
	if (d->total_ms.set)
		fprintf(f, ", dump took %.3f ms", d->total_ms.v);
	fputc('\n', f);
	if (d->note)
		fprintf(f, "  note: %s\n", d->note);
	deadlock_section(f, d);
	warning_section(f, d);
	runtimes(f, d);
	deepest(f, d);
	longest_idle(f, d);
	common(f, d);
}
