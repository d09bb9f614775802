/* write_text.c - a dump as text (README.md (dump file formats), "Text format").
 *
 * Layout, every line ending in '\n':
 *
 *   header lines, blank line,
 *   per runtime: its `runtime` line, its `worker` lines (a busy worker's
 *   native stack below it), a blank line, then its task entries, each
 *   ending in a blank line.
 *
 * So every runtime block ends in exactly one blank line, and a runtime
 * without tasks is just its header lines and a blank line.
 *
 * Grouping (td_write_options.group) is decided per runtime with a hash
 * table over the tasks' traces: a group is printed where its first task
 * stands, its members' task lines one after the other in task order,
 * followed by the first task's tree.  Tasks that were not traced are never
 * grouped (each has its own reason).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/tree.h"
#include "trace/write_buf.h"
#include "trace/write_cache.h"

#define NONE UINT32_MAX

const char *td_dump_task_state_name(td_dump_task_state s)
{
	switch (s) {
	case TD_DUMP_IDLE:
		return "idle";
	case TD_DUMP_NOTIFIED:
		return "notified";
	case TD_DUMP_RUNNING:
		return "running";
	case TD_DUMP_CANCELLED:
		return "cancelled";
	case TD_DUMP_COMPLETE:
		return "complete";
	}
	return "unknown";
}

const char *td_dump_queue_name(td_dump_queue q)
{
	switch (q) {
	case TD_DUMP_QUEUE_NONE:
		return "none";
	case TD_DUMP_QUEUE_LIFO:
		return "lifo";
	case TD_DUMP_QUEUE_LOCAL:
		return "local";
	case TD_DUMP_QUEUE_INJECT:
		return "inject";
	case TD_DUMP_QUEUE_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}

/* ---- header, runtime and worker lines ------------------------------- */

/* A header time: three decimals, "0.000" when not a finite number. */
static void put_ms(struct td_wbuf *b, double ms)
{
	if (!td_wbuf_ms3(b, ms))
		td_wbuf_lit(b, "0.000");
}

static void put_quoted(struct td_wbuf *b, const char *key, size_t klen,
		       const char *s);

/* ---- the diagnosis (README.md, "Wait-for graph and deadlocks") ------ */

/* "task 4: mutex 0x... held" or "nobody: oneshot 0x... no sender left". */
static void put_edge(struct td_wbuf *b, const td_dump_edge *e)
{
	if (e->has_task) {
		td_wbuf_lit(b, "task ");
		td_wbuf_u64(b, e->task_id);
	} else {
		td_wbuf_lit(b, "nobody");
	}
	td_wbuf_lit(b, ": ");
	td_wbuf_text(b, e->why ? e->why : "unknown", TD_ESC_QUOTED);
}

/* "mutex 0x... held 120 ms, 2 waiting", "semaphore 0x... 2 permits held
 * 120 ms, 1 waiting[, 3 more held by others]" */
static void put_held(struct td_wbuf *b, const td_dump_held *h)
{
	td_wbuf_text(b, td_wait_kind_name(h->kind), TD_ESC_QUOTED);
	td_wbuf_putc(b, ' ');
	td_wbuf_hex(b, (uint64_t)(uintptr_t)h->object);
	if (h->kind == TD_WAIT_SEMAPHORE) {
		td_wbuf_putc(b, ' ');
		td_wbuf_u64(b, h->permits);
		if (h->permits == 1)
			td_wbuf_lit(b, " permit");
		else
			td_wbuf_lit(b, " permits");
	}
	td_wbuf_lit(b, " held ");
	td_wbuf_u64(b, h->held_ms);
	td_wbuf_lit(b, " ms, ");
	td_wbuf_u64(b, h->waiters);
	td_wbuf_lit(b, " waiting");
	if (h->kind == TD_WAIT_SEMAPHORE && h->others) {
		td_wbuf_lit(b, ", ");
		td_wbuf_u64(b, h->others);
		td_wbuf_lit(b, " more held by others");
	}
}

