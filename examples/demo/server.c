/* server.c - a TCP echo server: a listener task accepts connections and
 * spawns one task per connection, which writes back every byte it reads. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "demo.h"

typedef struct connection {
	td_future base;
	td_async as;
	td_io io;
	int fd;
	char buf[512];
	td_io_read read;
	td_io_write write;
} connection;

static td_poll connection_poll(td_future *f, td_context *cx)
{
	connection *c = (connection *)f;
	TD_BEGIN(&c->as);
	if (td_io_register(NULL, &c->io, c->fd) != 0) {
		close(c->fd);
		TD_RETURN(&c->as);
	}
	for (;;) {
		td_io_read_init(&c->read, &c->io, c->buf, sizeof(c->buf));
		TD_AWAIT(&c->as, &c->read, cx);
		if (c->read.result <= 0)
			break; /* the client hung up */
		td_io_write_init(&c->write, &c->io, c->buf,
				 (size_t)c->read.result);
		TD_AWAIT(&c->as, &c->write, cx);
		if (c->write.result < 0)
			break;
	}
	td_io_close(&c->io);
	TD_END(&c->as);
}

static void connection_drop(td_future *f)
{
	connection *c = (connection *)f;
	td_async_drop(&c->as);
	if (c->io.driver)
		td_io_close(&c->io);
	else if (c->as.resume == 0)
		close(c->fd); /* never polled */
}

static const td_future_vtable connection_vtable = {
	.poll = connection_poll, .drop = connection_drop,
	.type_name = "connection"};

typedef struct listener {
	td_future base;
	td_async as;
	struct demo *d;
	td_io io;
	td_io_accept accept;
} listener;

static td_poll listener_poll(td_future *f, td_context *cx)
{
	listener *l = (listener *)f;
	TD_BEGIN(&l->as);
	if (td_io_register(NULL, &l->io, l->d->listen_fd) != 0) {
		fprintf(stderr, "taskdump-demo: cannot watch the listener\n");
		TD_RETURN(&l->as);
	}
	for (;;) {
		td_io_accept_init(&l->accept, &l->io);
		TD_AWAIT(&l->as, &l->accept, cx);
		if (l->accept.result < 0)
			continue; /* e.g. EMFILE: keep serving the others */
		connection c = {.base = {&connection_vtable},
				.fd = l->accept.result};
		if (td_spawn_named(NULL, "connection", &c, NULL) != 0)
			close(c.fd);
	}
	TD_END(&l->as);
}

static void listener_drop(td_future *f)
{
	listener *l = (listener *)f;
	td_async_drop(&l->as);
	td_io_deregister(&l->io);
}

static const td_future_vtable listener_vtable = {
	.poll = listener_poll, .drop = listener_drop, .type_name = "listener"};

int demo_spawn_server(struct demo *d)
{
	listener l = {.base = {&listener_vtable}, .d = d};
	return td_spawn_named(d->rt, "listener", &l, NULL);
}
