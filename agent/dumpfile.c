/* dumpfile.c - taking a dump and writing its file.
 *
 * Files are written whole or not at all: into an unnamed file in the
 * target directory (O_TMPFILE, mode 0600; where the file system lacks it,
 * a hidden temporary name, O_EXCL | O_NOFOLLOW), flushed and fsync()ed,
 * then linked (or renamed) - without replacing anything - to
 * taskdump-<pid>-<seq>.txt or .json.  A reader never sees a partial dump;
 * on any failure the temporary file is removed and one line on stderr
 * says why; the program carries on, and the next signal tries again.
 * A program that exits during a dump gets a moment for it to finish, and
 * its temporary file is removed otherwise (agent_dump_abandon).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static double ms_since(int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return (double)(now - ns) / 1e6;
}

struct outcome {
	size_t runtimes, tasks;
	double pause_ms, total_ms; /* as the file says them */
	bool have_runtime;
};

static int write_dump(FILE *f, const struct agent_config *cfg,
		      int64_t requested_ns, struct outcome *o)
{
	struct agent_runtime_api api;
	if (!agent_find_runtime(&api))
		return agent_write_no_runtime(f, cfg->json,
					      ms_since(requested_ns));
	o->have_runtime = true;
	td_dump_options opts = {
		.timeout_ms = cfg->timeout_ms,
		.grace_ms = cfg->grace_ms,
		.long_poll_ms = cfg->long_poll_ms,
		.starved_ms = cfg->starved_ms,
		.never_polled_ms = cfg->never_polled_ms,
		.long_wait_ms = cfg->long_wait_ms,
		.long_wait_factor = cfg->long_wait_factor,
		.busy_polls_per_sec = cfg->busy_polls_per_sec,
		.mode = cfg->stop_mode ? TD_DUMP_MODE_STOP
				       : TD_DUMP_MODE_INCREMENTAL,
		.slice_us = cfg->slice_us,
	};
	td_dump *d = NULL;
	int err = api.dump_all(&opts, &d);
	if (err)
		return err;
	/* The file's total: from the signal to the data being ready. */
	d->total_ms = ms_since(requested_ns);
	o->runtimes = d->nruntimes;
	o->tasks = d->ntasks;
	o->pause_ms = d->pause_ms;
	o->total_ms = d->total_ms;
	td_write_options wopts = {.group = cfg->group};
	err = cfg->json ? api.write_json(d, f) : api.write_text(d, f, &wopts);
	api.free_dump(d);
	return err;
}

/* Open the dump directory.  A relative TASKDUMP_DIR is relative to the
 * agent thread's working directory, which is the program's at start (the
 * thread has a file system context of its own, see agent.c); without
 * TASKDUMP_DIR it is the program's working directory now. */