/* ` holds="...; ..."`, when the task holds anything. */
static void put_holds(struct td_wbuf *b, const td_dump_task *t)
{
	if (!t->holds || !t->nholds)
		return;
	td_wbuf_lit(b, " holds=\"");
	for (size_t i = 0; i < t->nholds; i++) {
		if (i)
			td_wbuf_lit(b, "; ");
		put_held(b, &t->holds[i]);
	}
	td_wbuf_putc(b, '"');
}

/* ` waits_for="...; ..."`, when the task waits for anyone. */
static void put_waits_for(struct td_wbuf *b, const td_dump_task *t)
{
	if (!t->waits_for || !t->nwaits_for)
		return;
	td_wbuf_lit(b, " waits_for=\"");
	for (size_t i = 0; i < t->nwaits_for; i++) {
		if (i)
			td_wbuf_lit(b, "; ");
		put_edge(b, &t->waits_for[i]);
	}
	td_wbuf_putc(b, '"');
}

/* "deadlocks N", then per member of deadlock k (from 1):
 * `deadlock k task=ID[ name="..."][ holds="..."] waits_for="<edge>"`. */
static void put_deadlocks(struct td_wbuf *b, const td_dump *d)
{
	if (!d->deadlocks || !d->ndeadlocks)
		return;
	td_wbuf_lit(b, "\ndeadlocks ");
	td_wbuf_u64(b, d->ndeadlocks);
	for (size_t k = 0; k < d->ndeadlocks; k++) {
		const td_dump_deadlock *dl = &d->deadlocks[k];
		for (size_t i = 0; i < dl->ntasks; i++) {
			const td_dump_task *t = dl->tasks[i];
			td_wbuf_lit(b, "\ndeadlock ");
			td_wbuf_u64(b, k + 1);
			td_wbuf_lit(b, " task=");
			td_wbuf_u64(b, t->id);
			if (t->name) {
				td_wbuf_lit(b, " name=\"");
				td_wbuf_text(b, t->name, TD_ESC_QUOTED);
				td_wbuf_putc(b, '"');
			}
			put_holds(b, t);
			td_wbuf_lit(b, " waits_for=\"");
			put_edge(b, &t->waits_for[dl->edges[i]]);
			td_wbuf_putc(b, '"');
		}
	}
}

/* "task_warnings N[ listed=M]", then one line per warning listed:
 * `task_warning <severity> <kind> runtime=R task=ID[ name="..."]
 * evidence="..."`. */
static void put_task_warnings(struct td_wbuf *b, const td_dump *d)
{
	if (!d->ntask_warnings_found)
		return;
	td_wbuf_lit(b, "\ntask_warnings ");
	td_wbuf_u64(b, d->ntask_warnings_found);
	if (d->ntask_warnings < d->ntask_warnings_found) {
		td_wbuf_lit(b, " listed=");
		td_wbuf_u64(b, d->ntask_warnings);
	}
	for (size_t i = 0; d->task_warnings && i < d->ntask_warnings; i++) {
		const td_dump_warning *w = &d->task_warnings[i];
		td_wbuf_lit(b, "\ntask_warning ");
		td_wbuf_text(b, td_dump_warning_severity(w->kind),
			     TD_ESC_TOKEN);
		td_wbuf_putc(b, ' ');
		td_wbuf_text(b, td_dump_warning_kind_name(w->kind),
			     TD_ESC_TOKEN);
		td_wbuf_lit(b, " runtime=");
		td_wbuf_u64(b, w->runtime_id);
		td_wbuf_lit(b, " task=");
		td_wbuf_u64(b, w->task->id);
		if (w->task->name)
			put_quoted(b, " name=", 6, w->task->name);
		put_quoted(b, " evidence=", 10, w->evidence);
	}
}

