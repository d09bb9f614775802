/* taskdump/sync_list.h - the waiter-list link the sync primitives embed.
 *
 * Private to the runtime: mutex, semaphore, mpsc and notify futures embed a
 * td_sync_link so that waiting never allocates, and their objects a
 * td_sync_list of waiters.  Declared here only because those structs are
 * public (users embed them); do not touch the fields.
 */
#ifndef TASKDUMP_SYNC_LIST_H
#define TASKDUMP_SYNC_LIST_H

typedef struct td_sync_link {
	struct td_sync_link *prev, *next;
} td_sync_link;

typedef struct td_sync_list {
	td_sync_link *head, *tail;
} td_sync_list;

#endif /* TASKDUMP_SYNC_LIST_H */
