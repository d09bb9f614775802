/* cmd_diff.c - `taskdump diff`: what changed between dumps of a process.
 *
 * Dumps are given oldest first.  Tasks are matched by (runtime id, task
 * id); ids are never reused within a process.
 *   stuck     present in every dump with the same trace (frames, wait
 *             kind and object) and the same poll count: nothing polled it
 *             in between.  A running task with an unchanged poll count is
 *             stuck inside one poll.
 *   new       in the last dump, not in the first
 *   finished  in the first dump, not in the last
 *   grown     trace shapes (frames and wait kind) whose number of traces
 *             grew the most from the first dump to the last
 * and first, from the first dump to the last, what changed in the
 * diagnosis:
 *   deadlocks      new, persisting or gone (a deadlock is its set of
 *                  member tasks)
 *   task warnings  new, persisting or gone (a warning is its runtime,
 *                  task and kind)
 * Before comparing, the series is checked (check_series): one file twice,
 * dumps out of time order or of different processes are refused. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "color.h"
#include "report.h"

static const char help[] =
	"Usage: taskdump diff [options] A B [C...]\n"
	"\n"
	"Compare dumps of one process taken over time, oldest first:\n"
	"  deadlocks the deadlocks that are new, persisting or gone from the "
	"first\n"
	"            dump to the last (a deadlock is its set of tasks)\n"
	"  warnings  the task warnings (by runtime, task and kind) that are "
	"new,\n"
	"            persisting or gone from the first dump to the last\n"
	"  stuck     tasks present in every dump with the same trace and the "
	"same\n"
	"            poll count (never polled in between); with more than two "
	"dumps,\n"
	"            what never moved across the whole series\n"
	"  new       tasks in the last dump that the first does not have\n"
	"  finished  tasks of the first dump that are gone from the last\n"
	"  grown     the traces (call path and wait kind) whose count grew "
	"the most\n"
	"\n"
	"Refused: a file given twice, by name or as another name of it "
	"(status 1);\ndumps out of order, by the time in their headers "
	"(status 1); dumps of\ndifferent processes: another pid or program "
	"(status 2).  A warning on stderr:\ntwo dumps with the same time, "
	"or a dump without a time (not checked).\n"
	"\n"
	"Options:\n"
	"  --top N     list at most N entries per section (default 20; 0: "
	"all)\n"
	"  -h, --help  this help\n";

static const struct option longopts[] = {
	{"top", required_argument, NULL, 'T'},
	{"help", no_argument, NULL, 'h'},
	TDC_COMMON_OPTIONS,
	{NULL, 0, NULL, 0},
};

/* A task and its runtime's id: 16 bytes, as two indexes of a million
 * tasks are a good part of diff's memory. */
typedef struct keyed {
	uint64_t rt;
	const tdc_task *task;
} keyed;

static int cmp_key(const void *a, const void *b)
{
	const keyed *x = a, *y = b;

	if (x->rt != y->rt)
		return x->rt < y->rt ? -1 : 1;
	if (x->task->block_on != y->task->block_on)
		return x->task->block_on ? -1 : 1;
	if (x->task->id != y->task->id)
		return x->task->id < y->task->id ? -1 : 1;
	return 0;
}

/* The dump's tasks sorted by key, for bsearch. */
static keyed *index_dump(const tdc_dump *d, size_t *n)
{
	keyed *v = tdc_xmalloc((tdc_dump_ntasks(d) + 1) * sizeof(*v));

	*n = 0;
	for (size_t r = 0; r < d->nruntimes; r++)
		for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
			const tdc_task *t = &d->runtimes[r].tasks[i];

			v[(*n)++] = (keyed){d->runtimes[r].id, t};
		}
	qsort(v, *n, sizeof(*v), cmp_key);
	return v;
}

/* No match (of match_tasks). */
#define NO_TASK UINT32_MAX

/* For each task of a[0..na), the index of the same task in b[0..nb) or
 * NO_TASK: one merge of the two sorted indexes, O(na + nb) (a binary
 * search per task and section was a fifth of diff's time at a million
 * tasks, most of it cache misses).  32-bit: memory. */
static uint32_t *match_tasks(const keyed *a, size_t na, const keyed *b,
			     size_t nb)
{
	uint32_t *m = tdc_xmalloc((na + 1) * sizeof(*m));
	size_t j = 0;

	if (nb >= NO_TASK)
		tdc_die(TDC_EXIT_SYSTEM, "out of memory");
	for (size_t i = 0; i < na; i++) {
		int c = 1;

		while (j < nb && (c = cmp_key(&b[j], &a[i])) < 0)
			j++;
		m[i] = j < nb && c == 0 ? (uint32_t)j : NO_TASK;
	}
	return m;
}

