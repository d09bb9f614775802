/* taskdump/dump.h - task dumps of live runtimes.
 *
 * td_runtime_dump() (one runtime) and td_dump_all() (every runtime in the
 * process) capture a dump from any thread, inside or outside the runtime.
 * Every task that is not running is polled once in tracing mode: its
 * leaves record their native return addresses and what they wait on, and
 * nothing else happens (no wake-up is consumed, no state changes).  Then
 * the addresses are symbolized (libdw), the result is assembled and
 * diagnosed.  Two modes (td_dump_options.mode):
 *
 *  - incremental (the default): the runtime keeps running.  On the
 *    multi-thread runtime the dumping thread traces the tasks one by one
 *    while the workers poll the others (a task being traced is kept from
 *    real polls by its state, a worker that pops it waits the
 *    microseconds of the tracing poll); on a current-thread runtime its
 *    own thread traces them, in slices of at most `slice_us` between its
 *    normal polls.  Each task's trace is exact for the moment it was
 *    taken; td_dump.span_ms says how far apart those moments are.  A
 *    deadlock or lost wake-up is reported only when its tasks did not
 *    move meanwhile (confirmed after the capture).
 *  - stop-the-world (TD_DUMP_MODE_STOP): every thread that polls the
 *    runtime's tasks stops at its next safe point (between two polls) and
 *    waits there while all tasks are traced: one instant for all.
 *
 * A thread that does not reach a safe point within a short grace period
 * (a task stuck in a long poll, CPU-bound or blocked in a system call)
 * does not hold up the dump or the other threads: it is reported as
 * running its task for so long, with the system call it is blocked in and
 * its native stack (taken without signalling or stopping it), and every
 * other task is still traced - on the multi-thread runtime also the tasks
 * queued on that thread.  Nothing a dump does makes a system call of the
 * program return early.  A dump taken from one of a runtime's own threads
 * (inside a task or its block_on future) is a stop-the-world one for that
 * runtime.
 *
 * The result is plain data (below), readable directly and printable as
 * text (td_dump_write_text) or JSON (td_dump_write_json); both formats are
 * specified in the README.
 */
#ifndef TASKDUMP_DUMP_H
#define TASKDUMP_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "taskdump/export.h"
#include "taskdump/runtime.h"
#include "taskdump/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of both output formats. */
#define TD_DUMP_FORMAT_VERSION 1

/* Default bound of a whole dump (waiting for threads, sampling a busy
 * thread's stack). */
#define TD_DUMP_DEFAULT_TIMEOUT_MS 1000

/* Default time the dump waits for every thread to reach a safe point; a
 * thread still in a poll then is reported busy, and the others resume as
 * soon as the tasks are traced. */
#define TD_DUMP_DEFAULT_GRACE_MS 10

/* Default thresholds of the task warnings (README.md, "Task warnings");
 * the agent reads them from TASKDUMP_LONG_POLL_MS and the like. */
#define TD_DUMP_DEFAULT_LONG_POLL_MS 100        /* one poll this long */
#define TD_DUMP_DEFAULT_STARVED_MS 500          /* woken, not polled */
#define TD_DUMP_DEFAULT_NEVER_POLLED_MS 1000    /* spawned, never polled */
#define TD_DUMP_DEFAULT_LONG_WAIT_MS 10000      /* idle at least this long */
#define TD_DUMP_DEFAULT_LONG_WAIT_FACTOR 100    /* ... and this many times
						 * its peers' median */
#define TD_DUMP_DEFAULT_BUSY_POLLS_PER_SEC 1000 /* self-woken polls */

/* How a dump looks at the tasks (README.md, "Incremental and
 * stop-the-world dumps"). */
typedef enum td_dump_mode {
	TD_DUMP_MODE_DEFAULT = 0,   /* TD_DUMP_MODE_INCREMENTAL */
	/* The threads keep polling: each task's trace is exact for the
	 * moment it was taken, no thread is held for more than a slice. */
	TD_DUMP_MODE_INCREMENTAL,
	/* Every thread stops at a safe point for the whole capture: one
	 * instant for all tasks. */
	TD_DUMP_MODE_STOP,
} td_dump_mode;

/* Default slice of an incremental dump: the longest a current-thread
 * runtime's thread spends on the dump at one safe point. */
#define TD_DUMP_DEFAULT_SLICE_US 1000

