/* test_dump_undisturbed.c - dumps change nothing a blocked thread sees,
 * and report a worker blocked in a system call truthfully.
 *
 * Six kinds of blocking call, each D ms long: nanosleep, read on a pipe
 * (written after D ms), epoll_wait and poll with a timeout of D ms on a
 * pipe that never gets data, pthread_mutex_lock of a mutex another thread
 * holds for D ms, pthread_cond_timedwait with a D ms timeout.  Each kind
 * runs at once in a plain thread of the program and inside a task's poll,
 * stuck on a worker (multi-thread: a runtime with one worker per kind and
 * one to spare; current-thread: one runtime per kind, each driven by its
 * own thread).  While they block, 50 dumps are taken.  Every call must
 * then have blocked its whole time and returned what it returns without
 * the dumps (no EINTR, no early return): the stack of a stuck worker is
 * taken without a signal (trace/thread_stack.h).  And the dumps must list
 * each stuck task as running on its worker, that worker busy in the
 * system call it makes, with its busy time and a native stack through the
 * function that made the call.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/task.h"
#include "test_util.h"

#define BLOCK_MS 4000
#define NDUMPS 50

enum kind { K_NANOSLEEP, K_READ, K_EPOLL, K_POLL, K_MUTEX, K_COND, NKINDS };

static const char *const kind_name[NKINDS] = {
	"nanosleep", "read", "epoll_wait", "poll", "mutex", "cond"};
/* The system call a worker stuck in each kind is blocked in (glibc's
 * nanosleep is clock_nanosleep; mutexes and condition variables are
 * futexes). */
static const char *const kind_syscall[NKINDS] = {
	"clock_nanosleep", "read", "epoll_wait", "poll", "futex", "futex"};
/* The function that makes the call: in every stuck worker's stack. */
static const char *const kind_fn[NKINDS] = {
	"block_nanosleep", "block_read", "block_epoll", "block_poll",
	"block_mutex", "block_cond"};

/* One blocking call and what it saw. */
struct call {
	enum kind kind;
	int fds[2];                 /* the pipe (read, epoll, poll) */
	int epfd;
	pthread_mutex_t *held;      /* K_MUTEX: held by the holder thread */
	atomic_int started;
	uint64_t t0;                /* test_now_ms() at the call */
	long ret;
	int err;                    /* errno after it, 0 if none */
	uint64_t elapsed_ms;
	atomic_int done;
};