typedef struct series {
	tdc_dump **d;
	keyed **idx;
	size_t *n;
	int count;
	size_t top;
	uint32_t **in;     /* in[k][i]: task i of idx[0] in idx[k] (k >= 1) */
	uint32_t *in_first;/* task i of the last dump's idx in idx[0] */
} series;

/* Task i of the first dump (idx[0]) in dump k, or NULL. */
static const tdc_task *in_dump(const series *s, int k, size_t i)
{
	size_t j = k ? s->in[k][i] : i;

	return k && s->in[k][i] == NO_TASK ? NULL : s->idx[k][j].task;
}

static void task_info(const tdc_task *t, tdc_buf *b)
{
	tdc_task_label(t, b);
	tdc_buf_printf(b, " (%s", t->state);
	if (t->polls.set)
		tdc_buf_printf(b, ", %llu poll%s",
			       (unsigned long long)t->polls.v,
			       t->polls.v == 1 ? "" : "s");
	tdc_buf_puts(b, ")");
}

static void show_trace(FILE *f, const tdc_task *t)
{
	tdc_buf b = {0};

	if (!t->traced) {
		fprintf(f, "      not traced: %s\n",
			t->not_traced ? t->not_traced : "unknown");
		return;
	}
	for (size_t i = 0; i < t->ntraces; i++) {
		b.len = 0;
		tdc_trace_path(&t->traces[i], 0, &b);
		fprintf(f, "      %s\n", b.p);
	}
	tdc_buf_free(&b);
}

/* Never polled across the series, same trace every time?  (Task i of
 * the first dump.) */
static bool stuck(const series *s, size_t i)
{
	const tdc_task *t0 = s->idx[0][i].task;

	if (!t0->polls.set)
		return false;
	for (int k = 1; k < s->count; k++) {
		const tdc_task *t = in_dump(s, k, i);

		if (!t || !t->polls.set || t->polls.v != t0->polls.v ||
		    t->traced != t0->traced ||
		    strcmp(t->state, t0->state) != 0)
			return false;
		if (t0->traced ? !tdc_task_traces_equal(t, t0) :
				 strcmp(t->state, "running") != 0)
			return false;
	}
	return true;
}

static bool more(FILE *f, const series *s, size_t shown, size_t total)
{
	if (s->top && shown == s->top) {
		fprintf(f, "  ... and %zu more\n", total - shown);
		return false;
	}
	return true;
}

static void section_stuck(FILE *f, const series *s)
{
	size_t total = 0, shown = 0;
	bool *is = tdc_xmalloc((s->n[0] + 1) * sizeof(*is));
	tdc_buf b = {0};

	for (size_t i = 0; i < s->n[0]; i++)
		total += is[i] = stuck(s, i);
	if (s->count == 2)
		fprintf(f, "\nStuck: same trace, not polled between the two "
			"dumps (%zu)\n", total);
	else
		fprintf(f, "\nNever moved: same trace, not polled across all "
			"%d dumps (%zu)\n", s->count, total);
	for (size_t i = 0; i < s->n[0]; i++) {
		const keyed *k = &s->idx[0][i];
		const tdc_task *tl;

		if (!is[i])
			continue;
		if (!more(f, s, shown++, total))
			break;
		tl = in_dump(s, s->count - 1, i);
		b.len = 0;
		task_info(k->task, &b);
		fprintf(f, "  %s", b.p);
		if (k->task->idle_ms.set && tl->idle_ms.set) {
			char a[32], z[32];

			tdc_format_ms((double)k->task->idle_ms.v, a, sizeof(a));
			tdc_format_ms((double)tl->idle_ms.v, z, sizeof(z));
			fprintf(f, " idle %s -> %s", a, z);
		}
		fputc('\n', f);
		show_trace(f, tl);
	}
	if (total == 0)
		fputs("  (none)\n", f);
	free(is);
	tdc_buf_free(&b);
}

/* Tasks of dump `a` (the first or the last) missing from the other one:
 * those whose match[i] is NO_TASK. */
