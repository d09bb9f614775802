/* loadgen_run.c - the open-loop run (loadgen.h): requests sent on
 * schedule over the active connections, replies timed against that
 * schedule, dumps fired on theirs.
 *
 * Request seq is due at t0 + seq * interval and goes out on connection
 * seq % conns, so each connection carries an arithmetic progression of
 * sequence numbers and its unsent requests are just "from next_seq up to
 * the last due one": nothing is queued, and a connection the kernel will
 * not take more bytes on (EAGAIN) simply falls behind and catches up,
 * its requests still timed from when they were due.  The timerfd is armed,
 * in absolute time with a 1 ns timer slack, for the next due request or
 * dump, so sends are late only by the client's own scheduling delays:
 * those are reported as send_lag, and are part of the latency.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loadgen.h"

/* Frames written with one send() at most. */
#define SEND_BATCH 64

/* Replies read with one recv() at most. */
#define RECV_BUF (128 * SVC_FRAME_SIZE)

/* The epoll tag of the timer (connections are tagged with their index). */
#define TIMER_TAG UINT32_MAX

struct conn {
	int fd;
	uint64_t next_seq;  /* the first request not yet wholly written */
	size_t frame_off;   /* bytes of it already written */
	bool want_out;      /* EPOLLOUT is armed */
	size_t have;        /* bytes of a partial reply in `in` */
	unsigned char in[RECV_BUF];
};

struct run {
	const struct lg_config *cfg;
	struct lg_result *res;
	struct conn *conns;
	int ep, tfd;
	uint64_t t0, measure_start, measure_end; /* ns */
	double interval;    /* ns between requests */
	uint64_t nreq;      /* requests due before measure_end */
	uint64_t due;       /* requests [0, due) are due */
	uint64_t armed;     /* the timerfd's deadline (0: none) */
	uint64_t last_fire; /* the last dump request (0: none yet) */
	uint64_t near_ns;   /* the "near a dump" window */
};

/* When request seq is due. */
static uint64_t sched_ns(const struct run *r, uint64_t seq)
{
	return r->t0 + (uint64_t)((double)seq * r->interval);
}

/* Is a request due at t in the measured window? */
static bool measured(const struct run *r, uint64_t t)
{
	return t >= r->measure_start && t < r->measure_end;
}

/* Arm or disarm EPOLLOUT on connection i. */
static int want_out(struct run *r, unsigned i, bool on)
{
	struct conn *c = &r->conns[i];
	if (c->want_out == on)
		return 0;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
				 .data.u32 = i};
	c->want_out = on;
	return epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

/* Write connection i's due requests, as far as the socket takes them. */
static int flush(struct run *r, unsigned i, uint64_t now)
{
	struct conn *c = &r->conns[i];
	uint64_t step = r->cfg->conns;
	while (c->next_seq < r->due) {
		svc_frame batch[SEND_BATCH];
		size_t k = 0;
		for (uint64_t s = c->next_seq; s < r->due && k < SEND_BATCH;
		     s += step)
			lg_frame_request(&batch[k++], s, sched_ns(r, s));
		size_t len = k * sizeof(svc_frame) - c->frame_off;
		ssize_t w = send(c->fd, (char *)batch + c->frame_off, len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			return -errno;
		size_t done = w > 0 ? (size_t)w + c->frame_off : c->frame_off;
		size_t whole = done / sizeof(svc_frame);
		for (size_t j = 0; j < whole; j++) {
			uint64_t due_at = batch[j].sched_ns;
			r->res->sent++;
			if (measured(r, due_at) &&
			    !lg_samples_add(&r->res->send_lag, now - due_at))
				return -ENOMEM;
		}
		c->next_seq += whole * step;
		c->frame_off = done % sizeof(svc_frame);
		if (w < 0 || (size_t)w < len)
			return want_out(r, i, true); /* the rest when writable */
	}
	return want_out(r, i, false);
}

/* Read the replies that arrived on connection i and time them. */
static int receive(struct run *r, unsigned i)
{
	struct conn *c = &r->conns[i];
	ssize_t n = recv(c->fd, c->in + c->have, sizeof(c->in) - c->have,
			 MSG_DONTWAIT);
	uint64_t now = lg_now_ns();
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET; /* the server hung up */
	c->have += (size_t)n;
	size_t whole = c->have / SVC_FRAME_SIZE * SVC_FRAME_SIZE;
	for (size_t off = 0; off < whole; off += SVC_FRAME_SIZE) {
		svc_frame f;
		memcpy(&f, c->in + off, sizeof(f));
		if (f.magic != SVC_MAGIC || f.seq % r->cfg->conns != i ||
		    f.seq >= c->next_seq || f.sched_ns != sched_ns(r, f.seq))
			return -EPROTO;
		r->res->replies++;
		if (!measured(r, f.sched_ns))
			continue;
		uint64_t lat = now - f.sched_ns;
		bool near = r->last_fire && f.sched_ns >= r->last_fire &&
			    f.sched_ns < r->last_fire + r->near_ns;
		if (!lg_samples_add(&r->res->latency, lat) ||
		    !lg_samples_add(near ? &r->res->near_dump : &r->res->far,
				    lat))
			return -ENOMEM;
	}
	c->have -= whole;
	memmove(c->in, c->in + whole, c->have);
	return 0;
}

/* Arm the timerfd for `at` (absolute, CLOCK_MONOTONIC ns). */
static int arm(struct run *r, uint64_t at)
{
	if (at == r->armed)
		return 0;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(at / 1000000000u),
			     .tv_nsec = (long)(at % 1000000000u)}};
	r->armed = at;
	return timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL)
		       ? -errno : 0;
}

