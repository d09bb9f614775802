/* diagnose.c - the wait-for graph, held locks and deadlocks of a dump
 * (trace/diagnose.h).
 *
 * Only the entries whose traces have a wait that may give an edge are
 * visited (the builder lists them while it assembles the traces): a dump
 * of 100 000 sleeping tasks costs nothing here.  Steps, each linear (or
 * n log n) in those entries and their traces:
 *  1. nodes: those entries with an id (block_on futures wait, but no one
 *     can wait for them), sorted by id; any other task may be waited for,
 *     but waits for nothing, so it can always go on;
 *  2. mutex waits grouped by mutex: the holder (the task it was handed to,
 *     else the holder its waiters name), since when, how many wait; then
 *     the locks the registries showed held during the pause (a mutex no
 *     wait names, semaphore permits), each with the waits on it;
 *  3. each entry's edges, in trace order, without duplicates (a
 *     semaphore wait: one to each of its holders, when all its permits
 *     out are attributed to tasks);
 *  4. Tarjan's strongly connected components over the candidates (see the
 *     header), iteratively (chains may be 100 000 tasks long): a component
 *     is dead when every edge of every member stays in it or reaches a
 *     component found dead before (Tarjan emits a component after every
 *     component it reaches);
 *  5. per dead component with a cycle, cycles found by breadth-first
 *     search until every member is on one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskdump/semaphore.h"
#include "trace/diagnose.h"

#define NONE UINT32_MAX

struct node {
	td_dump_task *task;
	uint32_t first, n;  /* its edges to other nodes: tg[first..+n) */
	uint32_t index, low;/* Tarjan; index NONE: not visited */
	uint32_t scc;       /* component number once emitted, else NONE */
	bool candidate, on_stack, dead, covered;
};

/* One mutex wait, in the order of the entries and their traces. */
struct lockrec {
	const td_dump_trace *tr;
	const td_dump_task *waiter;
	const char *why;    /* shared by the waits on one mutex */
	uint32_t seq;
};

struct diag {
	td_dump *d;
	const struct td_held_note *held; /* the registries' locks */
	size_t nheld;
	const struct td_held_note **sems; /* the semaphore ones, by object */
	size_t nsems;
	const td_dump_trace **semwaits;   /* semaphore waits, by object */
	size_t nsemwaits;
	td_dump_task *const *list; /* the entries with such waits */
	size_t nlist;
	struct td_arena *arena;
	uint64_t now_ms;
	struct node *nodes;
	uint32_t nnodes;
	uint32_t *tg;       /* edge targets (node indices) */
	uint32_t *slot;     /* ... and each one's index in waits_for */
	uint32_t ntg, cap_tg;
	bool oom;
};

static int by_id(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	return (x->task->id > y->task->id) - (x->task->id < y->task->id);
}

