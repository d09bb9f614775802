/* ops.c - I/O operation futures and TCP helpers (taskdump/io.h).
 *
 * Every operation follows one loop: ask the driver for readiness (it
 * registers our waker when there is none), try the system call, and on
 * EAGAIN clear the readiness seen and ask again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/driver.h"
#include "trace/leaf.h"

#define IO_HOOK(cx, io, dir, what)                                            \
	TD_LEAF_HOOK(cx, .kind = TD_WAIT_IO, .object = (io),                  \
		     .fd = (io)->fd, .events = (dir), .label = (what))

static inline bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/* ---- readiness ------------------------------------------------------- */

/* Is fd ready for `interest` right now (a level-triggered look)?  Errors
 * and hang-ups count as ready: the caller's next operation reports them. */
static bool fd_ready_now(int fd, uint32_t interest)
{
	struct pollfd p = {.fd = fd, .events = 0};
	if (interest & TD_IO_READABLE)
		p.events |= POLLIN | POLLRDHUP;
	if (interest & TD_IO_WRITABLE)
		p.events |= POLLOUT;
	return poll(&p, 1, 0) != 0; /* < 0: let the caller find out */
}

static td_poll td_io_ready_poll(td_future *f, td_context *cx)
{
	td_io_ready *r = (td_io_ready *)f;
	uint32_t tick;
	int got;

	IO_HOOK(cx, r->io, r->interest, "ready");
	for (;;) {
		got = td_io_poll_ready(r->io, r->interest, cx, &tick);
		if (got == 0)
			return TD_PENDING;
		/* The driver's readiness is sticky until an operation hits
		 * EAGAIN - but whoever awaits bare readiness does its own
		 * I/O, which the driver never sees, and right after
		 * registration the driver only guesses "ready".  So look:
		 * if the descriptor is not actually ready, forget what was
		 * seen (unless an event came in meanwhile: tick) and wait
		 * for the next edge.  Without this, td_io_ready on an empty
		 * pipe, or after the caller had read until EAGAIN, was
		 * READY at once, every time. */
		if (got < 0 || fd_ready_now(r->io->fd, r->interest))
			break;
		td_io_clear_ready(r->io, r->interest, tick);
	}
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	r->result = got < 0 ? got : 0;
	r->ready = got < 0 ? 0 : (uint32_t)got;
	return TD_READY;
}

static void ready_drop(td_future *f)
{
	td_io_ready *r = (td_io_ready *)f;
	td_io_forget_waiter(r->io, r->interest);
}

static const td_future_vtable ready_vtable = {
	.poll = td_io_ready_poll, .drop = ready_drop, .type_name = "td_io_ready"};

void td_io_ready_init(td_io_ready *f, td_io *io, uint32_t interest)
{
	f->base.vtable = &ready_vtable;
	f->io = io;
	f->interest = interest;
	f->ready = 0;
	f->result = 0;
}

/* ---- read ------------------------------------------------------------ */

static td_poll td_io_read_poll(td_future *f, td_context *cx)
{
	td_io_read *r = (td_io_read *)f;
	uint32_t tick;

	IO_HOOK(cx, r->io, TD_WAIT_READ, "read");
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	for (;;) {
		int got = td_io_poll_ready(r->io, TD_IO_READABLE, cx, &tick);
		if (got == 0)
			return TD_PENDING;
		if (got < 0) {
			r->result = got;
			return TD_READY;
		}
		ssize_t n = read(r->io->fd, r->buf, r->len);
		if (n >= 0 || !would_block(errno)) {
			r->result = n >= 0 ? n : -errno;
			return TD_READY;
		}
		td_io_clear_ready(r->io, TD_IO_READABLE, tick);
	}
}

static void read_drop(td_future *f)
{
	td_io_forget_waiter(((td_io_read *)f)->io, TD_IO_READABLE);
}

static const td_future_vtable read_vtable = {
	.poll = td_io_read_poll, .drop = read_drop, .type_name = "td_io_read"};

void td_io_read_init(td_io_read *f, td_io *io, void *buf, size_t len)
{
	f->base.vtable = &read_vtable;
	f->io = io;
	f->buf = buf;
	f->len = len;
	f->result = 0;
}

/* ---- write ----------------------------------------------------------- */

