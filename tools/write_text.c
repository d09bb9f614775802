/* write_text.c - the text format writer (README.md (dump file formats)).
 *
 * Output is what the runtime's td_dump_write_text writes for the same
 * facts, so that dumps shown by the tool look like the agent's: a task's
 * traces merge into a tree by common prefix, children in the order of the
 * first trace that reaches them; the node where a trace ends is a node of
 * its own, annotated with its wait (only traces with equal wait texts share
 * it); a cut trace hangs below a "... (truncated)" root, a trace without
 * frames is a "(no frames)" root; a root's children are indented by three
 * characters, like every other node's. */
#include "write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "textfmt.h"

enum tkind { T_FRAME, T_TRUNC, T_NOFRAMES };

typedef struct tnode {
	enum tkind kind;
	const tdc_frame *frame;    /* T_FRAME */
	const char *leaf;          /* wait text of the traces ending here */
	size_t parent;             /* 0: a root */
	size_t first, last, next;  /* children / sibling, 0: none */
} tnode;

typedef struct tree {
	tnode *n;                  /* n[0] is a virtual root */
	size_t len, cap;
} tree;

static bool leaf_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The child of `parent` with this key, added if it is new. */
static size_t child(tree *t, size_t parent, enum tkind kind,
		    const tdc_frame *f, const char *leaf)
{
	size_t i;

	for (i = t->n[parent].first; i; i = t->n[i].next) {
		const tnode *c = &t->n[i];

		if (c->kind == kind && leaf_eq(c->leaf, leaf) &&
		    (kind != T_FRAME || tdc_frame_equal(c->frame, f)))
			return i;
	}
	t->n = tdc_grow(t->n, &t->cap, t->len + 1, sizeof(tnode));
	i = t->len++;
	memset(&t->n[i], 0, sizeof(tnode));
	t->n[i].kind = kind;
	t->n[i].frame = f;
	t->n[i].leaf = leaf;
	t->n[i].parent = parent;
	if (t->n[parent].last)
		t->n[t->n[parent].last].next = i;
	else
		t->n[parent].first = i;
	t->n[parent].last = i;
	return i;
}

static void tree_insert(tree *t, const tdc_trace *tr)
{
	const char *w = tdc_wait_display(&tr->wait);
	size_t at = 0, n = tr->nframes;

	if (!w)
		w = "none"; /* what td_wait_format says for no wait */
	if (tr->truncated || n == 0)
		at = child(t, 0, tr->truncated ? T_TRUNC : T_NOFRAMES, NULL,
			   n == 0 ? w : NULL);
	for (size_t i = 0; i < n; i++)
		at = child(t, at, T_FRAME, tr->frames[i],
			   i + 1 == n ? w : NULL);
}

/* A function named "module+0x..." by the symbolizer needs no " in ...". */
static bool names_module(const tdc_frame *fr)
{
	size_t n = strlen(fr->module);

	return strncmp(fr->function, fr->module, n) == 0 &&
	       fr->function[n] == '+';
}

void tdc_frame_text(const tdc_frame *fr, tdc_buf *out)
{
	tdc_buf_puts(out, fr->function);
	if (fr->file)
		tdc_buf_printf(out, " at %s:%llu", fr->file,
			       (unsigned long long)fr->line);
	else if (fr->module && fr->offset.set && !names_module(fr))
		tdc_buf_printf(out, " in %s+0x%llx", fr->module,
			       (unsigned long long)fr->offset.v);
	if (fr->inlined)
		tdc_buf_puts(out, " [inlined]");
}

static void node_text(const tnode *n, tdc_buf *line)
{
	if (n->kind == T_FRAME)
		tdc_frame_text(n->frame, line);
	else
		tdc_buf_puts(line, n->kind == T_TRUNC ? "... (truncated)" :
							"(no frames)");
	if (!n->leaf)
		return;
	tdc_buf_puts(line, " [waiting: ");
	for (const char *s = n->leaf; *s; s++)
		tdc_buf_add(line, *s == ']' ? ")" : s, 1);
	tdc_buf_puts(line, "]");
}

