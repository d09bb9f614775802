/* runtime_impl.h - internal: the runtime object shared by both flavors.
 *
 * Lifetime: td_runtime_new holds one reference (`refs`), every task
 * allocation one more.  td_runtime_free shuts everything down and drops the
 * first; the memory itself goes when the last task allocation does (a waker
 * kept alive somewhere may still point at a task, whose `sched` points
 * here).  The drivers are closed at shutdown, not at the final release.
 */
#ifndef TD_SCHED_RUNTIME_IMPL_H
#define TD_SCHED_RUNTIME_IMPL_H

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "io/driver.h"
#include "sched/dump_gate.h"
#include "sched/flavor.h"
#include "sched/inject.h"
#include "sched/owned.h"
#include "sched/park.h"
#include "sched/sched.h"
#include "taskdump/runtime.h"
#include "time/driver.h"

struct td_ct;
struct td_mt;

/* A future being driven by td_runtime_block_on, listed so that dumps can
 * show it.  `state` arbitrates between its thread's polls and a tracing
 * poll, like a task's RUNNING/TRACING bits. */
enum { TD_MAIN_IDLE, TD_MAIN_POLLING, TD_MAIN_TRACING, TD_MAIN_DONE };

struct td_main_future {
	td_future *future;
	struct td_parker *parker; /* unparks the block_on thread */
	_Atomic int state;
	pid_t tid;
	uint64_t started_ms;
	_Atomic uint64_t polls;
	_Atomic uint64_t last_poll_ms;
	struct td_main_future *next;
};

/* Fields that every scheduler thread touches are laid out by how they
 * are used, each group on cache lines of its own (TD_CACHE_PAIR: 128
 * bytes, as adjacent-line prefetching pairs lines): one thread's writes
 * must not keep evicting what the others read on every poll.  The
 * allocation itself is TD_CACHE_PAIR-aligned (td_runtime_new). */
#define TD_CACHE_PAIR 128

struct td_runtime {
	/* Read-mostly: set at creation (shutdown: once). */
	struct td_sched sched;        /* first: a task's `sched` is this */
	const struct td_flavor_ops *fops;
	uint64_t id;
	pid_t pid;            /* the process that created it (see fork) */
	char *name;
	td_flavor flavor;
	unsigned nworkers;
	unsigned event_interval;
	int budget;
	struct td_ct *ct;
	struct td_mt *mt;
	_Atomic bool shutdown;
	bool io_ready;             /* io was initialised (release destroys it) */

	/* Read at every safe point; written only by dumps. */
	alignas(TD_CACHE_PAIR) struct td_dump_gate gate;

	/* Written on every spawn and task release. */
	alignas(TD_CACHE_PAIR) _Atomic uint64_t refs;

	/* Written by whoever polls the drivers (sched/park.c): who holds
	 * them, how many threads sleep on their futex because someone else
	 * held them, and whether there is anything to watch (timers armed;
	 * I/O registrations are counted by the I/O driver). */
	alignas(TD_CACHE_PAIR) _Atomic bool driver_busy;
	_Atomic uint32_t driver_waiters;
	_Atomic uint32_t timers_armed;
	struct td_time_driver time;
	struct td_io_driver io;

	alignas(TD_CACHE_PAIR) struct td_inject inject;
	struct td_owned owned; /* shards on lines of their own */

	alignas(TD_CACHE_PAIR) pthread_mutex_t dump_lock; /* one dump at a
							    * time; shutdown
							    * waits */
	pthread_mutex_t mains_lock;
	struct td_main_future *mains;
	struct td_runtime *reg_prev, *reg_next; /* registry, under its lock */
};

static inline struct td_runtime *td_rt_of(struct td_sched *s)
{
	return (struct td_runtime *)(void *)s;
}

/* The runtime an I/O driver belongs to. */
static inline struct td_runtime *td_rt_of_io(struct td_io_driver *d)
{
	return (struct td_runtime *)(void *)((char *)d -
					     offsetof(struct td_runtime, io));
}

/* Flavor constructors: set rt->fops and rt->ct / rt->mt, start threads. */
int td_ct_create(struct td_runtime *rt);
int td_mt_create(struct td_runtime *rt);

/* Both flavors: the timer driver's hook when an earlier timer arrives. */
void td_runtime_unpark_driver(void *rt);

/* List / unlist a block_on future (see struct td_main_future). */
void td_main_future_enter(struct td_runtime *rt, struct td_main_future *m,
			  td_future *f, struct td_parker *parker);
void td_main_future_leave(struct td_runtime *rt, struct td_main_future *m);

/* Poll a block_on future once for real (waits while a dump traces it). */
td_poll td_main_future_poll(struct td_main_future *m, td_context *cx,
			    int budget);

/* Spawned-task bookkeeping used by td_spawn_with. */
void td_runtime_ref(struct td_runtime *rt);
void td_runtime_unref(struct td_runtime *rt);

/* Registry of live runtimes (process-wide). */
typedef void (*td_runtime_visit_fn)(struct td_runtime *rt, void *arg);
/* Call fn for every registered runtime, holding a reference to each (so
 * it cannot be freed under fn) but not the registry lock. */
void td_registry_for_each(td_runtime_visit_fn fn, void *arg);

/* In a child of fork(): the registry's lock and every runtime's dump
 * state re-initialised (a dump in the parent may have held them; the
 * child has none of the parent's threads). */
void td_registry_after_fork_child(void);

#endif /* TD_SCHED_RUNTIME_IMPL_H */
