/* service_conn.c - taskdump-service's tasks: the listener, and one task
 * per connection that answers request frames in order (see service.h).
 *
 * A connection task reads whatever bytes have arrived, answers every whole
 * frame among them with one write, and keeps a partial frame for the next
 * read, so a client may have any number of requests in flight (an open-loop
 * client keeps sending while the server is paused, for a dump say, and the
 * requests queue up in the socket).  A malformed frame or an error ends
 * the connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "service.h"
#include "service_proto.h"

/* Frames read (and answered) per read: 16 frames, 512 bytes. */
#define CONN_BUF (16 * SVC_FRAME_SIZE)

typedef struct svc_conn {
	td_future base;
	td_async as;
	struct svc *s;
	td_io io;
	int fd;
	size_t have;  /* bytes in `in`: at most one partial frame between reads */
	size_t nout;  /* bytes of replies in `out` */
	td_io_read read;
	td_io_write write;
	unsigned char in[CONN_BUF];
	unsigned char out[CONN_BUF];
} svc_conn;

uint64_t svc_work(uint64_t seed, unsigned rounds)
{
	uint64_t x = seed;
	for (unsigned i = 0; i < rounds; i++) { /* splitmix64's finalizer */
		x += 0x9e3779b97f4a7c15u;
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
		x ^= x >> 31;
	}
	return x;
}

/* Answer the whole frames in c->in into c->out and keep the partial one;
 * false if a frame is malformed. */
static bool conn_answer(svc_conn *c)
{
	size_t whole = c->have / SVC_FRAME_SIZE * SVC_FRAME_SIZE;
	c->nout = 0;
	for (size_t off = 0; off < whole; off += SVC_FRAME_SIZE) {
		svc_frame f;
		memcpy(&f, c->in + off, sizeof(f));
		if (f.magic != SVC_MAGIC) {
			atomic_fetch_add_explicit(&c->s->bad_frames, 1,
						  memory_order_relaxed);
			return false;
		}
		f.value = svc_work(f.seq, c->s->work);
		memcpy(c->out + c->nout, &f, sizeof(f));
		c->nout += sizeof(f);
	}
	atomic_fetch_add_explicit(&c->s->requests, whole / SVC_FRAME_SIZE,
				  memory_order_relaxed);
	c->have -= whole;
	memmove(c->in, c->in + whole, c->have);
	return true;
}

/* The connection's task: read, answer, write, until the peer hangs up. */
static td_poll conn_poll(td_future *f, td_context *cx)
{
	svc_conn *c = (svc_conn *)f;
	TD_BEGIN(&c->as);
	/* Replies are small and may follow each other: no Nagle delay. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (td_io_register(NULL, &c->io, c->fd) != 0) {
		close(c->fd);
		TD_RETURN(&c->as);
	}
	for (;;) {
		td_io_read_init(&c->read, &c->io, c->in + c->have,
				sizeof(c->in) - c->have);
		TD_AWAIT(&c->as, &c->read, cx);
		if (c->read.result <= 0)
			break; /* hung up (or reset: the client's linger 0) */
		c->have += (size_t)c->read.result;
		if (!conn_answer(c))
			break;
		if (c->nout == 0)
			continue;
		td_io_write_init(&c->write, &c->io, c->out, c->nout);
		TD_AWAIT(&c->as, &c->write, cx);
		if (c->write.result < 0)
			break;
	}
	td_io_close(&c->io);
	TD_END(&c->as);
}

/* Dropped at shutdown, waiting or never polled. */
static void conn_drop(td_future *f)
{
	svc_conn *c = (svc_conn *)f;
	td_async_drop(&c->as);
	if (c->io.driver)
		td_io_close(&c->io);
	else if (c->as.resume == 0)
		close(c->fd);
}

static const td_future_vtable conn_vtable = {
	.poll = conn_poll, .drop = conn_drop, .type_name = "svc_conn"};

typedef struct svc_listener {
	td_future base;
	td_async as;
	struct svc *s;
	td_io io;
	td_io_accept accept;
	td_sleep backoff;
} svc_listener;

/* Accept connections and spawn a task for each, forever. */
static td_poll listener_poll(td_future *f, td_context *cx)
{
	svc_listener *l = (svc_listener *)f;
	TD_BEGIN(&l->as);
	if (td_io_register(NULL, &l->io, l->s->listen_fd) != 0)
		TD_RETURN(&l->as);
	for (;;) {
		td_io_accept_init(&l->accept, &l->io);
		TD_AWAIT(&l->as, &l->accept, cx);
		if (l->accept.result < 0) {
			/* Out of descriptors, say: the pending connection stays
			 * ready, so wait a little instead of spinning. */
			atomic_fetch_add_explicit(&l->s->accept_errors, 1,
						  memory_order_relaxed);
			td_sleep_init(&l->backoff, 10);
			TD_AWAIT(&l->as, &l->backoff, cx);
			continue;
		}
		atomic_fetch_add_explicit(&l->s->accepted, 1,
					  memory_order_relaxed);
		svc_conn c = {.base = {&conn_vtable}, .s = l->s,
			      .fd = l->accept.result};
		/* A failed spawn drops the future, which closes the fd. */
		(void)td_spawn_named(NULL, "connection", &c, NULL);
	}
	TD_END(&l->as);
}

/* Dropped at shutdown. */
static void listener_drop(td_future *f)
{
	svc_listener *l = (svc_listener *)f;
	td_async_drop(&l->as);
	td_io_deregister(&l->io);
}

static const td_future_vtable listener_vtable = {
	.poll = listener_poll, .drop = listener_drop,
	.type_name = "svc_listener"};

int svc_spawn_listener(struct svc *s)
{
	svc_listener l = {.base = {&listener_vtable}, .s = s};
	return td_spawn_named(s->rt, "listener", &l, NULL);
}