/* Depth first without recursion (traces may be thousands deep): the
 * prefix grows by "│  " or three spaces going down to a first child and
 * shrinks again climbing back up. */
static void tree_print(FILE *f, const tree *t)
{
	tdc_buf prefix = {0}, line = {0};
	size_t i = t->n[0].first;

	tdc_buf_puts(&prefix, "");
	while (i) {
		const tnode *n = &t->n[i];

		line.len = 0;
		tdc_buf_add(&line, prefix.p, prefix.len);
		tdc_buf_puts(&line, n->parent == 0 ? TDC_ROOT " " :
				    n->next ? TDC_TEE TDC_ROOT " " :
					      TDC_ELBOW TDC_ROOT " ");
		node_text(n, &line);
		fprintf(f, "%s\n", line.p);
		if (n->first) {
			bool bar = n->parent != 0 && n->next != 0;

			tdc_buf_puts(&prefix, bar ? TDC_VBAR "  " : "   ");
			i = n->first;
			continue;
		}
		while (i && !t->n[i].next) {
			i = t->n[i].parent;
			if (i)
				prefix.len -= t->n[i].parent != 0 &&
					      t->n[i].next ? 5 : 3;
		}
		if (i)
			i = t->n[i].next;
	}
	tdc_buf_free(&prefix);
	tdc_buf_free(&line);
}

static void print_traces(FILE *f, const tdc_task *task)
{
	tree t = {0};

	t.n = tdc_grow(NULL, &t.cap, 1, sizeof(tnode));
	memset(&t.n[0], 0, sizeof(tnode));
	t.len = 1;
	for (size_t i = 0; i < task->ntraces; i++)
		tree_insert(&t, &task->traces[i]);
	tree_print(f, &t);
	free(t.n);
}

/* ---- lines ----------------------------------------------------------- */

/* A value escaped as the format says: \" \\ \n \t and \xHH for other
 * control bytes (and, in a bare token, for the space). */
static void put_escaped(FILE *f, const char *s, bool token)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f || (token && c == ' '))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	put_escaped(f, s, false);
	fputc('"', f);
}

static void put_token(FILE *f, const char *key, const char *s)
{
	fprintf(f, " %s=", key);
	put_escaped(f, s, true);
}

static void put_u64(FILE *f, const char *key, tdc_u64 v)
{
	if (v.set)
		fprintf(f, " %s=%llu", key, (unsigned long long)v.v);
}

/* Times in milliseconds, to the microsecond, as the runtime writes them
 * (absurd values of a hand-edited file in the shortest exact form). */
static void put_f64(FILE *f, const char *key, tdc_f64 v, bool header)
{
	char num[40];

	if (!v.set)
		return;
	if (fabs(v.v) < 1e15)
		snprintf(num, sizeof(num), "%.3f", v.v);
	else
		tdc_format_double(v.v, num, sizeof(num));
	fprintf(f, header ? "%s %s\n" : " %s=%s", key, num);
}

/* ` key="a; b"` of a list of edges or held locks (nothing when empty). */
static void put_edges(FILE *f, const char *key, const tdc_edge *e, size_t n)
{
	tdc_buf b = {0};

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i)
			tdc_buf_puts(&b, "; ");
		tdc_edge_text(&e[i], &b);
	}
	fprintf(f, " %s=", key);
	put_quoted(f, b.p);
	tdc_buf_free(&b);
}

static void put_helds(FILE *f, const tdc_held *h, size_t n)
{
	tdc_buf b = {0};

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i)
			tdc_buf_puts(&b, "; ");
		tdc_held_text(&h[i], &b);
	}
	fputs(" holds=", f);
	put_quoted(f, b.p);
	tdc_buf_free(&b);
}

/* The header's deadlock section (README: "Wait-for graph and
 * deadlocks"). */
