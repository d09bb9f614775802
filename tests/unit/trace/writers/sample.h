/* sample.h - a hand-built dump exercising every corner of both formats.
 *
 * Three runtimes:
 *  1 "demo" (multi_thread): a paused worker, a busy one with a native
 *    stack, a busy one without (stack_error) and one with a NULL state;
 *    a block_on entry, a task whose name needs every escape, a join_all
 *    with three traces sharing a prefix (one through an inlined frame),
 *    tasks in every state and queue, a running task that was not traced,
 *    a complete task with no trace, a truncated trace, frames without
 *    file (module only, nothing at all), a NULL wait text, a trace with
 *    no frame, and invalid UTF-8;
 *  2 "cur" (current_thread): an idle worker, two tasks with identical
 *    traces (grouped) around a third one;
 *  3 no name, shutting down: error set, no workers, no tasks;
 * and the diagnosis: edges (to a task, to nobody), held locks, and one
 * deadlock of two tasks.
 * Static data; the tests never free it.
 */
#ifndef TD_TEST_WRITERS_SAMPLE_H
#define TD_TEST_WRITERS_SAMPLE_H

#include "taskdump/dump.h"

#define DEMO "taskdump-demo"
#define FR(fn, f, l, off)                                                   \
	{ .ip = 0x55d1c0a00000u + (off), .function = (fn), .file = (f),      \
	  .line = (l), .module = DEMO, .module_offset = (off) }