static uint32_t find_node(const struct diag *g, uint64_t id)
{
	uint32_t lo = 0, hi = g->nnodes;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t v = g->nodes[mid].task->id;
		if (v == id)
			return mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

static int collect_nodes(struct diag *g)
{
	if (g->nlist >= NONE)
		return -ENOMEM;
	g->nodes = calloc(g->nlist ? g->nlist : 1, sizeof(*g->nodes));
	if (!g->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < g->nlist; i++)
		if (!g->list[i]->is_block_on && g->list[i]->id)
			g->nodes[g->nnodes++].task = g->list[i];
	qsort(g->nodes, g->nnodes, sizeof(*g->nodes), by_id);
	return 0;
}

/* The task entry of runtime rt with this id (each runtime lists its
 * block_on futures first, then its tasks by id), or NULL. */
static td_dump_task *find_task_in(const td_dump_runtime *rt, uint64_t id)
{
	size_t lo = 0, hi = rt->tasks ? rt->ntasks : 0;
	while (lo < hi && rt->tasks[lo].is_block_on)
		lo++;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v = rt->tasks[mid].id;
		if (v == id)
			return &rt->tasks[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Any task entry of the dump with this id, or NULL. */
static td_dump_task *find_task(const struct diag *g, uint64_t id)
{
	for (size_t r = 0; r < g->d->nruntimes; r++) {
		td_dump_task *t = find_task_in(&g->d->runtimes[r], id);
		if (t)
			return t;
	}
	return NULL;
}

/* The runtime whose entry t is, or NULL. */
static const td_dump_runtime *runtime_of(const struct diag *g,
					 const td_dump_task *t)
{
	for (size_t r = 0; r < g->d->nruntimes; r++) {
		const td_dump_runtime *rt = &g->d->runtimes[r];
		if (rt->tasks && t >= rt->tasks && t < rt->tasks + rt->ntasks)
			return rt;
	}
	return NULL;
}

/* The registries' note of a held lock, when its holder is a task of the
 * runtime whose capture it was noted in (a stop-the-world dump walks the
 * registries in that runtime's pause, an incremental one after all its
 * tasks were looked at). */
static td_dump_task *held_holder(const struct td_held_note *h)
{
	return h->rt ? find_task_in(h->rt, h->f.holder) : NULL;
}

static int by_sem_object(const void *a, const void *b)
{
	const struct td_held_note *x = *(const struct td_held_note *const *)a;
	const struct td_held_note *y = *(const struct td_held_note *const *)b;
	uintptr_t p = (uintptr_t)x->f.object, q = (uintptr_t)y->f.object;
	if (p != q)
		return (p > q) - (p < q);
	return (x > y) - (x < y); /* noted order */
}

static int by_wait_object(const void *a, const void *b)
{
	uintptr_t p = (uintptr_t)(*(const td_dump_trace *const *)a)->wait.object;
	uintptr_t q = (uintptr_t)(*(const td_dump_trace *const *)b)->wait.object;
	return (p > q) - (p < q);
}

/* The first semaphore note on `object` (the others follow it), or
 * NONE. */
static size_t first_sem(const struct diag *g, const void *object)
{
	size_t lo = 0, hi = g->nsems;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)g->sems[mid]->f.object < (uintptr_t)object)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->nsems && g->sems[lo]->f.object == object ? lo : NONE;
}

static bool is_sem_wait(const td_dump_trace *tr)
{
	return tr->wait.kind == TD_WAIT_SEMAPHORE && tr->wait.object &&
	       !(tr->wait.flags & TD_WAIT_GRANTED);
}

/* How many waits of the dump wait for the semaphore `object`. */
static size_t sem_waiters(const struct diag *g, const void *object)
{
	size_t lo = 0, hi = g->nsemwaits, n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)g->semwaits[mid]->wait.object <
		    (uintptr_t)object)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < g->nsemwaits && g->semwaits[lo + n]->wait.object ==
						 object)
		n++;
	return n;
}

/* Step 0: the semaphore notes and waits, sorted by object. */
static int index_semaphores(struct diag *g)
{
	size_t nw = 0;
	for (size_t i = 0; i < g->nlist; i++)
		for (size_t k = 0; g->list[i]->traces && k < g->list[i]->ntraces;
		     k++)
			nw += is_sem_wait(&g->list[i]->traces[k]);
	g->sems = malloc((g->nheld ? g->nheld : 1) * sizeof(*g->sems));
	g->semwaits = malloc((nw ? nw : 1) * sizeof(*g->semwaits));
	if (!g->sems || !g->semwaits)
		return -ENOMEM;
	for (size_t i = 0; i < g->nheld; i++)
		if (g->held[i].f.kind == TD_WAIT_SEMAPHORE)
			g->sems[g->nsems++] = &g->held[i];
	qsort(g->sems, g->nsems, sizeof(*g->sems), by_sem_object);
	for (size_t i = 0; i < g->nlist; i++)
		for (size_t k = 0; g->list[i]->traces && k < g->list[i]->ntraces;
		     k++)
			if (is_sem_wait(&g->list[i]->traces[k]))
				g->semwaits[g->nsemwaits++] =
					&g->list[i]->traces[k];
	qsort(g->semwaits, g->nsemwaits, sizeof(*g->semwaits),
	      by_wait_object);
	return 0;
}

