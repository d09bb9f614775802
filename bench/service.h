/* service.h - taskdump-service: the server of the service-latency bench
 * (bench/service_latency.sh, README "Speed").
 *
 * A TCP server on the taskdump runtime: a listener task accepts loopback
 * connections and spawns one task per connection, which reads request
 * frames (service_proto.h), does a little work on each and writes the
 * replies.  The load generator opens thousands of connections that never
 * send again after their first request: their tasks wait in a read, as a
 * real service's idle keep-alive connections do, and make the task dumps
 * of the process as large as that service's would be.
 */
#ifndef TD_SERVICE_H
#define TD_SERVICE_H

#include <stdatomic.h>
#include <stdint.h>

#include "taskdump/taskdump.h"

struct svc {
	td_runtime *rt;
	int listen_fd;
	unsigned work;  /* rounds of svc_work per request */

	/* Counters, for the line printed at exit (relaxed: only read then). */
	atomic_uint_fast64_t accepted, requests, bad_frames, accept_errors;
};

/* Spawn the listener task on s->rt; 0 or -errno. */
int svc_spawn_listener(struct svc *s);

/* The "small work" of one request: `rounds` rounds of a 64-bit mixing
 * function over `seed`; returns the result (so it cannot be optimized
 * away: it is sent back). */
uint64_t svc_work(uint64_t seed, unsigned rounds);

#endif /* TD_SERVICE_H */
