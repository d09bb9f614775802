/* dump_build.h - internal: assembling a td_dump from what a capture saw.
 *
 * While tasks are paused, dump.c records only raw facts: metadata into the
 * dump's arena, backtraces into the collector, busy threads' stacks as raw
 * addresses (dump_build_note_*).  After the threads resume,
 * dump_build_frames() symbolizes every distinct address sequence once and
 * gives each trace its frames; dump_build_finish() fills in the header.
 */
#ifndef TD_TRACE_DUMP_BUILD_H
#define TD_TRACE_DUMP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskdump/dump.h"
#include "trace/arena.h"
#include "trace/collector.h"
#include "trace/diagnose.h"

struct pending_traces;
struct pending_stack;
struct td_spawn_site;

/* A task that may be in a busy loop, watched after the pause: a
 * reference is held on it until the dump has looked again. */
struct td_busy_probe {
	struct td_task *task;
	uint64_t task_id, runtime_id;
	uint32_t polls;             /* at the pause */
	uint16_t waits;             /* at the pause (wrapping) */
	double from_ms;             /* mono clock when its threads resumed */
};

/* At most this many tasks are watched for busy loops in one dump. */
#define TD_MAX_BUSY_PROBES 64

struct dump_build {
	td_dump *dump;           /* lives in `arena` */
	struct td_arena arena;   /* owned by the dump once finished */
	struct td_collector collector;
	struct pending_traces *traces;
	size_t ntraces, cap_traces;
	struct pending_stack *stacks;
	size_t nstacks, cap_stacks;
	const struct td_spawn_site *last_site; /* td_spawn_site cache */
	const char *last_file, *last_function;
	/* Type names seen, by address, and their copies (a few types are
	 * usually spread over many tasks, in any order). */
	const char *types[16], *type_copies[16];
	double capture_ms;
	double first_ms, last_ms; /* first and last task looked at (0:
				   * none), over every runtime */
	uint64_t clock_ms;       /* task clock of the first capture, 0: none */
	/* Entries with a wait that may give a wait-for edge (filled by
	 * dump_build_frames), for the diagnosis. */
	td_dump_task **graph;
	size_t ngraph, cap_graph;
	/* Locks held by tasks, from each runtime's pause (for the
	 * diagnosis). */
	struct td_held_note *held;
	size_t nheld, cap_held;
	struct td_busy_probe probes[TD_MAX_BUSY_PROBES];
	size_t nprobes;
	bool out_of_memory;
	struct td_symbolizer *sym; /* the process's, once asked for */
	bool sym_tried;
};

/* A new builder with an empty dump (wall-clock time taken now). */
struct dump_build *dump_build_new(void);

/* Copy a spawn site into the task entry (cached across tasks). */
void dump_build_site(struct dump_build *b, td_dump_task *dt,
		     const struct td_spawn_site *site);

/* A future's type name (static in the module that defines the future),
 * copied into the dump once per distinct address (mostly); NULL stays
 * NULL. */
const char *dump_build_type_name(struct dump_build *b, const char *type_name);

/* Collector backtraces [first, first + n) belong to task `dt`. */
void dump_build_note_traces(struct dump_build *b, td_dump_task *dt,
			    size_t first, size_t n);

/* Traces noted for `from` belong to `to` now (the entry was copied). */
void dump_build_retarget_traces(struct dump_build *b, td_dump_task *from,
				td_dump_task *to);

/* A busy worker's raw stack; `exact_first`: ips[0] is an interrupted
 * instruction, not a return address. */
void dump_build_note_stack(struct dump_build *b, td_dump_worker *w,
			   const uintptr_t *ips, size_t n, bool exact_first);

/* The process's symbolizer (kept across dumps), for unwinding and
 * symbols; NULL when unavailable (a warning in the dump says so).  Only
 * after the threads resume. */
struct td_symbolizer *dump_build_symbolizer(struct dump_build *b);

/* The worker of `rt` found busy in task `task_id`, or NULL. */
const td_dump_worker *dump_busy_worker(const td_dump_runtime *rt,
				       uint64_t task_id);

/* Room for one more busy-loop probe, or NULL when the dump watches
 * TD_MAX_BUSY_PROBES already. */
struct td_busy_probe *dump_build_add_probe(struct dump_build *b);

/* During the pause of runtime `rt`: note every lock the registries show
 * held by a task (sync/lockreg.h). */
void dump_build_note_held(struct dump_build *b, const td_dump_runtime *rt);

/* Add a line to the dump's warnings (once per distinct text). */
void dump_build_warn(struct dump_build *b, const char *text);

/* Give every trace and stack its frames, symbolized when `symbols`. */
void dump_build_frames(struct dump_build *b, bool symbols);

/* Header fields; returns 0 or -ENOMEM when anything could not be stored. */
int dump_build_finish(struct dump_build *b);

/* Free the builder; with `discard` the dump too. */
void dump_build_release(struct dump_build *b, bool discard);

#endif /* TD_TRACE_DUMP_BUILD_H */