/* ---- held mutexes ---------------------------------------------------- */

static bool is_mutex_wait(const td_dump_trace *tr)
{
	return tr->wait.kind == TD_WAIT_MUTEX && tr->wait.object;
}

static int by_object(const void *a, const void *b)
{
	const struct lockrec *x = a, *y = b;
	uintptr_t p = (uintptr_t)x->tr->wait.object;
	uintptr_t q = (uintptr_t)y->tr->wait.object;
	if (p != q)
		return (p > q) - (p < q);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_seq(const void *a, const void *b)
{
	const struct lockrec *x = a, *y = b;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* One mutex's waits recs[0..n): who holds it, since when, how many wait.
 * A wait the lock was handed to names its holder best (it is the
 * holder); otherwise the first wait's reading of the holder. */
static void mutex_group(struct diag *g, struct lockrec *recs, size_t n,
			td_dump_task **holder_task, td_dump_held *held)
{
	const td_dump_trace *best = recs[0].tr;
	size_t waiters = 0;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].tr->wait.flags & TD_WAIT_GRANTED)
			best = recs[i].tr;
		else
			waiters++;
	}
	uint64_t holder = best->wait.task_id;
	if (best->wait.flags & TD_WAIT_GRANTED) {
		for (size_t i = 0; i < n; i++)
			if (recs[i].tr == best)
				holder = recs[i].waiter->id;
	}
	*holder_task = holder ? find_task(g, holder) : NULL;
	uint64_t since = best->wait.since_ms;
	*held = (td_dump_held){0};
	held->kind = TD_WAIT_MUTEX;
	held->object = best->wait.object;
	held->waiters = waiters;
	/* Wrapping milliseconds: right for locks held under 49 days. */
	held->held_ms = since ? (uint32_t)((uint32_t)g->now_ms - (uint32_t)since)
			      : 0;
	char why[64];
	snprintf(why, sizeof(why), "mutex %p held", best->wait.object);
	const char *copy = td_arena_strdup(g->arena, why);
	if (!copy)
		g->oom = true;
	for (size_t i = 0; i < n; i++)
		recs[i].why = copy ? copy : "mutex held";
}

struct holding {
	td_dump_task *task;
	td_dump_held held;
};

static int by_holder(const void *a, const void *b)
{
	const struct holding *x = a, *y = b;
	if (x->task != y->task)
		return (uintptr_t)x->task > (uintptr_t)y->task ? 1 : -1;
	uintptr_t p = (uintptr_t)x->held.object, q = (uintptr_t)y->held.object;
	return (p > q) - (p < q);
}

/* Milliseconds from `since` to `now` on the wrapping task clock. */
static uint64_t held_since(uint64_t now, uint32_t since)
{
	int32_t d = (int32_t)((uint32_t)now - since);
	return d > 0 ? (uint64_t)d : 0;
}

/* Whether a mutex wait of recs[0..n) (sorted by object) names `object`. */
static bool waited_for(const struct lockrec *recs, size_t n,
		       const void *object)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)recs[mid].tr->wait.object < (uintptr_t)object)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && recs[lo].tr->wait.object == object;
}

/* A lock from the registries: its holder task (of the noted runtime) and
 * what it holds, or false when that task is not in the dump. */