#define FRI(fn, f, l, off)                                                  \
	{ .ip = 0x55d1c0a00000u + (off), .function = (fn), .file = (f),      \
	  .line = (l), .inlined = true, .module = DEMO,                      \
	  .module_offset = (off) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Fixed "addresses" of the primitives waited on: stable goldens. */
#define OBJ(x) ((const void *)(uintptr_t)(x))
#define sample_mutex OBJ(0x5581e2a0)
#define sample_oneshot OBJ(0x5581e2c8)
#define sample_chan OBJ(0x5581e310)
#define sample_notify OBJ(0x5581e358)

/* ---- runtime 1 ------------------------------------------------------- */

static td_dump_frame s_stack1[] = {
	FR("spin_forever", "examples/demo/stuck.c", 41, 0x1041),
	FR("stuck_poll", "./examples/demo/stuck.c", 60, 0x1060),
	{ .ip = 0x7f0000123456u, .function = "libc.so.6+0x29d90",
	  .module = "libc.so.6", .module_offset = 0x29d90 },
	{ .ip = 0x7ffe00001000u, .function = "0x7ffe00001000" },
};

static td_dump_worker s_workers1[] = {
	{ .index = 0, .tid = 4243, .state = "paused", .paused = true,
	  .held_ms = 0.398 },
	{ .index = 1, .tid = 4244, .state = "busy", .task_id = 7,
	  .busy_ms = 5012, .queued = 1, .stack = s_stack1,
	  .nstack = N(s_stack1), .syscall = "read", .syscall_fd = 7,
	  .syscall_fd_target = "pipe:[4711]", .syscall_timeout_ms = -1,
	  .stack_note = "unwound partly" },
	{ .index = 2, .tid = 4245, .state = "busy", .task_id = 0,
	  .busy_ms = 1500, .stack_error = "thread did not answer",
	  .syscall = "clock_nanosleep", .syscall_fd = -1,
	  .syscall_timeout_ms = 30000 },
	{ .index = 3, .tid = 4246, .state = NULL, .paused = true,
	  .queued = 2 },
};

static td_dump_frame s_main[] = {
	FR("demo_main_poll", "../examples/demo/main.c", 20, 0x2020),
	FR("td_sleep_poll", "/tmp/build/../runtime/src/time/sleep.c", 27,
	   0x3027),
};

static td_dump_frame s_ticker[] = {
	FR("ticker_poll", "../../work/main/examples/demo/ticker.c", 52,
	   0x4052),
	FR("td_sleep_poll", "/tmp/build/../runtime/src/time/sleep.c", 27,
	   0x3027),
};

/* join_all: three children, the third one's lock inlined. */
static td_dump_frame s_fan1[] = {
	FR("fanout_poll", "examples/demo/fanout.c", 70, 0x5070),
	FR("td_join_all_poll", "runtime/src/combinators/join_all.c", 96,
	   0x6096),
	FR("child_poll", "examples/demo/fanout.c", 31, 0x5031),
	FR("td_sleep_poll", "runtime/src/time/sleep.c", 27, 0x3027),
};
static td_dump_frame s_fan2[] = {
	FR("fanout_poll", "examples/demo/fanout.c", 70, 0x5070),
	FR("td_join_all_poll", "runtime/src/combinators/join_all.c", 96,
	   0x6096),
	FR("child_poll", "examples/demo/fanout.c", 35, 0x5035),
	FR("td_oneshot_recv_poll", "runtime/src/sync/oneshot.c", 140, 0x7140),
};
static td_dump_frame s_fan3[] = {
	FR("fanout_poll", "examples/demo/fanout.c", 70, 0x5070),
	FR("td_join_all_poll", "runtime/src/combinators/join_all.c", 96,
	   0x6096),
	FR("child_poll", "examples/demo/fanout.c", 39, 0x5039),
	FRI("lock_helper", "examples/demo/fanout.c", 12, 0x5039),
	FR("td_mutex_lock_poll", "runtime/src/sync/mutex.c", 88, 0x8088),
};

static td_dump_frame s_queued[] = {
	FR("worker_poll", "examples/demo/worker.c", 10, 0x9010),
	FR("td_yield_poll", "runtime/src/task/yield.c", 15, 0xa015),
};

static td_dump_frame s_deep[] = {
	FR("deep_a_poll", "examples/demo/deep.c", 101, 0xb101),
	FR("deep_b_poll", "examples/demo/deep.c", 102, 0xb102),
	FR("td_notify_poll", "runtime/src/sync/notify.c", 50, 0xc050),
};

static td_dump_frame s_nofile[] = {
	FR("plugin_poll", NULL, 0, 0xd000),
	{ .ip = 0x7f0000400123u, .function = "libplugin.so+0x123",
	  .module = "libplugin.so", .module_offset = 0x123 },
	{ .ip = 0x7f0000500000u, .function = "0x7f0000500000" },
	FR("weird \"name\"\twith\x01 ctl", "src/no line.c", 0, 0xd100),
	FR("td_chan_recv_poll", "runtime/src/sync/mpsc.c", 77, 0xe077),
};

static td_dump_frame s_utf8[] = {
	FR("caf\xc3\xa9_poll", "examples/\xff\xfe/bad\xe2\x82.c", 5, 0xf005),
	FR("td_io_poll", "runtime/src/io/io.c", 33, 0xf033),
};

static td_dump_trace s_tr_main[] = { {
	.wait = { .kind = TD_WAIT_SLEEP, .deadline_ms = 123456789 },
	.wait_text = "sleep, 688 ms left",
	.frames = s_main, .nframes = N(s_main),
} };
static td_dump_trace s_tr_ticker[] = { {
	.wait = { .kind = TD_WAIT_SLEEP, .deadline_ms = 1000 },
	.wait_text = "sleep [until] 1000 ms ]]",
	.frames = s_ticker, .nframes = N(s_ticker),
} };
static td_dump_trace s_tr_fan[] = {
	{ .wait = { .kind = TD_WAIT_SLEEP, .deadline_ms = 500 },
	  .wait_text = "sleep, 120 ms left",
	  .frames = s_fan1, .nframes = N(s_fan1) },
	{ .wait = { .kind = TD_WAIT_ONESHOT, .object = sample_oneshot },
	  .wait_text = "oneshot recv",
	  .frames = s_fan2, .nframes = N(s_fan2) },
	{ .wait = { .kind = TD_WAIT_MUTEX, .object = sample_mutex,
		    .task_id = 9 },
	  .wait_text = "mutex held by task 9",
	  .frames = s_fan3, .nframes = N(s_fan3) },
};
static td_dump_trace s_tr_yield[] = { {
	.wait = { .kind = TD_WAIT_YIELD }, .wait_text = "yield",
	.frames = s_queued, .nframes = N(s_queued),
} };
static td_dump_trace s_tr_deep[] = { {
	.wait = { .kind = TD_WAIT_NOTIFY, .object = sample_notify },
	.wait_text = "notify",
	.frames = s_deep, .nframes = N(s_deep), .truncated = true,
} };
static td_dump_trace s_tr_nofile[] = { {
	.wait = { .kind = TD_WAIT_CHAN_RECV, .object = sample_chan,
		  .count = 0 },
	.wait_text = "channel recv, 0 queued",
	.frames = s_nofile, .nframes = N(s_nofile),
} };
/* wait_text NULL: the writers format the wait themselves. */
static td_dump_trace s_tr_io[] = {
	{ .wait = { .kind = TD_WAIT_IO, .fd = 7,
		    .events = TD_WAIT_READ | TD_WAIT_WRITE, .label = "accept" },
	  .wait_text = NULL, .frames = s_utf8, .nframes = N(s_utf8) },
	{ .wait = { .kind = TD_WAIT_OTHER, .label = "no frames" },
	  .wait_text = "other wait", .frames = NULL, .nframes = 0 },
};

/* The diagnosis (normally computed by the dump): fanout waits for the
 * holder of the mutex and for a oneshot's lost sender; "deep" (10) and
 * task 11 form a deadlock through a join and a mutex. */
static td_dump_edge s_wf_fan[] = {
	{ true, 9, "mutex 0x5581e2a0 held" },
	{ false, 0, "oneshot 0x5581e2c8 no sender left" },
};
static td_dump_edge s_wf_deep[] = { { true, 11, "join" } };
static td_dump_edge s_wf_11[] = { { true, 10, "mutex 0x5581e3a0 held" } };
static td_dump_held s_held_deep[] = {
	{ TD_WAIT_MUTEX, OBJ(0x5581e3a0), 1500, 1, 0, 0 },
	{ TD_WAIT_MUTEX, OBJ(0x5581e3c0), 7, 0, 0, 0 },
	{ TD_WAIT_SEMAPHORE, OBJ(0x5581e3e0), 42, 2, 3, 1 },
};

static td_dump_task s_tasks1[] = {
	{ .id = 0, .name = "main", .is_block_on = true, .state = TD_DUMP_IDLE,
	  .queue_worker = -1, .polls = 3, .idle_ms = 10, .worker = -1,
	  .traced = true, .traces = s_tr_main, .ntraces = N(s_tr_main) },
	{ .id = 1, .name = "tick\"er\\\n\t\x01\xc3\xa9\xff end",
	  .state = TD_DUMP_IDLE, .queue_worker = -1, .polls = 41,
	  .idle_ms = 312, .worker = 0,
	  .spawn_file = "../../work/main/examples/demo/main.c",
	  .spawn_line = 88, .spawn_function = "demo_main_poll",
	  .traced = true, .traces = s_tr_ticker, .ntraces = N(s_tr_ticker),
	  .busy_ms = 12, .slowest_poll_ms = 3, .wakes = 40,
	  .woken_ms = 312, .wait_worst_ms = 2, .wakers = 1 },
	{ .id = 2, .name = "fanout", .state = TD_DUMP_IDLE, .queue_worker = -1,
	  .polls = 5, .idle_ms = 80, .worker = 1,
	  .spawn_file = "examples/demo/main.c", .spawn_line = 90,
	  .type_name = "fanout",
	  .traced = true, .traces = s_tr_fan, .ntraces = N(s_tr_fan),
	  .waits_for = s_wf_fan, .nwaits_for = N(s_wf_fan) },
	{ .id = 3, .state = TD_DUMP_NOTIFIED, .queue = TD_DUMP_QUEUE_LIFO,
	  .queue_worker = 1, .polls = 7, .idle_ms = 1, .worker = 1,
	  .traced = true, .traces = s_tr_yield, .ntraces = 1,
	  .wakes = 7, .woken_ms = 1,
	  .wait_ms = 1, .wait_worst_ms = 4, .wakers = -1 },
	{ .id = 4, .state = TD_DUMP_NOTIFIED, .queue = TD_DUMP_QUEUE_LOCAL,
	  .queue_worker = 0, .polls = 7, .idle_ms = 2, .worker = 0,
	  .traced = true, .traces = s_tr_yield, .ntraces = 1 },
	{ .id = 5, .state = TD_DUMP_NOTIFIED, .queue = TD_DUMP_QUEUE_INJECT,
	  .queue_worker = -1, .polls = 0, .idle_ms = 0, .worker = -1,
	  .spawn_file = "a dir/with space.c", .spawn_line = 3,
	  .spawn_function = "spawner",
	  .traced = true, .traces = s_tr_yield, .ntraces = 1 },
	{ .id = 6, .state = TD_DUMP_NOTIFIED, .queue = TD_DUMP_QUEUE_UNKNOWN,
	  .queue_worker = -1, .polls = 2, .idle_ms = 9, .worker = 3,
	  .traced = true, .traces = s_tr_yield, .ntraces = 1 },
	{ .id = 7, .name = "stuck", .type_name = "a \"quoted\"\ttype",
	  .state = TD_DUMP_RUNNING,
	  .queue_worker = -1, .polls = 1, .idle_ms = 5012, .worker = 1,
	  .traced = false, .not_traced = "running on worker 1 for 5012 ms" },
	{ .id = 8, .state = TD_DUMP_CANCELLED, .queue_worker = -1, .polls = 4,
	  .idle_ms = 100, .worker = 0, .traced = false,
	  .not_traced = NULL },
	{ .id = 9, .state = TD_DUMP_COMPLETE, .queue_worker = -1, .polls = 9,
	  .idle_ms = 0, .worker = 2, .traced = true, .traces = NULL,
	  .ntraces = 0 },
	{ .id = 10, .name = "deep", .state = TD_DUMP_IDLE, .queue_worker = -1,
	  .polls = 1, .idle_ms = 50, .worker = 0, .traced = true,
	  .traces = s_tr_deep, .ntraces = 1,
	  .waits_for = s_wf_deep, .nwaits_for = 1,
	  .holds = s_held_deep, .nholds = N(s_held_deep) },
	{ .id = 11, .state = TD_DUMP_IDLE, .queue_worker = -1, .polls = 2,
	  .idle_ms = 60, .worker = 1, .traced = true,
	  .traces = s_tr_nofile, .ntraces = 1,
	  .waits_for = s_wf_11, .nwaits_for = 1 },
	{ .id = 12, .name = "\xe2\x28\xa1 bad utf8", .state = TD_DUMP_IDLE,
	  .queue_worker = -1, .polls = 1, .idle_ms = 70, .worker = 0,
	  .spawn_function = "in\xc0\xafvalid", .traced = true,
	  .traces = s_tr_io, .ntraces = N(s_tr_io) },
};

/* ---- runtime 2 ------------------------------------------------------- */

static td_dump_worker s_workers2[] = {
	{ .index = 0, .tid = 0, .state = "idle" },
};

static td_dump_frame s_cur_a[] = {
	FR("client_poll", "examples/demo/client.c", 40, 0x10040),
	FR("td_sleep_poll", "runtime/src/time/sleep.c", 27, 0x3027),
};
static td_dump_frame s_cur_a2[] = { /* equal content, other addresses */
	FR("client_poll", "examples/demo/client.c", 40, 0x10041),
	FR("td_sleep_poll", "runtime/src/time/sleep.c", 27, 0x3028),
};
static td_dump_frame s_cur_b[] = {
	FR("server_poll", "examples/demo/server.c", 8, 0x11008),
};

static td_dump_trace s_tr_cur1[] = { {
	.wait = { .kind = TD_WAIT_SLEEP, .deadline_ms = 10 },
	.wait_text = "sleep, 10 ms left", .frames = s_cur_a, .nframes = 2,
} };
static td_dump_trace s_tr_cur2[] = { {
	.wait = { .kind = TD_WAIT_SEMAPHORE, .object = sample_chan,
		  .count = 2, .value = 1 },
	.wait_text = "semaphore wants 2 of 1 available",
	.frames = s_cur_b, .nframes = 1,
} };
static td_dump_trace s_tr_cur3[] = { {
	.wait = { .kind = TD_WAIT_SLEEP, .deadline_ms = 20 },
	.wait_text = "sleep, 20 ms left", .frames = s_cur_a2, .nframes = 2,
} };

static td_dump_task s_tasks2[] = {
	{ .id = 13, .name = "client", .state = TD_DUMP_IDLE,
	  .queue_worker = -1, .polls = 1, .idle_ms = 5, .worker = 0,
	  .traced = true, .traces = s_tr_cur1, .ntraces = 1 },
	{ .id = 14, .name = "server", .state = TD_DUMP_IDLE,
	  .queue_worker = -1, .polls = 1, .idle_ms = 5, .worker = 0,
	  .traced = true, .traces = s_tr_cur2, .ntraces = 1 },
	{ .id = 15, .name = "client", .state = TD_DUMP_IDLE,
	  .queue_worker = -1, .polls = 1, .idle_ms = 6, .worker = 0,
	  .traced = true, .traces = s_tr_cur3, .ntraces = 1 },
};

/* ---- the dump ---------------------------------------------------------- */

static td_dump_runtime s_runtimes[] = {
	{ .id = 1, .name = "demo", .flavor = "multi_thread",
	  .workers = s_workers1, .nworkers = N(s_workers1),
	  .tasks = s_tasks1, .ntasks = N(s_tasks1), .traced = 10,
	  .pause_ms = 0.398 },
	{ .id = 2, .name = "cur", .flavor = "current_thread",
	  .workers = s_workers2, .nworkers = 1, .tasks = s_tasks2,
	  .ntasks = N(s_tasks2), .traced = 3, .pause_ms = 0.0125 },
	{ .id = 3, .name = NULL, .flavor = "multi_thread",
	  .error = "shutting down", .pause_ms = -1.5 },
};

static const char *s_warnings[] = {
	"symbolization could not open libc.so.6: Too many open files",
};

static const td_dump_task *s_dl_tasks[] = { &s_tasks1[10], &s_tasks1[11] };
static const size_t s_dl_edges[] = { 0, 0 };
static td_dump_deadlock s_deadlocks[] = {
	{ s_dl_tasks, s_dl_edges, N(s_dl_tasks) },
};

static td_dump_warning s_task_warnings[] = {
	{ TD_WARN_LOST_WAKEUP, 1, &s_tasks1[2],
	  "idle 80 ms after 5 polls, and no waker of it is registered" },
	{ TD_WARN_LONG_POLL, 1, &s_tasks1[7],
	  "in one poll for 5012 ms on worker 1 (a \"quoted\" word)" },
};

static td_dump s_sample = {
	.version = TD_DUMP_FORMAT_VERSION,
	.pid = 4242,
	.program = "/usr/local/bin/taskdump demo",
	.time_unix_ms = 1795792831123, /* 2026-11-27T15:20:31.123Z */
	.mode = "stop",
	.span_ms = 0.321,
	.unconfirmed_deadlocks = 1,
	.unconfirmed_lost_wakeups = 2,
	.pause_ms = 0.412,
	.capture_ms = 0.38,
	.symbolize_ms = 1.2096,
	.total_ms = 2.1034,
	.runtimes = s_runtimes,
	.nruntimes = N(s_runtimes),
	.ntasks = N(s_tasks1) + N(s_tasks2),
	.warnings = s_warnings,
	.nwarnings = N(s_warnings),
	.deadlocks = s_deadlocks,
	.ndeadlocks = N(s_deadlocks),
	.task_warnings = s_task_warnings,
	.ntask_warnings = N(s_task_warnings),
	.ntask_warnings_found = 3, /* one more than listed */
};

#endif /* TD_TEST_WRITERS_SAMPLE_H */