__attribute__((noinline)) static long block_nanosleep(struct call *c)
{
	(void)c;
	struct timespec ts = {BLOCK_MS / 1000, (BLOCK_MS % 1000) * 1000000L};
	long r = nanosleep(&ts, NULL);
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static long block_read(struct call *c)
{
	char b;
	long r = read(c->fds[0], &b, 1);
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static long block_epoll(struct call *c)
{
	struct epoll_event ev;
	long r = epoll_wait(c->epfd, &ev, 1, BLOCK_MS);
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static long block_poll(struct call *c)
{
	struct pollfd p = {.fd = c->fds[0], .events = POLLIN};
	long r = poll(&p, 1, BLOCK_MS);
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static long block_mutex(struct call *c)
{
	long r = pthread_mutex_lock(c->held);
	if (r == 0)
		pthread_mutex_unlock(c->held);
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) static long block_cond(struct call *c)
{
	(void)c;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += BLOCK_MS / 1000;
	until.tv_nsec += (BLOCK_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m);
	long r = 0;
	while (r == 0) /* no predicate: only the timeout ends the wait */
		r = pthread_cond_timedwait(&cv, &m, &until);
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&cv);
	__asm__ volatile("" ::: "memory");
	return r;
}

static void run_call(struct call *c)
{
	static long (*const fn[NKINDS])(struct call *) = {
		block_nanosleep, block_read, block_epoll,
		block_poll,      block_mutex, block_cond};
	c->t0 = test_now_ms();
	atomic_store(&c->started, 1);
	errno = 0;
	c->ret = fn[c->kind](c);
	c->err = errno;
	c->elapsed_ms = test_now_ms() - c->t0;
	atomic_store(&c->done, 1);
}

/* What a call must have returned, having blocked its whole time. */
static void check_call(const struct call *c, const char *where)
{
	const char *k = kind_name[c->kind];
	ck_assert_msg(c->elapsed_ms + 5 >= BLOCK_MS,
		      "%s %s returned after %llu ms of %d (ret %ld, %s)", where,
		      k, (unsigned long long)c->elapsed_ms, BLOCK_MS, c->ret,
		      strerror(c->err));
	switch (c->kind) {
	case K_NANOSLEEP:
	case K_EPOLL:
	case K_POLL:
		ck_assert_msg(c->ret == 0, "%s %s returned %ld (%s)", where, k,
			      c->ret, strerror(c->err));
		break;
	case K_READ:
		ck_assert_msg(c->ret == 1, "%s read returned %ld (%s)", where,
			      c->ret, strerror(c->err));
		break;
	case K_MUTEX:
		ck_assert_int_eq(c->ret, 0);
		break;
	case K_COND:
		ck_assert_int_eq(c->ret, ETIMEDOUT);
		break;
	default:
		break;
	}
}

static void call_init(struct call *c, enum kind k, pthread_mutex_t *held)
{
	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->held = held;
	c->epfd = -1;
	ck_assert_int_eq(pipe(c->fds), 0);
	if (k == K_EPOLL) {
		c->epfd = epoll_create1(EPOLL_CLOEXEC);
		ck_assert_int_ge(c->epfd, 0);
		struct epoll_event ev = {.events = EPOLLIN};
		ck_assert_int_eq(
			epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fds[0], &ev), 0);
	}
}

static void call_fini(struct call *c)
{
	close(c->fds[0]);
	close(c->fds[1]);
	if (c->epfd >= 0)
		close(c->epfd);
}

static void *thread_call(void *arg)
{
	run_call(arg);
	return NULL;
}

/* The helpers that end the calls that others end: the pipe writer of the
 * reads, the holder of the mutexes. */
struct ender {
	struct call *calls;
	size_t n;
	pthread_mutex_t *held;
	atomic_int holding;
};

static void *ender_main(void *arg)
{
	struct ender *e = arg;
	pthread_mutex_lock(e->held);
	atomic_store(&e->holding, 1);
	/* Wait until every call started, then BLOCK_MS from the last. */
	uint64_t last = 0;
	for (size_t i = 0; i < e->n; i++) {
		while (!atomic_load(&e->calls[i].started))
			fx_sleep_ms(1);
		if (e->calls[i].t0 > last)
			last = e->calls[i].t0;
	}
	while (test_now_ms() < last + BLOCK_MS + 20)
		fx_sleep_ms(5);
	pthread_mutex_unlock(e->held);
	for (size_t i = 0; i < e->n; i++)
		if (e->calls[i].kind == K_READ)
			ck_assert_int_eq(write(e->calls[i].fds[1], "x", 1), 1);
	return NULL;
}

/* A task whose one poll makes the call. */
typedef struct stuck {
	td_future base;
	struct call *c;
} stuck;

static td_poll stuck_poll(td_future *f, td_context *cx)
{
	(void)cx;
	run_call(((stuck *)f)->c);
	return TD_READY;
}

static const td_future_vtable stuck_vt = {.poll = stuck_poll};

/* The dump shows the task of call c as running on a busy worker that is
 * blocked in the call's system call, with its stack. */
static void check_reported(const td_dump *d, const struct call *c,
			   uint64_t task_id, uint64_t before, uint64_t after)
{
	const char *k = kind_name[c->kind];
	const td_dump_worker *w = NULL;
	const td_dump_task *t = NULL;
	for (size_t i = 0; i < d->nruntimes; i++) {
		const td_dump_runtime *r = &d->runtimes[i];
		for (size_t j = 0; j < r->nworkers; j++)
			if (r->workers[j].task_id == task_id &&
			    strcmp(r->workers[j].state, "busy") == 0)
				w = &r->workers[j];
		if (w && !t)
			t = fx_find_task(r, task_id);
		if (w)
			break;
	}
	ck_assert_msg(w != NULL, "%s: no busy worker polls task %llu", k,
		      (unsigned long long)task_id);
	ck_assert_msg(t != NULL, "%s: task %llu is not in the dump", k,
		      (unsigned long long)task_id);
	ck_assert_msg(t->state == TD_DUMP_RUNNING, "%s: task is %s", k,
		      td_dump_task_state_name(t->state));
	/* Blocked since t0, seen between `before` and `after` (the task
	 * clock is coarse: a few ms either way). */
	ck_assert_msg(w->busy_ms + 20 >= before - c->t0 &&
			      w->busy_ms <= after - c->t0 + 20,
		      "%s: busy_ms=%llu, blocked %llu to %llu ms", k,
		      (unsigned long long)w->busy_ms,
		      (unsigned long long)(before - c->t0),
		      (unsigned long long)(after - c->t0));
	ck_assert_msg(w->syscall && strcmp(w->syscall, kind_syscall[c->kind]) == 0,
		      "%s: worker says syscall=%s", k,
		      w->syscall ? w->syscall : "(none)");
	if (c->kind == K_READ || c->kind == K_EPOLL) {
		int fd = c->kind == K_READ ? c->fds[0] : c->epfd;
		ck_assert_int_eq(w->syscall_fd, fd);
		ck_assert_ptr_nonnull(w->syscall_fd_target);
	}
	if (c->kind == K_POLL)
		ck_assert_int_eq(w->syscall_fd, c->fds[0]);
	if (c->kind == K_NANOSLEEP || c->kind == K_EPOLL || c->kind == K_POLL)
		ck_assert_int_eq(w->syscall_timeout_ms, BLOCK_MS);
	if (c->kind == K_COND) /* an absolute deadline: the time left */
		ck_assert_msg(w->syscall_timeout_ms >= 0 &&
				      w->syscall_timeout_ms <= BLOCK_MS,
			      "cond: timeout %lld",
			      (long long)w->syscall_timeout_ms);
	ck_assert_msg(w->stack_error == NULL, "%s: no stack: %s", k,
		      w->stack_error);
	ck_assert_msg(fx_frames_contain(w->stack, w->nstack, kind_fn[c->kind]),
		      "%s: native stack lacks %s (innermost %s)", k,
		      kind_fn[c->kind], w->nstack ? w->stack[0].function : "-");
	ck_assert_msg(fx_frames_contain(w->stack, w->nstack, "stuck_poll"),
		      "%s: native stack lacks stuck_poll", k);
	ck_assert_msg(w->stack_note == NULL, "%s: stack note: %s", k,
		      w->stack_note);
}

static void run_case(int flavor)
{
	pthread_mutex_t held_t = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t held_w = PTHREAD_MUTEX_INITIALIZER;
	struct call in_thread[NKINDS], in_task[NKINDS];
	td_runtime *rts[NKINDS] = {0};
	fx_driver *drivers[NKINDS] = {0};
	size_t nrt;
	uint64_t ids[NKINDS];
	pthread_t threads[NKINDS], enders[2];

	for (int k = 0; k < NKINDS; k++) {
		call_init(&in_thread[k], (enum kind)k, &held_t);
		call_init(&in_task[k], (enum kind)k, &held_w);
	}
	if (fx_flavors[flavor].flavor == TD_FLAVOR_MULTI_THREAD) {
		td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
					 .workers = NKINDS + 1,
					 .name = "undisturbed"};
		ck_assert_int_eq(td_runtime_new(&cfg, &rts[0]), 0);
		nrt = 1;
	} else {
		for (int k = 0; k < NKINDS; k++) {
			rts[k] = fx_runtime_new(flavor, kind_name[k]);
			drivers[k] = fx_driver_start(rts[k]);
		}
		nrt = NKINDS;
	}
	struct ender et = {in_thread, NKINDS, &held_t, 0};
	struct ender ew = {in_task, NKINDS, &held_w, 0};
	ck_assert_int_eq(pthread_create(&enders[0], NULL, ender_main, &et), 0);
	ck_assert_int_eq(pthread_create(&enders[1], NULL, ender_main, &ew), 0);
	ck_assert(fx_wait_count(&et.holding, 1, 20000));
	ck_assert(fx_wait_count(&ew.holding, 1, 20000));

	for (int k = 0; k < NKINDS; k++) {
		ck_assert_int_eq(pthread_create(&threads[k], NULL, thread_call,
						&in_thread[k]),
				 0);
		stuck s = {.base = {&stuck_vt}, .c = &in_task[k]};
		td_join_handle h;
		td_runtime *rt = rts[nrt == 1 ? 0 : k];
		ck_assert_int_eq(td_spawn_named(rt, kind_name[k], &s, &h), 0);
		ids[k] = td_join_handle_id(&h);
		td_join_handle_detach(&h);
		/* On a multi-thread runtime each stuck task needs a worker
		 * of its own: wait until this one is in its call. */
		ck_assert(fx_wait_count(&in_task[k].started, 1, 20000));
	}
	for (int k = 0; k < NKINDS; k++)
		ck_assert(fx_wait_count(&in_thread[k].started, 1, 20000));
	fx_sleep_ms(20); /* into the calls themselves */

	uint64_t first_started = UINT64_MAX;
	for (int k = 0; k < NKINDS; k++)
		if (in_task[k].t0 < first_started)
			first_started = in_task[k].t0;
	int ndumps = 0;
	for (int i = 0; i < NDUMPS; i++) {
		td_dump *d = NULL;
		uint64_t before = test_now_ms();
		/* Up to NDUMPS, but at least 10 and all while the calls block
		 * (a slow build - sanitizers on a loaded machine - takes
		 * fewer): the last one is checked like the first. */
		bool last = i == NDUMPS - 1 ||
			    (i >= 10 && before + 1000 > first_started + BLOCK_MS);
		ck_assert_int_eq(td_dump_all(NULL, &d), 0);
		uint64_t after = test_now_ms();
		fx_check_consistent(d, "undisturbed");
		ndumps++;
		if (i == 0 || last) {
			fx_print(d, "undisturbed");
			for (int k = 0; k < NKINDS; k++)
				if (!atomic_load(&in_task[k].done))
					check_reported(d, &in_task[k], ids[k],
						       before, after);
		}
		td_dump_free(d);
		if (last)
			break;
	}
	uint64_t dumps_end = test_now_ms();

	for (int k = 0; k < NKINDS; k++) {
		ck_assert_int_eq(pthread_join(threads[k], NULL), 0);
		ck_assert(fx_wait_count(&in_task[k].done, 1, 20000));
	}
	ck_assert_int_eq(pthread_join(enders[0], NULL), 0);
	ck_assert_int_eq(pthread_join(enders[1], NULL), 0);
	for (int k = 0; k < NKINDS; k++) {
		check_call(&in_thread[k], "a thread's");
		check_call(&in_task[k], "a stuck worker's");
		call_fini(&in_thread[k]);
		call_fini(&in_task[k]);
	}
	ck_assert_msg(dumps_end < first_started + BLOCK_MS,
		      "the %d dumps outlasted the calls: not a test of them",
		      ndumps);
	for (size_t i = 0; i < nrt; i++) {
		if (drivers[i])
			fx_driver_stop(drivers[i]);
		td_runtime_free(rts[i]);
	}
}

START_TEST(test_blocked_calls_undisturbed)
{
	run_case(_i);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dump_undisturbed");
	TCase *tc = tcase_create("undisturbed");
	tcase_set_timeout(tc, 100);
	tcase_add_loop_test(tc, test_blocked_calls_undisturbed, 0,
			    FX_NFLAVORS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