static bool noted_holding(const struct diag *g, const struct td_held_note *h,
			  struct holding *out)
{
	out->task = held_holder(h);
	if (!out->task)
		return false;
	out->held = (td_dump_held){
		.kind = h->f.kind,
		.object = h->f.object,
		/* Wrapping milliseconds, as for the waits; a lock taken
		 * after the clock was read (by a task on a worker that did
		 * not pause) is held 0 ms, not 49 days. */
		.held_ms = h->f.since ? held_since(g->now_ms, h->f.since) : 0,
		.waiters = h->f.kind == TD_WAIT_SEMAPHORE
				   ? sem_waiters(g, h->f.object)
				   : 0,
		.permits = h->f.permits,
		.others = h->f.others,
	};
	return true;
}

/* Step 2: fills every holder's `holds` (by object) and each record's
 * `why`.  The records come back in their original order. */
static int held_mutexes(struct diag *g, struct lockrec *recs, size_t n)
{
	if (n == 0 && g->nheld == 0)
		return 0;
	qsort(recs, n, sizeof(*recs), by_object);
	struct holding *hs = malloc((n + g->nheld ? n + g->nheld : 1) *
				    sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	size_t nh = 0;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && recs[j].tr->wait.object ==
						 recs[i].tr->wait.object;
		     j++)
			;
		mutex_group(g, &recs[i], j - i, &hs[nh].task, &hs[nh].held);
		if (hs[nh].task)
			nh++;
	}
	/* What the registries add: the mutexes no wait names (a mutex some
	 * task waits for is as its waits saw it, at their capture), and
	 * every semaphore's holders. */
	for (size_t i = 0; i < g->nheld; i++) {
		const struct td_held_note *h = &g->held[i];
		if (h->f.kind == TD_WAIT_MUTEX &&
		    waited_for(recs, n, h->f.object))
			continue;
		if (noted_holding(g, h, &hs[nh]))
			nh++;
	}
	/* Each holder's locks side by side, then one allocation each. */
	qsort(hs, nh, sizeof(*hs), by_holder);
	for (size_t i = 0, j; i < nh; i = j) {
		for (j = i + 1; j < nh && hs[j].task == hs[i].task; j++)
			;
		td_dump_task *t = hs[i].task;
		t->holds = td_arena_calloc(g->arena, j - i, sizeof(*t->holds));
		if (!t->holds) {
			g->oom = true;
			continue;
		}
		for (size_t k = i; k < j; k++)
			t->holds[t->nholds++] = hs[k].held;
	}
	free(hs);
	qsort(recs, n, sizeof(*recs), by_seq);
	return 0;
}

/* ---- edges ----------------------------------------------------------- */

/* The edge a trace gives, if any; `why_mutex` for a mutex wait. */
static bool trace_edge(struct diag *g, const td_dump_trace *tr,
		       const char *why_mutex, td_dump_edge *e)
{
	const td_wait *w = &tr->wait;
	char why[80];

	*e = (td_dump_edge){0};
	switch (w->kind) {
	case TD_WAIT_MUTEX:
		if ((w->flags & TD_WAIT_GRANTED) || !w->task_id)
			return false;
		*e = (td_dump_edge){true, w->task_id, why_mutex};
		return true;
	case TD_WAIT_JOIN:
		if (!w->task_id)
			return false;
		*e = (td_dump_edge){true, w->task_id, "join"};
		return true;
	case TD_WAIT_ONESHOT:
	case TD_WAIT_CHAN_RECV:
		if (!(w->flags & TD_WAIT_NO_SENDER))
			return false;
		if (w->object)
			snprintf(why, sizeof(why), "%s %p no sender left",
				 w->kind == TD_WAIT_ONESHOT ? "oneshot"
							    : "channel",
				 w->object);
		else
			snprintf(why, sizeof(why), "no sender left");
		e->why = td_arena_strdup(g->arena, why);
		if (!e->why) {
			g->oom = true;
			e->why = "no sender left";
		}
		return true;
	default:
		return false;
	}
}

