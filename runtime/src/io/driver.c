/* driver.c - a runtime's epoll driver (see driver.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io/driver.h"
#include "sched/context.h"
#include "sched/park.h"
#include "sched/runtime_impl.h"

#define WAKE_TOKEN UINT64_MAX
#define EVENTS_PER_POLL 128

int td_io_driver_init(struct td_io_driver *d)
{
	memset(d, 0, sizeof(*d));
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wakefd < 0) {
		int err = -errno;
		close(d->epfd);
		return err;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
				 .data.u64 = WAKE_TOKEN};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev) < 0) {
		int err = -errno;
		close(d->wakefd);
		close(d->epfd);
		return err;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->free_head = UINT32_MAX;
	atomic_init(&d->registered, 0);
	return 0;
}

void td_io_driver_shutdown(struct td_io_driver *d)
{
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < d->nslots; i++) {
		td_waker_drop(&d->slots[i].reader);
		td_waker_drop(&d->slots[i].writer);
	}
	close(d->wakefd);
	close(d->epfd);
	/* Registrations that outlive the runtime still find their slots
	 * (their deregistration must not touch a reused fd number). */
	d->wakefd = d->epfd = -1;
	pthread_mutex_unlock(&d->lock);
}

void td_io_driver_destroy(struct td_io_driver *d)
{
	if (d->epfd >= 0)
		td_io_driver_shutdown(d);
	free(d->slots);
	pthread_mutex_destroy(&d->lock);
}

void td_io_driver_wake(struct td_io_driver *d)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: a wake is pending. */
	ssize_t r = write(d->wakefd, &one, sizeof(one));
	(void)r;
}

static uint32_t readiness_of(uint32_t events)
{
	uint32_t r = 0;
	if (events & EPOLLIN)
		r |= TD_READY_READ;
	if (events & EPOLLOUT)
		r |= TD_READY_WRITE;
	if (events & EPOLLRDHUP)
		r |= TD_READY_READ_CLOSED;
	if (events & EPOLLHUP)
		r |= TD_READY_READ_CLOSED | TD_READY_WRITE_CLOSED;
	if (events & EPOLLERR)
		r |= TD_READY_ERROR;
	return r;
}

/* The readiness bits that satisfy an interest. */
static uint32_t mask_of(uint32_t interest)
{
	uint32_t m = TD_READY_ERROR;
	if (interest & TD_IO_READABLE)
		m |= TD_READY_READ | TD_READY_READ_CLOSED;
	if (interest & TD_IO_WRITABLE)
		m |= TD_READY_WRITE | TD_READY_WRITE_CLOSED;
	return m;
}

int td_io_driver_poll(struct td_io_driver *d, int timeout_ms)
{
	struct epoll_event evs[EVENTS_PER_POLL];
	int n = epoll_wait(d->epfd, evs, EVENTS_PER_POLL, timeout_ms);
	if (n <= 0)
		return 0;

	/* Wakers are collected under the lock and woken after it. */
	td_waker wake[2 * EVENTS_PER_POLL];
	int nwake = 0, handled = 0;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < n; i++) {
		uint64_t data = evs[i].data.u64;
		if (data == WAKE_TOKEN) {
			uint64_t v;
			ssize_t r = read(d->wakefd, &v, sizeof(v));
			(void)r;
			continue;
		}
		uint32_t token = (uint32_t)data, gen = (uint32_t)(data >> 32);
		if (token >= d->nslots)
			continue;
		struct td_io_slot *s = &d->slots[token];
		if (!s->used || s->gen != gen)
			continue; /* deregistered meanwhile */
		uint32_t r = readiness_of(evs[i].events);
		s->readiness |= r;
		s->tick++;
		handled++;
		if ((r & mask_of(TD_IO_READABLE)) && s->reader.vtable) {
			wake[nwake++] = s->reader;
			s->reader = (td_waker){NULL, NULL};
		}
		if ((r & mask_of(TD_IO_WRITABLE)) && s->writer.vtable) {
			wake[nwake++] = s->writer;
			s->writer = (td_waker){NULL, NULL};
		}
	}
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < nwake; i++)
		td_waker_wake(&wake[i]);
	return handled;
}

/* Under the lock: the live slot of io, or NULL. */
static struct td_io_slot *slot_of(struct td_io_driver *d, const td_io *io)
{
	if (io->token >= d->nslots)
		return NULL;
	struct td_io_slot *s = &d->slots[io->token];
	return s->used && s->gen == io->gen ? s : NULL;
}

static int alloc_slot(struct td_io_driver *d, uint32_t *token)
{
	if (d->free_head != UINT32_MAX) {
		*token = d->free_head;
		d->free_head = d->slots[*token].next_free;
		return 0;
	}
	if (d->nslots == d->cap) {
		uint32_t ncap = d->cap ? d->cap * 2 : 64;
		struct td_io_slot *p = realloc(d->slots, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + d->cap, 0, (ncap - d->cap) * sizeof(*p));
		d->slots = p;
		d->cap = ncap;
	}
	*token = d->nslots++;
	return 0;
}

