/* local_queue.c - a worker's bounded run queue (see local_queue.h). */
#include "sched/local_queue.h"
#include "task/core.h"

static inline uint64_t pack(uint32_t steal, uint32_t real)
{
	return ((uint64_t)steal << 32) | real;
}

static inline uint32_t steal_of(uint64_t head)
{
	return (uint32_t)(head >> 32);
}

static inline uint32_t real_of(uint64_t head)
{
	return (uint32_t)head;
}

void td_local_queue_init(struct td_local_queue *q)
{
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	for (unsigned i = 0; i < TD_LOCAL_QUEUE_CAP; i++)
		atomic_init(&q->slots[i], NULL);
}

static inline void slot_store(struct td_local_queue *q, uint32_t i,
			      struct td_task *t)
{
	atomic_store_explicit(&q->slots[i & TD_LOCAL_QUEUE_MASK], t,
			      memory_order_relaxed);
}

static inline struct td_task *slot_load(struct td_local_queue *q, uint32_t i)
{
	return atomic_load_explicit(&q->slots[i & TD_LOCAL_QUEUE_MASK],
				    memory_order_relaxed);
}

/* Move the oldest half of a full queue, plus t, to the injection queue.
 * Fails (moving nothing) when a stealer raced us for the head or inject is
 * closed; the caller retries the push. */
static bool push_overflow(struct td_local_queue *q, struct td_task *t,
			  uint32_t head, uint32_t tail,
			  struct td_inject *inject, bool *closed)
{
	const uint32_t half = TD_LOCAL_QUEUE_CAP / 2;
	uint64_t expect = pack(head, head);

	*closed = false;
	if (tail - head != TD_LOCAL_QUEUE_CAP)
		return false;
	/* Claim [head, head + half) by moving both indices past it. */
	if (!atomic_compare_exchange_strong_explicit(
		    &q->head, &expect, pack(head + half, head + half),
		    memory_order_acq_rel, memory_order_relaxed))
		return false;
	struct td_task *first = slot_load(q, head);
	struct td_task *prev = first;
	for (uint32_t i = 1; i < half; i++) {
		struct td_task *next = slot_load(q, head + i);
		prev->queue_next = next;
		prev = next;
	}
	prev->queue_next = t;
	if (!td_inject_push_batch(inject, first, t, half + 1)) {
		/* Closed: only at shutdown.  The caller drops the claimed
		 * tasks' references (they can never run). */
		*closed = true;
		return false;
	}
	return true;
}

bool td_local_queue_push(struct td_local_queue *q, struct td_task *t,
			 struct td_inject *inject)
{
	for (;;) {
		uint64_t h = atomic_load_explicit(&q->head,
						  memory_order_acquire);
		uint32_t steal = steal_of(h), real = real_of(h);
		/* Only the owner writes tail. */
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);
		if (tail - steal < TD_LOCAL_QUEUE_CAP) {
			slot_store(q, tail, t);
			atomic_store_explicit(&q->tail, tail + 1,
					      memory_order_release);
			return true;
		}
		if (steal != real) {
			/* A stealer is emptying the queue right now; it
			 * will make room, but don't wait for it. */
			return td_inject_push(inject, t);
		}
		bool closed;
		if (push_overflow(q, t, real, tail, inject, &closed))
			return true;
		if (closed) {
			/* Drop the moved tasks' references; they can never
			 * run.  t itself goes back to the caller. */
			for (uint32_t i = 0; i < TD_LOCAL_QUEUE_CAP / 2; i++)
				td_task_drop_notified(slot_load(q, real + i));
			return false;
		}
	}
}

struct td_task *td_local_queue_pop(struct td_local_queue *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	for (;;) {
		uint32_t steal = steal_of(h), real = real_of(h);
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);
		if (real == tail)
			return NULL;
		uint32_t next_real = real + 1;
		/* With no steal in progress both indices move together. */
		uint64_t next = steal == real ? pack(next_real, next_real)
					      : pack(steal, next_real);
		if (atomic_compare_exchange_weak_explicit(
			    &q->head, &h, next, memory_order_acq_rel,
			    memory_order_acquire))
			return slot_load(q, real);
	}
}

struct td_task *td_local_queue_steal_into(struct td_local_queue *src,
					  struct td_local_queue *dst)
{
	uint32_t dst_tail = atomic_load_explicit(&dst->tail,
						 memory_order_relaxed);
	uint64_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);
	/* dst is ours and must have room for half of src. */
	if (dst_tail - steal_of(dh) > TD_LOCAL_QUEUE_CAP / 2)
		return NULL;

	/* 1. Claim [steal, steal + n) of src by advancing its `real`. */
	uint64_t h = atomic_load_explicit(&src->head, memory_order_acquire);
	uint32_t first, n;
	for (;;) {
		uint32_t steal = steal_of(h), real = real_of(h);
		if (steal != real)
			return NULL; /* another stealer is active */
		uint32_t tail = atomic_load_explicit(&src->tail,
						     memory_order_acquire);
		n = tail - real;
		n -= n / 2;
		if (n == 0)
			return NULL;
		if (atomic_compare_exchange_weak_explicit(
			    &src->head, &h, pack(steal, real + n),
			    memory_order_acq_rel, memory_order_acquire)) {
			first = steal;
			break;
		}
	}

	/* 2. Copy the claimed entries; the owner cannot reuse their slots
	 * while src's `steal` still points at them. */
	for (uint32_t i = 0; i < n; i++)
		slot_store(dst, dst_tail + i, slot_load(src, first + i));

	/* 3. Release the claim: steal catches up with real. */
	h = atomic_load_explicit(&src->head, memory_order_acquire);
	for (;;) {
		uint32_t real = real_of(h);
		if (atomic_compare_exchange_weak_explicit(
			    &src->head, &h, pack(real, real),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}

	/* 4. Run the last stolen task now; publish the others. */
	n--;
	struct td_task *ret = slot_load(dst, dst_tail + n);
	if (n > 0)
		atomic_store_explicit(&dst->tail, dst_tail + n,
				      memory_order_release);
	return ret;
}

uint32_t td_local_queue_len(struct td_local_queue *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	return tail - real_of(h);
}

void td_local_queue_for_each(struct td_local_queue *q,
			     void (*fn)(struct td_task *t, void *arg),
			     void *arg)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	for (uint32_t i = real_of(h); i != tail; i++)
		fn(slot_load(q, i), arg);
}