static void deadlock_lines(FILE *f, const tdc_dump *d)
{
	if (!d->ndeadlocks)
		return;
	fprintf(f, "deadlocks %zu\n", d->ndeadlocks);
	for (size_t k = 0; k < d->ndeadlocks; k++) {
		const tdc_deadlock *dl = &d->deadlocks[k];

		for (size_t i = 0; i < dl->nmembers; i++) {
			const tdc_dl_member *m = &dl->members[i];

			fprintf(f, "deadlock %zu task=%llu", k + 1,
				(unsigned long long)m->task);
			if (m->name) {
				fputs(" name=", f);
				put_quoted(f, m->name);
			}
			put_helds(f, m->holds, m->nholds);
			put_edges(f, "waits_for", &m->waits_for, 1);
			fputc('\n', f);
		}
	}
}

/* The header's task warnings (README: "Task warnings"). */
static void task_warning_lines(FILE *f, const tdc_dump *d)
{
	if (!d->task_warnings_found && !d->ntask_warnings)
		return;
	fprintf(f, "task_warnings %llu",
		(unsigned long long)d->task_warnings_found);
	if (d->ntask_warnings < d->task_warnings_found)
		fprintf(f, " listed=%zu", d->ntask_warnings);
	fputc('\n', f);
	for (size_t i = 0; i < d->ntask_warnings; i++) {
		const tdc_task_warning *w = &d->task_warnings[i];

		fputs("task_warning ", f);
		put_escaped(f, w->severity, true);
		fputc(' ', f);
		put_escaped(f, w->kind, true);
		fprintf(f, " runtime=%llu task=%llu",
			(unsigned long long)w->runtime,
			(unsigned long long)w->task);
		if (w->name) {
			fputs(" name=", f);
			put_quoted(f, w->name);
		}
		fputs(" evidence=", f);
		put_quoted(f, w->evidence);
		fputc('\n', f);
	}
}

/* A counter where the runtime's writer prints it: when set and not 0. */
static void put_counter(FILE *f, const char *key, tdc_u64 v)
{
	if (v.set && v.v)
		put_u64(f, key, v);
}

/* The counters, under the runtime writer's rules (README: "Task
 * counters"): woken_ms only for a notified task, wakers for an idle one
 * (0 included), the others when not 0; none for a block_on future. */
static void task_counters(FILE *f, const tdc_task *t)
{
	if (t->block_on)
		return;
	put_counter(f, "busy_ms", t->busy_ms);
	put_counter(f, "slowest_poll_ms", t->slowest_poll_ms);
	if (strcmp(t->state, "notified") == 0)
		put_u64(f, "woken_ms", t->woken_ms);
	put_counter(f, "wait_worst_ms", t->wait_worst_ms);
	if (strcmp(t->state, "idle") == 0)
		put_u64(f, "wakers", t->wakers);
}

static void task_line(FILE *f, const tdc_task *t)
{
	fprintf(f, "task %llu", (unsigned long long)t->id);
	if (t->name) {
		fputs(" name=", f);
		put_quoted(f, t->name);
	}
	if (t->block_on)
		fputs(" block_on=1", f);
	put_token(f, "state", t->state);
	if (t->queue)
		put_token(f, "queue", t->queue);
	put_u64(f, "queue_worker", t->queue_worker);
	put_u64(f, "polls", t->polls);
	put_u64(f, "idle_ms", t->idle_ms);
	put_u64(f, "worker", t->worker);
	task_counters(f, t);
	if (t->spawn_file) {
		put_token(f, "spawned", t->spawn_file);
		fprintf(f, ":%llu", (unsigned long long)t->spawn_line);
	}
	if (t->spawn_function)
		put_token(f, "in", t->spawn_function);
	if (t->type) {
		fputs(" type=", f);
		put_quoted(f, t->type);
	}
	put_edges(f, "waits_for", t->waits_for, t->nwaits_for);
	put_helds(f, t->holds, t->nholds);
	fputc('\n', f);
}