static bool add_target(struct diag *g, uint32_t target, uint32_t slot)
{
	if (g->ntg == g->cap_tg) {
		uint32_t ncap = g->cap_tg ? 2 * g->cap_tg : 256;
		uint32_t *a = realloc(g->tg, ncap * sizeof(*a));
		if (a)
			g->tg = a;
		uint32_t *b = a ? realloc(g->slot, ncap * sizeof(*b)) : NULL;
		if (b)
			g->slot = b;
		if (!a || !b)
			return false;
		g->cap_tg = ncap;
	}
	g->tg[g->ntg] = target;
	g->slot[g->ntg++] = slot;
	return true;
}

static void add_edge(td_dump_edge *tmp, size_t *n, const td_dump_edge *e)
{
	for (size_t k = 0; k < *n; k++)
		if (tmp[k].has_task == e->has_task &&
		    tmp[k].task_id == e->task_id &&
		    strcmp(tmp[k].why, e->why) == 0)
			return;
	tmp[(*n)++] = *e;
}

/* A semaphore wait of task t: an edge to each task holding its permits,
 * when the registries (in t's runtime's pause) attributed every permit
 * out to a task and it is open.  Returns false when it gives none (then
 * someone not known may release permits: not a deadlock). */
static bool sem_edges(struct diag *g, const td_dump_task *t,
		      const td_dump_trace *tr, td_dump_edge *tmp, size_t *n)
{
	const td_dump_runtime *rt = runtime_of(g, t);
	size_t first = first_sem(g, tr->wait.object), count = 0;
	if (first == NONE || !rt)
		return false;
	for (size_t i = first; i < g->nsems && g->sems[i]->f.object ==
						       tr->wait.object;
	     i++) {
		const struct td_held_note *h = g->sems[i];
		if (h->rt != rt)
			continue;
		if (h->f.others || h->f.closed)
			return false;
		count++;
	}
	if (!count)
		return false;
	char why[64];
	snprintf(why, sizeof(why), "semaphore %p permits held",
		 tr->wait.object);
	const char *copy = td_arena_strdup(g->arena, why);
	if (!copy) {
		g->oom = true;
		return false;
	}
	for (size_t i = first; i < g->nsems && g->sems[i]->f.object ==
						       tr->wait.object;
	     i++)
		if (g->sems[i]->rt == rt) {
			td_dump_edge e = {true, g->sems[i]->f.holder, copy};
			add_edge(tmp, n, &e);
		}
	return true;
}

/* Step 3 for one entry; `*rec` walks the mutex records in step. */
static int task_edges(struct diag *g, td_dump_task *t,
		      const struct lockrec *recs, size_t *rec,
		      td_dump_edge *tmp)
{
	size_t n = 0;
	bool all_wait_tasks = t->traced && t->state == TD_DUMP_IDLE &&
			      t->traces && t->ntraces > 0;

	for (size_t i = 0; t->traces && i < t->ntraces; i++) {
		const td_dump_trace *tr = &t->traces[i];
		if (is_sem_wait(tr)) {
			if (!sem_edges(g, t, tr, tmp, &n))
				all_wait_tasks = false;
			continue;
		}
		const char *why = is_mutex_wait(tr) ? recs[(*rec)++].why
						    : "mutex held";
		td_dump_edge e;
		if (!trace_edge(g, tr, why, &e) || !e.has_task) {
			all_wait_tasks = false;
			if (!e.why)
				continue;
		}
		add_edge(tmp, &n, &e);
	}
	if (n == 0)
		return 0;
	t->waits_for = td_arena_alloc(g->arena, n * sizeof(*t->waits_for));
	if (!t->waits_for)
		return -ENOMEM;
	memcpy(t->waits_for, tmp, n * sizeof(*tmp));
	t->nwaits_for = n;

	uint32_t v = t->is_block_on || !t->id ? NONE : find_node(g, t->id);
	if (v == NONE || g->nodes[v].task != t)
		return 0; /* a block_on future, or a duplicate id */
	struct node *nd = &g->nodes[v];
	nd->first = g->ntg;
	for (size_t k = 0; k < n; k++) {
		uint32_t w = tmp[k].has_task ? find_node(g, tmp[k].task_id)
					     : NONE;
		if (w == NONE) {
			all_wait_tasks = false; /* someone outside may act */
			continue;
		}
		if (!add_target(g, w, (uint32_t)k))
			return -ENOMEM;
	}
	nd->n = g->ntg - nd->first;
	nd->candidate = all_wait_tasks;
	return 0;
}

