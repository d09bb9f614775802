/* service_proto.h - the wire format between taskdump-loadgen and
 * taskdump-service (bench/service_latency.sh).
 *
 * A request and its reply are one fixed-size frame of SVC_FRAME_SIZE bytes,
 * in the sender's byte order (both ends run on one machine, over
 * loopback).  The client stamps each request with its sequence number and
 * the time it was *scheduled* to be sent; the server answers every frame
 * in order, copying both fields back and filling in `value`, so the client
 * needs no table of requests in flight: a reply carries its own start time.
 */
#ifndef TD_SERVICE_PROTO_H
#define TD_SERVICE_PROTO_H

#include <stdint.h>

#define SVC_MAGIC 0x7464737663u /* "tdsvc" */
#define SVC_FRAME_SIZE 32

typedef struct svc_frame {
	uint64_t magic;    /* SVC_MAGIC, or the frame is rejected */
	uint64_t seq;      /* the client's sequence number */
	uint64_t sched_ns; /* CLOCK_MONOTONIC, when it was due to be sent */
	uint64_t value;    /* request: 0; reply: the server's work on it */
} svc_frame;

_Static_assert(sizeof(svc_frame) == SVC_FRAME_SIZE, "a frame is 32 bytes");

#endif /* TD_SERVICE_PROTO_H */