static void put_header(struct td_wbuf *b, const td_dump *d)
{
	td_wbuf_lit(b, "taskdump ");
	td_wbuf_u64(b, TD_DUMP_FORMAT_VERSION);
	td_wbuf_lit(b, "\npid ");
	td_wbuf_i64(b, d->pid);
	td_wbuf_lit(b, "\nprogram ");
	td_wbuf_text(b, d->program ? d->program : "?", TD_ESC_FREE);
	td_wbuf_lit(b, "\ntime ");
	td_wbuf_time(b, d->time_unix_ms);
	if (d->mode) {
		td_wbuf_lit(b, "\nmode ");
		td_wbuf_text(b, d->mode, TD_ESC_FREE);
	}
	td_wbuf_lit(b, "\npause_ms ");
	put_ms(b, d->pause_ms);
	if (d->mode) {
		td_wbuf_lit(b, "\nspan_ms ");
		put_ms(b, d->span_ms);
	}
	td_wbuf_lit(b, "\ncapture_ms ");
	put_ms(b, d->capture_ms);
	td_wbuf_lit(b, "\nsymbolize_ms ");
	put_ms(b, d->symbolize_ms);
	td_wbuf_lit(b, "\ntotal_ms ");
	put_ms(b, d->total_ms);
	if (d->unconfirmed_deadlocks || d->unconfirmed_lost_wakeups) {
		td_wbuf_lit(b, "\nunconfirmed deadlocks=");
		td_wbuf_u64(b, d->unconfirmed_deadlocks);
		td_wbuf_lit(b, " lost_wakeups=");
		td_wbuf_u64(b, d->unconfirmed_lost_wakeups);
	}
	td_wbuf_lit(b, "\nruntimes ");
	td_wbuf_u64(b, d->runtimes ? d->nruntimes : 0);
	td_wbuf_lit(b, "\ntasks ");
	td_wbuf_u64(b, d->ntasks);
	put_deadlocks(b, d);
	put_task_warnings(b, d);
	for (size_t i = 0; d->warnings && i < d->nwarnings; i++) {
		td_wbuf_lit(b, "\nwarning ");
		td_wbuf_text(b, d->warnings[i], TD_ESC_FREE);
	}
	td_wbuf_lit(b, "\n\n");
}

static void put_quoted(struct td_wbuf *b, const char *key, size_t klen,
		       const char *s)
{
	td_wbuf_put(b, key, klen);
	td_wbuf_putc(b, '"');
	td_wbuf_text(b, s, TD_ESC_QUOTED);
	td_wbuf_putc(b, '"');
}

static void put_runtime_line(struct td_wbuf *b, const td_dump_runtime *rt)
{
	td_wbuf_lit(b, "runtime ");
	td_wbuf_u64(b, rt->id);
	if (rt->name)
		put_quoted(b, " name=", 6, rt->name);
	if (rt->flavor) {
		td_wbuf_lit(b, " flavor=");
		td_wbuf_text(b, rt->flavor, TD_ESC_TOKEN);
	}
	td_wbuf_lit(b, " workers=");
	td_wbuf_u64(b, rt->workers ? rt->nworkers : 0);
	td_wbuf_lit(b, " tasks=");
	td_wbuf_u64(b, rt->tasks ? rt->ntasks : 0);
	td_wbuf_lit(b, " traced=");
	td_wbuf_u64(b, rt->traced);
	td_wbuf_lit(b, " pause_ms=");
	put_ms(b, rt->pause_ms);
	if (rt->error)
		put_quoted(b, " error=", 7, rt->error);
	td_wbuf_putc(b, '\n');
}

static const char *worker_state(const td_dump_worker *w)
{
	if (w->state)
		return w->state;
	return w->paused ? "paused" : "unknown";
}

static bool worker_busy(const td_dump_worker *w)
{
	return w->state && strcmp(w->state, "busy") == 0;
}

/* A busy worker's native stack, innermost frame first, a list (not a
 * tree): each line is two spaces and the frame syntax. */
static void put_native_stack(struct td_wbuf *b, const td_dump_worker *w)
{
	size_t i;

	td_wbuf_lit(b, "  native stack of worker ");
	td_wbuf_u64(b, w->index);
	if (!w->stack || w->nstack == 0) {
		td_wbuf_lit(b, " unavailable: ");
		td_wbuf_text(b, w->stack_error ? w->stack_error : "unknown",
			     TD_ESC_FREE);
		td_wbuf_putc(b, '\n');
		return;
	}
	td_wbuf_lit(b, ":\n");
	for (i = 0; i < w->nstack; i++) {
		td_wbuf_lit(b, "  ");
		td_wbuf_frame_cached(b, &w->stack[i]);
		td_wbuf_putc(b, '\n');
	}
}