static int all_edges(struct diag *g)
{
	size_t nrec = 0, maxtr = 1;
	for (size_t i = 0; i < g->nlist; i++) {
		const td_dump_task *t = g->list[i];
		size_t nt = t->traces ? t->ntraces : 0;
		if (nt > maxtr)
			maxtr = nt;
		for (size_t k = 0; k < nt; k++)
			nrec += is_mutex_wait(&t->traces[k]);
	}
	struct lockrec *recs = malloc((nrec ? nrec : 1) * sizeof(*recs));
	/* A semaphore wait may give one edge per holder slot. */
	td_dump_edge *tmp = malloc(maxtr * TD_SEMAPHORE_HOLDERS * sizeof(*tmp));
	int err = recs && tmp ? 0 : -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; !err && i < g->nlist; i++) {
		const td_dump_task *t = g->list[i];
		for (size_t k = 0; t->traces && k < t->ntraces; k++)
			if (is_mutex_wait(&t->traces[k])) {
				recs[n] = (struct lockrec){&t->traces[k], t,
							   NULL, (uint32_t)n};
				n++;
			}
	}
	if (!err)
		err = held_mutexes(g, recs, n);
	size_t rec = 0;
	for (size_t i = 0; !err && i < g->nlist; i++)
		err = task_edges(g, g->list[i], recs, &rec, tmp);
	free(recs);
	free(tmp);
	return err;
}

/* ---- deadlocks ------------------------------------------------------- */

struct found {
	td_dump_deadlock *list;
	size_t n, cap;
};

/* Store the cycle cyc[0..k) (node indices; cyc[i] reaches cyc[i+1] by
 * edge es[i]) as a deadlock starting at its smallest id. */
