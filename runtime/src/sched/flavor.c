/* flavor.c - the per-thread scheduler status kept for dumps. */
#include <sys/syscall.h>
#include <unistd.h>

#include "sched/flavor.h"

void td_worker_status_init(struct td_worker_status *s)
{
	atomic_init(&s->activity, TD_WORKER_IDLE);
	atomic_init(&s->task_id, 0);
	atomic_init(&s->tid, 0);
	atomic_init(&s->thread, 0);
}

void td_worker_status_bind_thread(struct td_worker_status *s)
{
	atomic_store_explicit(&s->tid, (pid_t)syscall(SYS_gettid),
			      memory_order_relaxed);
	atomic_store_explicit(&s->thread, (unsigned long)pthread_self(),
			      memory_order_relaxed);
	atomic_store_explicit(&s->activity, TD_WORKER_RUNNING,
			      memory_order_release);
}

void td_worker_status_read(struct td_worker_status *s, unsigned index,
			   struct td_worker_info *out)
{
	out->index = index;
	out->activity = atomic_load_explicit(&s->activity,
					     memory_order_acquire);
	out->task_id = atomic_load_explicit(&s->task_id, memory_order_relaxed);
	out->tid = atomic_load_explicit(&s->tid, memory_order_relaxed);
	out->thread = (pthread_t)atomic_load_explicit(&s->thread,
						      memory_order_relaxed);
	out->queued = 0;
}

void td_worker_gate_wait(struct td_dump_gate *g, struct td_worker_status *s,
			 int index)
{
	int before = atomic_load_explicit(&s->activity, memory_order_relaxed);
	atomic_store_explicit(&s->activity, TD_WORKER_DUMP_PARKED,
			      memory_order_relaxed);
	td_dump_gate_wait(g, index);
	atomic_store_explicit(&s->activity, before, memory_order_relaxed);
}
