/* driver.h - internal: a runtime's epoll driver.
 *
 * Registrations live in a slot table owned by the driver (never in user
 * memory), so an event that races a deregistration finds a bumped
 * generation and is ignored.  Every slot field is protected by `lock`.
 * epoll data = (generation << 32) | slot index; the eventfd that unparks the
 * polling thread uses WAKE_TOKEN.
 *
 * Readiness is edge-triggered and sticky: an event sets bits and bumps the
 * slot's tick; an operation that then hits EAGAIN clears the bits only if
 * the tick is unchanged, so an event between the two is never lost.
 */
#ifndef TD_IO_DRIVER_H
#define TD_IO_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "taskdump/io.h"

/* Readiness bits kept per slot. */
#define TD_READY_READ 1u
#define TD_READY_WRITE 2u
#define TD_READY_READ_CLOSED 4u
#define TD_READY_WRITE_CLOSED 8u
#define TD_READY_ERROR 16u

struct td_io_slot {
	int fd;
	uint32_t gen;
	uint32_t readiness;
	uint32_t tick;
	td_waker reader, writer;
	bool used;
	uint32_t next_free;
};

struct td_io_driver {
	int epfd;
	int wakefd; /* eventfd */
	pthread_mutex_t lock;
	struct td_io_slot *slots;
	uint32_t nslots, cap, free_head; /* free list through next_free */
	_Atomic uint32_t registered;
};

int td_io_driver_init(struct td_io_driver *d);

/* Runtime shutdown: close the epoll and wake-up descriptors and drop every
 * waiter.  Slots stay (registrations may be removed later: each holds a
 * runtime reference, so the driver's memory outlives them). */
void td_io_driver_shutdown(struct td_io_driver *d);

/* Free what is left (the runtime's memory is going). */
void td_io_driver_destroy(struct td_io_driver *d);

/* Wait up to timeout_ms (-1: forever, 0: just look) for events and wake
 * the tasks they concern.  Returns the number of I/O events handled. */
int td_io_driver_poll(struct td_io_driver *d, int timeout_ms);

/* Interrupt a td_io_driver_poll in progress (or make the next one return
 * at once).  Async-signal-safe. */
void td_io_driver_wake(struct td_io_driver *d);

/* For the operation futures (io/ops.c): the readiness among `interest`
 * (TD_IO_READABLE / TD_IO_WRITABLE, plus closed/error bits) and its tick;
 * when none, registers cx's waker and returns 0.  -ECANCELED when the
 * registration is gone. */
int td_io_poll_ready(td_io *io, uint32_t interest, const td_context *cx,
		     uint32_t *tick);

/* An operation hit EAGAIN: clear the readiness for `interest` seen at
 * `tick` (including closed/error bits, which EAGAIN disproves).  Also used
 * by connect to forget what an unconnected socket reported. */
void td_io_clear_ready(td_io *io, uint32_t interest, uint32_t tick);

/* Drop the waker a pending operation registered (its future is dropped). */
void td_io_forget_waiter(td_io *io, uint32_t interest);

#endif /* TD_IO_DRIVER_H */
