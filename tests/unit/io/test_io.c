/* test_io.c - readiness-based I/O (taskdump/io.h) on both schedulers:
 * pipes, socketpairs, a TCP echo of several MB (partial writes, EAGAIN),
 * end of file, refused connections, deregistration under a pending
 * operation, readiness arriving between EAGAIN and re-registration (a
 * writer thread racing the reader), td_io_ready's meaning, and two
 * runtimes serving each other at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/io.h"
#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_rt.h"
#include "test_util.h"

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,       \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* A stalled operation fails the test after this long instead of hanging. */
#define STALL_MS 10000
#define CONNECT_STALL_MS 3000

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* The byte at offset k of stream `id`. */
static inline uint8_t pattern(unsigned id, size_t k)
{
	return (uint8_t)(k * 131u + id * 7u + (k >> 13));
}

static uint8_t *pattern_buf(unsigned id, size_t n)
{
	uint8_t *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	for (size_t k = 0; k < n; k++)
		p[k] = pattern(id, k);
	return p;
}

/* ---- fault injection: a slow return from connect() --------------------- */

/*
 * The runtime is linked statically into this test, so its calls to
 * connect() resolve to this definition (the sanitizers' interceptors are
 * weak).  With `connect_delay` set, a connect that returns EINPROGRESS
 * first waits for the handshake to finish and lingers a little, as if the
 * thread had been preempted right after the system call: an idle worker
 * parked in the epoll driver then handles the completion event before
 * td_io_connect's poll looks at the readiness.
 */
static atomic_int connect_delay;

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	long r = syscall(SYS_connect, fd, addr.__sockaddr__, len);
	if (r < 0 && errno == EINPROGRESS && atomic_load(&connect_delay)) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		poll(&p, 1, 500);
		struct timespec ts = {0, 3000000};
		nanosleep(&ts, NULL);
		errno = EINPROGRESS;
	}
	return (int)r;
}

/* ---- small futures ------------------------------------------------------ */

/* Polls `inner`, counting how often it was pending (i.e. really waited:
 * EAGAIN and a registered wake-up). */
typedef struct counting {
	td_future base;
	td_future *inner;
	int pendings;
	atomic_int *pended_flag; /* set after the first TD_PENDING */
} counting;

static td_poll counting_poll(td_future *f, td_context *cx)
{
	counting *c = (counting *)f;
	td_poll r = td_future_poll(c->inner, cx);
	if (r == TD_PENDING) {
		c->pendings++;
		if (c->pended_flag)
			atomic_store(c->pended_flag, 1);
	}
	return r;
}

static void counting_drop(td_future *f)
{
	td_future_drop(((counting *)f)->inner);
}

static const td_future_vtable counting_vtable = {.poll = counting_poll,
						 .drop = counting_drop};

static void counting_init(counting *c, td_future *inner, atomic_int *flag)
{
	*c = (counting){{&counting_vtable}, inner, 0, flag};
}

/* Join a list of handles (from a task or block_on). */
/* ---- a stream writer and a stream reader (tasks) ----------------------- */

/* Writes `len` bytes of pattern(id) in random chunks, then closes or shuts
 * down its side. */
typedef struct writer {
	td_future base;
	td_async as;
	td_io *io;          /* registered by the owner (not closed here) */
	int fd_to_register; /* or: register this fd and close it at the end */
	td_io own;
	const uint8_t *data;
	size_t len, off, chunk;
	uint32_t rng;
	bool shut_wr;       /* shutdown(SHUT_WR) at the end (sockets) */
	td_io_write wr;
	counting cnt;
	td_sleep stall;
	td_timeout t;
	int pendings;
	int *out_pendings;
} writer;

static td_poll writer_poll(td_future *f, td_context *cx)
{
	writer *w = (writer *)f;
	TD_BEGIN(&w->as);
	if (!w->io) {
		REQUIRE(td_io_register(NULL, &w->own, w->fd_to_register) == 0);
		w->io = &w->own;
	}
	for (w->off = 0; w->off < w->len; w->off += w->chunk) {
		w->chunk = 1 + xorshift(&w->rng) % (256 * 1024);
		if (w->chunk > w->len - w->off)
			w->chunk = w->len - w->off;
		td_io_write_init(&w->wr, w->io, w->data + w->off, w->chunk);
		counting_init(&w->cnt, &w->wr.base, NULL);
		td_timeout_init(&w->t, &w->cnt.base, STALL_MS);
		TD_AWAIT(&w->as, &w->t, cx);
		REQUIRE(!w->t.timed_out);
		REQUIRE(w->wr.result == (ssize_t)w->chunk);
		REQUIRE(w->wr.written == w->chunk);
		w->pendings += w->cnt.pendings;
	}
	if (w->shut_wr)
		REQUIRE(shutdown(w->io->fd, SHUT_WR) == 0);
	if (w->io == &w->own)
		td_io_close(&w->own);
	if (w->out_pendings)
		*w->out_pendings = w->pendings;
	TD_END(&w->as);
}

static void writer_drop(td_future *f)
{
	writer *w = (writer *)f;
	td_async_drop(&w->as);
	if (w->io == &w->own)
		td_io_close(&w->own);
}

static const td_future_vtable writer_vtable = {.poll = writer_poll,
					       .drop = writer_drop};

