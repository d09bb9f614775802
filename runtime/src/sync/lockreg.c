/* lockreg.c - the registries of mutexes and semaphores (sync/lockreg.h).
 *
 * `*registered` is written only under the shard lock, and read without it
 * by the object's lock path (relaxed: a stale "false" only sends that
 * path here, where it is read again under the lock).
 */
#include "sync/lockreg.h"
#include "sync/waitlist.h"

#include <pthread.h>

/* Zero-initialised: unlocked shards, empty lists. */
struct td_lockreg td_lockreg_mutexes;
struct td_lockreg td_lockreg_semaphores;

static struct td_lockreg_shard *shard_of(struct td_lockreg *r,
					 const td_sync_link *link)
{
	uintptr_t a = (uintptr_t)link;
	/* Objects are at least 64 bytes apart: drop the low bits, mix. */
	a ^= a >> 12;
	return &r->shards[(a >> 6) % TD_LOCKREG_SHARDS];
}

void td_lockreg_add(struct td_lockreg *r, td_sync_link *link,
		    bool *registered)
{
	struct td_lockreg_shard *s = shard_of(r, link);

	sync_flock_lock(&s->lock);
	if (!__atomic_load_n(registered, __ATOMIC_RELAXED)) {
		sync_list_push_back(&s->list, link);
		__atomic_store_n(registered, true, __ATOMIC_RELAXED);
	}
	sync_flock_unlock(&s->lock);
}

void td_lockreg_remove(struct td_lockreg *r, td_sync_link *link,
		       bool *registered)
{
	if (!__atomic_load_n(registered, __ATOMIC_RELAXED))
		return;
	struct td_lockreg_shard *s = shard_of(r, link);
	sync_flock_lock(&s->lock);
	if (__atomic_load_n(registered, __ATOMIC_RELAXED)) {
		sync_list_remove(&s->list, link);
		__atomic_store_n(registered, false, __ATOMIC_RELAXED);
	}
	sync_flock_unlock(&s->lock);
}

/* The walk runs during a dump's pause, over objects scattered in the
 * heap: one cache miss each.  So the shards are walked side by side (all
 * their locks taken, in index order: add and remove take one), one step
 * of each in turn, fetching each next node ahead: up to
 * TD_LOCKREG_SHARDS misses in flight instead of one. */
void td_lockreg_for_each(struct td_lockreg *r,
			 void (*fn)(td_sync_link *link, void *arg), void *arg)
{
	td_sync_link *cur[TD_LOCKREG_SHARDS];
	size_t live = 0;

	for (size_t i = 0; i < TD_LOCKREG_SHARDS; i++) {
		sync_flock_lock(&r->shards[i].lock);
		cur[i] = r->shards[i].list.head;
		live += cur[i] != NULL;
	}
	while (live) {
		for (size_t i = 0; i < TD_LOCKREG_SHARDS; i++) {
			td_sync_link *l = cur[i];
			if (!l)
				continue;
			cur[i] = l->next;
			if (cur[i])
				__builtin_prefetch(cur[i]);
			else
				live--;
			fn(l, arg);
		}
	}
	for (size_t i = TD_LOCKREG_SHARDS; i-- > 0;)
		sync_flock_unlock(&r->shards[i].lock);
}

/* A child of fork() may inherit a shard locked by a thread that is not
 * there: start it unlocked (the lists are as the parent left them). */
static void lockreg_after_fork_child(void)
{
	for (size_t i = 0; i < TD_LOCKREG_SHARDS; i++) {
		td_lockreg_mutexes.shards[i].lock.word = 0;
		td_lockreg_semaphores.shards[i].lock.word = 0;
	}
}

__attribute__((constructor)) static void lockreg_fork_handler(void)
{
	pthread_atfork(NULL, NULL, lockreg_after_fork_child);
}