static void section_missing(FILE *f, const series *s, int a,
			    const uint32_t *match, const char *title)
{
	size_t total = 0, shown = 0;
	tdc_buf buf = {0};

	for (size_t i = 0; i < s->n[a]; i++)
		total += match[i] == NO_TASK;
	fprintf(f, "\n%s (%zu)\n", title, total);
	for (size_t i = 0; i < s->n[a]; i++) {
		const keyed *k = &s->idx[a][i];

		if (match[i] != NO_TASK)
			continue;
		if (!more(f, s, shown++, total))
			break;
		buf.len = 0;
		task_info(k->task, &buf);
		fprintf(f, "  %s\n", buf.p);
		if (a > 0)
			show_trace(f, k->task);
	}
	if (total == 0)
		fputs("  (none)\n", f);
	tdc_buf_free(&buf);
}

typedef struct growth {
	size_t shape;
	long before, after;
} growth;

static int by_growth(const void *a, const void *b)
{
	const growth *x = a, *y = b;
	long dx = x->after - x->before, dy = y->after - y->before;

	if (dx != dy)
		return dx < dy ? 1 : -1;
	return x->shape < y->shape ? -1 : x->shape > y->shape;
}

static void section_grown(FILE *f, const series *s)
{
	tdc_shapes first = {0}, last = {0};
	growth *g;
	size_t n = 0, shown = 0;

	tdc_shapes_add_dump(&first, s->d[0]);
	tdc_shapes_add_dump(&last, s->d[s->count - 1]);
	g = tdc_xmalloc((last.n + 1) * sizeof(*g));
	for (size_t i = 0; i < last.n; i++) {
		size_t j = tdc_shapes_find(&first, last.rep[i]);
		long before = j == SIZE_MAX ? 0 : (long)first.count[j];

		if ((long)last.count[i] > before)
			g[n++] = (growth){i, before, (long)last.count[i]};
	}
	qsort(g, n, sizeof(*g), by_growth);
	fprintf(f, "\nGrown: traces (path and wait kind) whose count grew "
		"the most (%zu)\n", n);
	for (size_t i = 0; i < n; i++) {
		tdc_trace t = *last.rep[g[i].shape];
		tdc_buf b = {0};

		if (!more(f, s, shown++, n))
			break;
		t.wait.text = NULL;
		tdc_trace_path(&t, 4, &b);
		fprintf(f, "  %+6ld  %ld -> %ld  %s\n",
			g[i].after - g[i].before, g[i].before, g[i].after,
			b.p);
		tdc_buf_free(&b);
	}
	if (n == 0)
		fputs("  (none)\n", f);
	free(g);
	tdc_shapes_free(&first);
	tdc_shapes_free(&last);
}

/* ---- the diagnosis, first dump to last ----------------------------- */

/* A deadlock as diff tells it from another: its members' task ids,
 * sorted (the cycle may be listed from another member). */
typedef struct dl_key {
	const tdc_deadlock *dl;
	uint64_t *ids;
} dl_key;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_dl_key(const void *a, const void *b)
{
	const dl_key *x = a, *y = b;
	size_t n = x->dl->nmembers < y->dl->nmembers ? x->dl->nmembers :
						       y->dl->nmembers;

	for (size_t i = 0; i < n; i++)
		if (x->ids[i] != y->ids[i])
			return x->ids[i] < y->ids[i] ? -1 : 1;
	return (x->dl->nmembers > y->dl->nmembers) -
	       (x->dl->nmembers < y->dl->nmembers);
}

/* The dump's deadlocks sorted by key, for bsearch (ids in one array). */
static dl_key *deadlock_keys(const tdc_dump *d, uint64_t **ids)
{
	dl_key *k = tdc_xmalloc((d->ndeadlocks + 1) * sizeof(*k));
	size_t total = 0;

	for (size_t i = 0; i < d->ndeadlocks; i++)
		total += d->deadlocks[i].nmembers;
	*ids = tdc_xmalloc((total + 1) * sizeof(**ids));
	total = 0;
	for (size_t i = 0; i < d->ndeadlocks; i++) {
		const tdc_deadlock *dl = &d->deadlocks[i];

		k[i] = (dl_key){dl, *ids + total};
		for (size_t m = 0; m < dl->nmembers; m++)
			k[i].ids[m] = dl->members[m].task;
		qsort(k[i].ids, dl->nmembers, sizeof(uint64_t), cmp_u64);
		total += dl->nmembers;
	}
	qsort(k, d->ndeadlocks, sizeof(*k), cmp_dl_key);
	return k;
}