/* Reads until end of file, checking every byte against pattern(id). */
typedef struct reader {
	td_future base;
	td_async as;
	td_io *io;
	int fd_to_register;
	td_io own;
	unsigned id;
	size_t want, got;
	size_t bufsz;
	uint32_t rng;
	uint8_t *buf;
	td_io_read rd;
	td_timeout t;
	size_t *out_got;
	bool bad;
} reader;

static td_poll reader_poll(td_future *f, td_context *cx)
{
	reader *r = (reader *)f;
	TD_BEGIN(&r->as);
	if (!r->io) {
		REQUIRE(td_io_register(NULL, &r->own, r->fd_to_register) == 0);
		r->io = &r->own;
	}
	r->buf = malloc(r->bufsz);
	REQUIRE(r->buf);
	for (;;) {
		td_io_read_init(&r->rd, r->io, r->buf,
				1 + xorshift(&r->rng) % r->bufsz);
		td_timeout_init(&r->t, &r->rd.base, STALL_MS);
		TD_AWAIT(&r->as, &r->t, cx);
		REQUIRE(!r->t.timed_out); /* a lost wake-up */
		REQUIRE(r->rd.result >= 0);
		if (r->rd.result == 0)
			break; /* end of file */
		for (ssize_t k = 0; k < r->rd.result; k++)
			if (r->buf[k] != pattern(r->id, r->got + (size_t)k))
				r->bad = true;
		r->got += (size_t)r->rd.result;
	}
	REQUIRE(!r->bad);
	REQUIRE(r->got == r->want);
	if (r->out_got)
		*r->out_got = r->got;
	free(r->buf);
	r->buf = NULL;
	if (r->io == &r->own)
		td_io_close(&r->own);
	TD_END(&r->as);
}

static void reader_drop(td_future *f)
{
	reader *r = (reader *)f;
	td_async_drop(&r->as);
	free(r->buf);
	if (r->io == &r->own)
		td_io_close(&r->own);
}

static const td_future_vtable reader_vtable = {.poll = reader_poll,
					       .drop = reader_drop};

/* ---- pipes and socketpairs ------------------------------------------- */

START_TEST(pipe_stream)
{
	td_runtime *rt = test_rt_new(_i);
	const size_t len = SANITIZED ? (1u << 20) : (4u << 20);
	uint8_t *data = pattern_buf(1, len);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	int wpend = 0;
	size_t got = 0;
	td_join_handle hs[2];
	writer w = {.base = {&writer_vtable}, .fd_to_register = p[1],
		    .data = data, .len = len, .rng = 5, .out_pendings = &wpend};
	reader r = {.base = {&reader_vtable}, .fd_to_register = p[0], .id = 1,
		    .want = len, .bufsz = 100000, .rng = 9, .out_got = &got};
	ck_assert_int_eq(td_spawn(rt, &r, &hs[0]), 0);
	ck_assert_int_eq(td_spawn(rt, &w, &hs[1]), 0);
	test_block_on_join(rt, hs, 2);
	ck_assert_uint_eq(got, len);
	/* A 64 KiB pipe and chunks of up to 256 KiB: the writer waited. */
	ck_assert_int_gt(wpend, 0);
	td_runtime_free(rt);
	free(data);
}
END_TEST

