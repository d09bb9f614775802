/* loadgen.h - taskdump-loadgen: an open-loop load generator for
 * taskdump-service, and the dumps it asks for meanwhile (see
 * loadgen_main.c for the command line, README "Speed" for how to read it).
 *
 * Open loop: request i is due at start + i / rate, whatever happened to the
 * requests before it, and its latency is measured from that *scheduled*
 * time to the arrival of its reply.  A server that stalls for 20 ms (or a
 * client that was descheduled) is charged for every request that came due
 * during the stall, not only for the one that was in flight: the
 * measurement is free of coordinated omission.
 *
 * One thread, one epoll set: the active connections, a timerfd armed for
 * the next due request or dump, nothing else.
 */
#ifndef TD_LOADGEN_H
#define TD_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "service_proto.h"

struct lg_config {
	uint16_t port;          /* the server's, on 127.0.0.1 */
	double rate;            /* requests per second, over all connections */
	double duration_s;      /* measured */
	double warmup_s;        /* the same load before, not measured */
	unsigned conns;         /* active connections */
	unsigned idle;          /* idle connections (one request each) */
	pid_t pid;              /* the server: dumps, CPU use (0: none) */
	double dump_every_ms;   /* 0: no dumps */
	const char *dump_dir;   /* where its agent writes (TASKDUMP_DIR) */
	bool keep_dumps;        /* leave the files (default: delete them) */
	bool use_kill;          /* kill(pid) instead of tgkill(agent thread) */
	int signal;             /* the agent's dump signal */
	double drain_s;         /* how long to wait for the last replies */
	const char *tag;        /* printed after "RESULT " */
};

/* Latency samples in nanoseconds. */
struct lg_samples {
	uint64_t *v;
	size_t n, cap;
};

/* Append one sample; false when out of memory. */
bool lg_samples_add(struct lg_samples *s, uint64_t ns);

/* Sort the samples (before lg_samples_pct). */
void lg_samples_sort(struct lg_samples *s);

/* The p-th percentile (0 < p <= 100, nearest rank) of sorted samples; 0
 * when there are none. */
uint64_t lg_samples_pct(const struct lg_samples *s, double p);

/* Free the samples' memory. */
void lg_samples_free(struct lg_samples *s);

/* CPU time at one moment (loadgen_cpu.c), in clock ticks. */
struct lg_cpu {
	uint64_t at_ns;
	uint64_t machine; /* busy, summed over every CPU */
	uint64_t server;  /* the server process, every thread */
	uint64_t self;    /* the load generator */
};

/* Take a sample; `server` 0: none. */
void lg_cpu_sample(struct lg_cpu *c, pid_t server);

/* CPU use between two samples, in per cent of one CPU: the server's, the
 * load generator's, and the rest of the machine's (other processes). */
void lg_cpu_usage(const struct lg_cpu *a, const struct lg_cpu *b,
		  double *server_pct, double *self_pct, double *other_pct);

/* The window after each dump request whose requests count as "near" a
 * dump (the pause, the catch-up after it, the agent's own work). */
#define LG_NEAR_DUMP_MS 20

/* What one run measured. */
struct lg_result {
	struct lg_samples latency;  /* requests due in the measured window */
	struct lg_samples send_lag; /* their actual send time - due time */
	/* The latency samples split by when the request was due: within
	 * LG_NEAR_DUMP_MS after a dump was asked for, or not. */
	struct lg_samples near_dump, far;
	uint64_t sent, replies, missing, errors;
	unsigned dumps_sent, dumps_written;
	double setup_s;             /* connecting the idle connections */
	struct lg_cpu cpu_start, cpu_end; /* around the measured window */
};

/* Open `n` connections to 127.0.0.1:port, each confirmed by one request
 * and its reply (so that the server has accepted it and its task waits in
 * a read again), into fds[0..n).  Connects in batches, bounded by the
 * listen backlog.  Returns 0 or -errno (with a message on stderr); on
 * failure no descriptor is left open. */
int lg_connect_all(uint16_t port, unsigned n, int *fds);

/* Close descriptors with an RST (SO_LINGER 0): no TIME_WAIT state is left
 * to hold ephemeral ports for the next run. */
void lg_close_all(int *fds, unsigned n);

/* Raise the soft RLIMIT_NOFILE to the hard limit; -EMFILE (with a
 * message) if `needed` descriptors still do not fit. */
int lg_raise_nofile(unsigned needed);

/* Fill in a request frame. */
void lg_frame_request(svc_frame *f, uint64_t seq, uint64_t sched_ns);

/* Run the load on the connected fds (see struct lg_config); 0 or -errno. */
int lg_run(const struct lg_config *cfg, const int *fds,
	   struct lg_result *res);

/* The dump trigger: the server's agent thread, its dump files. */
struct lg_dumper {
	pid_t pid;
	pid_t agent_tid;  /* 0: signal the process */
	int signal;
	const char *dir;  /* NULL: do not look for files */
	bool keep;
	unsigned sent, written;
};

/* Find the agent thread of cfg->pid (a thread named "taskdump-agent");
 * -ESRCH with a message if the process has none (not preloaded). */
int lg_dumper_init(struct lg_dumper *d, const struct lg_config *cfg);

/* Ask for one dump; 0 or -errno. */
int lg_dumper_fire(struct lg_dumper *d);

/* Count (and unless d->keep, delete) the dump files that appeared. */
void lg_dumper_collect(struct lg_dumper *d);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lg_now_ns(void);

#endif /* TD_LOADGEN_H */