int td_io_register(td_runtime *rt, td_io *io, int fd)
{
	if (!io || fd < 0)
		return -EBADF;
	if (!rt)
		rt = td_tls_ctx ? td_tls_ctx->rt : NULL;
	if (!rt)
		return -ESRCH;
	struct td_io_driver *d = &rt->io;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;

	uint32_t token;
	pthread_mutex_lock(&d->lock);
	if (d->epfd < 0) {
		pthread_mutex_unlock(&d->lock);
		return -ESHUTDOWN;
	}
	int err = alloc_slot(d, &token);
	if (err) {
		pthread_mutex_unlock(&d->lock);
		return err;
	}
	struct td_io_slot *s = &d->slots[token];
	s->used = true;
	s->fd = fd;
	s->gen++;
	/* Optimistic: try the operation first; EAGAIN clears this. */
	s->readiness = TD_READY_READ | TD_READY_WRITE;
	s->tick = 0;
	uint32_t gen = s->gen;
	pthread_mutex_unlock(&d->lock);

	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = ((uint64_t)gen << 32) | token,
	};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		pthread_mutex_lock(&d->lock);
		s = &d->slots[token];
		s->used = false;
		s->next_free = d->free_head;
		d->free_head = token;
		pthread_mutex_unlock(&d->lock);
		return err;
	}
	io->driver = d;
	io->fd = fd;
	io->token = token;
	io->gen = gen;
	atomic_fetch_add_explicit(&d->registered, 1, memory_order_relaxed);
	/* A registration keeps the runtime's memory (this driver) alive, so
	 * that deregistering after td_runtime_free is still safe. */
	td_runtime_ref(rt);
	td_driver_ensure_watched(rt);
	return 0;
}

void td_io_deregister(td_io *io)
{
	struct td_io_driver *d = io ? io->driver : NULL;
	if (!d)
		return;
	td_waker r = {NULL, NULL}, w = {NULL, NULL};
	pthread_mutex_lock(&d->lock);
	struct td_io_slot *s = slot_of(d, io);
	if (s) {
		r = s->reader;
		w = s->writer;
		s->reader = s->writer = (td_waker){NULL, NULL};
		s->used = false;
		s->next_free = d->free_head;
		d->free_head = io->token;
	}
	if (s && d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	pthread_mutex_unlock(&d->lock);
	io->driver = NULL;
	td_waker_wake(&r);
	td_waker_wake(&w);
	if (s) {
		atomic_fetch_sub_explicit(&d->registered, 1,
					  memory_order_relaxed);
		/* Maybe the last reference: nothing of `d` after this. */
		td_runtime_unref(td_rt_of_io(d));
	}
}

void td_io_close(td_io *io)
{
	if (!io)
		return;
	int fd = io->driver ? io->fd : -1;
	td_io_deregister(io);
	if (fd >= 0)
		close(fd);
}

int td_io_poll_ready(td_io *io, uint32_t interest, const td_context *cx,
		     uint32_t *tick)
{
	struct td_io_driver *d = io->driver;
	if (!d)
		return -ECANCELED;
	pthread_mutex_lock(&d->lock);
	struct td_io_slot *s = slot_of(d, io);
	if (!s) {
		pthread_mutex_unlock(&d->lock);
		return -ECANCELED;
	}
	uint32_t r = s->readiness & mask_of(interest);
	if (r) {
		*tick = s->tick;
	} else {
		if (interest & TD_IO_READABLE)
			td_waker_register(&s->reader, cx->waker);
		if (interest & TD_IO_WRITABLE)
			td_waker_register(&s->writer, cx->waker);
	}
	pthread_mutex_unlock(&d->lock);
	return (int)r;
}

void td_io_clear_ready(td_io *io, uint32_t interest, uint32_t tick)
{
	struct td_io_driver *d = io->driver;
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	struct td_io_slot *s = slot_of(d, io);
	if (s && s->tick == tick) {
		/* EAGAIN also says the direction is neither closed nor in
		 * error (those make the call return at once), so every bit
		 * that satisfies the interest goes. */
		s->readiness &= ~mask_of(interest);
	}
	pthread_mutex_unlock(&d->lock);
}

void td_io_forget_waiter(td_io *io, uint32_t interest)
{
	struct td_io_driver *d = io->driver;
	td_waker r = {NULL, NULL}, w = {NULL, NULL};
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	struct td_io_slot *s = slot_of(d, io);
	if (s) {
		if (interest & TD_IO_READABLE) {
			r = s->reader;
			s->reader = (td_waker){NULL, NULL};
		}
		if (interest & TD_IO_WRITABLE) {
			w = s->writer;
			s->writer = (td_waker){NULL, NULL};
		}
	}
	pthread_mutex_unlock(&d->lock);
	td_waker_drop(&r);
	td_waker_drop(&w);
}
