/* runtime.c - what both flavors share: creation, the registry, spawning,
 * block_on bookkeeping and shutdown. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/context.h"
#include "sched/park.h"
#include "sched/runtime_impl.h"
#include "task/core.h"
#include "task/current.h"
#include "trace/collector.h"
#include "trace/leaf.h"

__thread struct td_thread_ctx *td_tls_ctx
	__attribute__((tls_model("initial-exec")));

/* ---- registry -------------------------------------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct td_runtime *registry_head;
static _Atomic uint64_t next_runtime_id = 1;

static void registry_add(struct td_runtime *rt)
{
	pthread_mutex_lock(&registry_lock);
	rt->reg_prev = NULL;
	rt->reg_next = registry_head;
	if (registry_head)
		registry_head->reg_prev = rt;
	registry_head = rt;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct td_runtime *rt)
{
	pthread_mutex_lock(&registry_lock);
	if (rt->reg_prev)
		rt->reg_prev->reg_next = rt->reg_next;
	else if (registry_head == rt)
		registry_head = rt->reg_next;
	if (rt->reg_next)
		rt->reg_next->reg_prev = rt->reg_prev;
	rt->reg_prev = rt->reg_next = NULL;
	pthread_mutex_unlock(&registry_lock);
}

void td_registry_after_fork_child(void)
{
	pthread_mutex_init(&registry_lock, NULL);
	for (struct td_runtime *rt = registry_head; rt; rt = rt->reg_next) {
		td_dump_gate_after_fork_child(&rt->gate);
		pthread_mutex_init(&rt->dump_lock, NULL);
	}
}

void td_registry_for_each(td_runtime_visit_fn fn, void *arg)
{
	struct td_runtime **list = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct td_runtime *rt = registry_head; rt; rt = rt->reg_next) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct td_runtime **p =
				realloc(list, ncap * sizeof(*p));
			if (!p)
				break;
			list = p;
			cap = ncap;
		}
		td_runtime_ref(rt);
		list[n++] = rt;
	}
	pthread_mutex_unlock(&registry_lock);
	/* Oldest first: the list is newest-first. */
	for (size_t i = n; i-- > 0;) {
		fn(list[i], arg);
		td_runtime_unref(list[i]);
	}
	free(list);
}

/* ---- lifetime -------------------------------------------------------- */

void td_runtime_ref(struct td_runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

static void release_memory(struct td_runtime *rt)
{
	if (rt->fops && rt->fops->destroy)
		rt->fops->destroy(rt);
	if (rt->io_ready) {
		td_io_driver_destroy(&rt->io);
		td_time_driver_destroy(&rt->time);
	}
	td_owned_destroy(&rt->owned);
	td_inject_destroy(&rt->inject);
	td_dump_gate_destroy(&rt->gate);
	pthread_mutex_destroy(&rt->dump_lock);
	pthread_mutex_destroy(&rt->mains_lock);
	free(rt->name);
	free(rt);
}

void td_runtime_unref(struct td_runtime *rt)
{
	if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
		release_memory(rt);
}

void td_sched_task_freed(struct td_sched *s)
{
	td_runtime_unref(td_rt_of(s));
}

bool td_sched_release(struct td_sched *s, struct td_task *t)
{
	return td_owned_remove(&td_rt_of(s)->owned, t);
}

void td_runtime_unpark_driver(void *arg)
{
	struct td_runtime *rt = arg;
	td_io_driver_wake(&rt->io);
}

static void time_unwatched(void *arg)
{
	td_driver_ensure_watched(arg);
}

static void time_hold(void *arg)
{
	struct td_runtime *rt = arg;
	td_runtime_ref(rt);
	atomic_fetch_add_explicit(&rt->timers_armed, 1, memory_order_relaxed);
}

static void time_release(void *arg)
{
	struct td_runtime *rt = arg;
	atomic_fetch_sub_explicit(&rt->timers_armed, 1, memory_order_relaxed);
	td_runtime_unref(rt);
}

/* A registered timer holds a runtime reference (see time/driver.h). */
static const struct td_time_hooks runtime_time_hooks = {
	.unpark = td_runtime_unpark_driver,
	.unwatched = time_unwatched,
	.hold = time_hold,
	.release = time_release,
};

int td_runtime_new(const td_runtime_config *cfg, td_runtime **out)
{
	td_runtime_config defaults = {0};
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg)
		cfg = &defaults;
	if (cfg->flavor != TD_FLAVOR_CURRENT_THREAD &&
	    cfg->flavor != TD_FLAVOR_MULTI_THREAD)
		return -EINVAL;
	if (cfg->workers > TD_MAX_WORKERS)
		return -EINVAL;

	size_t size = (sizeof(struct td_runtime) + TD_CACHE_PAIR - 1) &
		      ~(size_t)(TD_CACHE_PAIR - 1);
	struct td_runtime *rt = aligned_alloc(TD_CACHE_PAIR, size);
	if (!rt)
		return -ENOMEM;
	memset(rt, 0, size);
	rt->id = atomic_fetch_add(&next_runtime_id, 1);
	rt->pid = getpid();
	rt->flavor = cfg->flavor;
	if (cfg->flavor == TD_FLAVOR_MULTI_THREAD) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		rt->nworkers = cfg->workers ? cfg->workers
					    : (unsigned)(cpus > 0 ? cpus : 1);
		if (rt->nworkers > TD_MAX_WORKERS)
			rt->nworkers = TD_MAX_WORKERS;
	} else {
		rt->nworkers = 1;
	}
	rt->event_interval = cfg->event_interval ? cfg->event_interval : 61;
	rt->budget = cfg->budget ? (int)cfg->budget : 128;
	if (cfg->name)
		rt->name = strdup(cfg->name);
	else if (asprintf(&rt->name, "rt-%llu", (unsigned long long)rt->id) < 0)
		rt->name = NULL;
	if (!rt->name || td_dump_gate_init(&rt->gate, rt->nworkers) != 0) {
		free(rt->name);
		free(rt);
		return -ENOMEM;
	}
	atomic_init(&rt->refs, 1);
	atomic_init(&rt->shutdown, false);
	td_owned_init(&rt->owned);
	td_inject_init(&rt->inject);
	pthread_mutex_init(&rt->dump_lock, NULL);
	pthread_mutex_init(&rt->mains_lock, NULL);
	td_time_driver_init(&rt->time, &runtime_time_hooks, rt);

	int err = td_io_driver_init(&rt->io);
	if (err) {
		td_time_driver_destroy(&rt->time);
		release_memory(rt);
		return err;
	}
	/* From here on release_memory() destroys both drivers. */
	rt->io_ready = true;
	err = rt->flavor == TD_FLAVOR_MULTI_THREAD ? td_mt_create(rt)
						   : td_ct_create(rt);
	if (err) {
		release_memory(rt);
		return err;
	}
	registry_add(rt);
	*out = rt;
	return 0;
}

