/* loadgen_conn.c - the load generator's connections (loadgen.h): opening
 * thousands of them to the server, confirmed one round trip each, and
 * closing them without leaving TIME_WAIT behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"

/* Connections in flight at once while connecting: well under the
 * server's listen backlog (4 096), so no SYN is dropped and retried a
 * second later. */
#define BATCH 256

/* How long one batch may take. */
#define BATCH_TIMEOUT_MS 10000

/* The sequence number of the confirming request (never measured). */
#define HELLO_SEQ UINT64_MAX

void lg_frame_request(svc_frame *f, uint64_t seq, uint64_t sched_ns)
{
	*f = (svc_frame){.magic = SVC_MAGIC, .seq = seq, .sched_ns = sched_ns};
}

int lg_raise_nofile(unsigned needed)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed) {
		fprintf(stderr, "taskdump-loadgen: %u descriptors needed, "
			"RLIMIT_NOFILE allows %llu (raise the hard limit: "
			"ulimit -Hn)\n", needed,
			(unsigned long long)rl.rlim_cur);
		return -EMFILE;
	}
	return 0;
}

/* A non-blocking TCP socket, connecting to 127.0.0.1:port: the fd or
 * -errno. */
static int open_socket(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr = {htonl(INADDR_LOOPBACK)}};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct linger lin = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* One connection of a batch being set up. */
struct pending {
	int fd;
	bool sent;    /* the confirming request is written */
	size_t got;   /* bytes of its reply */
	unsigned char reply[SVC_FRAME_SIZE];
};

/* Advance one connection on an epoll event: connected -> request sent ->
 * reply read.  Returns 1 when confirmed, 0 to wait more, -errno. */
static int advance(int ep, struct pending *p)
{
	if (!p->sent) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			return -errno;
		if (err)
			return -err;
		svc_frame f;
		lg_frame_request(&f, HELLO_SEQ, 0);
		if (send(p->fd, &f, sizeof(f), MSG_NOSIGNAL) != sizeof(f))
			return errno ? -errno : -EIO;
		p->sent = true;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
		return epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &ev) ? -errno : 0;
	}
	ssize_t r = recv(p->fd, p->reply + p->got, sizeof(p->reply) - p->got,
			 0);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (r == 0)
		return -ECONNRESET;
	p->got += (size_t)r;
	if (p->got < sizeof(p->reply))
		return 0;
	svc_frame f;
	memcpy(&f, p->reply, sizeof(f));
	if (f.magic != SVC_MAGIC || f.seq != HELLO_SEQ)
		return -EPROTO;
	return epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL) ? -errno : 1;
}

/* Connect fds[0..m) (one batch); 0 or -errno. */
static int connect_batch(int ep, uint16_t port, unsigned m, int *fds)
{
	struct pending p[BATCH];
	for (unsigned j = 0; j < m; j++) {
		p[j] = (struct pending){.fd = open_socket(port)};
		if (p[j].fd < 0)
			return p[j].fd;
		fds[j] = p[j].fd;
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &p[j]};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[j].fd, &ev) != 0)
			return -errno;
	}
	unsigned left = m;
	uint64_t deadline = lg_now_ns() + BATCH_TIMEOUT_MS * 1000000ull;
	while (left) {
		uint64_t now = lg_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64,
				   (int)((deadline - now) / 1000000 + 1));
		if (k < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < k; i++) {
			int r = advance(ep, evs[i].data.ptr);
			if (r < 0)
				return r;
			left -= (unsigned)r;
		}
	}
	return 0;
}

int lg_connect_all(uint16_t port, unsigned n, int *fds)
{
	for (unsigned i = 0; i < n; i++)
		fds[i] = -1;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	int err = 0;
	unsigned done = 0; /* confirmed */
	while (done < n) {
		unsigned m = n - done < BATCH ? n - done : BATCH;
		err = connect_batch(ep, port, m, fds + done);
		if (err)
			break;
		done += m;
	}
	close(ep);
	if (err) {
		fprintf(stderr, "taskdump-loadgen: connecting to 127.0.0.1:%u "
			"(%u of %u connections confirmed): %s\n", port, done,
			n, strerror(-err));
		lg_close_all(fds, n);
	}
	return err;
}

void lg_close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]); /* SO_LINGER 0: an RST, no TIME_WAIT */
		fds[i] = -1;
	}
}