/* Is `dl` one of the deadlocks keys[0..n) (the same member tasks)? */
static bool has_deadlock(const dl_key *keys, size_t n, const tdc_deadlock *dl)
{
	uint64_t *ids = tdc_xmalloc((dl->nmembers + 1) * sizeof(*ids));
	dl_key key = {dl, ids};
	bool hit;

	for (size_t m = 0; m < dl->nmembers; m++)
		ids[m] = dl->members[m].task;
	qsort(ids, dl->nmembers, sizeof(*ids), cmp_u64);
	hit = bsearch(&key, keys, n, sizeof(*keys), cmp_dl_key) != NULL;
	free(ids);
	return hit;
}

/* "  deadlock (new), 2 tasks: task 5 "left" -> task 6 "right"": its
 * members in cycle order, the first ten. */
static void deadlock_line(FILE *f, const char *change, const tdc_deadlock *dl)
{
	tdc_buf b = {0};

	fprintf(f, "  deadlock (%s), %zu task%s:", change, dl->nmembers,
		dl->nmembers == 1 ? "" : "s");
	for (size_t m = 0; m < dl->nmembers && m < 10; m++) {
		fprintf(f, "%s task %llu", m ? " ->" : "",
			(unsigned long long)dl->members[m].task);
		if (dl->members[m].name) {
			b.len = 0;
			tdc_buf_quote(&b, dl->members[m].name);
			fprintf(f, " %s", b.p);
		}
	}
	if (dl->nmembers > 10)
		fprintf(f, " -> ... (%zu more)", dl->nmembers - 10);
	fputc('\n', f);
	tdc_buf_free(&b);
}

/* Deadlocks of the last dump that the first does not have (new), that
 * both have (persisting), and of the first that the last does not have
 * (gone). */
static void section_deadlocks(FILE *f, const series *s)
{
	const tdc_dump *a = s->d[0], *z = s->d[s->count - 1];
	uint64_t *ids_a, *ids_z;
	dl_key *ka = deadlock_keys(a, &ids_a), *kz = deadlock_keys(z, &ids_z);
	bool *in_a = tdc_xcalloc(z->ndeadlocks + 1, sizeof(*in_a));
	size_t nnew = 0, nkept = 0, ngone = 0, shown = 0,
	       total = z->ndeadlocks;

	for (size_t i = 0; i < z->ndeadlocks; i++) {
		in_a[i] = has_deadlock(ka, a->ndeadlocks, &z->deadlocks[i]);
		nkept += in_a[i];
	}
	nnew = z->ndeadlocks - nkept;
	for (size_t i = 0; i < a->ndeadlocks; i++)
		ngone += !has_deadlock(kz, z->ndeadlocks, &a->deadlocks[i]);
	total += ngone;
	fprintf(f, "\nDeadlocks since %s: %zu new, %zu persisting, %zu gone\n",
		a->source, nnew, nkept, ngone);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < z->ndeadlocks; i++) {
			if (in_a[i] != (pass == 1))
				continue;
			if (!more(f, s, shown++, total))
				goto done;
			deadlock_line(f, pass ? "persisting" : "new",
				      &z->deadlocks[i]);
		}
	for (size_t i = 0; i < a->ndeadlocks; i++) {
		if (has_deadlock(kz, z->ndeadlocks, &a->deadlocks[i]))
			continue;
		if (!more(f, s, shown++, total))
			goto done;
		deadlock_line(f, "gone", &a->deadlocks[i]);
	}
	if (total == 0)
		fputs("  (none)\n", f);
done:
	free(in_a);
	free(ka);
	free(kz);
	free(ids_a);
	free(ids_z);
}

/* "  new: lost-wakeup (error), task 7 "forgetful": <evidence>" */
static void warning_line(FILE *f, const char *change,
			 const tdc_task_warning *w)
{
	tdc_buf b = {0};

	fprintf(f, "  %s: %s (%s), task %llu", change, w->kind, w->severity,
		(unsigned long long)w->task);
	if (w->name) {
		tdc_buf_quote(&b, w->name);
		fprintf(f, " %s", b.p);
	}
	fprintf(f, ": %s\n", w->evidence);
	tdc_buf_free(&b);
}

/* Task warnings, by (runtime, task, kind): those of the last dump that
 * the first does not have (new), that both have (persisting, with the
 * last dump's evidence), and of the first that the last does not have
 * (gone).  Each group in its dump's order: most severe first. */