/* Threads inside td_runtime_block_on (on another thread than the one
 * freeing) see `shutdown` when woken, return -ESHUTDOWN and leave the
 * list; nothing may poll with the drivers gone. */
static void wait_for_block_ons(struct td_runtime *rt)
{
	for (;;) {
		pthread_mutex_lock(&rt->mains_lock);
		bool any = rt->mains != NULL;
		for (struct td_main_future *m = rt->mains; m; m = m->next)
			td_parker_unpark(m->parker, rt);
		pthread_mutex_unlock(&rt->mains_lock);
		if (!any)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

void td_runtime_free(td_runtime *rt)
{
	if (!rt)
		return;
	if (td_tls_ctx && td_tls_ctx->rt == rt) {
		fprintf(stderr, "taskdump: fatal: td_runtime_free called from "
				"a thread of the runtime it frees\n");
		abort();
	}
	registry_remove(rt);
	/* Wait for a dump in progress; later ones see `shutdown`. */
	pthread_mutex_lock(&rt->dump_lock);
	atomic_store(&rt->shutdown, true);
	pthread_mutex_unlock(&rt->dump_lock);

	wait_for_block_ons(rt);
	rt->fops->stop_threads(rt);
	/* No thread polls tasks any more.  Close the injection queue first,
	 * so that wakes caused by dropping futures below are refused. */
	for (struct td_task *t = td_inject_close(&rt->inject); t;) {
		struct td_task *next = t->queue_next;
		td_task_drop_notified(t);
		t = next;
	}
	rt->fops->drain_queues(rt);
	td_owned_close_and_shutdown(&rt->owned);
	td_io_driver_shutdown(&rt->io);
	td_time_driver_shutdown(&rt->time);
	td_runtime_unref(rt);
}

/* ---- spawning -------------------------------------------------------- */

int td_spawn_with(td_runtime *rt, td_future *future, size_t size,
		  const td_spawn_options *opts, td_join_handle *out)
{
	if (out)
		out->task = NULL;
	if (!future || !future->vtable || !future->vtable->poll ||
	    size < sizeof(td_future))
		return -EINVAL;
	if (!rt)
		rt = td_tls_ctx ? td_tls_ctx->rt : NULL;
	if (!rt) {
		td_future_drop(future);
		return -ESRCH;
	}
	if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		td_future_drop(future);
		return -ESHUTDOWN;
	}
	struct td_task *t = td_task_alloc(future, size, opts, out != NULL);
	if (!t) {
		td_future_drop(future);
		return -ENOMEM;
	}
	t->sched = &rt->sched;
	td_runtime_ref(rt);
	int err = td_owned_bind(&rt->owned, t);
	if (err) {
		/* Shutting down or out of memory: undo.  An unbound task's
		 * dealloc drops the never-polled future. */
		t->sched = NULL;
		td_task_dealloc(t);
		td_runtime_unref(rt);
		return err;
	}
	if (out)
		out->task = t;
	rt->sched.ops->schedule(&rt->sched, t, false);
	return 0;
}

/* ---- block_on -------------------------------------------------------- */

int td_runtime_block_on(td_runtime *rt, td_future *future, void **output)
{
	if (!rt || !future || !future->vtable || !future->vtable->poll)
		return -EINVAL;
	if (td_tls_ctx)
		return -EBUSY;
	/* Its polls are real polls (their contexts say no capture runs):
	 * not inside a capture of this thread. */
	if (td_tracing())
		return -EDEADLK;
	if (atomic_load(&rt->shutdown))
		return -ESHUTDOWN;
	return rt->fops->block_on(rt, future, output);
}

void td_main_future_enter(struct td_runtime *rt, struct td_main_future *m,
			  td_future *f, struct td_parker *parker)
{
	td_task_clock_forget(); /* this thread may not have polled for long */
	m->future = f;
	m->parker = parker;
	atomic_init(&m->state, TD_MAIN_IDLE);
	m->tid = (pid_t)syscall(SYS_gettid);
	m->started_ms = td_now_ms();
	atomic_init(&m->polls, 0);
	atomic_init(&m->last_poll_ms, 0);
	pthread_mutex_lock(&rt->mains_lock);
	m->next = rt->mains;
	rt->mains = m;
	pthread_mutex_unlock(&rt->mains_lock);
}

void td_main_future_leave(struct td_runtime *rt, struct td_main_future *m)
{
	td_task_clock_forget();
	pthread_mutex_lock(&rt->mains_lock);
	for (struct td_main_future **p = &rt->mains; *p; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&rt->mains_lock);
}

td_poll td_main_future_poll(struct td_main_future *m, td_context *cx,
			    int budget)
{
	int idle = TD_MAIN_IDLE;
	if (!atomic_compare_exchange_strong(&m->state, &idle,
					    TD_MAIN_POLLING)) {
		/* A dump is tracing it: microseconds. */
		uint64_t t0 = td_gate_now_ns();
		do {
			idle = TD_MAIN_IDLE;
			sched_yield();
		} while (!atomic_compare_exchange_weak(&m->state, &idle,
						       TD_MAIN_POLLING));
		td_hold_note(td_gate_now_ns() - t0);
	}
	atomic_store_explicit(&m->polls,
			      atomic_load_explicit(&m->polls,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&m->last_poll_ms, td_task_clock_ms(),
			      memory_order_relaxed);
	int prev_budget = td_tls_budget;
	td_tls_budget = budget;
	td_poll r = td_trace_root_poll(m->future, cx);
	td_tls_budget = prev_budget;
	/* A finished future must never be traced (it would be polled
	 * after completion). */
	atomic_store(&m->state, r == TD_READY ? TD_MAIN_DONE : TD_MAIN_IDLE);
	return r;
}

/* ---- accessors ------------------------------------------------------- */

td_runtime *td_runtime_current(void)
{
	return td_tls_ctx ? td_tls_ctx->rt : NULL;
}

uint64_t td_runtime_id(const td_runtime *rt)
{
	return rt ? rt->id : 0;
}

const char *td_runtime_name(const td_runtime *rt)
{
	return rt ? rt->name : "";
}

td_flavor td_runtime_flavor(const td_runtime *rt)
{
	return rt ? rt->flavor : TD_FLAVOR_CURRENT_THREAD;
}

unsigned td_runtime_workers(const td_runtime *rt)
{
	return rt ? rt->nworkers : 0;
}

size_t td_runtime_task_count(const td_runtime *rt)
{
	return rt ? td_owned_count((struct td_owned *)&rt->owned) : 0;
}

static void no_runtime(const char *what)
{
	fprintf(stderr,
		"taskdump: fatal: %s polled outside a runtime (poll it from a "
		"task or from td_runtime_block_on)\n",
		what);
	abort();
}

struct td_time_driver *td_current_time_driver(const char *what)
{
	if (!td_tls_ctx)
		no_runtime(what);
	return &td_tls_ctx->rt->time;
}

struct td_io_driver *td_current_io_driver(const char *what)
{
	if (!td_tls_ctx)
		no_runtime(what);
	return &td_tls_ctx->rt->io;
}