static void worker_lines(FILE *f, const tdc_worker *w)
{
	tdc_buf b = {0};

	fprintf(f, "worker %llu", (unsigned long long)w->index);
	put_token(f, "state", w->state);
	put_u64(f, "tid", w->tid);
	put_u64(f, "task", w->task);
	put_u64(f, "busy_ms", w->busy_ms);
	put_u64(f, "queued", w->queued);
	if (w->held_ms.v > 0) /* as the runtime writes it */
		put_f64(f, "held_ms", w->held_ms, false);
	if (w->syscall) {
		put_token(f, "syscall", w->syscall);
		put_u64(f, "syscall_fd", w->syscall_fd);
		if (w->syscall_fd_target) {
			fputs(" syscall_fd_target=", f);
			put_quoted(f, w->syscall_fd_target);
		}
		put_u64(f, "syscall_timeout_ms", w->syscall_timeout_ms);
	}
	if (w->stack_note && w->nstack) {
		fputs(" stack_note=", f);
		put_quoted(f, w->stack_note);
	}
	fputc('\n', f);
	if (w->nstack) {
		fprintf(f, "  native stack of worker %llu:\n",
			(unsigned long long)w->index);
		/* A plain list, innermost frame first. */
		for (size_t i = 0; i < w->nstack; i++) {
			b.len = 0;
			tdc_frame_text(w->stack[i], &b);
			fprintf(f, "  %s\n", b.p);
		}
	} else if (w->stack_error || strcmp(w->state, "busy") == 0) {
		fprintf(f, "  native stack of worker %llu unavailable: %s\n",
			(unsigned long long)w->index,
			w->stack_error ? w->stack_error : "unknown");
	}
	tdc_buf_free(&b);
}

static void runtime_line(FILE *f, const tdc_runtime *rt)
{
	fprintf(f, "runtime %llu", (unsigned long long)rt->id);
	if (rt->name) {
		fputs(" name=", f);
		put_quoted(f, rt->name);
	}
	if (rt->flavor)
		put_token(f, "flavor", rt->flavor);
	fprintf(f, " workers=%llu", rt->workers_declared.set ?
		(unsigned long long)rt->workers_declared.v :
		(unsigned long long)rt->nworkers);
	put_u64(f, "tasks", rt->tasks_total);
	put_u64(f, "traced", rt->traced);
	put_f64(f, "pause_ms", rt->pause_ms, false);
	if (rt->error) {
		fputs(" error=", f);
		put_quoted(f, rt->error);
	}
	fputc('\n', f);
}

/* The entry of group leader i: its task lines (the leader, then every
 * member in task order, following `next`), then the tree they share. */
static void entry(FILE *f, const tdc_runtime *rt, const size_t *next,
		  size_t i)
{
	const tdc_task *t = &rt->tasks[i];

	for (size_t k = i; k != SIZE_MAX; k = next[k])
		task_line(f, &rt->tasks[k]);
	if (!t->traced)
		fprintf(f, "not traced: %s\n",
			t->not_traced ? t->not_traced : "unknown");
	else
		print_traces(f, t);
	fputc('\n', f);
}

/* Link the members of each group in task order: next[i] is the next task
 * of i's group after i (SIZE_MAX: the last), so that every entry lists
 * its tasks in one pass over them, not over all later tasks.  `group`
 * (group[i] <= i, the leader) is reused for the groups' tails, so the
 * links take no more memory than one array. */
static size_t *link_groups(size_t *group, size_t n)
{
	size_t *next = tdc_xmalloc((n + 1) * sizeof(*next));

	for (size_t i = 0; i < n; i++) {
		size_t lead = group[i];

		next[i] = SIZE_MAX;
		if (lead != i) {
			/* group[lead] is the group's tail so far. */
			next[group[lead]] = i;
			group[lead] = i;
		}
	}
	return next;
}

