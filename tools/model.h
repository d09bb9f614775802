/* model.h - a dump file as the tool sees it.
 *
 * The same facts as the runtime's td_dump (runtime/include/taskdump/dump.h),
 * but read back from a file: every value that a file may leave out is
 * optional here ("set" flags, NULL strings), because text dumps carry fewer
 * fields than JSON ones and hand-edited files carry whatever they carry.
 * Everything lives in the dump's arena; tdc_dump_free releases it at once.
 * Strings are valid UTF-8 (tdc_arena_clean).  The tool does not link the
 * runtime: it must read dumps of any process, built with any version. */
#ifndef TDC_MODEL_H
#define TDC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* An optional number.  Packed (9 bytes, no alignment): a task holds four
 * and a wait four, and a dump of a million tasks holds millions of them.
 * Its members are read and written as usual, but never through a
 * pointer to `v` (it may be unaligned): parse into a local, then store. */
typedef struct __attribute__((packed)) tdc_u64 {
	uint64_t v;
	bool set;
} tdc_u64;

typedef struct tdc_f64 {
	double v;
	bool set;
} tdc_f64;

typedef struct tdc_frame {
	const char *function; /* never NULL */
	const char *file;     /* NULL: unknown */
	uint64_t line;        /* 0: unknown */
	bool inlined;
	const char *module;   /* NULL: unknown */
	tdc_u64 offset;
	tdc_u64 ip;
} tdc_frame;

#define TDC_EV_READ 1u
#define TDC_EV_WRITE 2u

/* What a leaf waits on.  From a text dump only `kind` (guessed from the
 * text, see tdc_wait_from_text), `text` and what the text reveals. */
typedef struct tdc_wait {
	const char *kind;   /* "sleep", "io", ...; NULL: unknown */
	const char *text;   /* the human-readable description, or NULL */
	const char *object; /* "0x..." or NULL */
	const char *label;
	tdc_u64 deadline_ms, task_id, count, value;
	int64_t fd;
	unsigned events;    /* TDC_EV_* */
	bool has_fd;
	bool has_events;
} tdc_wait;

typedef struct tdc_trace {
	tdc_wait wait;
	const tdc_frame **frames; /* outermost first */
	size_t nframes;
	bool truncated;
} tdc_trace;

/* An edge of the wait-for graph: the task waits for `task` (unset:
 * nobody can act, e.g. "no sender left") for the reason `why`. */
typedef struct tdc_edge {
	tdc_u64 task;
	const char *why;            /* never NULL */
} tdc_edge;

/* A lock a task holds. */
typedef struct tdc_held {
	const char *kind;           /* "mutex", "semaphore" */
	const char *object;         /* "0x..." */
	tdc_u64 held_ms, waiters;
	/* A semaphore's: the holder's permits and those held by others
	 * (unset for a mutex, and in older dumps). */
	tdc_u64 permits, others;
} tdc_held;

typedef struct tdc_task {
	uint64_t id;
	const char *name;           /* NULL: unnamed */
	const char *type;           /* the future's type name, or NULL */
	const char *state;          /* never NULL ("unknown" if missing) */
	const char *queue;          /* NULL: none */
	tdc_u64 queue_worker, polls, idle_ms, worker;
	bool block_on;              /* (next to the packed numbers: no gap) */
	bool traced;
	const char *spawn_file;     /* NULL: unknown */
	uint64_t spawn_line;
	const char *spawn_function;
	const char *not_traced;     /* the reason, when !traced */
	tdc_trace *traces;
	size_t ntraces;
	tdc_edge *waits_for;        /* the wait-for graph's edges from it */
	size_t nwaits_for;
	tdc_held *holds;            /* locks it holds */
	size_t nholds;
	/* The counters (README.md, "Task counters"); a text dump carries
	 * only some, and only where they say something. */
	tdc_u64 busy_ms, slowest_poll_ms, wakes;
	tdc_u64 woken_ms, wait_ms, wait_worst_ms, wakers;
} tdc_task;

/* One member of a deadlock, as the dump's deadlock section lists it. */
typedef struct tdc_dl_member {
	uint64_t task;
	const char *name;           /* NULL: unnamed */
	tdc_held *holds;
	size_t nholds;
	tdc_edge waits_for;         /* the edge to the next member */
} tdc_dl_member;

typedef struct tdc_deadlock {
	tdc_dl_member *members;     /* in cycle order */
	size_t nmembers;
} tdc_deadlock;

/* A task warning of the dump's header (README.md, "Task warnings"). */
typedef struct tdc_task_warning {
	const char *severity;       /* "error", "warning", "info" */
	const char *kind;           /* "lost-wakeup", ... */
	uint64_t runtime, task;
	const char *name;           /* NULL: unnamed */
	const char *evidence;       /* never NULL */
} tdc_task_warning;

typedef struct tdc_worker {
	uint64_t index;
	const char *state;          /* never NULL */
	tdc_u64 tid, queued, task, busy_ms;
	tdc_f64 held_ms;            /* kept from its polls by the dump */
	const tdc_frame **stack;    /* innermost first */
	size_t nstack;
	const char *stack_error;
	const char *stack_note;     /* the stack is partial: why */
	const char *syscall;        /* blocked in this system call, or NULL */
	tdc_u64 syscall_fd, syscall_timeout_ms;
	const char *syscall_fd_target;
} tdc_worker;