static void section_warnings(FILE *f, const series *s)
{
	const tdc_dump *a = s->d[0], *z = s->d[s->count - 1];
	tdc_warning_index xa, xz;
	size_t nnew = 0, nkept = 0, ngone = 0, shown = 0, total;
	bool *in_a = tdc_xcalloc(z->ntask_warnings + 1, sizeof(*in_a));

	tdc_warning_index_init(&xa, a, NULL);
	tdc_warning_index_init(&xz, z, NULL);
	for (size_t i = 0; i < z->ntask_warnings; i++) {
		const tdc_task_warning *w = &z->task_warnings[i];

		in_a[i] = tdc_warning_find(&xa, w->runtime, w->task,
					   w->kind) != NULL;
		nkept += in_a[i];
	}
	nnew = z->ntask_warnings - nkept;
	for (size_t i = 0; i < a->ntask_warnings; i++) {
		const tdc_task_warning *w = &a->task_warnings[i];

		ngone += !tdc_warning_find(&xz, w->runtime, w->task, w->kind);
	}
	total = nnew + nkept + ngone;
	fprintf(f, "\nTask warnings since %s: %zu new, %zu persisting, %zu "
		"gone\n", a->source, nnew, nkept, ngone);
	for (int k = 0; k < 2; k++) {
		const tdc_dump *d = k ? z : a;

		if (d->task_warnings_found > d->ntask_warnings)
			fprintf(f, "  (%s lists %zu of its %llu warnings: only "
				"those are compared)\n", d->source,
				d->ntask_warnings,
				(unsigned long long)d->task_warnings_found);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < z->ntask_warnings; i++) {
			if (in_a[i] != (pass == 1))
				continue;
			if (!more(f, s, shown++, total))
				goto done;
			warning_line(f, pass ? "persisting" : "new",
				     &z->task_warnings[i]);
		}
	for (size_t i = 0; i < a->ntask_warnings; i++) {
		const tdc_task_warning *w = &a->task_warnings[i];

		if (tdc_warning_find(&xz, w->runtime, w->task, w->kind))
			continue;
		if (!more(f, s, shown++, total))
			goto done;
		warning_line(f, "gone", w);
	}
	if (total == 0)
		fputs("  (none)\n", f);
done:
	free(in_a);
	tdc_warning_index_free(&xa);
	tdc_warning_index_free(&xz);
}

static void overview(FILE *f, const series *s)
{
	const tdc_dump *d0 = s->d[0];

	fprintf(f, "Comparing %d dumps", s->count);
	if (d0->pid.set)
		fprintf(f, " of pid %llu", (unsigned long long)d0->pid.v);
	if (d0->program)
		fprintf(f, " (%s)", d0->program);
	fputs(", oldest first\n", f);
	for (int k = 0; k < s->count; k++) {
		const tdc_dump *d = s->d[k];

		fprintf(f, "  %d: %s  %s  %zu tasks", k + 1, d->source,
			d->time ? d->time : "(no time)", s->n[k]);
		if (k > 0) {
			uint32_t *m = match_tasks(s->idx[k - 1], s->n[k - 1],
						  s->idx[k], s->n[k]);
			size_t both = 0;

			for (size_t i = 0; i < s->n[k - 1]; i++)
				both += m[i] != NO_TASK;
			free(m);
			fprintf(f, " (+%zu new, -%zu finished)",
				s->n[k] - both, s->n[k - 1] - both);
		}
		fputc('\n', f);
	}
}

/* A dump's time ("2026-11-27T15:20:31.123Z": UTC, milliseconds
 * optional) as milliseconds since the epoch; false if it has none. */
static bool dump_time(const tdc_dump *d, int64_t *ms)
{
	struct tm tm = {0};
	int n = 0, frac = 0, digits = 0;
	const char *p;

	if (!d->time ||
	    sscanf(d->time, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 6)
		return false;
	p = d->time + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits++ < 3)
				frac = frac * 10 + (*p - '0');
	if (strcmp(p, "Z") != 0)
		return false;
	for (; digits < 3; digits++)
		frac *= 10;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return true;
}

/* The same file given twice: the same name, or names of one inode. */
static void distinct_files(char **files, int n)
{
	for (int i = 0; i < n; i++) {
		struct stat a, b;
		bool sa = strcmp(files[i], "-") != 0 &&
			  stat(files[i], &a) == 0;

		for (int j = i + 1; j < n; j++) {
			if (strcmp(files[i], files[j]) == 0)
				tdc_usage("diff", "%s is given twice; compare "
					  "dumps taken at different times",
					  files[i]);
			if (sa && strcmp(files[j], "-") != 0 &&
			    stat(files[j], &b) == 0 && a.st_dev == b.st_dev &&
			    a.st_ino == b.st_ino)
				tdc_usage("diff", "%s and %s are the same "
					  "file; compare dumps taken at "
					  "different times", files[i],
					  files[j]);
		}
	}
}