static void put_worker(struct td_wbuf *b, const td_dump_worker *w)
{
	bool busy = worker_busy(w);

	td_wbuf_lit(b, "worker ");
	td_wbuf_u64(b, w->index);
	td_wbuf_lit(b, " state=");
	td_wbuf_text(b, worker_state(w), TD_ESC_TOKEN);
	if (w->tid != 0) {
		td_wbuf_lit(b, " tid=");
		td_wbuf_i64(b, w->tid);
	}
	if (busy) {
		td_wbuf_lit(b, " task=");
		td_wbuf_u64(b, w->task_id);
		td_wbuf_lit(b, " busy_ms=");
		td_wbuf_u64(b, w->busy_ms);
	}
	td_wbuf_lit(b, " queued=");
	td_wbuf_u64(b, w->queued);
	if (w->held_ms > 0) {
		td_wbuf_lit(b, " held_ms=");
		put_ms(b, w->held_ms);
	}
	if (busy && w->syscall) {
		td_wbuf_lit(b, " syscall=");
		td_wbuf_text(b, w->syscall, TD_ESC_TOKEN);
		if (w->syscall_fd >= 0) {
			td_wbuf_lit(b, " syscall_fd=");
			td_wbuf_i64(b, w->syscall_fd);
		}
		if (w->syscall_fd_target)
			put_quoted(b, " syscall_fd_target=", 19,
				   w->syscall_fd_target);
		if (w->syscall_timeout_ms >= 0) {
			td_wbuf_lit(b, " syscall_timeout_ms=");
			td_wbuf_i64(b, w->syscall_timeout_ms);
		}
	}
	if (busy && w->stack_note && w->stack && w->nstack > 0)
		put_quoted(b, " stack_note=", 12, w->stack_note);
	td_wbuf_putc(b, '\n');
	if (busy || (w->stack && w->nstack > 0))
		put_native_stack(b, w);
}

/* ---- task entries ---------------------------------------------------- */

/* " spawned=file:line in=function type=\"...\"", each part when known. */
static void put_spawned(struct td_wbuf *b, const void *arg)
{
	const td_dump_task *t = arg;

	if (t->spawn_file) {
		td_wbuf_lit(b, " spawned=");
		td_wbuf_text(b, td_dump_file_name(t->spawn_file), TD_ESC_TOKEN);
		td_wbuf_putc(b, ':');
		td_wbuf_i64(b, t->spawn_line > 0 ? t->spawn_line : 0);
	}
	if (t->spawn_function) {
		td_wbuf_lit(b, " in=");
		td_wbuf_text(b, t->spawn_function, TD_ESC_TOKEN);
	}
	if (t->type_name)
		put_quoted(b, " type=", 6, t->type_name);
}

static void put_count(struct td_wbuf *b, const char *key, size_t klen,
		      uint64_t v)
{
	td_wbuf_put(b, key, klen);
	td_wbuf_u64(b, v);
}

/* The counters a reader of the text needs most (README.md, "Task
 * counters"), each only where it says something: busy_ms,
 * slowest_poll_ms and wait_worst_ms when not 0, woken_ms for
 * a notified task, wakers for an idle one. */
static void put_counters(struct td_wbuf *b, const td_dump_task *t)
{
	if (t->is_block_on)
		return;
	if (t->busy_ms)
		put_count(b, " busy_ms=", 9, t->busy_ms);
	if (t->slowest_poll_ms)
		put_count(b, " slowest_poll_ms=", 17, t->slowest_poll_ms);
	if (t->state == TD_DUMP_NOTIFIED)
		put_count(b, " woken_ms=", 10, t->woken_ms);
	if (t->wait_worst_ms)
		put_count(b, " wait_worst_ms=", 15, t->wait_worst_ms);
	if (t->state == TD_DUMP_IDLE && t->wakers >= 0)
		put_count(b, " wakers=", 8, (uint64_t)t->wakers);
}