START_TEST(socketpair_both_ways)
{
	td_runtime *rt = test_rt_new(_i);
	const size_t len = SANITIZED ? (1u << 20) : (3u << 20);
	uint8_t *a2b = pattern_buf(2, len), *b2a = pattern_buf(3, len);
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* Small buffers: partial writes and EAGAIN on every chunk. */
	int small = 8192;
	for (int k = 0; k < 2; k++) {
		setsockopt(sv[k], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sv[k], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	td_io ioa, iob;
	ck_assert_int_eq(td_io_register(rt, &ioa, sv[0]), 0);
	ck_assert_int_eq(td_io_register(rt, &iob, sv[1]), 0);
	int pend_a = 0, pend_b = 0;
	size_t got_a = 0, got_b = 0;
	td_join_handle hs[4];
	/* One reader and one writer per end, all at once. */
	writer wa = {.base = {&writer_vtable}, .io = &ioa, .data = a2b,
		     .len = len, .rng = 11, .shut_wr = true,
		     .out_pendings = &pend_a};
	writer wb = {.base = {&writer_vtable}, .io = &iob, .data = b2a,
		     .len = len, .rng = 12, .shut_wr = true,
		     .out_pendings = &pend_b};
	reader ra = {.base = {&reader_vtable}, .io = &ioa, .id = 3,
		     .want = len, .bufsz = 50000, .rng = 13, .out_got = &got_a};
	reader rb = {.base = {&reader_vtable}, .io = &iob, .id = 2,
		     .want = len, .bufsz = 70000, .rng = 14, .out_got = &got_b};
	ck_assert_int_eq(td_spawn(rt, &ra, &hs[0]), 0);
	ck_assert_int_eq(td_spawn(rt, &wa, &hs[1]), 0);
	ck_assert_int_eq(td_spawn(rt, &rb, &hs[2]), 0);
	ck_assert_int_eq(td_spawn(rt, &wb, &hs[3]), 0);
	test_block_on_join(rt, hs, 4);
	ck_assert_uint_eq(got_a, len);
	ck_assert_uint_eq(got_b, len);
	ck_assert_int_gt(pend_a, 0);
	ck_assert_int_gt(pend_b, 0);
	td_io_close(&ioa);
	td_io_close(&iob);
	td_io_close(&iob); /* idempotent */
	td_runtime_free(rt);
	free(a2b);
	free(b2a);
}
END_TEST

/* ---- end of file, closed peers ------------------------------------------ */

typedef struct eof_main {
	td_future base;
	td_async as;
	td_io rio, sio;
	int wfd, peer;
	char buf[16];
	td_io_read rd;
	td_io_write wr;
	ssize_t results[5];
} eof_main;

static td_poll eof_main_poll(td_future *f, td_context *cx)
{
	eof_main *m = (eof_main *)f;
	TD_BEGIN(&m->as);
	/* Pipe: data, then the write end closes: data, then 0 (again). */
	REQUIRE(write(m->wfd, "hello", 5) == 5);
	close(m->wfd);
	td_io_read_init(&m->rd, &m->rio, m->buf, sizeof(m->buf));
	TD_AWAIT(&m->as, &m->rd, cx);
	m->results[0] = m->rd.result;
	td_io_read_init(&m->rd, &m->rio, m->buf, sizeof(m->buf));
	TD_AWAIT(&m->as, &m->rd, cx);
	m->results[1] = m->rd.result;
	td_io_read_init(&m->rd, &m->rio, m->buf, sizeof(m->buf));
	TD_AWAIT(&m->as, &m->rd, cx);
	m->results[2] = m->rd.result;

	/* Socket: a read pending when the peer closes completes with 0;
	 * a write to the closed peer fails with -EPIPE, no SIGPIPE. */
	td_io_read_init(&m->rd, &m->sio, m->buf, sizeof(m->buf));
	REQUIRE(td_future_poll(&m->rd.base, cx) == TD_PENDING);
	close(m->peer);
	TD_AWAIT(&m->as, &m->rd, cx);
	m->results[3] = m->rd.result;
	td_io_write_init(&m->wr, &m->sio, "x", 1);
	TD_AWAIT(&m->as, &m->wr, cx);
	if (m->wr.result == 1) { /* the first write may still succeed */
		td_io_write_init(&m->wr, &m->sio, "x", 1);
		TD_AWAIT(&m->as, &m->wr, cx);
	}
	m->results[4] = m->wr.result;
	TD_END(&m->as);
}

static const td_future_vtable eof_main_vtable = {.poll = eof_main_poll};

START_TEST(end_of_file)
{
	td_runtime *rt = test_rt_new(_i);
	eof_main *m = calloc(1, sizeof(*m));
	m->base.vtable = &eof_main_vtable;
	int p[2], sv[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(td_io_register(rt, &m->rio, p[0]), 0);
	ck_assert_int_eq(td_io_register(rt, &m->sio, sv[0]), 0);
	m->wfd = p[1];
	m->peer = sv[1];
	ck_assert_int_eq(td_runtime_block_on(rt, &m->base, NULL), 0);
	ck_assert_int_eq(m->results[0], 5);
	ck_assert_int_eq(m->results[1], 0);
	ck_assert_int_eq(m->results[2], 0);
	ck_assert_int_eq(m->results[3], 0);
	ck_assert_int_eq(m->results[4], -EPIPE);
	td_io_close(&m->rio);
	td_io_close(&m->sio);
	td_runtime_free(rt);
	free(m);
}
END_TEST

/* ---- TCP: echo of several MB, refused connections --------------------- */

typedef struct echo_handler {
	td_future base;
	td_async as;
	int fd;
	td_io io;
	uint8_t *buf;
	td_io_read rd;
	td_io_write wr;
	size_t *echoed;
} echo_handler;

static td_poll echo_handler_poll(td_future *f, td_context *cx)
{
	echo_handler *h = (echo_handler *)f;
	TD_BEGIN(&h->as);
	REQUIRE(td_io_register(NULL, &h->io, h->fd) == 0);
	h->buf = malloc(65536);
	REQUIRE(h->buf);
	for (;;) {
		td_io_read_init(&h->rd, &h->io, h->buf, 65536);
		TD_AWAIT(&h->as, &h->rd, cx);
		REQUIRE(h->rd.result >= 0);
		if (h->rd.result == 0)
			break;
		td_io_write_init(&h->wr, &h->io, h->buf, (size_t)h->rd.result);
		TD_AWAIT(&h->as, &h->wr, cx);
		REQUIRE(h->wr.result == h->rd.result);
		*h->echoed += (size_t)h->rd.result;
	}
	free(h->buf);
	h->buf = NULL;
	td_io_close(&h->io);
	TD_END(&h->as);
}

static void echo_handler_drop(td_future *f)
{
	echo_handler *h = (echo_handler *)f;
	td_async_drop(&h->as);
	free(h->buf);
	td_io_close(&h->io);
}

static const td_future_vtable echo_handler_vtable = {
	.poll = echo_handler_poll, .drop = echo_handler_drop};

#define MAX_CLIENTS 16

/* Accepts `n` connections and echoes each in a task of its own. */
typedef struct server {
	td_future base;
	td_async as;
	int lfd;
	td_io lio;
	int n, i;
	td_io_accept acc;
	td_join_handle hs[MAX_CLIENTS];
	size_t echoed[MAX_CLIENTS];
	size_t *total;
	test_joiner j;
} server;

static td_poll server_poll(td_future *f, td_context *cx)
{
	server *s = (server *)f;
	TD_BEGIN(&s->as);
	REQUIRE(td_io_register(NULL, &s->lio, s->lfd) == 0);
	for (s->i = 0; s->i < s->n; s->i++) {
		td_io_accept_init(&s->acc, &s->lio);
		TD_AWAIT(&s->as, &s->acc, cx);
		REQUIRE(s->acc.result >= 0);
		REQUIRE(s->acc.addrlen > 0);
		REQUIRE(fcntl(s->acc.result, F_GETFL) & O_NONBLOCK);
		echo_handler h = {.base = {&echo_handler_vtable},
				  .fd = s->acc.result,
				  .echoed = &s->echoed[s->i]};
		REQUIRE(td_spawn(NULL, &h, &s->hs[s->i]) == 0);
	}
	td_io_close(&s->lio);
	test_joiner_init(&s->j, s->hs, (size_t)s->n);
	TD_AWAIT(&s->as, &s->j, cx);
	REQUIRE(s->j.errors == 0);
	for (s->i = 0; s->i < s->n; s->i++)
		*s->total += s->echoed[s->i];
	TD_END(&s->as);
}

static void server_drop(td_future *f)
{
	server *s = (server *)f;
	td_async_drop(&s->as);
	td_io_close(&s->lio);
}

static const td_future_vtable server_vtable = {.poll = server_poll,
					       .drop = server_drop};

/* Connects, then writes `len` bytes of pattern(id) from a sub-task while
 * reading the echo back. */
typedef struct client {
	td_future base;
	td_async as;
	unsigned id;
	uint16_t port;
	const uint8_t *data;
	size_t len;
	bool small_buffers;
	td_io io;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	td_io_connect conn;
	td_join_handle wh;
	td_join wj;
	reader rd;
	int wpend;
	int *out_pend;
} client;

static td_poll client_poll(td_future *f, td_context *cx)
{
	client *c = (client *)f;
	TD_BEGIN(&c->as);
	{
		int fd = td_tcp_socket_for(NULL, c->port, &c->addr, &c->addrlen);
		REQUIRE(fd >= 0);
		if (c->small_buffers) {
			int small = 16384;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small,
				   sizeof(small));
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small,
				   sizeof(small));
		}
		REQUIRE(td_io_register(NULL, &c->io, fd) == 0);
	}
	td_io_connect_init(&c->conn, &c->io, (struct sockaddr *)&c->addr,
			   c->addrlen);
	TD_AWAIT(&c->as, &c->conn, cx);
	REQUIRE(c->conn.result == 0);
	{
		writer w = {.base = {&writer_vtable}, .io = &c->io,
			    .data = c->data, .len = c->len, .rng = c->id + 100,
			    .shut_wr = true, .out_pendings = &c->wpend};
		REQUIRE(td_spawn(NULL, &w, &c->wh) == 0);
	}
	c->rd = (reader){.base = {&reader_vtable}, .io = &c->io, .id = c->id,
			 .want = c->len, .bufsz = 40000, .rng = c->id + 7};
	TD_AWAIT(&c->as, &c->rd, cx);
	td_join_init(&c->wj, &c->wh);
	TD_AWAIT(&c->as, &c->wj, cx);
	REQUIRE(c->wj.error == 0);
	if (c->out_pend)
		*c->out_pend = c->wpend;
	td_io_close(&c->io);
	TD_END(&c->as);
}

static void client_drop(td_future *f)
{
	client *c = (client *)f;
	td_async_drop(&c->as);
	td_io_close(&c->io);
}

static const td_future_vtable client_vtable = {.poll = client_poll,
					       .drop = client_drop};

struct echo_setup {
	int nclients;
	size_t len;
	uint8_t *data[MAX_CLIENTS];
	int pend[MAX_CLIENTS];
	size_t total;
	uint16_t port;
	int lfd;
};

static void echo_prepare(struct echo_setup *e, int nclients, size_t len)
{
	memset(e, 0, sizeof(*e));
	e->nclients = nclients;
	e->len = len;
	e->lfd = td_tcp_listen(NULL, 0, 64, &e->port);
	ck_assert_int_ge(e->lfd, 0);
	ck_assert_uint_gt(e->port, 0);
	for (int i = 0; i < nclients; i++)
		e->data[i] = pattern_buf(10u + (unsigned)i, len);
}

static void echo_spawn_server(td_runtime *rt, struct echo_setup *e,
			      td_join_handle *h)
{
	server s = {.base = {&server_vtable}, .lfd = e->lfd,
		    .n = e->nclients, .total = &e->total};
	ck_assert_int_eq(td_spawn(rt, &s, h), 0);
}

static void echo_spawn_clients(td_runtime *rt, struct echo_setup *e,
			       td_join_handle *hs)
{
	for (int i = 0; i < e->nclients; i++) {
		client c = {.base = {&client_vtable}, .id = 10u + (unsigned)i,
			    .port = e->port, .data = e->data[i],
			    .len = e->len, .small_buffers = i % 2 == 0,
			    .out_pend = &e->pend[i]};
		ck_assert_int_eq(td_spawn(rt, &c, &hs[i]), 0);
	}
}

static void echo_check(struct echo_setup *e)
{
	ck_assert_uint_eq(e->total, e->len * (size_t)e->nclients);
	for (int i = 0; i < e->nclients; i++) {
		/* Small socket buffers: the writes were partial and waited. */
		if (i % 2 == 0)
			ck_assert_int_gt(e->pend[i], 0);
		free(e->data[i]);
	}
}

START_TEST(tcp_echo)
{
	td_runtime *rt = test_rt_new(_i);
	struct echo_setup e;
	echo_prepare(&e, 4, SANITIZED ? (1u << 20) : (3u << 20));
	td_join_handle hs[MAX_CLIENTS + 1];
	echo_spawn_server(rt, &e, &hs[0]);
	echo_spawn_clients(rt, &e, &hs[1]);
	test_block_on_join(rt, hs, (size_t)e.nclients + 1);
	echo_check(&e);
	td_runtime_free(rt);
}
END_TEST

/* The same, with the server on one runtime (driven by another thread)
 * and the clients on a second one: two runtimes, two epoll drivers, at
 * once. */
struct rt_thread_arg {
	td_runtime *rt;
	td_join_handle *hs;
	size_t n;
};

static void *block_on_thread(void *p)
{
	struct rt_thread_arg *a = p;
	test_joiner m;
	test_joiner_init(&m, a->hs, a->n);
	REQUIRE(td_runtime_block_on(a->rt, &m.base, NULL) == 0);
	REQUIRE(m.errors == 0);
	return NULL;
}

START_TEST(two_runtimes)
{
	/* _i picks the pair: (current, multi) and (multi, current). */
	td_runtime *a = test_rt_new(_i ? 2 : 0), *b = test_rt_new(_i ? 0 : 2);
	struct echo_setup e1, e2;
	echo_prepare(&e1, 3, SANITIZED ? (512u << 10) : (2u << 20));
	echo_prepare(&e2, 3, SANITIZED ? (512u << 10) : (2u << 20));
	/* Runtime a: server 1 and clients of server 2; b: the reverse. */
	td_join_handle ha[MAX_CLIENTS + 1], hb[MAX_CLIENTS + 1];
	echo_spawn_server(a, &e1, &ha[0]);
	echo_spawn_clients(a, &e2, &ha[1]);
	echo_spawn_server(b, &e2, &hb[0]);
	echo_spawn_clients(b, &e1, &hb[1]);
	struct rt_thread_arg arg = {a, ha, 4};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, block_on_thread, &arg), 0);
	test_block_on_join(b, hb, 4);
	pthread_join(th, NULL);
	echo_check(&e1);
	echo_check(&e2);
	td_runtime_free(a);
	td_runtime_free(b);
}
END_TEST

