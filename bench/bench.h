/* bench.h - the workloads of taskdump-bench (see bench_main.c). */
#ifndef TD_BENCH_H
#define TD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/taskdump.h"

struct bench_ctx {
	td_runtime *rt;
	size_t n;
	unsigned threads;
	bool multi_thread;
	char result[2048]; /* "key=value ..." after the RESULT prefix */
	void *state;       /* the workload's own */
};

struct bench_workload {
	const char *name;
	/* The body future (heap-allocated, freed by cleanup). */
	td_future *(*make)(struct bench_ctx *ctx);
	/* Optional: after the result is printed, runtime still alive. */
	void (*finish)(struct bench_ctx *ctx);
	/* Optional: after the runtime is freed. */
	void (*cleanup)(struct bench_ctx *ctx);
};

extern const struct bench_workload bench_spawn_join, bench_yield_many,
	bench_ping_pong, bench_idle_tasks, bench_idle_notify,
	bench_dump_latency, bench_dump_hold, bench_dump_stuck_blocked,
	bench_dump_stuck_busy, bench_mutex_lock, bench_mutex_churn,
	bench_semaphore_acquire;

/* Seconds on the monotonic clock. */
double bench_now(void);

/* A field of /proc/self/status ("VmRSS", "VmHWM") in KiB, 0 if absent. */
uint64_t bench_proc_status_kib(const char *key);

/* Append printf-style text to ctx->result. */
void bench_appendf(struct bench_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* TD_BENCH_H */