typedef struct tdc_runtime {
	uint64_t id;
	const char *name, *flavor;  /* may be NULL */
	tdc_u64 workers_declared, tasks_total, traced;
	tdc_f64 pause_ms;
	const char *error;
	tdc_worker *workers;
	size_t nworkers;
	tdc_task *tasks;
	size_t ntasks;
} tdc_runtime;

typedef struct tdc_dump {
	const char *source;   /* file name as given */
	const char *format;   /* "text" or "json" */
	int version;
	tdc_u64 pid;
	const char *program, *time;
	const char *note;     /* e.g. why there are no runtimes */
	const char **warnings;/* what went wrong while dumping */
	size_t nwarnings;
	const char *mode;     /* "incremental", "stop"; NULL: not said */
	tdc_f64 pause_ms, span_ms, capture_ms, symbolize_ms, total_ms;
	/* Findings dropped because their tasks moved (the header's
	 * `unconfirmed` line); not set when the dump has none. */
	tdc_u64 unconfirmed_deadlocks, unconfirmed_lost_wakeups;
	tdc_runtime *runtimes;
	size_t nruntimes;
	tdc_deadlock *deadlocks;    /* the header's deadlock section */
	size_t ndeadlocks;
	tdc_task_warning *task_warnings; /* listed, most severe first */
	size_t ntask_warnings;
	uint64_t task_warnings_found;    /* >= ntask_warnings */
	tdc_arena arena;
} tdc_dump;

tdc_dump *tdc_dump_new(const char *source, const char *format);
void tdc_dump_free(tdc_dump *d);

/* True when task `id` is a member of one of the dump's deadlocks. */
bool tdc_dump_in_deadlock(const tdc_dump *d, uint64_t id);

/* The dump's task warnings sorted by (runtime, task, kind), for lookups
 * in O(log n): the compact view, the --warnings filter and diff look up
 * every task (a dump of 100 000 tasks may have as many warnings).  The
 * entries point into the dump. */
typedef struct tdc_warning_index {
	const tdc_task_warning **w;
	size_t n;
} tdc_warning_index;

/* Index d's task warnings of kind or severity `what` (NULL: all). */
void tdc_warning_index_init(tdc_warning_index *x, const tdc_dump *d,
			    const char *what);
/* An indexed warning of task `task` of runtime `runtime` (of `kind`;
 * NULL: of any kind), or NULL if there is none. */
const tdc_task_warning *tdc_warning_find(const tdc_warning_index *x,
					 uint64_t runtime, uint64_t task,
					 const char *kind);
void tdc_warning_index_free(tdc_warning_index *x);

/* The texts of the formats for an edge ("task 4: mutex 0x... held",
 * "nobody: ...") and a held lock ("mutex 0x... held 120 ms, 1 waiting"),
 * appended to out. */
void tdc_edge_text(const tdc_edge *e, tdc_buf *out);
void tdc_held_text(const tdc_held *h, tdc_buf *out);

/* Parse those texts (a list: entries separated by "; ") into the arena.
 * Return 0, or -1 when the text does not have that form. */
int tdc_edges_parse(tdc_arena *a, const char *s, tdc_edge **out, size_t *n);
int tdc_helds_parse(tdc_arena *a, const char *s, tdc_held **out, size_t *n);

/* The task's counter named key[0..len) (README.md, "Task counters and
 * warnings": busy_ms, slowest_poll_ms, wakes, woken_ms, wait_ms,
 * wait_worst_ms, wakers), or NULL when the key is not a counter; *name
 * (when not NULL) is then the counter's name as a string.  The one list both parsers
 * read counters by. */
tdc_u64 *tdc_task_counter(tdc_task *t, const char *key, size_t len,
			  const char **name);

/* Total task entries over all runtimes. */
size_t tdc_dump_ntasks(const tdc_dump *d);

/* Equal function, file, line and inlined flag (README.md (dump file formats)'s grouping
 * rule; a function without a symbol is named by its module offset). */
bool tdc_frame_equal(const tdc_frame *a, const tdc_frame *b);

/* Same frames, same wait kind on the same object. */
bool tdc_trace_equal(const tdc_trace *a, const tdc_trace *b);

/* Every trace equal, in order: the grouping rule of README.md (dump file formats). */
bool tdc_task_traces_equal(const tdc_task *a, const tdc_task *b);

/* A hash consistent with tdc_trace_equal / tdc_task_traces_equal. */
uint64_t tdc_trace_hash(const tdc_trace *t, uint64_t h);
uint64_t tdc_task_hash(const tdc_task *t);

/* The "shape" of a trace: its frames and wait kind, not the object waited
 * on (fifty tasks waiting on fifty mutexes at one line share a shape). */
bool tdc_trace_shape_equal(const tdc_trace *a, const tdc_trace *b);
uint64_t tdc_trace_shape_hash(const tdc_trace *t);

/* Fill kind, and whatever else the text reveals (object, fd, events, task
 * id, count, value, label), from a wait text written by td_wait_format. */
void tdc_wait_from_text(tdc_arena *a, const char *text, tdc_wait *w);

/* The text to show for a wait: its text, else its kind, else NULL. */
const char *tdc_wait_display(const tdc_wait *w);

/* Sort-free "a > b > c" rendering of a trace's function names, keeping at
 * most `keep` innermost frames (0: all) behind a "... >" marker. */
void tdc_trace_path(const tdc_trace *t, size_t keep, tdc_buf *out);

#endif /* TDC_MODEL_H */