static int open_dir(const struct agent_config *cfg, char *shown, size_t size)
{
	char cwd[PATH_MAX];
	const char *dir = cfg->dir[0] ? cfg->dir : ".";
	int fd = -1;

	if (!cfg->dir[0]) {
		/* The program's, not the agent thread's, working directory. */
		fd = open("/proc/self/cwd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ssize_t n = readlink("/proc/self/cwd", cwd, sizeof(cwd) - 1);
		if (fd >= 0 && n > 0) {
			cwd[n] = '\0';
			snprintf(shown, size, "%s", cwd);
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	if (dir[0] == '/')
		snprintf(shown, size, "%s", dir);
	else if (!getcwd(cwd, sizeof(cwd)))
		snprintf(shown, size, "%s", dir);
	else if (!cfg->dir[0])
		snprintf(shown, size, "%s", cwd);
	else { /* "cwd/dir", cut to size */
		size_t n = strnlen(cwd, size - 1), m = strlen(dir);
		memcpy(shown, cwd, n);
		if (n + 1 + m < size) {
			shown[n++] = '/';
			memcpy(shown + n, dir, m);
			n += m;
		}
		shown[n] = '\0';
	}
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The dump being written.  Files are written unnamed (O_TMPFILE) and
 * linked into place when complete, so that a process killed, exec()ing or
 * _exit()ing mid-dump leaves nothing named behind.  Where the file system
 * has no O_TMPFILE, a hidden temporary name is used instead, recorded so
 * that a process exiting mid-dump removes it (agent_dump_abandon).
 * Guarded by tmp_lock, which is only ever taken around these few calls;
 * `exiting` (set once, under the lock) also stops new files and silences
 * the complaints of a dump that loses its file that way. */
static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
static int tmp_dfd = -1;
static char tmp_name[80];
static atomic_bool exiting;
/* Linking an unnamed file failed once (no /proc, no CAP_DAC_READ_SEARCH):
 * named temporary files from then on. */
static bool unnamed_unusable;

static void fail(const char *dir, const char *what, int err)
{
	if (atomic_load(&exiting))
		return;
	fprintf(stderr, "taskdump: cannot write a dump in %s: %s: %s\n", dir,
		what, strerror(err));
}

/* Create the file to write: unnamed if possible (*name = ""), else under
 * a fresh hidden name (recorded).  -1 with errno set. */
static int create_tmp(int dfd, int pid, unsigned seq, char *name,
		      size_t size)
{
	int fd = -1;

	pthread_mutex_lock(&tmp_lock);
	if (atomic_load(&exiting)) {
		pthread_mutex_unlock(&tmp_lock);
		errno = ECANCELED;
		return -1;
	}
	name[0] = '\0';
	if (!unnamed_unusable) {
		fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL && errno != ENOENT) {
			pthread_mutex_unlock(&tmp_lock);
			return -1; /* EACCES, EMFILE, ENOSPC...: say so */
		}
	}
	/* A stale name (a process killed before it could remove its own,
	 * with our pid) is passed over, never an obstacle. */
	for (unsigned k = 0; fd < 0 && k < 1000; k++) {
		if (k == 0)
			snprintf(name, size, ".taskdump-%d-%u.tmp", pid, seq);
		else
			snprintf(name, size, ".taskdump-%d-%u-%u.tmp", pid, seq,
				 k);
		fd = openat(dfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd >= 0 && name[0]) {
		tmp_dfd = dfd;
		snprintf(tmp_name, sizeof(tmp_name), "%s", name);
	}
	pthread_mutex_unlock(&tmp_lock);
	return fd;
}

/* Done with the file (published, or to be dropped); closes dfd. */
static void forget_tmp(int dfd, const char *name, bool remove)
{
	pthread_mutex_lock(&tmp_lock);
	if (remove && name[0])
		unlinkat(dfd, name, 0);
	tmp_dfd = -1;
	pthread_mutex_unlock(&tmp_lock);
	close(dfd);
}

void agent_dump_abandon(void)
{
	pthread_mutex_lock(&tmp_lock);
	atomic_store(&exiting, true);
	if (tmp_dfd >= 0)
		unlinkat(tmp_dfd, tmp_name, 0);
	tmp_dfd = -1;
	pthread_mutex_unlock(&tmp_lock);
}

/* Give the finished file `name` in dfd ("" : the unnamed file fd) the
 * name `final`, never replacing a file.  0 or -errno (-EEXIST: taken). */
static int publish(int fd, int dfd, const char *name, const char *final)
{
	if (name[0]) {
		if (renameat2(dfd, name, dfd, final, RENAME_NOREPLACE) == 0)
			return 0;
		return -errno;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, path, dfd, final, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	int err = errno;
	if (err == EEXIST)
		return -EEXIST;
	if (linkat(fd, "", dfd, final, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	unnamed_unusable = true;
	return -err;
}

/* The stream the dump is written through: it writes to the file only in
 * the process that opened it, so that a child forked mid-dump, whose copy
 * of the stream holds part of the parent's dump, flushes nothing into the
 * parent's file when it exits. */
struct dump_stream {
	int fd;
	pid_t pid;
};

static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
	struct dump_stream *s = cookie;

	if (getpid() != s->pid)
		return (ssize_t)size; /* a child's copy: dropped */
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(s->fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)n;
	}
	return (ssize_t)size;
}

static int stream_close(void *cookie)
{
	struct dump_stream *s = cookie;
	return s->pid == getpid() ? close(s->fd) : 0;
}

void agent_dump_after_fork_child(void)
{
	/* Whatever the parent was writing stays the parent's: its hidden
	 * name is not ours to remove. */
	pthread_mutex_init(&tmp_lock, NULL);
	tmp_dfd = -1;
	tmp_name[0] = '\0';
}

void agent_dump_to_file(const struct agent_config *cfg, int64_t requested_ns,
			unsigned *seq)
{
	char dir[PATH_MAX], tmp[80], final[64];
	int dfd = open_dir(cfg, dir, sizeof(dir));
	if (dfd < 0) {
		fail(dir, "opening the directory", errno);
		return;
	}
	int pid = (int)getpid();
	unsigned my_seq = (*seq)++;
	int fd = create_tmp(dfd, pid, my_seq, tmp, sizeof(tmp));
	if (fd < 0) {
		fail(dir, "creating a file", errno);
		close(dfd);
		return;
	}
	static struct dump_stream stream;
	stream = (struct dump_stream){fd, (pid_t)pid};
	FILE *f = fopencookie(&stream, "w",
			      (cookie_io_functions_t){.write = stream_write,
						      .close = stream_close});
	if (!f) {
		fail(dir, "opening a stream", errno);
		close(fd);
		forget_tmp(dfd, tmp, true);
		return;
	}
	static char buf[1 << 16];
	setvbuf(f, buf, _IOFBF, sizeof(buf));

	struct outcome o = {0};
	int err = write_dump(f, cfg, requested_ns, &o);
	const char *what = o.have_runtime ? "writing the dump" : "writing";
	if (fflush(f) != 0 && !err)
		err = -errno;
	if (!err && fsync(fd) != 0)
		err = -errno;
	/* Never replace a file (a previous process may have had our pid):
	 * the next number instead. */
	for (int tries = 0; !err; tries++) {
		snprintf(final, sizeof(final), "taskdump-%d-%u.%s", pid,
			 my_seq, cfg->json ? "json" : "txt");
		err = publish(fd, dfd, tmp, final);
		what = "naming the finished file";
		if (err != -EEXIST || tries > 10000)
			break;
		err = 0;
		my_seq = (*seq)++;
	}
	fclose(f); /* flushed and synced already: nothing left to fail */
	if (err) {
		fail(dir, what, -err);
		forget_tmp(dfd, tmp, true);
		return;
	}
	forget_tmp(dfd, tmp, false);
	if (cfg->quiet)
		return;
	char pause[32], total[32];
	if (!o.have_runtime)
		fprintf(stderr,
			"taskdump: dump written to %s/%s: no taskdump runtime "
			"in this process\n",
			dir, final);
	else
		fprintf(stderr,
			"taskdump: dump written to %s/%s: %zu runtime%s, %zu "
			"task%s, paused %s ms, total %s ms\n",
			dir, final, o.runtimes, o.runtimes == 1 ? "" : "s",
			o.tasks, o.tasks == 1 ? "" : "s",
			agent_ms3(pause, sizeof(pause), o.pause_ms),
			agent_ms3(total, sizeof(total), o.total_ms));
}
