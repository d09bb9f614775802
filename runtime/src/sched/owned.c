/* owned.c - every live task of a runtime (see owned.h). */
#include <stdlib.h>

#include "sched/owned.h"
#include "task/core.h"

static inline struct td_owned_shard *shard_of(struct td_owned *o,
					      struct td_task *t)
{
	return &o->shards[t->owned_shard];
}

void td_owned_init(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		pthread_mutex_init(&o->shards[i].lock, NULL);
		o->shards[i].head = NULL;
		o->shards[i].count = 0;
	}
	o->closed = false;
}

void td_owned_destroy(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++)
		pthread_mutex_destroy(&o->shards[i].lock);
}

bool td_owned_bind(struct td_owned *o, struct td_task *t)
{
	t->owned_shard = (uint8_t)(t->id & (TD_OWNED_SHARDS - 1));
	struct td_owned_shard *sh = shard_of(o, t);
	pthread_mutex_lock(&sh->lock);
	if (o->closed) {
		pthread_mutex_unlock(&sh->lock);
		return false;
	}
	t->owned_prev = NULL;
	t->owned_next = sh->head;
	if (sh->head)
		sh->head->owned_prev = t;
	sh->head = t;
	sh->count++;
	pthread_mutex_unlock(&sh->lock);
	return true;
}

/* Under the shard lock. */
static bool unlink_task(struct td_owned_shard *sh, struct td_task *t)
{
	if (!t->owned_prev && sh->head != t)
		return false; /* not listed (taken by shutdown) */
	if (t->owned_prev)
		t->owned_prev->owned_next = t->owned_next;
	else
		sh->head = t->owned_next;
	if (t->owned_next)
		t->owned_next->owned_prev = t->owned_prev;
	t->owned_prev = t->owned_next = NULL;
	sh->count--;
	return true;
}

bool td_owned_remove(struct td_owned *o, struct td_task *t)
{
	struct td_owned_shard *sh = shard_of(o, t);
	pthread_mutex_lock(&sh->lock);
	bool listed = unlink_task(sh, t);
	pthread_mutex_unlock(&sh->lock);
	return listed;
}

void td_owned_close_and_shutdown(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		pthread_mutex_lock(&o->shards[i].lock);
		o->closed = true;
		pthread_mutex_unlock(&o->shards[i].lock);
	}
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		struct td_owned_shard *sh = &o->shards[i];
		for (;;) {
			pthread_mutex_lock(&sh->lock);
			struct td_task *t = sh->head;
			if (t)
				unlink_task(sh, t);
			pthread_mutex_unlock(&sh->lock);
			if (!t)
				break;
			/* The list's reference goes to the shutdown. */
			td_task_shutdown(t);
		}
	}
}

size_t td_owned_count(struct td_owned *o)
{
	size_t n = 0;
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		pthread_mutex_lock(&o->shards[i].lock);
		n += o->shards[i].count;
		pthread_mutex_unlock(&o->shards[i].lock);
	}
	return n;
}

struct td_task **td_owned_snapshot(struct td_owned *o, size_t *n, bool *oom)
{
	size_t cap = td_owned_count(o) + 64, len = 0;
	struct td_task **arr = malloc(cap * sizeof(*arr));

	*n = 0;
	*oom = arr == NULL;
	if (!arr)
		return NULL;
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		struct td_owned_shard *sh = &o->shards[i];
		pthread_mutex_lock(&sh->lock);
		if (len + sh->count > cap) {
			size_t ncap = (len + sh->count) * 2;
			struct td_task **p = realloc(arr, ncap * sizeof(*arr));
			if (!p) {
				pthread_mutex_unlock(&sh->lock);
				*oom = true;
				break;
			}
			arr = p;
			cap = ncap;
		}
		for (struct td_task *t = sh->head; t; t = t->owned_next) {
			td_task_ref(t);
			arr[len++] = t;
		}
		pthread_mutex_unlock(&sh->lock);
	}
	*n = len;
	return arr;
}
