/* inject.c - the global injection queue (see inject.h). */
#include "sched/inject.h"
#include "task/core.h"

void td_inject_init(struct td_inject *q)
{
	q->lock = (sync_flock){0};
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
	q->closed = false;
}

void td_inject_destroy(struct td_inject *q)
{
	(void)q; /* the futex lock needs no teardown */
}

bool td_inject_push_batch(struct td_inject *q, struct td_task *first,
			  struct td_task *last, size_t n)
{
	last->queue_next = NULL;
	sync_flock_lock(&q->lock);
	if (q->closed) {
		sync_flock_unlock(&q->lock);
		return false;
	}
	if (q->tail)
		q->tail->queue_next = first;
	else
		q->head = first;
	q->tail = last;
	atomic_store_explicit(&q->len,
			      atomic_load_explicit(&q->len,
						   memory_order_relaxed) + n,
			      memory_order_release);
	sync_flock_unlock(&q->lock);
	return true;
}

bool td_inject_push(struct td_inject *q, struct td_task *t)
{
	return td_inject_push_batch(q, t, t, 1);
}

size_t td_inject_pop_n(struct td_inject *q, struct td_task **out, size_t max)
{
	if (td_inject_is_empty(q) || max == 0)
		return 0;
	sync_flock_lock(&q->lock);
	size_t n = 0;
	while (n < max && q->head) {
		struct td_task *t = q->head;
		q->head = t->queue_next;
		t->queue_next = NULL;
		out[n++] = t;
	}
	if (!q->head)
		q->tail = NULL;
	atomic_store_explicit(&q->len,
			      atomic_load_explicit(&q->len,
						   memory_order_relaxed) - n,
			      memory_order_release);
	sync_flock_unlock(&q->lock);
	return n;
}

struct td_task *td_inject_pop(struct td_inject *q)
{
	struct td_task *t = NULL;
	td_inject_pop_n(q, &t, 1);
	return t;
}

struct td_task *td_inject_close(struct td_inject *q)
{
	sync_flock_lock(&q->lock);
	q->closed = true;
	struct td_task *list = q->head;
	q->head = q->tail = NULL;
	atomic_store_explicit(&q->len, 0, memory_order_release);
	sync_flock_unlock(&q->lock);
	return list;
}