/* Connecting to a port nobody listens on: -ECONNREFUSED, many times and
 * in parallel (each attempt bounded, so a lost completion fails). */
typedef struct refused {
	td_future base;
	td_async as;
	uint16_t port;
	td_io io;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	td_io_connect conn;
	td_timeout t;
	int *result;
} refused;

static td_poll refused_poll(td_future *f, td_context *cx)
{
	refused *r = (refused *)f;
	TD_BEGIN(&r->as);
	{
		int fd = td_tcp_socket_for("127.0.0.1", r->port, &r->addr,
					   &r->addrlen);
		REQUIRE(fd >= 0);
		REQUIRE(td_io_register(NULL, &r->io, fd) == 0);
	}
	td_io_connect_init(&r->conn, &r->io, (struct sockaddr *)&r->addr,
			   r->addrlen);
	td_timeout_init(&r->t, &r->conn.base, CONNECT_STALL_MS);
	TD_AWAIT(&r->as, &r->t, cx);
	*r->result = r->t.timed_out ? -ETIMEDOUT : r->conn.result;
	td_io_close(&r->io);
	TD_END(&r->as);
}

static void refused_drop(td_future *f)
{
	refused *r = (refused *)f;
	td_async_drop(&r->as);
	td_io_close(&r->io);
}

