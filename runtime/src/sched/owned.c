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
		struct td_owned_shard *sh = &o->shards[i];
		sh->lock = (sync_flock){0};
		sh->slots = NULL;
		sh->used = sh->cap = sh->live = 0;
		sh->free_head = TD_OWNED_NONE;
	}
	atomic_init(&o->closed, false);
}

void td_owned_destroy(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++)
		free(o->shards[i].slots);
}

static inline bool is_hole(uintptr_t slot)
{
	return slot & 1u;
}

/* A hole stores next + 1 (so TD_OWNED_NONE, the end of the list, is 0):
 * with indices below 2^30 (grow) that fits beside the tag bit even in a
 * 32-bit slot. */
static inline uintptr_t hole(uint32_t next)
{
	return (uintptr_t)(uint32_t)(next + 1u) << 1 | 1u;
}

static inline uint32_t hole_next(uintptr_t slot)
{
	return (uint32_t)(slot >> 1) - 1u;
}

/* Under the lock: make room for one more slot. */
static bool grow(struct td_owned_shard *sh)
{
	uint32_t ncap = sh->cap ? sh->cap * 2 : 64;
	if (ncap > (1u << 30) || ncap < sh->cap)
		return false; /* indices must fit a hole (above) */
	uintptr_t *p = realloc(sh->slots, ncap * sizeof(*p));
	if (!p)
		return false;
	sh->slots = p;
	sh->cap = ncap;
	return true;
}

/* Each spawning thread's shard offset, + 1 (0: not chosen yet), dealt out
 * round robin: threads that spawn at the same time get interleaved ids
 * from one counter, and would otherwise share a run's shard. */
static _Atomic unsigned next_spawner_offset;
static __thread unsigned spawner_offset_plus1
	__attribute__((tls_model("initial-exec")));

static inline unsigned spawner_offset(void)
{
	unsigned v = spawner_offset_plus1;
	if (__builtin_expect(v == 0, 0)) {
		v = atomic_fetch_add_explicit(&next_spawner_offset, 1,
					      memory_order_relaxed) %
			    TD_OWNED_SHARDS +
		    1;
		spawner_offset_plus1 = v;
	}
	return v - 1;
}

int td_owned_bind(struct td_owned *o, struct td_task *t)
{
	t->owned_shard = (uint8_t)((t->id / TD_OWNED_RUN + spawner_offset()) %
				   TD_OWNED_SHARDS);
	struct td_owned_shard *sh = shard_of(o, t);
	sync_flock_lock(&sh->lock);
	if (atomic_load_explicit(&o->closed, memory_order_relaxed)) {
		sync_flock_unlock(&sh->lock);
		return -ESHUTDOWN;
	}
	uint32_t i;
	if (sh->free_head != TD_OWNED_NONE) {
		i = sh->free_head;
		sh->free_head = hole_next(sh->slots[i]);
	} else {
		if (sh->used == sh->cap && !grow(sh)) {
			sync_flock_unlock(&sh->lock);
			return -ENOMEM;
		}
		i = sh->used++;
	}
	t->owned_index = i;
	sh->slots[i] = (uintptr_t)t;
	sh->live++;
	sync_flock_unlock(&sh->lock);
	return 0;
}

/* Under the shard lock. */
static bool unlink_task(struct td_owned_shard *sh, struct td_task *t)
{
	uint32_t i = t->owned_index;
	if (i == TD_OWNED_NONE)
		return false; /* not listed (taken by shutdown) */
	t->owned_index = TD_OWNED_NONE;
	sh->live--;
	if (sh->live == 0) {
		/* Empty: start over from slot 0 (keeps dumps' scans short). */
		sh->used = 0;
		sh->free_head = TD_OWNED_NONE;
	} else {
		sh->slots[i] = hole(sh->free_head);
		sh->free_head = i;
	}
	return true;
}

bool td_owned_remove(struct td_owned *o, struct td_task *t)
{
	struct td_owned_shard *sh = shard_of(o, t);
	sync_flock_lock(&sh->lock);
	bool listed = unlink_task(sh, t);
	sync_flock_unlock(&sh->lock);
	return listed;
}

void td_owned_close_and_shutdown(struct td_owned *o)
{
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		sync_flock_lock(&o->shards[i].lock);
		atomic_store_explicit(&o->closed, true, memory_order_relaxed);
		sync_flock_unlock(&o->shards[i].lock);
	}
	for (unsigned i = 0; i < TD_OWNED_SHARDS; i++) {
		struct td_owned_shard *sh = &o->shards[i];
		for (;;) {
			struct td_task *t = NULL;
			sync_flock_lock(&sh->lock);
			while (sh->used && !t) {
				uintptr_t slot = sh->slots[sh->used - 1];
				if (is_hole(slot))
					sh->used--; /* a hole at the end */
				else
					t = (struct td_task *)slot;
			}
			if (t)
				unlink_task(sh, t);
			sync_flock_unlock(&sh->lock);
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
		sync_flock_lock(&o->shards[i].lock);
		n += o->shards[i].live;
		sync_flock_unlock(&o->shards[i].lock);
	}
	return n;
}

/* Slots copied under one hold of a shard lock, with references. */
#define SNAPSHOT_RUN 2048u

struct td_task **td_owned_snapshot(struct td_owned *o, bool take_refs,
				   size_t *n, bool *oom)
{
	size_t cap = td_owned_count(o) + 64, len = 0;
	struct td_task **arr = malloc(cap * sizeof(*arr));

	*n = 0;
	*oom = arr == NULL;
	if (!arr)
		return NULL;
	for (unsigned i = 0; i < TD_OWNED_SHARDS && !*oom; i++) {
		struct td_owned_shard *sh = &o->shards[i];
		/* With references the shard is copied in runs of
		 * SNAPSHOT_RUN slots, its lock let go in between: a spawn or
		 * completion on it never waits for more than one run while
		 * the workers keep running (an incremental dump).  A task
		 * never changes slot, so between runs one can only be added
		 * (into a hole: missed before the run, as if spawned after
		 * the snapshot, or seen after it) or removed (then already
		 * counted, with its reference); none is seen twice. */
		uint32_t k = 0;
		sync_flock_lock(&sh->lock);
		for (;;) {
			if (len + sh->live > cap) {
				size_t ncap = (len + sh->live) * 2;
				struct td_task **p =
					realloc(arr, ncap * sizeof(*arr));
				if (!p) {
					*oom = true;
					break;
				}
				arr = p;
				cap = ncap;
			}
			uint32_t end = sh->used;
			if (take_refs && end - k > SNAPSHOT_RUN)
				end = k + SNAPSHOT_RUN;
			for (; k < end; k++) {
				if (is_hole(sh->slots[k]))
					continue;
				struct td_task *t =
					(struct td_task *)sh->slots[k];
				if (take_refs)
					td_task_ref(t);
				arr[len++] = t;
			}
			if (k >= sh->used)
				break;
			sync_flock_unlock(&sh->lock);
			sync_flock_lock(&sh->lock);
		}
		sync_flock_unlock(&sh->lock);
	}
	*n = len;
	return arr;
}
