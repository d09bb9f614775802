/* dump_gate.c - where workers stop for a dump (see dump_gate.h). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "sched/dump_gate.h"
#include "taskdump/time.h"

int td_dump_gate_init(struct td_dump_gate *g, unsigned nworkers)
{
	pthread_condattr_t ca;

	g->arrived_round = calloc(nworkers ? nworkers : 1, sizeof(uint64_t));
	if (!g->arrived_round)
		return -ENOMEM;
	atomic_init(&g->requested, 0);
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	g->round = 0;
	g->active = false;
	g->arrived = 0;
	g->nworkers = nworkers;
	return 0;
}

void td_dump_gate_destroy(struct td_dump_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g->arrived_round);
}

void td_dump_gate_after_fork_child(struct td_dump_gate *g)
{
	pthread_condattr_t ca;

	atomic_store(&g->requested, 0);
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	g->active = false;
	g->arrived = 0;
}

void td_dump_gate_wait(struct td_dump_gate *g, int worker)
{
	pthread_mutex_lock(&g->lock);
	if (g->active) {
		uint64_t round = g->round;
		if (worker >= 0 && (unsigned)worker < g->nworkers &&
		    g->arrived_round[worker] != round) {
			g->arrived_round[worker] = round;
			g->arrived++;
			pthread_cond_broadcast(&g->cond);
		}
		while (g->active && g->round == round)
			pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
}

uint64_t td_dump_gate_open(struct td_dump_gate *g, int self)
{
	pthread_mutex_lock(&g->lock);
	uint64_t round = ++g->round;
	g->active = true;
	g->arrived = 0;
	if (self >= 0 && (unsigned)self < g->nworkers) {
		g->arrived_round[self] = round;
		g->arrived = 1;
	}
	atomic_store_explicit(&g->requested, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&g->lock);
	return round;
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
	atomic_store_explicit(&g->requested, 0, memory_order_seq_cst);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}
