/* demo.h - taskdump-demo: a small service whose task dumps are worth
 * reading.
 *
 * One process runs, on a taskdump runtime:
 *   - a TCP echo server on a loopback port (server.c): a listener task and
 *     one task per connection;
 *   - client tasks that talk to it (client.c): connect, send a line, read
 *     the echo back, check it, pause, repeat;
 *   - a ticker on a timer that notifies whoever waits for the next tick
 *     (ticker.c);
 *   - accountants contending on an async mutex, holding it across a sleep
 *     (ledger.c);
 *   - a producer and a consumer over a bounded channel (pipeline.c);
 *   - a task that waits on join_all of three children (fanout.c);
 *   - and one task stuck forever, waiting for a configuration reload that
 *     never comes (stuck.c).
 */
#ifndef TD_DEMO_H
#define TD_DEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "taskdump/taskdump.h"

struct demo {
	td_runtime *rt;
	uint16_t port;
	int listen_fd;
	unsigned clients;
	uint64_t requests;        /* per client; 0: forever */
	unsigned accountants;

	td_notify tick;           /* notified by the ticker, every tick */
	td_mutex ledger_lock;     /* the accountants' contended mutex */
	uint64_t ledger;          /* guarded by ledger_lock */
	td_mpsc *jobs;            /* producer -> consumer, capacity 4 */
	td_oneshot *reload;       /* never sent: the stuck task waits on it */
	td_notify clients_done;   /* the last client finished */

	atomic_uint_fast64_t ticks, echoes_ok, echo_errors, clients_left;
	atomic_uint_fast64_t produced_sum, consumed_sum, ledger_posts;
};

/* Spawn each part's tasks; 0 or -errno. */
int demo_spawn_server(struct demo *d);
int demo_spawn_clients(struct demo *d);
int demo_spawn_ticker(struct demo *d);
int demo_spawn_ledger(struct demo *d);
int demo_spawn_pipeline(struct demo *d);
int demo_spawn_fanout(struct demo *d);
int demo_spawn_stuck(struct demo *d);

/* The ledger's critical section, shared by accountants and fanout. */
typedef struct demo_post {
	td_future base;
	td_async as;
	struct demo *d;
	td_mutex_lock lock;
	td_sleep hold;
	uint64_t hold_ms;
} demo_post;

/* Lock the ledger, hold it for hold_ms (an async sleep under the lock),
 * post one entry, unlock. */
void demo_post_init(demo_post *p, struct demo *d, uint64_t hold_ms);

#endif /* TD_DEMO_H */