/* Dumps of one process (pid and program), oldest first.  Different
 * processes are refused (status 2), dumps out of order too (status 1);
 * what cannot be checked, or looks like one dump twice, is a warning. */
static void check_series(const series *s)
{
	const tdc_dump *a = s->d[0];
	bool untimed = false;

	for (int k = 1; k < s->count; k++) {
		const tdc_dump *b = s->d[k], *prev = s->d[k - 1];
		int64_t ta, tb;

		if (a->pid.set && b->pid.set && a->pid.v != b->pid.v)
			tdc_die(TDC_EXIT_INPUT, "%s and %s are dumps of "
				"different processes (pid %llu and %llu)",
				a->source, b->source,
				(unsigned long long)a->pid.v,
				(unsigned long long)b->pid.v);
		if (a->program && b->program && strcmp(a->program, "?") &&
		    strcmp(b->program, "?") && strcmp(a->program, b->program))
			tdc_die(TDC_EXIT_INPUT, "%s and %s are dumps of "
				"different programs (%s and %s)", a->source,
				b->source, a->program, b->program);
		if (!dump_time(prev, &ta) || !dump_time(b, &tb)) {
			untimed = true;
			continue;
		}
		if (tb < ta)
			tdc_usage("diff", "%s (%s) is older than %s (%s): "
				  "give the dumps oldest first", b->source,
				  b->time, prev->source, prev->time);
		if (tb == ta)
			tdc_error("warning: %s and %s have the same time %s: "
				  "one dump twice?", prev->source, b->source,
				  b->time);
	}
	if (untimed)
		tdc_error("warning: not every dump has a time; cannot check "
			  "that they are given oldest first");
}

int tdc_cmd_diff(int argc, char **argv)
{
	series s = {.top = 20};
	char title[600];
	int last;
	FILE *out;
	bool color;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		uint64_t v;

		if (tdc_common_option("diff", c, optarg))
			continue;
		switch (c) {
		case 'T':
			if (!tdc_parse_u64(optarg, strlen(optarg), &v))
				tdc_usage("diff", "--top needs a number, not "
					  "'%s'", optarg);
			s.top = (size_t)v;
			break;
		case 'h':
			tdc_help(help);
		default:
			tdc_bad_option("diff", c, argv);
		}
	}
	s.count = argc - optind;
	if (s.count < 2)
		tdc_usage("diff", "needs at least two dump files, oldest "
			  "first");
	s.d = tdc_load_all(argv + optind, s.count);
	distinct_files(argv + optind, s.count);
	check_series(&s);
	color = tdc_report_begin();
	out = color ? tdc_paint_open(stdout, TDC_PAINT_REPORT) : stdout;
	s.idx = tdc_xcalloc((size_t)s.count, sizeof(*s.idx));
	s.n = tdc_xcalloc((size_t)s.count, sizeof(*s.n));
	for (int k = 0; k < s.count; k++)
		s.idx[k] = index_dump(s.d[k], &s.n[k]);
	s.in = tdc_xcalloc((size_t)s.count, sizeof(*s.in));
	for (int k = 1; k < s.count; k++)
		s.in[k] = match_tasks(s.idx[0], s.n[0], s.idx[k], s.n[k]);
	last = s.count - 1;
	s.in_first = match_tasks(s.idx[last], s.n[last], s.idx[0], s.n[0]);
	overview(out, &s);
	section_deadlocks(out, &s);
	section_warnings(out, &s);
	section_stuck(out, &s);
	snprintf(title, sizeof(title), "New since %s", s.d[0]->source);
	section_missing(out, &s, last, s.in_first, title);
	snprintf(title, sizeof(title), "Finished since %s", s.d[0]->source);
	section_missing(out, &s, 0, s.in[last], title);
	section_grown(out, &s);
	if (out != stdout)
		tdc_paint_close(out);
	for (int k = 0; k < s.count; k++) {
		free(s.idx[k]);
		free(s.in[k]);
	}
	free(s.in);
	free(s.in_first);
	free(s.idx);
	free(s.n);
	tdc_free_all(s.d, s.count);
	tdc_finish_stdout();
	return TDC_EXIT_OK;
}
