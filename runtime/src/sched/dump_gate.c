/* dump_gate.c - where workers stop for a dump (see dump_gate.h). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sched/dump_gate.h"
#include "taskdump/time.h"

__thread _Atomic uint64_t *td_tls_hold_ns
	__attribute__((tls_model("initial-exec")));

uint64_t td_gate_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_max(_Atomic uint64_t *slot, uint64_t ns)
{
	uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed);
	while (ns > cur &&
	       !atomic_compare_exchange_weak_explicit(
		       slot, &cur, ns, memory_order_relaxed,
		       memory_order_relaxed))
		;
}

void td_hold_note(uint64_t ns)
{
	if (td_tls_hold_ns)
		note_max(td_tls_hold_ns, ns);
}

static void init_sync(struct td_dump_gate *g)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
}

int td_dump_gate_init(struct td_dump_gate *g, unsigned nworkers)
{
	unsigned n = nworkers ? nworkers : 1;

	g->arrived_round = calloc(n, sizeof(uint64_t));
	g->held_ns = calloc(n, sizeof(*g->held_ns));
	if (!g->arrived_round || !g->held_ns) {
		free(g->arrived_round);
		free(g->held_ns);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++)
		atomic_init(&g->held_ns[i], 0);
	atomic_init(&g->requested, 0);
	init_sync(g);
	g->round = 0;
	g->active = false;
	g->mode = TD_GATE_STOP;
	g->arrived = 0;
	g->nworkers = nworkers;
	g->slice = NULL;
	g->slice_running = false;
	g->slices_done = true;
	return 0;
}

void td_dump_gate_destroy(struct td_dump_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->arrived_round);
	free(g->held_ns);
}

void td_dump_gate_after_fork_child(struct td_dump_gate *g)
{
	atomic_store(&g->requested, 0);
	init_sync(g);
	g->active = false;
	g->arrived = 0;
	g->slice = NULL;
	g->slice_running = false;
	g->slices_done = true;
}

static void arrive(struct td_dump_gate *g, int worker)
{
	if (worker >= 0 && (unsigned)worker < g->nworkers &&
	    g->arrived_round[worker] != g->round) {
		g->arrived_round[worker] = g->round;
		g->arrived++;
		pthread_cond_broadcast(&g->cond);
	}
}

static void note_worker(struct td_dump_gate *g, int worker, uint64_t ns)
{
	if (worker >= 0 && (unsigned)worker < g->nworkers)
		note_max(&g->held_ns[worker], ns);
}

/* Under lock, in a slice round: wait out a slice another thread runs,
 * then run one when due (or `idle`).  Returns true when one ran and work
 * is left. */
static bool slice_locked(struct td_dump_gate *g, int worker, bool idle)
{
	uint64_t round = g->round;
	uint64_t t0 = td_gate_now_ns();
	bool waited = false;
	arrive(g, worker);
	while (g->active && g->round == round && g->slice_running) {
		pthread_cond_wait(&g->cond, &g->lock);
		waited = true;
	}
	uint64_t now = waited ? td_gate_now_ns() : t0;
	if (!g->active || g->round != round || g->mode != TD_GATE_SLICES ||
	    g->slices_done || (!idle && now < g->next_slice_ns)) {
		if (waited)
			note_worker(g, worker, now - t0);
		return false;
	}
	g->slice_running = true;
	pthread_mutex_unlock(&g->lock);
	bool done = g->slice(g->slice_arg);
	uint64_t end = td_gate_now_ns();
	pthread_mutex_lock(&g->lock);
	g->slice_running = false;
	g->slices++;
	g->progress_ns = end;
	if (done)
		g->slices_done = true;
	/* As much time for the thread's own polls as the slice took. */
	g->next_slice_ns = end + (end - now);
	note_worker(g, worker, end - t0);
	pthread_cond_broadcast(&g->cond);
	return !done;
}

void td_dump_gate_wait(struct td_dump_gate *g, int worker)
{
	pthread_mutex_lock(&g->lock);
	if (g->active && g->mode == TD_GATE_SLICES) {
		slice_locked(g, worker, false);
	} else if (g->active) {
		uint64_t round = g->round;
		uint64_t t0 = td_gate_now_ns();
		arrive(g, worker);
		while (g->active && g->round == round)
			pthread_cond_wait(&g->cond, &g->lock);
		note_worker(g, worker, td_gate_now_ns() - t0);
	}
	pthread_mutex_unlock(&g->lock);
}