/* Set up the epoll set, the timer and the schedule. */
static int setup(struct run *r, const int *fds)
{
	const struct lg_config *cfg = r->cfg;
	r->conns = calloc(cfg->conns, sizeof(*r->conns));
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!r->conns || r->ep < 0 || r->tfd < 0)
		return r->conns ? -errno : -ENOMEM;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TIMER_TAG};
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->tfd, &ev) != 0)
		return -errno;
	for (unsigned i = 0; i < cfg->conns; i++) {
		r->conns[i].fd = fds[i];
		r->conns[i].next_seq = i;
		ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fds[i], &ev) != 0)
			return -errno;
	}
	r->interval = 1e9 / cfg->rate;
	r->t0 = lg_now_ns() + 1000000; /* 1 ms from now */
	r->measure_start = r->t0 + (uint64_t)(cfg->warmup_s * 1e9);
	r->measure_end = r->measure_start + (uint64_t)(cfg->duration_s * 1e9);
	/* The requests due before measure_end: seq * interval < end - t0. */
	double span = (double)(r->measure_end - r->t0);
	r->nreq = (uint64_t)(span / r->interval);
	while (sched_ns(r, r->nreq) < r->measure_end)
		r->nreq++;
	return 0;
}

/* The event loop: until every reply is in or the drain time is over. */
static int loop(struct run *r, struct lg_dumper *d)
{
	const struct lg_config *cfg = r->cfg;
	uint64_t period = (uint64_t)(cfg->dump_every_ms * 1e6);
	r->near_ns = LG_NEAR_DUMP_MS * 1000000ull;
	if (period && period < r->near_ns)
		r->near_ns = period;
	uint64_t next_dump = d ? r->measure_start + period / 2 : UINT64_MAX;
	uint64_t give_up = r->measure_end + (uint64_t)(cfg->drain_s * 1e9);
	bool sampled = false;
	for (;;) {
		uint64_t now = lg_now_ns();
		if (!sampled && now >= r->measure_start) {
			lg_cpu_sample(&r->res->cpu_start, cfg->pid);
			sampled = true;
		}
		while (r->due < r->nreq && sched_ns(r, r->due) <= now)
			r->due++;
		for (unsigned i = 0; i < cfg->conns; i++) {
			int err = flush(r, i, now);
			if (err)
				return err;
		}
		if (now >= next_dump) {
			lg_dumper_collect(d); /* the previous dumps' files */
			int err = lg_dumper_fire(d);
			if (err)
				return err;
			r->last_fire = now;
			next_dump += period;
			if (next_dump >= r->measure_end)
				next_dump = UINT64_MAX;
		}
		if (r->res->replies == r->nreq || now >= give_up) {
			lg_cpu_sample(&r->res->cpu_end, cfg->pid);
			return 0;
		}
		uint64_t wake = give_up;
		if (r->due < r->nreq && sched_ns(r, r->due) < wake)
			wake = sched_ns(r, r->due);
		if (next_dump < wake)
			wake = next_dump;
		if (!sampled && r->measure_start < wake)
			wake = r->measure_start;
		int err = arm(r, wake);
		if (err)
			return err;
		struct epoll_event evs[64];
		int k = epoll_wait(r->ep, evs, 64, -1);
		if (k < 0 && errno != EINTR)
			return -errno;
		for (int j = 0; j < k; j++) {
			uint32_t tag = evs[j].data.u32;
			if (tag == TIMER_TAG) {
				uint64_t ticks;
				if (read(r->tfd, &ticks, sizeof(ticks)) < 0 &&
				    errno != EAGAIN)
					return -errno;
				r->armed = 0;
				continue;
			}
			if (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				err = receive(r, tag);
				if (err)
					return err;
			}
		}
	}
}

int lg_run(const struct lg_config *cfg, const int *fds,
	   struct lg_result *res)
{
	struct run r = {.cfg = cfg, .res = res, .ep = -1, .tfd = -1};
	struct lg_dumper dumper, *d = NULL;
	int err = setup(&r, fds);
	if (!err && cfg->pid && cfg->dump_every_ms > 0) {
		err = lg_dumper_init(&dumper, cfg);
		d = &dumper;
	}
	if (!err)
		err = loop(&r, d);
	if (err)
		fprintf(stderr, "taskdump-loadgen: during the run: %s\n",
			strerror(-err));
	res->missing = r.nreq - res->replies;
	if (d) {
		/* Wait for the last dump's file (signals that arrived during
		 * a dump were coalesced: fewer files than signals is fine). */
		uint64_t until = lg_now_ns() + (uint64_t)(cfg->drain_s * 1e9);
		lg_dumper_collect(d);
		while (!err && d->written < d->sent && lg_now_ns() < until) {
			usleep(10000);
			lg_dumper_collect(d);
		}
		res->dumps_sent = d->sent;
		res->dumps_written = d->written;
	}
	if (r.tfd >= 0)
		close(r.tfd);
	if (r.ep >= 0)
		close(r.ep);
	free(r.conns);
	return err;
}