static void put_task_line(struct td_wbuf *b, const td_dump_task *t)
{
	td_wbuf_lit(b, "task ");
	td_wbuf_u64(b, t->id);
	if (t->name)
		put_quoted(b, " name=", 6, t->name);
	if (t->is_block_on)
		td_wbuf_lit(b, " block_on=1");
	td_wbuf_lit(b, " state=");
	td_wbuf_text(b, td_dump_task_state_name(t->state), TD_ESC_TOKEN);
	if (t->queue != TD_DUMP_QUEUE_NONE) {
		td_wbuf_lit(b, " queue=");
		td_wbuf_text(b, td_dump_queue_name(t->queue), TD_ESC_TOKEN);
		if ((t->queue == TD_DUMP_QUEUE_LIFO ||
		     t->queue == TD_DUMP_QUEUE_LOCAL) && t->queue_worker >= 0) {
			td_wbuf_lit(b, " queue_worker=");
			td_wbuf_i64(b, t->queue_worker);
		}
	}
	td_wbuf_lit(b, " polls=");
	td_wbuf_u64(b, t->polls);
	td_wbuf_lit(b, " idle_ms=");
	td_wbuf_u64(b, t->idle_ms);
	if (t->worker >= 0) {
		td_wbuf_lit(b, " worker=");
		td_wbuf_i64(b, t->worker);
	}
	put_counters(b, t);
	if (t->spawn_file || t->spawn_function || t->type_name) {
		/* Most tasks come from a few spawn sites, of a few types. */
		static const char tag; /* tells this key from a frame's */
		struct td_wcache_key k = {
			{t->spawn_file, t->spawn_function, &tag},
			(uint64_t)(uint32_t)t->spawn_line,
			(uint64_t)(uintptr_t)t->type_name, 0,
		};
		td_wbuf_cached(b, &k, put_spawned, t);
	}
	put_waits_for(b, t);
	put_holds(b, t);
	td_wbuf_putc(b, '\n');
}

/* The tree (or the `not traced` line) below an entry's task lines. */
static int put_task_body(struct td_tree *tree, struct td_wbuf *b,
			 const td_dump_task *t)
{
	if (!t->traced) {
		td_wbuf_lit(b, "not traced: ");
		td_wbuf_text(b, t->not_traced ? t->not_traced : "unknown",
			     TD_ESC_FREE);
		td_wbuf_putc(b, '\n');
		return 0;
	}
	return td_tree_write(tree, b, t->traces, t->traces ? t->ntraces : 0);
}

/* ---- grouping -------------------------------------------------------- */

static size_t task_ntraces(const td_dump_task *t)
{
	return t->traces ? t->ntraces : 0;
}