static int add_deadlock(struct diag *g, struct found *f, const uint32_t *cyc,
			const uint32_t *es, size_t k)
{
	if (f->n == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 4;
		td_dump_deadlock *p = realloc(f->list, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		f->list = p;
		f->cap = ncap;
	}
	const td_dump_task **tasks = td_arena_alloc(g->arena,
						    k * sizeof(*tasks));
	size_t *edges = td_arena_alloc(g->arena, k * sizeof(*edges));
	if (!tasks || !edges)
		return -ENOMEM;
	size_t start = 0;
	for (size_t i = 1; i < k; i++)
		if (cyc[i] < cyc[start]) /* nodes are sorted by id */
			start = i;
	for (size_t i = 0; i < k; i++) {
		size_t j = (start + i) % k;
		tasks[i] = g->nodes[cyc[j]].task;
		edges[i] = g->slot[es[j]];
	}
	f->list[f->n++] = (td_dump_deadlock){tasks, edges, k};
	return 0;
}

/* Step 5 for a dead component: breadth-first from its smallest member
 * not yet on a cycle, back to that member, until all are covered (or
 * TD_DUMP_MAX_DEADLOCKS are listed: a task waiting for thousands that
 * each wait for it would otherwise cost their square).  `members` is
 * sorted by node index; prev_edge (all NONE between searches) and
 * prev_from have room for every node, `buf` for three per node. */
static int report_component(struct diag *g, struct found *f,
			    const uint32_t *members, size_t k, uint32_t scc,
			    uint32_t *prev_edge, uint32_t *prev_from,
			    uint32_t *buf)
{
	uint32_t n = g->nnodes;
	uint32_t *queue = buf, *cyc = buf + n, *es = buf + 2 * (size_t)n;

	for (size_t m = 0; m < k && f->n < TD_DUMP_MAX_DEADLOCKS; m++) {
		uint32_t u = members[m];
		if (g->nodes[u].covered)
			continue;
		size_t qh = 0, qt = 0;
		uint32_t last_edge = NONE, last_from = NONE;
		queue[qt++] = u;
		while (qh < qt && last_edge == NONE) {
			uint32_t v = queue[qh++];
			const struct node *nv = &g->nodes[v];
			for (uint32_t e = nv->first; e < nv->first + nv->n;
			     e++) {
				uint32_t w = g->tg[e];
				if (g->nodes[w].scc != scc)
					continue;
				if (w == u) {
					last_edge = e;
					last_from = v;
					break;
				}
				if (prev_edge[w] == NONE) {
					prev_edge[w] = e;
					prev_from[w] = v;
					queue[qt++] = w;
				}
			}
		}
		/* Walk back from the edge into u (always found: the
		 * component is strongly connected). */
		size_t len = 0;
		for (uint32_t e = last_edge, from = last_from;
		     last_edge != NONE;) {
			cyc[len] = from;
			es[len++] = e;
			if (from == u)
				break;
			e = prev_edge[from];
			from = prev_from[from];
		}
		for (size_t i = 0; i < qt; i++) /* what this search touched */
			prev_edge[queue[i]] = NONE;
		if (len == 0)
			continue;
		/* Reverse into walking order: u first. */
		for (size_t i = 0; i < len / 2; i++) {
			uint32_t t = cyc[i];
			cyc[i] = cyc[len - 1 - i];
			cyc[len - 1 - i] = t;
			t = es[i];
			es[i] = es[len - 1 - i];
			es[len - 1 - i] = t;
		}
		for (size_t i = 0; i < len; i++)
			g->nodes[cyc[i]].covered = true;
		if (add_deadlock(g, f, cyc, es, len) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* A component just emitted by Tarjan: members[0..k). */
static int component(struct diag *g, struct found *f, uint32_t *members,
		     size_t k, uint32_t scc, uint32_t *prev_edge,
		     uint32_t *prev_from, uint32_t *queue)
{
	bool dead = true, cycle = k > 1;
	for (size_t i = 0; i < k && dead; i++) {
		const struct node *nd = &g->nodes[members[i]];
		for (uint32_t e = nd->first; e < nd->first + nd->n; e++) {
			const struct node *w = &g->nodes[g->tg[e]];
			if (g->tg[e] == members[i])
				cycle = true;
			if (w->scc != scc && !w->dead) {
				dead = false;
				break;
			}
		}
	}
	if (!dead)
		return 0;
	for (size_t i = 0; i < k; i++)
		g->nodes[members[i]].dead = true;
	if (!cycle)
		return 0; /* blocked behind a deadlock, not part of one */
	qsort(members, k, sizeof(*members), cmp_u32);
	return report_component(g, f, members, k, scc, prev_edge, prev_from,
				queue);
}

struct frame {
	uint32_t v, e;
};

static int find_deadlocks(struct diag *g)
{
	uint32_t n = g->nnodes;
	struct found f = {0};
	struct frame *calls = malloc((n ? n : 1) * sizeof(*calls));
	uint32_t *stack = malloc((n ? n : 1) * sizeof(*stack));
	uint32_t *prev_edge = malloc((n ? n : 1) * sizeof(*prev_edge));
	uint32_t *prev_from = malloc((n ? n : 1) * sizeof(*prev_from));
	uint32_t *queue = malloc(3 * (size_t)(n ? n : 1) * sizeof(*queue));
	uint32_t *members = malloc((n ? n : 1) * sizeof(*members));
	int err = calls && stack && prev_edge && prev_from && queue &&
				  members
			  ? 0
			  : -ENOMEM;
	uint32_t counter = 0, sp = 0, nscc = 0;

	for (uint32_t i = 0; !err && i < n; i++) {
		g->nodes[i].index = NONE;
		g->nodes[i].scc = NONE;
		prev_edge[i] = NONE;
	}
	for (uint32_t root = 0; !err && root < n; root++) {
		if (!g->nodes[root].candidate || g->nodes[root].index != NONE)
			continue;
		uint32_t depth = 0;
		calls[depth++] = (struct frame){root, 0};
		g->nodes[root].index = g->nodes[root].low = counter++;
		g->nodes[root].on_stack = true;
		stack[sp++] = root;
		while (depth && !err) {
			struct frame *fr = &calls[depth - 1];
			struct node *v = &g->nodes[fr->v];
			if (fr->e < v->n) {
				uint32_t w = g->tg[v->first + fr->e++];
				struct node *nw = &g->nodes[w];
				if (!nw->candidate)
					continue;
				if (nw->index == NONE) {
					nw->index = nw->low = counter++;
					nw->on_stack = true;
					stack[sp++] = w;
					calls[depth++] = (struct frame){w, 0};
				} else if (nw->on_stack && nw->index < v->low) {
					v->low = nw->index;
				}
				continue;
			}
			uint32_t vi = fr->v;
			depth--;
			if (depth && v->low < g->nodes[calls[depth - 1].v].low)
				g->nodes[calls[depth - 1].v].low = v->low;
			if (v->low != v->index)
				continue;
			size_t k = 0;
			uint32_t w;
			do {
				w = stack[--sp];
				g->nodes[w].on_stack = false;
				g->nodes[w].scc = nscc;
				members[k++] = w;
			} while (w != vi);
			err = component(g, &f, members, k, nscc++, prev_edge,
					prev_from, queue);
		}
	}
	free(calls);
	free(stack);
	free(prev_edge);
	free(prev_from);
	free(queue);
	free(members);
	if (!err && f.n) {
		for (size_t i = 1; i < f.n; i++) /* by first id; few */
			for (size_t j = i; j > 0 && f.list[j - 1].tasks[0]->id >
							    f.list[j].tasks[0]->id;
			     j--) {
				td_dump_deadlock t = f.list[j];
				f.list[j] = f.list[j - 1];
				f.list[j - 1] = t;
			}
		g->d->deadlocks = td_arena_alloc(g->arena,
						 f.n * sizeof(*f.list));
		if (g->d->deadlocks) {
			memcpy(g->d->deadlocks, f.list, f.n * sizeof(*f.list));
			g->d->ndeadlocks = f.n;
		} else {
			err = -ENOMEM;
		}
	}
	free(f.list);
	return err;
}

bool td_wait_may_edge(const td_wait *w)
{
	switch (w->kind) {
	case TD_WAIT_MUTEX:
		return w->object || w->task_id;
	case TD_WAIT_SEMAPHORE:
		return w->object != NULL;
	case TD_WAIT_JOIN:
		return w->task_id != 0;
	case TD_WAIT_ONESHOT:
	case TD_WAIT_CHAN_RECV:
		return (w->flags & TD_WAIT_NO_SENDER) != 0;
	default:
		return false;
	}
}

int td_dump_diagnose(td_dump *d, struct td_arena *arena, uint64_t now_ms,
		     td_dump_task *const *tasks, size_t ntasks,
		     const struct td_held_note *held, size_t nheld)
{
	struct diag g = {.d = d, .list = tasks, .nlist = ntasks,
			 .arena = arena, .now_ms = now_ms, .held = held,
			 .nheld = nheld};
	if (ntasks == 0 && nheld == 0)
		return 0;
	int err = index_semaphores(&g);
	if (!err)
		err = collect_nodes(&g);
	if (!err)
		err = all_edges(&g);
	if (!err)
		err = find_deadlocks(&g);
	free(g.nodes);
	free(g.tg);
	free(g.slot);
	free(g.sems);
	free(g.semwaits);
	return err ? err : g.oom ? -ENOMEM : 0;
}
