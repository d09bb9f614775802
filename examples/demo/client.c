/* client.c - clients of the echo server.  Each connects, then in a loop
 * sends a numbered line, reads the echo back and checks it, and pauses.
 * The await chain of a waiting client is four async functions deep:
 * client -> roundtrip -> read_line -> td_io_read. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

/* Read one '\n'-terminated line (at most sizeof(line) - 1 bytes). */
typedef struct read_line {
	td_future base;
	td_async as;
	td_io *io;
	char line[128];
	size_t len;
	int error; /* after READY: 0, or -1 at end of file / error */
	td_io_read read;
} read_line;

static td_poll read_line_poll(td_future *f, td_context *cx)
{
	read_line *r = (read_line *)f;
	TD_BEGIN(&r->as);
	r->len = 0;
	r->error = 0;
	while (r->len == 0 || r->line[r->len - 1] != '\n') {
		if (r->len + 1 >= sizeof(r->line)) {
			r->error = -1;
			TD_RETURN(&r->as);
		}
		/* One byte at a time keeps the next line in the socket. */
		td_io_read_init(&r->read, r->io, r->line + r->len, 1);
		TD_AWAIT(&r->as, &r->read, cx);
		if (r->read.result <= 0) {
			r->error = -1;
			TD_RETURN(&r->as);
		}
		r->len++;
	}
	r->line[r->len] = '\0';
	TD_END(&r->as);
}

static void read_line_drop(td_future *f)
{
	td_async_drop(&((read_line *)f)->as);
}

static const td_future_vtable read_line_vtable = {
	.poll = read_line_poll, .drop = read_line_drop,
	.type_name = "read_line"};

/* Send one request and check its echo. */
typedef struct roundtrip {
	td_future base;
	td_async as;
	td_io *io;
	char request[64];
	size_t len;
	bool ok; /* after READY */
	td_io_write write;
	read_line reply;
} roundtrip;

static td_poll roundtrip_poll(td_future *f, td_context *cx)
{
	roundtrip *t = (roundtrip *)f;
	TD_BEGIN(&t->as);
	t->ok = false;
	td_io_write_init(&t->write, t->io, t->request, t->len);
	TD_AWAIT(&t->as, &t->write, cx);
	if (t->write.result < 0)
		TD_RETURN(&t->as);
	t->reply = (read_line){.base = {&read_line_vtable}, .io = t->io};
	TD_AWAIT(&t->as, &t->reply, cx);
	t->ok = t->reply.error == 0 && strcmp(t->reply.line, t->request) == 0;
	TD_END(&t->as);
}

static void roundtrip_drop(td_future *f)
{
	td_async_drop(&((roundtrip *)f)->as);
}

static const td_future_vtable roundtrip_vtable = {
	.poll = roundtrip_poll, .drop = roundtrip_drop,
	.type_name = "roundtrip"};

typedef struct client {
	td_future base;
	td_async as;
	struct demo *d;
	unsigned index;
	uint64_t sent;
	td_io io;
	td_io_connect connect;
	roundtrip trip;
	td_sleep pause;
} client;

static void client_finished(struct demo *d)
{
	if (atomic_fetch_sub(&d->clients_left, 1) == 1)
		td_notify_one(&d->clients_done);
}

static td_poll client_poll(td_future *f, td_context *cx)
{
	client *c = (client *)f;
	TD_BEGIN(&c->as);
	{
		struct sockaddr_storage addr;
		socklen_t len;
		int fd = td_tcp_socket_for(NULL, c->d->port, &addr, &len);
		if (fd < 0 || td_io_register(NULL, &c->io, fd) != 0) {
			if (fd >= 0)
				close(fd);
			atomic_fetch_add(&c->d->echo_errors, 1);
			client_finished(c->d);
			TD_RETURN(&c->as);
		}
		td_io_connect_init(&c->connect, &c->io,
				   (struct sockaddr *)&addr, len);
	}
	TD_AWAIT(&c->as, &c->connect, cx);
	if (c->connect.result != 0) {
		atomic_fetch_add(&c->d->echo_errors, 1);
		goto done;
	}
	for (c->sent = 0; c->d->requests == 0 || c->sent < c->d->requests;
	     c->sent++) {
		c->trip = (roundtrip){.base = {&roundtrip_vtable}, .io = &c->io};
		c->trip.len = (size_t)snprintf(c->trip.request,
					       sizeof(c->trip.request),
					       "ping %u %llu\n", c->index,
					       (unsigned long long)c->sent);
		TD_AWAIT(&c->as, &c->trip, cx);
		atomic_fetch_add(c->trip.ok ? &c->d->echoes_ok
					    : &c->d->echo_errors,
				 1);
		td_sleep_init(&c->pause, 50);
		TD_AWAIT(&c->as, &c->pause, cx);
	}
done:
	td_io_close(&c->io);
	client_finished(c->d);
	TD_END(&c->as);
}

static void client_drop(td_future *f)
{
	client *c = (client *)f;
	td_async_drop(&c->as);
	td_io_close(&c->io);
}

static const td_future_vtable client_vtable = {
	.poll = client_poll, .drop = client_drop, .type_name = "client"};

int demo_spawn_clients(struct demo *d)
{
	atomic_store(&d->clients_left, d->clients);
	for (unsigned i = 0; i < d->clients; i++) {
		client c = {.base = {&client_vtable}, .d = d, .index = i};
		int err = td_spawn_named(d->rt, "client", &c, NULL);
		if (err)
			return err;
	}
	return 0;
}
