/* context.h - internal: which runtime this thread is running for. */
#ifndef TD_SCHED_CONTEXT_H
#define TD_SCHED_CONTEXT_H

struct td_runtime;

/* Set on worker threads for their lifetime and on a block_on thread for
 * the duration of the call; NULL elsewhere. */
struct td_thread_ctx {
	struct td_runtime *rt;
	int worker;  /* worker index; -1 for a block_on thread */
	void *core;  /* flavor-private: the worker or the current-thread core */
};

extern __thread struct td_thread_ctx *td_tls_ctx
	__attribute__((tls_model("initial-exec")));

struct td_time_driver;
struct td_io_driver;

/* The drivers of the runtime this thread runs for; abort with a message
 * naming `what` when the thread is in no runtime. */
struct td_time_driver *td_current_time_driver(const char *what);
struct td_io_driver *td_current_io_driver(const char *what);

#endif /* TD_SCHED_CONTEXT_H */
