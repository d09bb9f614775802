/* taskdump/oneshot.h - a channel for exactly one pointer-sized value.
 *
 * td_oneshot_new() returns a small heap object (40 bytes, lock-free)
 * shared by one sender and one receiver, each holding a reference:
 *
 *     td_oneshot *ch = td_oneshot_new();
 *     // receiving task:
 *     td_oneshot_recv_init(&self->rx, ch);   // takes the receiver side
 *     TD_AWAIT(&self->as, &self->rx, cx);
 *     if (self->rx.error == 0) use(self->rx.value);
 *     // elsewhere, once:
 *     td_oneshot_send(ch, result);          // gives up the sender side
 *
 * Sender side: exactly one of td_oneshot_send() or
 * td_oneshot_sender_release() (drop without sending) must be called.  The
 * receiver then completes with the value, or with error -EPIPE.
 *
 * Receiver side: either a td_oneshot_recv future takes it over (the future
 * releases it when it completes or is dropped), or the owner uses
 * td_oneshot_try_recv() and finally td_oneshot_receiver_release().
 * td_oneshot_close() refuses the value without releasing: a send that had
 * already succeeded can still be received afterwards.
 *
 * The value is an opaque pointer.  If a value was sent but is never
 * received (the receiver is released first), it is passed to the
 * `drop_value` function given to td_oneshot_new_with_drop(), if any, when
 * the channel is freed; otherwise it is simply forgotten.
 *
 * The two sides may be used from different threads concurrently.
 */
#ifndef TASKDUMP_ONESHOT_H
#define TASKDUMP_ONESHOT_H

#include <stdbool.h>

#include "taskdump/export.h"
#include "taskdump/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A oneshot channel (opaque). */
typedef struct td_oneshot td_oneshot;

/* Create a channel; both handles refer to the result.  NULL: out of
 * memory. */
TD_API td_oneshot *td_oneshot_new(void);

/* As td_oneshot_new, with a destructor for a value sent but never
 * received (NULL: none). */
TD_API td_oneshot *td_oneshot_new_with_drop(void (*drop_value)(void *value));

/* Sender side: send `value` and give up the sender handle (in every case).
 * Returns 0, or -EPIPE when the receiver closed or was released: the
 * value was not taken and still belongs to the caller. */
TD_API int td_oneshot_send(td_oneshot *ch, void *value);

/* Sender side: give up the sender handle without sending; the receiver
 * completes with -EPIPE. */
TD_API void td_oneshot_sender_release(td_oneshot *ch);

/* True once the receiver closed or was released, so that a send would
 * fail (a hint for senders that could stop working early). */
TD_API bool td_oneshot_is_closed(const td_oneshot *ch);

/* A future that receives the value.  After TD_READY, `error` is 0 and
 * `value` is the value sent, or `error` is -EPIPE (the sender was
 * released without sending, or the receiver had closed).  Fields are
 * read-only for users. */
typedef struct td_oneshot_recv {
	td_future base;
	td_oneshot *ch;   /* NULL once completed or dropped */
	void *value;
	int error;
} td_oneshot_recv;

/* Receiver side: prepare `f` to receive from `ch`, taking over the
 * receiver handle: the future releases it when it completes or is
 * dropped (so it must be either awaited to READY or dropped). */
TD_API void td_oneshot_recv_init(td_oneshot_recv *f, td_oneshot *ch);

/* Receiver side: receive without waiting.  Returns 0 with the value in
 * *value, -EAGAIN (nothing yet, the sender may still send) or -EPIPE
 * (nothing will come: sender gone, receiver closed, or value already
 * received). */
TD_API int td_oneshot_try_recv(td_oneshot *ch, void **value);

/* Receiver side: refuse the value from now on (td_oneshot_send fails
 * with -EPIPE); a value sent before can still be received. */
TD_API void td_oneshot_close(td_oneshot *ch);

/* Receiver side: close and give up the receiver handle (only when no
 * td_oneshot_recv future holds it). */
TD_API void td_oneshot_receiver_release(td_oneshot *ch);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_ONESHOT_H */