bool td_dump_gate_slice(struct td_dump_gate *g, int worker, bool idle)
{
	bool more = false;
	pthread_mutex_lock(&g->lock);
	if (g->active && g->mode == TD_GATE_SLICES) {
		more = slice_locked(g, worker, idle);
		pthread_mutex_unlock(&g->lock);
		return more;
	}
	pthread_mutex_unlock(&g->lock);
	td_dump_gate_wait(g, worker);
	return false;
}

static uint64_t open_round(struct td_dump_gate *g, enum td_gate_mode mode)
{
	uint64_t round = ++g->round;
	g->active = true;
	g->mode = mode;
	g->arrived = 0;
	return round;
}

uint64_t td_dump_gate_open(struct td_dump_gate *g, int self)
{
	pthread_mutex_lock(&g->lock);
	uint64_t round = open_round(g, TD_GATE_STOP);
	if (self >= 0 && (unsigned)self < g->nworkers) {
		g->arrived_round[self] = round;
		g->arrived = 1;
	}
	atomic_store_explicit(&g->requested, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&g->lock);
	return round;
}

uint64_t td_dump_gate_open_slices(struct td_dump_gate *g, td_gate_slice_fn fn,
				  void *arg)
{
	pthread_mutex_lock(&g->lock);
	uint64_t round = open_round(g, TD_GATE_SLICES);
	g->slice = fn;
	g->slice_arg = arg;
	g->slice_running = false;
	g->slices_done = false;
	g->slices = 0;
	g->next_slice_ns = 0;
	g->progress_ns = td_gate_now_ns();
	atomic_store_explicit(&g->requested, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&g->lock);
	return round;
}

bool td_dump_gate_wait_slices(struct td_dump_gate *g, unsigned first_ms,
			      unsigned stall_ms, bool (*run_here)(void *arg),
			      void *arg)
{
	pthread_mutex_lock(&g->lock);
	for (;;) {
		if (g->slices_done)
			break;
		if (!g->slice_running && run_here && run_here(arg)) {
			/* Nobody drives: this thread is the runtime's. */
			slice_locked(g, -1, true);
			continue;
		}
		uint64_t bound = (uint64_t)(g->slices ? stall_ms : first_ms) *
				 1000000u;
		uint64_t now = td_gate_now_ns();
		if (!g->slice_running && now - g->progress_ns >= bound)
			break; /* stuck in a poll */
		/* Wake up at the stall bound (the driver's slice, or its
		 * leaving block_on, wakes us earlier). */
		uint64_t at = g->slice_running ? now + bound
					       : g->progress_ns + bound;
		struct timespec ts = {(time_t)(at / 1000000000u),
				      (long)(at % 1000000000u)};
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	bool done = g->slices_done;
	pthread_mutex_unlock(&g->lock);
	return done;
}

void td_dump_gate_stop_slices(struct td_dump_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (g->slice_running)
		pthread_cond_wait(&g->cond, &g->lock);
	g->slices_done = true;
	pthread_mutex_unlock(&g->lock);
}

unsigned td_dump_gate_wait_arrivals(struct td_dump_gate *g, uint64_t round,
				    uint64_t deadline_ms, bool *parked,
				    bool (*give_up)(void *arg), void *arg)
{
	struct timespec ts = {(time_t)(deadline_ms / 1000),
			      (long)(deadline_ms % 1000) * 1000000L};

	pthread_mutex_lock(&g->lock);
	while (g->arrived < g->nworkers) {
		if (give_up && give_up(arg))
			break;
		if (pthread_cond_timedwait(&g->cond, &g->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	for (unsigned i = 0; i < g->nworkers; i++)
		parked[i] = g->arrived_round[i] == round;
	unsigned n = g->arrived;
	pthread_mutex_unlock(&g->lock);
	return n;
}

void td_dump_gate_poke(struct td_dump_gate *g)
{
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void td_dump_gate_release(struct td_dump_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->active = false;
	g->slice = NULL;
	g->slices_done = true;
	atomic_store_explicit(&g->requested, 0, memory_order_seq_cst);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

void td_dump_gate_holds_reset(struct td_dump_gate *g)
{
	for (unsigned i = 0; i < g->nworkers; i++)
		atomic_store_explicit(&g->held_ns[i], 0, memory_order_relaxed);
}

uint64_t td_dump_gate_held_ns(struct td_dump_gate *g, unsigned i)
{
	return i < g->nworkers ? atomic_load_explicit(&g->held_ns[i],
						      memory_order_relaxed)
			       : 0;
}