typedef struct td_dump_options {
	uint32_t timeout_ms; /* 0: TD_DUMP_DEFAULT_TIMEOUT_MS */
	bool no_symbolize;   /* keep raw addresses only */
	uint32_t grace_ms;   /* 0: TD_DUMP_DEFAULT_GRACE_MS (at most
			      * timeout_ms) */
	/* Task warning thresholds; 0: the TD_DUMP_DEFAULT_* above. */
	uint32_t long_poll_ms;
	uint32_t starved_ms;
	uint32_t never_polled_ms;
	uint32_t long_wait_ms;
	uint32_t long_wait_factor;
	uint32_t busy_polls_per_sec;
	td_dump_mode mode;   /* 0: incremental */
	uint32_t slice_us;   /* 0: TD_DUMP_DEFAULT_SLICE_US */
} td_dump_options;

/* One frame, outermost-first within a backtrace. */
typedef struct td_dump_frame {
	uintptr_t ip;          /* return address (leaf: call site + 1) */
	const char *function;  /* never NULL: name, "module+0x..." or "0x..." */
	const char *file;      /* NULL when unknown */
	int line;              /* 0 when unknown */
	bool inlined;          /* inlined into the frame before it */
	const char *module;    /* ELF file, NULL when unknown */
	uintptr_t module_offset;
} td_dump_frame;

/* One leaf reached by a task: the path to it and what it waits on. */
typedef struct td_dump_trace {
	td_wait wait;
	char *wait_text;       /* td_wait_format at dump time */
	td_dump_frame *frames; /* frames[0]: just below the task's root */
	size_t nframes;
	bool truncated;        /* deeper than the frame limit */
} td_dump_trace;

/* A task's state at the dump. */
typedef enum td_dump_task_state {
	TD_DUMP_IDLE = 0,    /* waiting for a wake-up */
	TD_DUMP_NOTIFIED,    /* woken, in a run queue (see `queue`) */
	TD_DUMP_RUNNING,     /* being polled: not traced */
	TD_DUMP_CANCELLED,   /* aborted, waiting to be dropped */
	TD_DUMP_COMPLETE,    /* finished while the dump looked at it */
} td_dump_task_state;

/* Where a notified task is queued. */
typedef enum td_dump_queue {
	TD_DUMP_QUEUE_NONE = 0,
	TD_DUMP_QUEUE_LIFO,   /* a worker's LIFO slot (`queue_worker`) */
	TD_DUMP_QUEUE_LOCAL,  /* a worker's run queue (`queue_worker`) */
	TD_DUMP_QUEUE_INJECT, /* the shared injection queue */
	TD_DUMP_QUEUE_UNKNOWN,/* queued on a worker that did not pause */
} td_dump_queue;

/* An edge of the wait-for graph (README.md, "Wait-for graph"): the task
 * cannot go on until task `task_id` acts (releases a mutex, completes),
 * or - `has_task` false - nobody known can act for it ("no sender left").
 * Computed after the threads resume, from what the leaves recorded. */
typedef struct td_dump_edge {
	bool has_task;
	uint64_t task_id;      /* when has_task */
	const char *why;       /* "mutex 0x... held", "join", "oneshot 0x...
				* no sender left" */
} td_dump_edge;

/* A lock a task holds (README.md, "Held locks"): a mutex it holds (or
 * that was handed to it and that it has not taken up yet), or permits of
 * a semaphore that it took and has not given back. */
typedef struct td_dump_held {
	td_wait_kind kind;     /* TD_WAIT_MUTEX or TD_WAIT_SEMAPHORE */
	const void *object;    /* the mutex or semaphore */
	uint64_t held_ms;      /* since the holder took it (a semaphore: the
				* first of the permits it holds) */
	size_t waiters;        /* tasks of this dump waiting for it */
	size_t permits;        /* semaphore: the permits it holds; 0 mutex */
	size_t others;         /* semaphore: permits held by others, not
				* attributed to any task listed (taken
				* outside tasks, or by tasks past the
				* semaphore's slots); 0 mutex */
} td_dump_held;