static uint64_t task_hash(const td_dump_task *t, struct td_str_memo *memo)
{
	size_t n = task_ntraces(t), i, j;
	uint64_t h = n * 0x9e3779b97f4a7c15ull;

	for (i = 0; i < n; i++) {
		const td_dump_trace *tr = &t->traces[i];
		size_t nf = tr->frames ? tr->nframes : 0;

		h = (h ^ (nf << 8 | (uint64_t)tr->truncated << 7 |
			  (uint64_t)tr->wait.kind)) * 0xff51afd7ed558ccdull;
		h = (h ^ (uint64_t)(uintptr_t)tr->wait.object) *
		    0xc4ceb9fe1a85ec53ull;
		for (j = 0; j < nf; j++)
			h = (h ^ td_dump_frame_hash(&tr->frames[j], memo)) *
			    0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

static bool traces_equal(const td_dump_trace *a, const td_dump_trace *b)
{
	size_t na = a->frames ? a->nframes : 0;
	size_t nb = b->frames ? b->nframes : 0;
	size_t j;

	if (na != nb || a->truncated != b->truncated ||
	    a->wait.kind != b->wait.kind || a->wait.object != b->wait.object)
		return false;
	for (j = 0; j < na; j++)
		if (!td_dump_frame_eq(&a->frames[j], &b->frames[j]))
			return false;
	return true;
}

static bool tasks_equal(const td_dump_task *a, const td_dump_task *b)
{
	size_t n = task_ntraces(a), i;

	if (n != task_ntraces(b))
		return false;
	for (i = 0; i < n; i++)
		if (!traces_equal(&a->traces[i], &b->traces[i]))
			return false;
	return true;
}

/* Groups of one runtime's tasks: next[i] is the member after task i in
 * its group; member[i] is true for a task printed with an earlier one. */
struct groups {
	uint32_t *next;
	uint32_t *last;   /* of a group, kept at its first task */
	uint64_t *hash;
	uint32_t *slots;
	bool *member;
};

static void groups_free(struct groups *g)
{
	free(g->next);
	free(g->last);
	free(g->hash);
	free(g->slots);
	free(g->member);
}

static int groups_build(struct groups *g, const td_dump_task *tasks,
			uint32_t n)
{
	uint32_t nslots = 16, i, s, j;
	struct td_str_memo *memo = calloc(1, sizeof(*memo));

	while (nslots / 2 < n)
		nslots *= 2;
	g->next = malloc(n * sizeof(*g->next));
	g->last = malloc(n * sizeof(*g->last));
	g->hash = malloc(n * sizeof(*g->hash));
	g->slots = malloc(nslots * sizeof(*g->slots));
	g->member = calloc(n, sizeof(*g->member));
	if (!g->next || !g->last || !g->hash || !g->slots || !g->member ||
	    !memo) {
		free(memo);
		return -ENOMEM;
	}
	memset(g->slots, 0xff, nslots * sizeof(*g->slots));
	for (i = 0; i < n; i++) {
		g->next[i] = NONE;
		if (!tasks[i].traced)
			continue;
		uint64_t h = task_hash(&tasks[i], memo);
		for (s = (uint32_t)h & (nslots - 1); (j = g->slots[s]) != NONE;
		     s = (s + 1) & (nslots - 1)) {
			if (g->hash[j] == h && tasks_equal(&tasks[j], &tasks[i]))
				break;
		}
		if (j == NONE) {
			g->slots[s] = i;
			g->hash[i] = h;
			g->last[i] = i;
		} else {
			g->next[g->last[j]] = i;
			g->last[j] = i;
			g->member[i] = true;
		}
	}
	free(memo);
	return 0;
}

/* ---- the whole dump -------------------------------------------------- */

static int put_tasks(struct td_tree *tree, struct td_wbuf *b,
		     const td_dump_runtime *rt, bool group)
{
	struct groups g = {0};
	uint32_t n = (uint32_t)(rt->tasks ? rt->ntasks : 0), i, j;
	int err = 0;

	if (rt->tasks && rt->ntasks > (1u << 30))
		return -ENOMEM; /* indices (and hash slots) are 32-bit */
	if (group && n > 1)
		err = groups_build(&g, rt->tasks, n);
	for (i = 0; i < n && !err && !td_wbuf_failed(b); i++) {
		if (g.member && g.member[i])
			continue; /* printed with its group */
		put_task_line(b, &rt->tasks[i]);
		for (j = g.next ? g.next[i] : NONE; j != NONE; j = g.next[j])
			put_task_line(b, &rt->tasks[j]);
		err = put_task_body(tree, b, &rt->tasks[i]);
		td_wbuf_putc(b, '\n');
	}
	groups_free(&g);
	return err;
}

static int put_runtime(struct td_tree *tree, struct td_wbuf *b,
		       const td_dump_runtime *rt, bool group)
{
	size_t i;

	put_runtime_line(b, rt);
	for (i = 0; rt->workers && i < rt->nworkers; i++)
		put_worker(b, &rt->workers[i]);
	td_wbuf_putc(b, '\n');
	return put_tasks(tree, b, rt, group);
}

int td_dump_write_text(const td_dump *d, FILE *f,
		       const td_write_options *opts)
{
	bool group = opts && opts->group;
	struct td_wcache cache;
	struct td_wbuf b;
	struct td_tree tree;
	size_t i;
	int err, werr;

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
	td_tree_init(&tree);
	put_header(&b, d);
	for (i = 0; d->runtimes && i < d->nruntimes && !err; i++) {
		if (td_wbuf_failed(&b))
			break;
		err = put_runtime(&tree, &b, &d->runtimes[i], group);
	}
	td_tree_release(&tree);
	td_wcache_free(&cache);
	werr = td_wbuf_finish(&b);
	return err ? err : werr;
}
