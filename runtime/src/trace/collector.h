/* collector.h - internal: where trace captures put their backtraces.
 *
 * A collector is installed on one thread at a time (td_tls_collector); the
 * leaf hook appends one backtrace per leaf reached.  Backtraces refer to
 * their instruction pointers by index into one shared array, so a dump can
 * collect 100 000 tasks' traces into a handful of allocations.  Call
 * td_collector_finish() before reading td_backtrace.ips.
 */
#ifndef TD_TRACE_COLLECTOR_H
#define TD_TRACE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/trace.h"

/* The deepest backtrace recorded between a leaf and its root. */
#define TD_TRACE_MAX_FRAMES 128

struct td_collector {
	struct td_collector *outer; /* collector this one displaced, if any */
	td_backtrace *bts;          /* .ips holds an index until finish */
	size_t nbts, cap_bts;
	uintptr_t *ips;
	size_t nips, cap_ips;
	/* When an array is a trace/bigmem.h mapping: its size; 0 when it is
	 * malloc'ed (or NULL). */
	size_t map_bts, map_ips;
	bool out_of_memory;         /* some backtrace could not be stored */
	bool finished;
	/* The functions of the leaves seen, by hook address (capture.c):
	 * a direct-mapped cache, zero when empty. */
	struct td_leaf_fn {
		uintptr_t leaf_ip, start, end;
	} leaf_fns[64];
};

/* Start an empty collector (no allocation yet). */
void td_collector_init(struct td_collector *c);

/* Install c on this thread (remembering the one it displaces). */
void td_collector_push(struct td_collector *c);

/* Uninstall c (must be the installed one), restoring the displaced one. */
void td_collector_pop(struct td_collector *c);

/* Make room for nbts backtraces of nips addresses in all, touching the
 * memory now (so that page faults happen before tasks are paused).
 * Returns false when out of memory (the collector still works). */
bool td_collector_reserve(struct td_collector *c, size_t nbts, size_t nips);

/* Resolve the backtraces' ips pointers; no more leaves may be added. */
void td_collector_finish(struct td_collector *c);

/* Free the collector's arrays. */
void td_collector_release(struct td_collector *c);

/* ip lies in td_trace_root_poll: a native stack that contains it passes
 * through a task's (or block_on's) trace root. */
bool td_trace_ip_in_root(uintptr_t ip);

/* Poll `f` inside a trace root: the boundary of every backtrace recorded
 * under it.  Calls f through its vtable so that no user code is inlined
 * into the root's own frame. */
td_poll td_trace_root_poll(td_future *f, td_context *cx);

/* Load the address ranges the capture needs (idempotent, thread-safe).
 * Called before the first capture; cheap afterwards. */
void td_trace_init_ranges(void);

#endif /* TD_TRACE_COLLECTOR_H */