typedef struct td_dump_task {
	uint64_t id;           /* 0 for a block_on future */
	const char *name;      /* NULL: unnamed */
	const char *type_name; /* its future's vtable->type_name, or NULL */
	bool is_block_on;      /* the future of a td_runtime_block_on call */
	td_dump_task_state state;
	td_dump_queue queue;
	int queue_worker;      /* for LIFO/LOCAL; -1 otherwise */
	const char *spawn_file;/* NULL when unknown */
	int spawn_line;
	const char *spawn_function;
	uint64_t polls;
	uint64_t idle_ms;      /* since the last poll began; 0 if never */
	int worker;            /* worker of the last poll; -1: none yet */
	bool traced;
	const char *not_traced;/* why not, when !traced */
	td_dump_trace *traces;
	size_t ntraces;
	/* The wait-for graph's edges from this task, one per distinct
	 * (task, reason), in the order of its traces; NULL when none. */
	td_dump_edge *waits_for;
	size_t nwaits_for;
	/* Locks it holds, by object address; NULL when none known. */
	td_dump_held *holds;
	size_t nholds;
	/* Counters (README.md, "Task counters"); 0 for block_on futures.
	 * Times are milliseconds of a coarse clock (a few ms granularity;
	 * sums of short polls are right on average). */
	uint64_t busy_ms;         /* total time in its polls */
	uint64_t slowest_poll_ms; /* its longest poll (at most 65535) */
	uint64_t wakes;           /* times it was woken, not counting the
				   * spawn (wakes of a task already woken
				   * count once) */
	uint64_t woken_ms;        /* since it was last woken (or spawned:
				   * for a task never polled, its age) */
	uint64_t wait_ms;         /* woken to polled, before its last poll */
	uint64_t wait_worst_ms;   /* the longest such wait (at most 65535) */
	/* Wakers of this task held anywhere (timers, I/O, locks, channels,
	 * other tasks' structures): for an idle task, 0 means nothing can
	 * wake it any more; -1 when not known (not idle, block_on). */
	int64_t wakers;
} td_dump_task;

/* A thread that polls the runtime's tasks. */
typedef struct td_dump_worker {
	unsigned index;
	int tid;               /* Linux thread id; 0 if no thread */
	/* "paused" (stopped at a safe point, stop-the-world), "running"
	 * (kept polling through an incremental dump), "busy" (in one poll
	 * since before the grace period), "idle" (no thread). */
	const char *state;
	bool paused;           /* stopped at a safe point for the dump */
	double held_ms;        /* the longest this thread was kept from its
				* own polls by the dump: parked, tracing a
				* slice, waiting for a tracing poll */
	uint64_t task_id;      /* busy: the task it polls (0: block_on) */
	uint64_t busy_ms;      /* busy: how long that poll has run */
	unsigned queued;       /* tasks in its local queue and LIFO slot */
	td_dump_frame *stack;  /* busy: its native stack, innermost first */
	size_t nstack;
	const char *stack_error; /* busy: why there is no stack, or NULL */
	/* busy and blocked in a system call: which (e.g. "read",
	 * "nanosleep", "futex"), else NULL. */
	const char *syscall;
	int64_t syscall_fd;         /* the descriptor it waits on, or -1 */
	const char *syscall_fd_target; /* what that is ("pipe:[123]"), or NULL */
	int64_t syscall_timeout_ms; /* its timeout (relative calls) or time
				     * left to its deadline; -1: none */
	const char *stack_note;   /* the stack is partial: why, or NULL */
} td_dump_worker;

typedef struct td_dump_runtime {
	uint64_t id;
	const char *name;
	const char *flavor;    /* "current_thread" or "multi_thread" */
	td_dump_worker *workers;
	size_t nworkers;
	td_dump_task *tasks;   /* block_on futures first, then by task id */
	size_t ntasks;
	size_t traced;         /* tasks with a trace */
	double pause_ms;       /* stop-the-world: how long its threads were
				* stopped; incremental: the longest any of
				* them was held (the largest held_ms) */
	const char *error;     /* e.g. "shutting down": no tasks listed */
} td_dump_runtime;

/* At most this many deadlocks are listed in one dump. */
#define TD_DUMP_MAX_DEADLOCKS 256

/* A cycle of the wait-for graph whose every member can only go on when
 * the next one acts: tasks[i] waits for tasks[i + 1] (the last for the
 * first) through its edge tasks[i]->waits_for[edges[i]]. */
typedef struct td_dump_deadlock {
	const td_dump_task **tasks;
	const size_t *edges;
	size_t ntasks;
} td_dump_deadlock;

/* What a task warning is about, in order of severity (README.md, "Task
 * warnings"). */
typedef enum td_dump_warning_kind {
	TD_WARN_LOST_WAKEUP = 0, /* idle, and no waker of it is left */
	TD_WARN_BUSY_LOOP,       /* keeps waking itself: polled without end */
	TD_WARN_LONG_POLL,       /* one poll took (or is taking) too long */
	TD_WARN_STARVED,         /* woken long ago, not polled since */
	TD_WARN_NEVER_POLLED,    /* spawned long ago, never polled */
	TD_WARN_LONG_WAIT,       /* idle far longer than its peers */
} td_dump_warning_kind;

/* At most this many task warnings are listed in one dump (the most
 * severe first). */
#define TD_DUMP_MAX_WARNINGS 1000

/* One task warning: which task, what, and the evidence in one line
 * (e.g. "idle 60012 ms after 3 polls and no waker of it is registered
 * anywhere: nothing can wake it"). */
