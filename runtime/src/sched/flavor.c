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
	atomic_init(&s->stack_lo, 0);
	atomic_init(&s->stack_hi, 0);
}

void td_worker_status_bind_thread(struct td_worker_status *s)
{
	atomic_store_explicit(&s->tid, (pid_t)syscall(SYS_gettid),
			      memory_order_relaxed);
	atomic_store_explicit(&s->thread, (unsigned long)pthread_self(),
			      memory_order_relaxed);
	/* For the frame-pointer walk of a stuck worker's stack. */
	pthread_attr_t attr;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			atomic_store_explicit(&s->stack_lo, (uintptr_t)addr,
					      memory_order_relaxed);
			atomic_store_explicit(&s->stack_hi,
					      (uintptr_t)addr + size,
					      memory_order_relaxed);
		}
		pthread_attr_destroy(&attr);
	}
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
	out->stack_lo = atomic_load_explicit(&s->stack_lo, memory_order_relaxed);
	out->stack_hi = atomic_load_explicit(&s->stack_hi, memory_order_relaxed);
	out->queued = 0;
}

void td_worker_gate_wait(struct td_dump_gate *g, struct td_worker_status *s,
			 int index)
{
	td_task_clock_forget();
	int before = atomic_load_explicit(&s->activity, memory_order_relaxed);
	atomic_store_explicit(&s->activity, TD_WORKER_DUMP_PARKED,
			      memory_order_relaxed);
	td_dump_gate_wait(g, index);
	atomic_store_explicit(&s->activity, before, memory_order_relaxed);
}