/* The header lines and the blank line after them. */
static void header_lines(FILE *f, const tdc_dump *d)
{
	fputs("taskdump 1\n", f);
	if (d->pid.set)
		fprintf(f, "pid %llu\n", (unsigned long long)d->pid.v);
	if (d->program)
		fprintf(f, "program %s\n", d->program);
	if (d->time)
		fprintf(f, "time %s\n", d->time);
	if (d->mode)
		fprintf(f, "mode %s\n", d->mode);
	put_f64(f, "pause_ms", d->pause_ms, true);
	if (d->mode) /* the runtime writes both or neither */
		put_f64(f, "span_ms", d->span_ms, true);
	put_f64(f, "capture_ms", d->capture_ms, true);
	put_f64(f, "symbolize_ms", d->symbolize_ms, true);
	put_f64(f, "total_ms", d->total_ms, true);
	/* As the runtime writes it: only when something was dropped. */
	if (d->unconfirmed_deadlocks.v || d->unconfirmed_lost_wakeups.v)
		fprintf(f, "unconfirmed deadlocks=%llu lost_wakeups=%llu\n",
			(unsigned long long)d->unconfirmed_deadlocks.v,
			(unsigned long long)d->unconfirmed_lost_wakeups.v);
	fprintf(f, "runtimes %zu\ntasks %zu\n", d->nruntimes,
		tdc_dump_ntasks(d));
	deadlock_lines(f, d);
	task_warning_lines(f, d);
	for (size_t i = 0; i < d->nwarnings; i++)
		fprintf(f, "warning %s\n", d->warnings[i]);
	if (d->note)
		fprintf(f, "note %s\n", d->note);
	fputc('\n', f);
}

/* A runtime's line, its workers and the blank line after them. */
static void runtime_head(FILE *f, const tdc_runtime *rt)
{
	runtime_line(f, rt);
	for (size_t w = 0; w < rt->nworkers; w++)
		worker_lines(f, &rt->workers[w]);
	fputc('\n', f);
}

void tdc_write_text(FILE *f, const tdc_dump *d, bool group)
{
	header_lines(f, d);
	for (size_t r = 0; r < d->nruntimes; r++) {
		const tdc_runtime *rt = &d->runtimes[r];
		size_t *g, *next;

		runtime_head(f, rt);
		if (group) {
			g = tdc_group_tasks(rt);
		} else {
			g = tdc_xmalloc((rt->ntasks + 1) * sizeof(*g));
			for (size_t i = 0; i < rt->ntasks; i++)
				g[i] = i;
		}
		/* A leader is its own group: its slot keeps that mark
		 * (leader or a later member, both >= itself) when link_groups
		 * turns it into the tail; members' slots are left as they
		 * are.  So "g[i] >= i" still finds the leaders. */
		next = link_groups(g, rt->ntasks);
		for (size_t i = 0; i < rt->ntasks; i++)
			if (g[i] >= i)
				entry(f, rt, next, i);
		free(next);
		free(g);
	}
}

/* ---- the compact view ------------------------------------------------ */

/* At most this many id ranges are spelled out in a block's header. */
#define COMPACT_RANGES 8

/* A task the compact view lists with its own line: it holds a lock or a
 * warning names it (what differs between the members of a group). */
static bool notable(const tdc_warning_index *warned, uint64_t rt_id,
		    const tdc_task *t)
{
	return t->nholds || tdc_warning_find(warned, rt_id, t->id, NULL);
}

/* "11-14, 20, 22-50" of the group's ids (ascending: tasks are in id
 * order), the first COMPACT_RANGES ranges, then ", ... (N more)". */
static void id_ranges(FILE *f, const tdc_runtime *rt, const size_t *next,
		      size_t lead)
{
	size_t ranges = 0, hidden = 0;

	for (size_t k = lead; k != SIZE_MAX;) {
		uint64_t from = rt->tasks[k].id, to = from;
		size_t n = 1, j = next[k];

		while (j != SIZE_MAX && rt->tasks[j].id == to + 1) {
			to++;
			n++;
			j = next[j];
		}
		if (ranges < COMPACT_RANGES) {
			fprintf(f, "%s%llu", ranges ? ", " : "",
				(unsigned long long)from);
			if (to > from)
				fprintf(f, "-%llu", (unsigned long long)to);
		} else {
			hidden += n;
		}
		ranges++;
		k = j;
	}
	if (hidden)
		fprintf(f, ", ... (%zu more)", hidden);
}

/* The block of a group of more than one task: "N tasks: <ids>", what
 * they share (name, state) or how they differ (idle times), each notable
 * member's own task line, then the tree once. */