static ssize_t write_some(td_io_write *w)
{
	const char *p = (const char *)w->buf + w->written;
	size_t left = w->len - w->written;
	if (w->use_send) {
		ssize_t n = send(w->io->fd, p, left, MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		w->use_send = 0;
	}
	return write(w->io->fd, p, left);
}

static td_poll td_io_write_poll(td_future *f, td_context *cx)
{
	td_io_write *w = (td_io_write *)f;
	uint32_t tick;

	IO_HOOK(cx, w->io, TD_WAIT_WRITE, "write");
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	while (w->written < w->len) {
		int got = td_io_poll_ready(w->io, TD_IO_WRITABLE, cx, &tick);
		if (got == 0)
			return TD_PENDING;
		if (got < 0) {
			w->result = got;
			return TD_READY;
		}
		ssize_t n = write_some(w);
		if (n >= 0) {
			w->written += (size_t)n;
		} else if (would_block(errno)) {
			td_io_clear_ready(w->io, TD_IO_WRITABLE, tick);
		} else {
			w->result = -errno;
			return TD_READY;
		}
	}
	w->result = (ssize_t)w->len;
	return TD_READY;
}

static void write_drop(td_future *f)
{
	td_io_forget_waiter(((td_io_write *)f)->io, TD_IO_WRITABLE);
}

static const td_future_vtable write_vtable = {
	.poll = td_io_write_poll, .drop = write_drop, .type_name = "td_io_write"};

void td_io_write_init(td_io_write *f, td_io *io, const void *buf, size_t len)
{
	f->base.vtable = &write_vtable;
	f->io = io;
	f->buf = buf;
	f->len = len;
	f->written = 0;
	f->result = 0;
	f->use_send = 1;
}

/* ---- accept ---------------------------------------------------------- */

static td_poll td_io_accept_poll(td_future *f, td_context *cx)
{
	td_io_accept *a = (td_io_accept *)f;
	uint32_t tick;

	IO_HOOK(cx, a->io, TD_WAIT_READ, "accept");
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	for (;;) {
		int got = td_io_poll_ready(a->io, TD_IO_READABLE, cx, &tick);
		if (got == 0)
			return TD_PENDING;
		if (got < 0) {
			a->result = got;
			return TD_READY;
		}
		a->addrlen = sizeof(a->addr);
		int fd = accept4(a->io->fd, (struct sockaddr *)&a->addr,
				 &a->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			a->result = fd;
			return TD_READY;
		}
		if (!would_block(errno) && errno != ECONNABORTED) {
			a->result = -errno;
			return TD_READY;
		}
		if (would_block(errno))
			td_io_clear_ready(a->io, TD_IO_READABLE, tick);
	}
}

static void accept_drop(td_future *f)
{
	td_io_forget_waiter(((td_io_accept *)f)->io, TD_IO_READABLE);
}

static const td_future_vtable accept_vtable = {
	.poll = td_io_accept_poll, .drop = accept_drop, .type_name = "td_io_accept"};

void td_io_accept_init(td_io_accept *f, td_io *listener)
{
	f->base.vtable = &accept_vtable;
	f->io = listener;
	f->result = -1;
	f->addrlen = 0;
}

/* ---- connect --------------------------------------------------------- */

static td_poll td_io_connect_poll(td_future *f, td_context *cx)
{
	td_io_connect *c = (td_io_connect *)f;
	uint32_t tick;

	IO_HOOK(cx, c->io, TD_WAIT_WRITE, "connect");
	if (!c->started) {
		c->started = 1;
		if (connect(c->io->fd, (struct sockaddr *)&c->addr,
			    c->addrlen) == 0) {
			c->result = 0;
			return TD_READY;
		}
		if (errno != EINPROGRESS) {
			c->result = -errno;
			return TD_READY;
		}
	}
	/* Readiness alone proves nothing here: the optimistic guess made
	 * at registration, or the hang-up an unconnected socket reports,
	 * may be what we see.  So: an error ends it, a peer address means
	 * connected, anything else was stale - clear it and wait on (a real
	 * event after that bumps the tick, so it cannot be cleared away). */
	for (;;) {
		int got = td_io_poll_ready(c->io, TD_IO_WRITABLE, cx, &tick);
		if (got == 0)
			return TD_PENDING;
		if (got < 0) {
			c->result = got;
			return TD_READY;
		}
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(c->io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			c->result = -err;
			return TD_READY;
		}
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		if (getpeername(c->io->fd, (struct sockaddr *)&peer, &plen) ==
		    0) {
			c->result = 0;
			return TD_READY;
		}
		if (errno != ENOTCONN) {
			c->result = -errno;
			return TD_READY;
		}
		td_io_clear_ready(c->io, TD_IO_WRITABLE, tick);
	}
}

static void connect_drop(td_future *f)
{
	td_io_forget_waiter(((td_io_connect *)f)->io, TD_IO_WRITABLE);
}

static const td_future_vtable connect_vtable = {
	.poll = td_io_connect_poll,
	.drop = connect_drop,
	.type_name = "td_io_connect"};

void td_io_connect_init(td_io_connect *f, td_io *io,
			const struct sockaddr *addr, socklen_t addrlen)
{
	f->base.vtable = &connect_vtable;
	f->io = io;
	if (addrlen > sizeof(f->addr))
		addrlen = sizeof(f->addr);
	memcpy(&f->addr, addr, addrlen);
	f->addrlen = addrlen;
	f->started = 0;
	f->result = 0;
}

/* ---- TCP helpers ----------------------------------------------------- */

static int fill_addr(const char *host, uint16_t port,
		     struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (!host)
		host = "127.0.0.1";
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int td_tcp_socket_for(const char *host, uint16_t port,
		      struct sockaddr_storage *addr, socklen_t *addrlen)
{
	int err = fill_addr(host, port, addr, addrlen);
	if (err)
		return err;
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
						 SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int td_tcp_listen(const char *host, uint16_t port, int backlog,
		  uint16_t *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = td_tcp_socket_for(host, port, &ss, &len);
	if (fd < 0)
		return fd;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, backlog > 0 ? backlog : 128) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (bound_port) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		*bound_port = ss.ss_family == AF_INET
				      ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
}