static const td_future_vtable refused_vtable = {.poll = refused_poll,
						.drop = refused_drop};

START_TEST(connect_refused)
{
	td_runtime *rt = test_rt_new(_i);
	/* A port that was just free: bind, read it back, close. */
	uint16_t port = 0;
	int lfd = td_tcp_listen(NULL, 0, 1, &port);
	ck_assert_int_ge(lfd, 0);
	close(lfd);
	enum { N = 64 };
	int results[N];
	td_join_handle hs[N];
	for (int i = 0; i < N; i++) {
		results[i] = 1;
		refused r = {.base = {&refused_vtable}, .port = port,
			     .result = &results[i]};
		ck_assert_int_eq(td_spawn(rt, &r, &hs[i]), 0);
	}
	test_block_on_join(rt, hs, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(results[i], -ECONNREFUSED);
	td_runtime_free(rt);
}
END_TEST

/* Many successful connects in parallel: each must complete (a readiness
 * event that arrives between connect() and the future's registration
 * must not be lost). */
typedef struct connector {
	td_future base;
	td_async as;
	uint16_t port;
	td_io io;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	td_io_connect conn;
	td_timeout t;
	int *result;
} connector;

static td_poll connector_poll(td_future *f, td_context *cx)
{
	connector *c = (connector *)f;
	TD_BEGIN(&c->as);
	{
		int fd = td_tcp_socket_for(NULL, c->port, &c->addr,
					   &c->addrlen);
		REQUIRE(fd >= 0);
		REQUIRE(td_io_register(NULL, &c->io, fd) == 0);
	}
	td_io_connect_init(&c->conn, &c->io, (struct sockaddr *)&c->addr,
			   c->addrlen);
	td_timeout_init(&c->t, &c->conn.base, CONNECT_STALL_MS);
	TD_AWAIT(&c->as, &c->t, cx);
	*c->result = c->t.timed_out ? -ETIMEDOUT : c->conn.result;
	td_io_close(&c->io);
	TD_END(&c->as);
}

static void connector_drop(td_future *f)
{
	connector *c = (connector *)f;
	td_async_drop(&c->as);
	td_io_close(&c->io);
}

static const td_future_vtable connector_vtable = {.poll = connector_poll,
						  .drop = connector_drop};

START_TEST(many_connects)
{
	td_runtime *rt = test_rt_new(_i);
	uint16_t port = 0;
	int lfd = td_tcp_listen(NULL, 0, 1024, &port);
	ck_assert_int_ge(lfd, 0);
	enum { N = 200 };
	int *results = calloc(N, sizeof(int));
	td_join_handle *hs = calloc(N, sizeof(*hs));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			results[i] = 1;
			connector c = {.base = {&connector_vtable},
				       .port = port, .result = &results[i]};
			ck_assert_int_eq(td_spawn(rt, &c, &hs[i]), 0);
		}
		test_block_on_join(rt, hs, N);
		int fd;
		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
			close(fd);
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(results[i], 0);
	}
	close(lfd);
	free(results);
	free(hs);
	td_runtime_free(rt);
}
END_TEST

