/* owned.c - every live task of a runtime (see owned.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
		o->shards[i].tasks = NULL;
		o->shards[i].count = o->shards[i].cap = 0;
	}
	atomic_init(&o->closed, false);
}

void td_owned_destroy(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		pthread_mutex_destroy(&o->shards[i].lock);
		free(o->shards[i].tasks);
	}
}

int td_owned_bind(struct td_owned *o, struct td_task *t)
{
	t->owned_shard = (uint8_t)(t->id & (TD_OWNED_SHARDS - 1));
	struct td_owned_shard *sh = shard_of(o, t);
	pthread_mutex_lock(&sh->lock);
	if (atomic_load_explicit(&o->closed, memory_order_relaxed)) {
		pthread_mutex_unlock(&sh->lock);
		return -ESHUTDOWN;
	}
	if (sh->count == sh->cap) {
		uint32_t ncap = sh->cap ? sh->cap * 2 : 64;
		struct td_task **p = realloc(sh->tasks, ncap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&sh->lock);
			return -ENOMEM;
		}
		sh->tasks = p;
		sh->cap = ncap;
	}
	t->owned_index = sh->count;
	sh->tasks[sh->count++] = t;
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

/* Under the shard lock. */
static bool unlink_task(struct td_owned_shard *sh, struct td_task *t)
{
	uint32_t i = t->owned_index;
	if (i == TD_OWNED_NONE)
		return false; /* not listed (taken by shutdown) */
	struct td_task *last = sh->tasks[--sh->count];
	sh->tasks[i] = last;
	last->owned_index = i;
	t->owned_index = TD_OWNED_NONE;
	/* Give memory back after a burst (halving at a quarter full keeps
	 * resizes rare). */
	if (sh->cap > 64 && sh->count < sh->cap / 4) {
		struct td_task **p =
			realloc(sh->tasks, (sh->cap / 2) * sizeof(*p));
		if (p) {
			sh->tasks = p;
			sh->cap /= 2;
		}
	}
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
		atomic_store_explicit(&o->closed, true, memory_order_relaxed);
		pthread_mutex_unlock(&o->shards[i].lock);
	}
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		struct td_owned_shard *sh = &o->shards[i];
		for (;;) {
			pthread_mutex_lock(&sh->lock);
			struct td_task *t =
				sh->count ? sh->tasks[sh->count - 1] : NULL;
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

struct td_task **td_owned_snapshot(struct td_owned *o, bool take_refs,
				   size_t *n, bool *oom)
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
		if (sh->count)
			memcpy(arr + len, sh->tasks, sh->count * sizeof(*arr));
		if (take_refs)
			for (uint32_t k = 0; k < sh->count; k++)
				td_task_ref(sh->tasks[k]);
		len += sh->count;
		pthread_mutex_unlock(&sh->lock);
	}
	*n = len;
	return arr;
}
