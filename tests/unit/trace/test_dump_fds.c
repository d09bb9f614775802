/* test_dump_fds.c - the descriptors a dump uses, and a dump without any.
 *
 * The symbolizer is kept from one dump to the next with the module files
 * it read open.  So:
 *  - they are close-on-exec (a program that execs must not pass them on);
 *  - a program that closes them and opens its own files under the same
 *    numbers (a daemon's close_range(3, ~0U) and then its log) must find
 *    its files untouched by the next dump: not closed, not read;
 *  - with no descriptor left, a dump still comes, and its header says
 *    what failed (`warning symbolization could not open ...: Too many open
 *    files`) instead of leaving raw addresses unexplained.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump_fixtures.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "test_util.h"

#define HOUR_MS (3600u * 1000u)

typedef struct idler {
	td_future base;
	td_async as;
	td_sleep nap;
} idler;

static td_poll idler_poll(td_future *f, td_context *cx)
{
	idler *p = (idler *)f;
	TD_BEGIN(&p->as);
	td_sleep_init(&p->nap, HOUR_MS);
	TD_AWAIT(&p->as, &p->nap, cx);
	TD_END(&p->as);
}

static void idler_drop(td_future *f)
{
	td_async_drop(&((idler *)f)->as);
}

static const td_future_vtable idler_vt = {.poll = idler_poll,
					  .drop = idler_drop};

static bool traced_with_names(const td_dump *d, void *arg)
{
	(void)arg;
	const td_dump_runtime *r = fx_only_runtime(d);
	for (size_t i = 0; i < r->ntasks; i++)
		if (!r->tasks[i].is_block_on && r->tasks[i].ntraces &&
		    fx_frames_contain(r->tasks[i].traces[0].frames,
				      r->tasks[i].traces[0].nframes,
				      "idler_poll"))
			return true;
	return false;
}

static td_runtime *runtime_with_idler(void)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 1};
	td_runtime *rt;
	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	idler t = {.base = {&idler_vt}};
	ck_assert_int_eq(td_spawn_named(rt, "idler", &t, NULL), 0);
	return rt;
}

#define MAXFD 1024

/* open[fd]: fd is open. */
static void open_fds(bool *open)
{
	for (int fd = 0; fd < MAXFD; fd++)
		open[fd] = fcntl(fd, F_GETFD) >= 0;
}

START_TEST(descriptors_are_close_on_exec)
{
	bool before[MAXFD], after[MAXFD];
	td_runtime *rt = runtime_with_idler();
	open_fds(before);
	td_dump_free(fx_dump_until(rt, NULL, traced_with_names, NULL, 20000,
				   "a symbolized trace"));
	open_fds(after);
	int kept = 0;
	for (int fd = 0; fd < MAXFD; fd++) {
		if (!after[fd] || before[fd])
			continue; /* not the dump's */
		int flags = fcntl(fd, F_GETFD);
		char path[64], target[256] = "";
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		kept++;
		ck_assert_msg(flags & FD_CLOEXEC,
			      "fd %d (%s) left open by the dump without "
			      "close-on-exec",
			      fd, target);
	}
	ck_assert_msg(kept > 0, "the dump kept no module file open (then "
				"this test checks nothing)");
	td_runtime_free(rt);
}
END_TEST

START_TEST(closed_and_reused_descriptors_untouched)
{
	bool before[MAXFD], after[MAXFD];
	td_runtime *rt = runtime_with_idler();
	open_fds(before);
	td_dump_free(fx_dump_until(rt, NULL, traced_with_names, NULL, 20000,
				   "a symbolized trace"));
	open_fds(after);
	/* Like a daemon: close the descriptors it did not open itself (here:
	 * those the dump left), then open pipes until the numbers are taken
	 * again. */
	int hi = 0, reused = 0;
	for (int fd = 0; fd < MAXFD; fd++)
		if (after[fd] && !before[fd])
			close(fd), reused++, hi = fd;
	ck_assert_msg(reused > 0, "the dump held no module file open");
	int pipes[64][2];
	int np = 0;
	while (np < 64 && pipe(pipes[np]) == 0) {
		ck_assert_int_eq(write(pipes[np][1], "data", 4), 4);
		np++;
		if (pipes[np - 1][1] >= hi)
			break;
	}
	/* The next dumps neither close nor read the program's pipes. */
	for (int i = 0; i < 3; i++) {
		td_dump *d = NULL;
		ck_assert_int_eq(td_runtime_dump(rt, NULL, &d), 0);
		ck_assert(traced_with_names(d, NULL));
		td_dump_free(d);
	}
	for (int i = 0; i < np; i++) {
		char buf[8];
		ck_assert_msg(fcntl(pipes[i][0], F_GETFD) >= 0 &&
				      fcntl(pipes[i][1], F_GETFD) >= 0,
			      "the dump closed pipe %d/%d", pipes[i][0],
			      pipes[i][1]);
		int fl = fcntl(pipes[i][0], F_GETFL);
		fcntl(pipes[i][0], F_SETFL, fl | O_NONBLOCK);
		ck_assert_msg(read(pipes[i][0], buf, sizeof(buf)) == 4,
			      "the dump read from pipe %d", pipes[i][0]);
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	td_runtime_free(rt);
}
END_TEST

/* A task that blocks its worker in libc: its native stack needs a second
 * module (libc) besides the program. */
typedef struct sleeper {
	td_future base;
} sleeper;

static td_poll sleeper_poll(td_future *f, td_context *cx)
{
	(void)f, (void)cx;
	sleep(2);
	return TD_READY;
}

static const td_future_vtable sleeper_vt = {.poll = sleeper_poll};

/* In a child, before its first dump: `spare` descriptors left. */
static void dump_short_of_descriptors(int spare, const char *want)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
					 .workers = 2};
		td_runtime *rt;
		ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
		sleeper z = {.base = {&sleeper_vt}};
		ck_assert_int_eq(td_spawn_named(rt, "sleeper", &z, NULL), 0);
		usleep(100 * 1000); /* it sleeps */
		struct rlimit rl = {256, 256};
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
		int hogs[256], n = 0;
		while (n < 256 && (hogs[n] = open("/dev/null", O_RDONLY)) >= 0)
			n++;
		for (int i = 0; i < spare && n > 0; i++)
			close(hogs[--n]);
		td_dump *d = NULL;
		int err = td_runtime_dump(rt, NULL, &d);
		bool ok = err == 0 && d->nwarnings > 0 &&
			  strstr(d->warnings[0], want) &&
			  strstr(d->warnings[0], "Too many open files");
		if (!ok)
			fprintf(stderr, "spare %d: dump %d, %zu warnings: %s\n",
				spare, err, d ? d->nwarnings : 0,
				d && d->nwarnings ? d->warnings[0] : "-");
		_exit(ok ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "a dump with %d descriptor(s) to spare did not say why "
		      "it has no symbols (status %d)",
		      spare, st);
}

START_TEST(no_descriptor_left_says_so)
{
	/* None: not even /proc/self/maps can be read. */
	dump_short_of_descriptors(0, "mappings could not be read");
	/* One: the mappings, then one module (the program); the next one
	 * (libc, in the sleeping worker's native stack) fails. */
	dump_short_of_descriptors(1, "could not open");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dump_fds");
	TCase *tc = tcase_create("fds");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, descriptors_are_close_on_exec);
	tcase_add_test(tc, closed_and_reused_descriptors_untouched);
	tcase_add_test(tc, no_descriptor_left_says_so);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