typedef struct td_dump_warning {
	td_dump_warning_kind kind;
	uint64_t runtime_id;
	const td_dump_task *task;
	const char *evidence;
} td_dump_warning;

typedef struct td_dump {
	int version;           /* TD_DUMP_FORMAT_VERSION */
	int pid;
	const char *program;
	int64_t time_unix_ms;  /* wall clock when requested */
	const char *mode;      /* "incremental" or "stop" */
	double span_ms;        /* from the first task looked at to the last:
				* the moments the traces are exact for */
	double pause_ms;       /* longest pause (or hold) of any runtime */
	double capture_ms;     /* tracing polls, all runtimes */
	double symbolize_ms;   /* frames and wait texts of every trace */
	double total_ms;       /* request to data ready (writers add theirs);
				* the sum of the phases listed at the end */
	td_dump_runtime *runtimes;
	size_t nruntimes;
	size_t ntasks;         /* over all runtimes */
	/* What went wrong on the way, one line each (e.g. "symbolization
	 * could not open libc.so.6: Too many open files"). */
	const char **warnings;
	size_t nwarnings;
	/* Every deadlock found in the wait-for graph, up to
	 * TD_DUMP_MAX_DEADLOCKS (NULL when none), each cycle starting at its
	 * smallest task id, ordered by that id. */
	td_dump_deadlock *deadlocks;
	size_t ndeadlocks;
	/* Task warnings, most severe kind first, then by runtime and task;
	 * at most TD_DUMP_MAX_WARNINGS (NULL when none); `ntask_warnings_found`
	 * counts them all, listed or not. */
	td_dump_warning *task_warnings;
	size_t ntask_warnings;
	size_t ntask_warnings_found;
	/* Findings of the graph and the counters that were not reported
	 * because their tasks moved before they could be confirmed (an
	 * incremental dump sees tasks at different moments): cycles whose
	 * members were polled or woken, or whose locks changed hands, and
	 * lost wake-ups of tasks that were polled, woken or given a waker. */
	size_t unconfirmed_deadlocks;
	size_t unconfirmed_lost_wakeups;
	/* Where total_ms went, phase by phase: prepare_ms + stop_ms +
	 * capture_ms + assemble_ms + symbolize_ms + diagnose_ms + finish_ms
	 * is total_ms (each a sum over the runtimes dumped; the longest
	 * pause_ms is one runtime's stop_ms + capture_ms).  Not part of
	 * either output format. */
	double prepare_ms;  /* before the pauses: the dump lock, memory for
			     * what the pause records */
	double stop_ms;     /* threads asked to stop, until all stopped (or
			     * the grace period ended) */
	double assemble_ms; /* after each pause: busy threads' stacks, the
			     * task entries in id order */
	double diagnose_ms; /* wait-for graph, deadlocks, task warnings
			     * (with the busy-loop watch) */
	double finish_ms;   /* the header; the dump's scratch memory put
			     * back */
} td_dump;

/* Dump one runtime.  Returns 0 and stores the dump in *out, or -EINVAL
 * (NULL argument) or -ENOMEM.  A runtime that is shutting down yields a
 * dump whose runtime has `error` set. */
TD_API int td_runtime_dump(td_runtime *rt, const td_dump_options *opts,
			   td_dump **out);

/* Dump every runtime in the process (possibly none) into one dump. */
TD_API int td_dump_all(const td_dump_options *opts, td_dump **out);

/* Free a dump (NULL is ignored). */
TD_API void td_dump_free(td_dump *d);

/* Text writer options. */
typedef struct td_write_options {
	bool group;  /* tasks with identical traces share one tree */
} td_write_options;

/* Write the dump as text / JSON to `f`.  Return 0 or -errno (write
 * errors, -ENOMEM). */
TD_API int td_dump_write_text(const td_dump *d, FILE *f,
			      const td_write_options *opts);
TD_API int td_dump_write_json(const td_dump *d, FILE *f);

/* Names used by both formats. */
TD_API const char *td_dump_task_state_name(td_dump_task_state s);
TD_API const char *td_dump_queue_name(td_dump_queue q);
/* "lost-wakeup", "busy-loop", "long-poll", "starved", "never-polled",
 * "long-wait". */
TD_API const char *td_dump_warning_kind_name(td_dump_warning_kind k);
/* "error" (lost-wakeup: the task will never run again), "warning"
 * (busy-loop, long-poll, starved, never-polled) or "info" (long-wait). */
TD_API const char *td_dump_warning_severity(td_dump_warning_kind k);

#ifdef __cplusplus
}
#endif

#endif /* TASKDUMP_DUMP_H */