/* The completion event handled by another worker between connect() and
 * the future's first look at the readiness must not be lost. */
START_TEST(connect_completion_between_syscall_and_poll)
{
	td_runtime *rt = test_rt_new(_i);
	uint16_t port = 0;
	int lfd = td_tcp_listen(NULL, 0, 256, &port);
	ck_assert_int_ge(lfd, 0);
	uint16_t dead = 0;
	int dfd = td_tcp_listen(NULL, 0, 1, &dead);
	ck_assert_int_ge(dfd, 0);
	close(dfd);
	enum { N = 12 };
	int results[N];
	td_join_handle hs[N];
	atomic_store(&connect_delay, 1);
	/* One at a time, so that the other workers are idle, one of them
	 * parked in the driver. */
	for (int i = 0; i < N; i++) {
		results[i] = 1;
		/* Mostly successful connects, some refused. */
		if (i % 4 == 3) {
			refused r = {.base = {&refused_vtable}, .port = dead,
				     .result = &results[i]};
			ck_assert_int_eq(td_spawn(rt, &r, &hs[i]), 0);
		} else {
			connector c = {.base = {&connector_vtable},
				       .port = port, .result = &results[i]};
			ck_assert_int_eq(td_spawn(rt, &c, &hs[i]), 0);
		}
		test_block_on_join(rt, &hs[i], 1);
	}
	atomic_store(&connect_delay, 0);
	for (int i = 0; i < N; i++) {
		if (results[i] == -ETIMEDOUT)
			fprintf(stderr, "connect %d: completion event lost\n", i);
		ck_assert_int_eq(results[i], i % 4 == 3 ? -ECONNREFUSED : 0);
	}
	close(lfd);
	td_runtime_free(rt);
}
END_TEST

/* ---- deregistration while an operation waits -------------------------- */

/* A task awaiting one operation on an io it does not own. */
typedef struct op_task {
	td_future base;
	int kind; /* 0 read, 1 write, 2 accept, 3 ready */
	td_io *io;
	union {
		td_io_read rd;
		td_io_write wr;
		td_io_accept acc;
		td_io_ready ready;
	} u;
	char buf[8];
	const void *wdata;
	size_t wlen;
	counting cnt;
	atomic_int *pended;
	ssize_t *result;
	bool inited;
} op_task;

static td_poll op_task_poll(td_future *f, td_context *cx)
{
	op_task *t = (op_task *)f;
	if (!t->inited) {
		t->inited = true;
		switch (t->kind) {
		case 0:
			td_io_read_init(&t->u.rd, t->io, t->buf, sizeof(t->buf));
			break;
		case 1:
			td_io_write_init(&t->u.wr, t->io, t->wdata, t->wlen);
			break;
		case 2:
			td_io_accept_init(&t->u.acc, t->io);
			break;
		default:
			td_io_ready_init(&t->u.ready, t->io, TD_IO_READABLE);
			break;
		}
		counting_init(&t->cnt, (td_future *)&t->u, t->pended);
	}
	if (td_future_poll(&t->cnt.base, cx) == TD_PENDING)
		return TD_PENDING;
	atomic_store(t->pended, 1); /* done without waiting: don't hang */
	switch (t->kind) {
	case 0:
		*t->result = t->u.rd.result;
		break;
	case 1:
		*t->result = t->u.wr.result;
		break;
	case 2:
		*t->result = t->u.acc.result;
		break;
	default:
		*t->result = t->u.ready.result;
		break;
	}
	return TD_READY;
}

static void op_task_drop(td_future *f)
{
	op_task *t = (op_task *)f;
	if (t->inited)
		td_future_drop(&t->cnt.base);
}

static const td_future_vtable op_task_vtable = {.poll = op_task_poll,
						.drop = op_task_drop};

typedef struct dereg_main {
	td_future base;
	td_async as;
	td_io *ios;
	atomic_int *pended;
	int n, i;
	td_sleep nap;
	td_join_handle *hs;
	test_joiner j;
} dereg_main;

static td_poll dereg_main_poll(td_future *f, td_context *cx)
{
	dereg_main *m = (dereg_main *)f;
	TD_BEGIN(&m->as);
	/* Until every operation is really waiting. */
	for (;;) {
		int ready = 0;
		for (m->i = 0; m->i < m->n; m->i++)
			ready += atomic_load(&m->pended[m->i]);
		if (ready == m->n)
			break;
		td_sleep_init(&m->nap, 1);
		TD_AWAIT(&m->as, &m->nap, cx);
	}
	for (m->i = 0; m->i < m->n; m->i++) {
		td_io_deregister(&m->ios[m->i]);
		td_io_deregister(&m->ios[m->i]); /* idempotent */
	}
	test_joiner_init(&m->j, m->hs, (size_t)m->n);
	TD_AWAIT(&m->as, &m->j, cx);
	TD_END(&m->as);
}

