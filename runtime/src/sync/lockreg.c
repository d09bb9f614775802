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

void td_lockreg_for_each(struct td_lockreg *r,
			 void (*fn)(td_sync_link *link, void *arg), void *arg)
{
	for (size_t i = 0; i < TD_LOCKREG_SHARDS; i++) {
		struct td_lockreg_shard *s = &r->shards[i];
		sync_flock_lock(&s->lock);
		for (td_sync_link *l = s->list.head; l; l = l->next)
			fn(l, arg);
		sync_flock_unlock(&s->lock);
	}
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
