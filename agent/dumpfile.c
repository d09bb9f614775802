/* dumpfile.c - taking a dump and writing its file.
 *
 * Files are written whole or not at all: into a hidden temporary file in
 * the target directory (O_EXCL | O_NOFOLLOW, mode 0600), flushed and
 * fsync()ed, then renamed - without replacing anything - to
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
	td_dump_options opts = {.timeout_ms = cfg->timeout_ms};
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

/* Open the dump directory; NULL path: the working directory. */
static int open_dir(const struct agent_config *cfg, char *shown, size_t size)
{
	const char *dir = cfg->dir[0] ? cfg->dir : ".";
	if (cfg->dir[0])
		snprintf(shown, size, "%s", cfg->dir);
	else if (!getcwd(shown, size))
		snprintf(shown, size, ".");
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The temporary file being written, so that a process that exits in the
 * middle of a dump does not leave it behind (agent_dump_abandon, from the
 * agent's destructor).  Guarded by tmp_lock, which is only ever taken
 * around these few calls; `exiting` (set once, under the lock) also
 * stops new temporary files and silences the complaints of a dump that
 * loses its file that way.  (Fix: such files used to stay.) */
static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
static int tmp_dfd = -1;
static char tmp_name[64];
static atomic_bool exiting;

static void fail(const char *dir, const char *what, int err)
{
	if (atomic_load(&exiting))
		return;
	fprintf(stderr, "taskdump: cannot write a dump in %s: %s: %s\n", dir,
		what, strerror(err));
}

/* Create the temporary file and record it; -1 with errno set. */
static int create_tmp(int dfd, const char *name)
{
	pthread_mutex_lock(&tmp_lock);
	if (atomic_load(&exiting)) {
		pthread_mutex_unlock(&tmp_lock);
		errno = ECANCELED;
		return -1;
	}
	int fd = openat(dfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd >= 0) {
		tmp_dfd = dfd;
		snprintf(tmp_name, sizeof(tmp_name), "%s", name);
	}
	pthread_mutex_unlock(&tmp_lock);
	return fd;
}

/* Done with the temporary file (renamed, or to be removed); closes dfd. */
static void forget_tmp(int dfd, const char *name, bool remove)
{
	pthread_mutex_lock(&tmp_lock);
	if (remove)
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

void agent_dump_to_file(const struct agent_config *cfg, int64_t requested_ns,
			unsigned *seq)
{
	char dir[PATH_MAX], tmp[64], final[64];
	int dfd = open_dir(cfg, dir, sizeof(dir));
	if (dfd < 0) {
		fail(dir, "opening the directory", errno);
		return;
	}
	int pid = (int)getpid();
	unsigned my_seq = (*seq)++;
	snprintf(tmp, sizeof(tmp), ".taskdump-%d-%u.tmp", pid, my_seq);
	int fd = create_tmp(dfd, tmp);
	if (fd < 0) {
		fail(dir, "creating a file", errno);
		close(dfd);
		return;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		fail(dir, "fdopen", errno);
		close(fd);
		forget_tmp(dfd, tmp, true);
		return;
	}
	static char buf[1 << 16];
	setvbuf(f, buf, _IOFBF, sizeof(buf));

	struct outcome o = {0};
	int err = write_dump(f, cfg, requested_ns, &o);
	if (fflush(f) != 0 && !err)
		err = -errno;
	if (!err && fsync(fd) != 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (err) {
		fail(dir, o.have_runtime ? "writing the dump" : "writing", -err);
		forget_tmp(dfd, tmp, true);
		return;
	}
	/* Never replace a file (a previous process may have had our pid). */
	for (int tries = 0;; tries++) {
		snprintf(final, sizeof(final), "taskdump-%d-%u.%s", pid, my_seq,
			 cfg->json ? "json" : "txt");
		if (renameat2(dfd, tmp, dfd, final, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || tries > 10000) {
			fail(dir, "renaming the finished file", errno);
			forget_tmp(dfd, tmp, true);
			return;
		}
		my_seq = (*seq)++;
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