static const td_future_vtable dereg_main_vtable = {.poll = dereg_main_poll};

START_TEST(deregister_completes_pending_ops)
{
	td_runtime *rt = test_rt_new(_i);
	enum { N = 8 };
	int fds[N][2];
	td_io ios[N];
	atomic_int pended[N];
	ssize_t results[N];
	td_join_handle hs[N];
	static char big[1 << 20];
	for (int i = 0; i < N; i++) {
		int kind = i % 4;
		atomic_init(&pended[i], 0);
		results[i] = 12345;
		if (kind == 2) {
			uint16_t port;
			fds[i][0] = td_tcp_listen(NULL, 0, 4, &port);
			fds[i][1] = -1;
			ck_assert_int_ge(fds[i][0], 0);
			ck_assert_int_eq(td_io_register(rt, &ios[i], fds[i][0]),
					 0);
		} else {
			ck_assert_int_eq(pipe2(fds[i], O_CLOEXEC | O_NONBLOCK),
					 0);
			int mine = kind == 1 ? fds[i][1] : fds[i][0];
			if (kind == 1) /* fill the pipe: the write waits */
				while (write(mine, big, sizeof(big)) > 0)
					;
			ck_assert_int_eq(td_io_register(rt, &ios[i], mine), 0);
		}
		op_task t = {.base = {&op_task_vtable}, .kind = kind,
			     .io = &ios[i], .wdata = big, .wlen = sizeof(big),
			     .pended = &pended[i], .result = &results[i]};
		ck_assert_int_eq(td_spawn(rt, &t, &hs[i]), 0);
	}
	dereg_main m = {.base = {&dereg_main_vtable}, .ios = ios,
			.pended = pended, .n = N, .hs = hs};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.j.errors, 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(results[i], -ECANCELED);
	for (int i = 0; i < N; i++) {
		close(fds[i][0]);
		if (fds[i][1] >= 0)
			close(fds[i][1]);
	}
	/* Operations on a deregistered io fail at once. */
	td_io dead = {0};
	op_task t = {.base = {&op_task_vtable}, .kind = 0, .io = &dead,
		     .result = &results[0], .pended = &pended[0]};
	ck_assert_int_eq(td_runtime_block_on(rt, &t.base, NULL), 0);
	ck_assert_int_eq(results[0], -ECANCELED);
	td_runtime_free(rt);
}
END_TEST

/* ---- readiness arriving between EAGAIN and re-registration ------------ */

struct trickle {
	int fd;
	size_t total;
	uint32_t rng;
};

static void *trickle_writer(void *p)
{
	struct trickle *t = p;
	size_t sent = 0;
	uint8_t buf[4];
	while (sent < t->total) {
		uint32_t r = xorshift(&t->rng);
		size_t n = 1 + r % 3;
		if (n > t->total - sent)
			n = t->total - sent;
		for (size_t k = 0; k < n; k++)
			buf[k] = pattern(7, sent + k);
		ssize_t w = write(t->fd, buf, n);
		if (w < 0) {
			REQUIRE(errno == EAGAIN);
			sched_yield();
			continue;
		}
		sent += (size_t)w;
		/* Random pacing: back-to-back, a yield, or a short nap, so
		 * data lands at every point of the reader's poll. */
		switch ((r >> 8) % 4) {
		case 0:
			break;
		case 1:
			sched_yield();
			break;
		case 2: {
			struct timespec ts = {0, (long)((r >> 12) % 50) * 1000};
			nanosleep(&ts, NULL);
			break;
		}
		default:
			for (volatile int spin = (int)((r >> 12) % 500); spin > 0;
			     spin--)
				;
			break;
		}
	}
	close(t->fd);
	return NULL;
}

START_TEST(readiness_not_lost)
{
	td_runtime *rt = test_rt_new(_i);
	enum { P = 4 };
	const size_t total = SANITIZED ? 6000 : 20000;
	struct trickle tr[P];
	pthread_t th[P];
	td_join_handle hs[P];
	size_t got[P];
	for (int i = 0; i < P; i++) {
		int p[2];
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		/* Small reads (1..4 bytes) from the task side. */
		reader r = {.base = {&reader_vtable}, .fd_to_register = p[0],
			    .id = 7, .want = total, .bufsz = 4,
			    .rng = 77u + (uint32_t)i, .out_got = &got[i]};
		ck_assert_int_eq(td_spawn(rt, &r, &hs[i]), 0);
		tr[i] = (struct trickle){p[1], total, 1234u + (uint32_t)i};
	}
	for (int i = 0; i < P; i++)
		pthread_create(&th[i], NULL, trickle_writer, &tr[i]);
	test_block_on_join(rt, hs, P);
	for (int i = 0; i < P; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(got[i], total);
	}
	td_runtime_free(rt);
}
END_TEST

/* ---- td_io_ready: "ready" means ready ------------------------------------ */

typedef struct ready_main {
	td_future base;
	td_async as;
	td_io rio, wio;
	int rfd, wfd;
	td_io_ready rdy;
	td_timeout t;
	bool timed_out[6];
	uint32_t seen[6];
	char buf[256];
} ready_main;

