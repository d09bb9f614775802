/* taskdump/mpsc.h - multi-producer, single-consumer channels.
 *
 * A channel carries elements of one fixed size, chosen at creation; values
 * are copied in and out with memcpy (send a pointer if the element owns
 * memory).  A bounded channel holds at most `capacity` (>= 1) queued
 * elements and senders wait for space, in arrival order; an unbounded one
 * grows as needed and sending never waits.
 *
 * Handles.  The channel is heap-allocated and reference counted; one
 * td_mpsc pointer serves both sides, and the functions say which side they
 * act for.  td_mpsc_bounded()/td_mpsc_unbounded() return a channel with
 * one sender handle and the receiver handle.  More sender handles come
 * from td_mpsc_sender_clone(); every sender handle is given back with
 * td_mpsc_sender_release(), the receiver with td_mpsc_receiver_release().
 * The channel is freed when all handles are released.  A send future
 * borrows a sender handle and a recv future the receiver: release the
 * handle only after the future completed or was dropped.
 *
 * Closing (as in Tokio):
 * - When every sender handle is released, the receiver still gets what is
 *   queued; after that recv completes with error -EPIPE ("closed").
 * - When the receiver closes (td_mpsc_close) or is released, every send
 *   (waiting or new) fails with -EPIPE and the value is not taken.  After
 *   td_mpsc_close the receiver can still drain what was queued before.
 *
 * Send futures waiting for space are served in arrival order: when the
 * receiver takes an element it reserves the freed slot for the oldest
 * waiting sender and wakes it; that sender's next poll copies the value
 * in.  Cancel safety: a send future dropped before it returned READY has
 * sent nothing (a reserved slot passes to the next waiting sender), so a
 * send losing a race against, say, a timeout can simply be retried.
 *
 * Thread safety: senders may live on any threads; the receiving side
 * (recv futures, try_recv, close, receiver release) must be used by one
 * task or thread at a time.  There is a single internal lock per channel
 * and no allocation per element for bounded channels (a ring buffer,
 * grown up to `capacity` while needed; unbounded ones grow by doubling).
 */
#ifndef TASKDUMP_MPSC_H
#define TASKDUMP_MPSC_H

#include <stdbool.h>
#include <stddef.h>

#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/sync_list.h"
#include "taskdump/waker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A channel (opaque). */
typedef struct td_mpsc td_mpsc;

/* Create a bounded channel of elements of `elem_size` bytes holding at
 * most `capacity` of them.  Returns the channel (one sender handle plus
 * the receiver) or NULL with errno set: EINVAL (elem_size or capacity is
 * 0), ENOMEM. */
TD_API td_mpsc *td_mpsc_bounded(size_t elem_size, size_t capacity);

/* Create an unbounded channel; as td_mpsc_bounded otherwise. */
TD_API td_mpsc *td_mpsc_unbounded(size_t elem_size);

/* Sender side: take another sender handle; returns ch. */
TD_API td_mpsc *td_mpsc_sender_clone(td_mpsc *ch);

/* Sender side: give back a sender handle.  Releasing the last one lets
 * the receiver see "closed" once the queue is drained. */
TD_API void td_mpsc_sender_release(td_mpsc *ch);

/* Receiver side: refuse further sends (waiting senders fail with -EPIPE);
 * queued elements can still be received.  Idempotent. */
TD_API void td_mpsc_close(td_mpsc *ch);

/* Receiver side: close, discard what is queued and give back the
 * receiver handle. */
TD_API void td_mpsc_receiver_release(td_mpsc *ch);

/* A future that sends one element.  After TD_READY, `error` is 0 (the
 * value was copied into the channel), -EPIPE (the receiver is closed or
 * gone; the value was not taken) or -ENOMEM (an unbounded or still
 * growing channel could not grow).  Other fields are private. */
typedef struct td_mpsc_send {
	td_future base;
	td_mpsc *ch;
	const void *value;     /* read until the send completes or is dropped */
	td_sync_link link;     /* in the channel's sender queue while waiting */
	td_waker waker;        /* protected by the channel lock */
	int state;             /* private; atomic access */
	int error;             /* result, see above */
} td_mpsc_send;

/* Prepare `f` to send the element at `value` (elem_size bytes, which must
 * stay valid and unchanged until the future is READY or dropped).  Dropping
 * the future before READY withdraws it: the value is not sent. */
TD_API void td_mpsc_send_init(td_mpsc_send *f, td_mpsc *ch,
			      const void *value);

/* Send without waiting.  Returns 0, -EAGAIN (a bounded channel is full or
 * has senders waiting), -EPIPE (receiver closed; value not taken) or
 * -ENOMEM. */
TD_API int td_mpsc_try_send(td_mpsc *ch, const void *value);

/* A future that receives one element.  After TD_READY, `error` is 0 (an
 * element was copied to `out`) or -EPIPE (closed: every sender is gone, or
 * the receiver was closed, and the queue is empty).  Other fields are
 * private. */
typedef struct td_mpsc_recv {
	td_future base;
	td_mpsc *ch;
	void *out;             /* where the element goes (elem_size bytes) */
	int state;             /* private */
	int error;             /* result, see above */
} td_mpsc_recv;

/* Receiver side: prepare `f` to receive into `out`.  Dropping a pending
 * recv takes nothing from the channel. */
TD_API void td_mpsc_recv_init(td_mpsc_recv *f, td_mpsc *ch, void *out);

/* Receiver side: receive without waiting.  Returns 0 (element copied to
 * `out`), -EAGAIN (empty, senders remain) or -EPIPE (empty and closed). */
TD_API int td_mpsc_try_recv(td_mpsc *ch, void *out);

/* The number of queued elements (a snapshot). */
TD_API size_t td_mpsc_len(const td_mpsc *ch);

/* The capacity of a bounded channel; 0 for an unbounded one. */
TD_API size_t td_mpsc_capacity(const td_mpsc *ch);

/* The element size given at creation. */
TD_API size_t td_mpsc_elem_size(const td_mpsc *ch);

/* The number of live sender handles (a snapshot). */
TD_API size_t td_mpsc_sender_count(td_mpsc *ch);

/* True once the receiver closed or was released: sends fail. */
TD_API bool td_mpsc_is_closed(const td_mpsc *ch);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_MPSC_H */