static void compact_block(FILE *f, const tdc_warning_index *warned,
			  const tdc_runtime *rt, const size_t *next,
			  size_t lead, size_t n)
{
	const tdc_task *t0 = &rt->tasks[lead];
	bool same_name = true, same_state = true;
	uint64_t lo = UINT64_MAX, hi = 0;

	for (size_t k = lead; k != SIZE_MAX; k = next[k]) {
		const tdc_task *t = &rt->tasks[k];

		bool name_eq = t->name && t0->name
				       ? strcmp(t->name, t0->name) == 0
				       : t->name == t0->name;
		if (!name_eq)
			same_name = false;
		if (strcmp(t->state, t0->state) != 0)
			same_state = false;
		if (t->idle_ms.set) {
			lo = t->idle_ms.v < lo ? t->idle_ms.v : lo;
			hi = t->idle_ms.v > hi ? t->idle_ms.v : hi;
		}
	}
	fprintf(f, "%zu tasks: ", n);
	id_ranges(f, rt, next, lead);
	if (same_name && t0->name) {
		fputs(" name=", f);
		put_quoted(f, t0->name);
	}
	if (same_state)
		put_token(f, "state", t0->state);
	if (lo == hi)
		fprintf(f, " idle_ms=%llu", (unsigned long long)lo);
	else if (lo < hi)
		fprintf(f, " idle_ms=%llu..%llu", (unsigned long long)lo,
			(unsigned long long)hi);
	put_edges(f, "waits_for", t0->waits_for, t0->nwaits_for);
	fputc('\n', f);
	for (size_t k = lead; k != SIZE_MAX; k = next[k])
		if (notable(warned, rt->id, &rt->tasks[k]))
			task_line(f, &rt->tasks[k]);
	print_traces(f, t0);
	fputc('\n', f);
}

void tdc_write_compact(FILE *f, const tdc_dump *d)
{
	tdc_warning_index warned;

	tdc_warning_index_init(&warned, d, NULL);
	header_lines(f, d);
	for (size_t r = 0; r < d->nruntimes; r++) {
		const tdc_runtime *rt = &d->runtimes[r];
		size_t *g = tdc_group_tasks(rt), *next;

		runtime_head(f, rt);
		next = link_groups(g, rt->ntasks);
		for (size_t i = 0; i < rt->ntasks; i++) {
			size_t n = 0;

			if (g[i] < i)
				continue; /* a member, in its leader's block */
			/* Its size by its chain (no array of sizes: memory,
			 * README "Conventions"); each chain is walked once. */
			for (size_t k = i; k != SIZE_MAX; k = next[k])
				n++;
			if (n > 1)
				compact_block(f, &warned, rt, next, i, n);
			else
				entry(f, rt, next, i);
		}
		free(next);
		free(g);
	}
	tdc_warning_index_free(&warned);
}

/* ---- grouping -------------------------------------------------------- */

size_t *tdc_group_tasks(const tdc_runtime *rt)
{
	size_t n = rt->ntasks, cap = 16;
	size_t *g = tdc_xmalloc((n + 1) * sizeof(*g));
	uint32_t *table;

	/* Load at most 0.8, 32-bit slots: the table is the peak of the
	 * memory `show` needs beyond the model (README: less than the text
	 * dump; at 100 000 tasks 2 MB were the 3% over). */
	while (cap < n + n / 4)
		cap *= 2;
	if (n >= UINT32_MAX)
		tdc_die(TDC_EXIT_SYSTEM, "out of memory");
	/* Open addressing over task indexes + 1 (0: empty slot). */
	table = tdc_xcalloc(cap, sizeof(*table));
	for (size_t i = 0; i < n; i++) {
		const tdc_task *t = &rt->tasks[i];
		size_t h;

		g[i] = i;
		/* As the runtime groups: every traced task, also one that
		 * reached no leaf (no traces: all equal). */
		if (!t->traced)
			continue;
		for (h = tdc_task_hash(t) & (cap - 1); table[h];
		     h = (h + 1) & (cap - 1)) {
			const tdc_task *o = &rt->tasks[table[h] - 1];

			if (tdc_task_traces_equal(o, t)) {
				g[i] = table[h] - 1;
				break;
			}
		}
		if (!table[h])
			table[h] = (uint32_t)(i + 1);
	}
	free(table);
	return g;
}