#define AWAIT_READY(m, io, interest, k)                                       \
	do {                                                                  \
		td_io_ready_init(&(m)->rdy, (io), (interest));                \
		td_timeout_init(&(m)->t, &(m)->rdy.base, 60);                 \
	} while (0)

static td_poll ready_main_poll(td_future *f, td_context *cx)
{
	ready_main *m = (ready_main *)f;
	TD_BEGIN(&m->as);
	/* 0: an empty pipe is not readable (however optimistic the
	 * driver's first guess). */
	AWAIT_READY(m, &m->rio, TD_IO_READABLE, 0);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[0] = m->t.timed_out;
	/* 1: data arrives: readable. */
	REQUIRE(write(m->wfd, "abc", 3) == 3);
	AWAIT_READY(m, &m->rio, TD_IO_READABLE, 1);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[1] = m->t.timed_out;
	m->seen[1] = m->rdy.ready;
	/* 2: drained by hand (read until EAGAIN): not readable any more. */
	while (read(m->rfd, m->buf, sizeof(m->buf)) > 0)
		;
	AWAIT_READY(m, &m->rio, TD_IO_READABLE, 2);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[2] = m->t.timed_out;
	/* 3: the write end of an empty pipe is writable. */
	AWAIT_READY(m, &m->wio, TD_IO_WRITABLE, 3);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[3] = m->t.timed_out;
	m->seen[3] = m->rdy.ready;
	/* 4: filled by hand until EAGAIN: not writable. */
	while (write(m->wfd, m->buf, sizeof(m->buf)) > 0)
		;
	AWAIT_READY(m, &m->wio, TD_IO_WRITABLE, 4);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[4] = m->t.timed_out;
	/* 5: the read end closes: the write end reports it (an error is
	 * readiness too: the next write fails at once). */
	close(m->rfd);
	AWAIT_READY(m, &m->wio, TD_IO_WRITABLE, 5);
	TD_AWAIT(&m->as, &m->t, cx);
	m->timed_out[5] = m->t.timed_out;
	TD_END(&m->as);
}

static const td_future_vtable ready_main_vtable = {.poll = ready_main_poll};

START_TEST(io_ready_means_ready)
{
	td_runtime *rt = test_rt_new(_i);
	ready_main *m = calloc(1, sizeof(*m));
	m->base.vtable = &ready_main_vtable;
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	m->rfd = p[0];
	m->wfd = p[1];
	ck_assert_int_eq(td_io_register(rt, &m->rio, p[0]), 0);
	ck_assert_int_eq(td_io_register(rt, &m->wio, p[1]), 0);
	ck_assert_int_eq(td_runtime_block_on(rt, &m->base, NULL), 0);
	ck_assert_msg(m->timed_out[0], "empty pipe reported readable");
	ck_assert(!m->timed_out[1]);
	ck_assert(m->seen[1] & TD_IO_READABLE);
	ck_assert_msg(m->timed_out[2], "drained pipe reported readable");
	ck_assert(!m->timed_out[3]);
	ck_assert(m->seen[3] & TD_IO_WRITABLE);
	ck_assert_msg(m->timed_out[4], "full pipe reported writable");
	ck_assert(!m->timed_out[5]);
	td_io_deregister(&m->rio); /* its fd is closed already */
	td_io_close(&m->wio);
	td_runtime_free(rt);
	free(m);
}
END_TEST

/* ---- regressions: bugs these tests found, since fixed -------------------- */


/*
 * BUG (io/driver.c with sched/runtime.c): a td_io still registered when
 * td_runtime_free runs keeps a pointer into the runtime (io->driver ==
 * &rt->io); td_runtime_free destroys the driver (frees its slot table,
 * closes the epoll fd) and the runtime's memory goes with its last
 * reference, so a later td_io_deregister / td_io_close - the natural
 * clean-up order "free the runtime, then close my sockets" - reads freed
 * memory (ASan: heap-use-after-free in slot_of, driver.c).  Only ASan
 * sees it; in a plain build it silently reads stale memory.
 */
START_TEST(deregister_after_runtime_free)
{
	td_runtime *rt = test_rt_new(_i);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	td_io io;
	ck_assert_int_eq(td_io_register(rt, &io, p[0]), 0);
	td_runtime_free(rt);
	td_io_close(&io); /* use after free under ASan */
	close(p[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, pipe_stream, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, socketpair_both_ways, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, end_of_file, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, tcp_echo, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, two_runtimes, 0, 2);
	tcase_add_loop_test(tc, connect_refused, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, many_connects, 0, TEST_NFLAVORS);
	/* Multi-thread only: a current-thread runtime has no other thread
	 * that could handle the event in between. */
	tcase_add_loop_test(tc, connect_completion_between_syscall_and_poll, 1,
			    TEST_NFLAVORS);
	tcase_add_loop_test(tc, deregister_completes_pending_ops, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, readiness_not_lost, 0, TEST_NFLAVORS);
	tcase_add_loop_test(tc, io_ready_means_ready, 0, TEST_NFLAVORS);
	suite_add_tcase(s, tc);
	TCase *kb = tcase_create("regressions");
	tcase_add_loop_test(kb, deregister_after_runtime_free, 0, TEST_NFLAVORS);
	suite_add_tcase(s, kb);
	return s;
}

int main(void)
{
	/* A write to a closed pipe must fail, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return test_run_suite(suite());
}
