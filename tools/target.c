/* target.c - requesting a dump from a live process (see target.h). */
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

/* After this long without a dump, look for a reason that will not go
 * away (a full or unwritable directory) and stop early if there is one. */
#define DIAGNOSE_AFTER_MS 1000.0

static int gone(const tdc_target *t, const char *when)
{
	tdc_error("process %d exited %s", (int)t->pid, when);
	return TDC_EXIT_PROCESS;
}

bool tdc_target_alive(const tdc_target *t)
{
	unsigned long long start;
	char state;

	if (t->procfd < 0 || tdc_proc_stat(t->procfd, &state, &start) < 0)
		return false;
	return state != 'Z' && state != 'X' && start == t->start;
}

int tdc_target_open(tdc_target *t, pid_t pid)
{
	char state;
	int rc;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->procfd = -1;
	t->sig = SIGUSR1;
	if (kill(pid, 0) != 0) {
		struct stat st;
		char path[32];

		if (errno == ESRCH) {
			tdc_error("no such process: %d", (int)pid);
			return TDC_EXIT_PROCESS;
		}
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (errno == EPERM && stat(path, &st) == 0)
			tdc_error("permission denied: process %d belongs to "
				  "uid %u (run taskdump as that user or as "
				  "root)", (int)pid, (unsigned)st.st_uid);
		else
			tdc_error("cannot signal process %d: %s", (int)pid,
				  strerror(errno));
		return TDC_EXIT_PROCESS;
	}
	t->procfd = tdc_proc_open(pid);
	rc = t->procfd < 0 ? t->procfd :
			     tdc_proc_stat(t->procfd, &state, &t->start);
	if (rc == -ENOENT || rc == -ESRCH) {
		tdc_error("no such process: %d", (int)pid);
		return TDC_EXIT_PROCESS;
	}
	if (rc < 0) {
		tdc_error("cannot read /proc/%d/stat: %s", (int)pid,
			  strerror(-rc));
		return TDC_EXIT_PROCESS;
	}
	if (state == 'Z' || state == 'X')
		return gone(t, "(it is a zombie)");
	return TDC_EXIT_OK;
}

static int proc_error(const tdc_target *t, const char *what, int err)
{
	if (!tdc_target_alive(t))
		return gone(t, "before the dump");
	tdc_error("cannot read /proc/%d/%s: %s", (int)t->pid, what,
		  strerror(-err));
	return TDC_EXIT_PROCESS;
}

/* TASKDUMP_SIGNAL and TASKDUMP_DIR; the directory's path for messages
 * (TASKDUMP_DIR relative to the agent thread's cwd, or the process's
 * cwd). */
static int read_settings(tdc_target *t)
{
	int err;
	char *sig = tdc_proc_getenv(t->procfd, "TASKDUMP_SIGNAL", &err);
	char *dir, *cwd;

	if (err < 0)
		return proc_error(t, "environ", err);
	t->sig = tdc_signal_parse(sig);
	if (t->sig < 0)
		t->sig = SIGUSR1; /* what the agent does with a bad value */
	free(sig);
	dir = tdc_proc_getenv(t->procfd, "TASKDUMP_DIR", &err);
	if (err < 0)
		return proc_error(t, "environ", err);
	if (dir && !dir[0]) {
		free(dir);
		dir = NULL; /* empty: as if unset, as the agent takes it */
	}
	t->dir_env = dir;
	if (dir && dir[0] == '/') {
		t->dir = tdc_xstrdup(dir);
		return TDC_EXIT_OK;
	}
	/* (Where the agent resolves a relative one: see open_dir.) */
	cwd = tdc_proc_cwd(t->procfd, dir ? tdc_proc_agent_thread(t->procfd)
					  : 0, &err);
	if (!cwd)
		return proc_error(t, "cwd", err);
	if (dir) {
		tdc_buf b = {0};

		tdc_buf_printf(&b, "%s/%s", cwd, dir);
		free(cwd);
		cwd = b.p;
	}
	t->dir = cwd;
	return TDC_EXIT_OK;
}

int tdc_target_agent(tdc_target *t, bool wait, double timeout_ms)
{
	double deadline = tdc_now_ms() + timeout_ms;

	for (;;) {
		int r = tdc_proc_has_agent(t->procfd);

		if (r == 1)
			break;
		if (!tdc_target_alive(t))
			return gone(t, "before the agent was loaded");
		if (r < 0)
			return proc_error(t, "maps", r);
		if (!wait || tdc_now_ms() > deadline) {
			tdc_error("process %d does not have the taskdump agent "
				  "loaded (start it with LD_PRELOAD=libtaskdump"
				  "_agent.so or 'taskdump run'); not signalling"
				  " it, the signal would kill it", (int)t->pid);
			return TDC_EXIT_PROCESS;
		}
		tdc_sleep_ms(10);
	}
	if (read_settings(t) != TDC_EXIT_OK)
		return TDC_EXIT_PROCESS;
	t->ready = true;
	return TDC_EXIT_OK;
}

/* One request: the open dump directory and whose files it should hold. */
typedef struct request {
	DIR *dir;
	tdc_creds creds; /* the process's, when the directory was opened */
} request;

/* Open the dump directory as the process may (dumpdir.h).  Returns 0 or
 * an exit status after reporting. */
static int open_dir(const tdc_target *t, request *rq, double timeout_ms)
{
	enum tdc_dir_stage stage;
	bool as_other;
	int base = AT_FDCWD, fd, err;

	if ((err = tdc_proc_creds(t->procfd, &rq->creds)) < 0)
		return proc_error(t, "status", err);
	/* None: the process's cwd; a relative one starts at the agent
	 * thread's cwd (the program's when the agent was loaded).  The
	 * directory itself, reached through /proc, not by its name. */
	if (!t->dir_env || t->dir_env[0] != '/') {
		char rel[64] = "cwd";
		pid_t tid = t->dir_env ? tdc_proc_agent_thread(t->procfd) : 0;

		if (tid > 0)
			snprintf(rel, sizeof(rel), "task/%d/cwd", (int)tid);
		base = openat(t->procfd, rel, O_PATH | O_DIRECTORY |
				     O_CLOEXEC);
		if (base < 0)
			return proc_error(t, "cwd", -errno);
	}
	fd = tdc_dumpdir_open(base, t->dir_env ? t->dir_env : ".", &rq->creds,
			      timeout_ms, &stage, &as_other);
	if (base >= 0)
		close(base);
	if (fd >= 0 && !(rq->dir = fdopendir(fd))) {
		err = -errno;
		close(fd);
		fd = err;
	}
	if (fd >= 0)
		return TDC_EXIT_OK;
	if (stage == TDC_DIR_IDENTITY)
		tdc_error("cannot take the identity of process %d's user (uid "
			  "%u) to open its dump directory %s: %s", (int)t->pid,
			  (unsigned)rq->creds.fsuid, t->dir, strerror(-fd));
	else if (fd == -ENOENT)
		tdc_error("the dump directory %s of process %d does not exist",
			  t->dir, (int)t->pid);
	else if (fd == -ETIMEDOUT)
		tdc_error("opening the dump directory %s of process %d took "
			  "longer than the timeout", t->dir, (int)t->pid);
	else if (as_other)
		tdc_error("cannot open the dump directory %s as the process's "
			  "user (uid %u): %s", t->dir,
			  (unsigned)rq->creds.fsuid, strerror(-fd));
	else
		tdc_error("cannot open the dump directory %s: %s", t->dir,
			  strerror(-fd));
	return fd == -ETIMEDOUT ? TDC_EXIT_TIMEOUT : TDC_EXIT_PROCESS;
}

/* The highest dump seq of the process in its directory (0: none), and
 * that file's name.  Returns 0 or -errno. */
static int scan(const tdc_target *t, DIR *dir, unsigned long long *max,
		char **name)
{
	char prefix[40];
	size_t plen;
	struct dirent *de;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "taskdump-%d-",
				(int)t->pid);
	*max = 0;
	rewinddir(dir);
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		const char *s = de->d_name, *dot;
		uint64_t seq;

		if (strncmp(s, prefix, plen) != 0)
			continue;
		s += plen;
		dot = strchr(s, '.');
		if (!dot || (strcmp(dot, ".txt") != 0 &&
			     strcmp(dot, ".json") != 0) ||
		    !tdc_parse_u64(s, (size_t)(dot - s), &seq) ||
		    seq <= *max)
			continue;
		*max = seq;
		if (name) {
			free(*name);
			*name = tdc_xstrdup(de->d_name);
		}
	}
	return errno ? -errno : 0;
}

/* A lasting reason why no dump appears, or false. */
static bool diagnose(const tdc_target *t, const request *rq, char *msg,
		     size_t size)
{
	struct statvfs vfs;
	struct stat st;
	int fd = dirfd(rq->dir);

	if (fstatvfs(fd, &vfs) == 0) {
		/* Root may use the blocks reserved for it. */
		unsigned long long avail = (unsigned long long)
			(rq->creds.fsuid == 0 ? vfs.f_bfree : vfs.f_bavail) *
			vfs.f_frsize;

		if (vfs.f_flag & ST_RDONLY) {
			snprintf(msg, size, "the dump directory %s is on a "
				 "read-only file system", t->dir);
			return true;
		}
		if (avail < (1u << 20)) {
			snprintf(msg, size, "the dump directory %s is full "
				 "(%llu KiB free)", t->dir, avail >> 10);
			return true;
		}
		if (vfs.f_files > 0 && vfs.f_favail == 0) {
			snprintf(msg, size, "the dump directory %s has no free"
				 " inodes", t->dir);
			return true;
		}
	}
	if (fstat(fd, &st) == 0 && tdc_dir_writable_by(&st, &rq->creds) == 0) {
		snprintf(msg, size, "the dump directory %s is not writable by "
			 "the process (uid %u)", t->dir,
			 (unsigned)rq->creds.fsuid);
		return true;
	}
	return false;
}

static int timed_out(const tdc_target *t, const request *rq,
		     double waited_ms, bool final)
{
	char why[1200], sig[32], secs[32];

	tdc_format_ms(waited_ms, secs, sizeof(secs));
	if (diagnose(t, rq, why, sizeof(why))) {
		tdc_error("no dump from process %d after %s: %s", (int)t->pid,
			  secs, why);
		return TDC_EXIT_TIMEOUT;
	}
	if (!final)
		return TDC_EXIT_OK;
	tdc_signal_name(t->sig, sig, sizeof(sig));
	tdc_error("no dump from process %d in %s after %s (sent %s; the "
		  "agent reports its problems on the process's stderr)",
		  (int)t->pid, t->dir, secs, sig);
	return TDC_EXIT_TIMEOUT;
}

/* Poll until the agent can take the request (it may still be starting):
 * its thread is there (it waits for the signal, even when the program
 * ignores it), or the process catches the signal (an agent of an older
 * release, without that thread). */
static int wait_handler(const tdc_target *t, double deadline)
{
	char sig[32];

	for (;;) {
		int r = tdc_proc_agent_thread(t->procfd) > 0
				? 1
				: tdc_proc_catches(t->procfd, t->sig);

		if (r == 1)
			return TDC_EXIT_OK;
		if (!tdc_target_alive(t))
			return gone(t, "before the dump");
		if (r < 0)
			return proc_error(t, "status", r);
		if (tdc_now_ms() > deadline) {
			tdc_signal_name(t->sig, sig, sizeof(sig));
			tdc_error("process %d does not catch %s (its agent "
				  "has not set up its handler); not signalling"
				  " it", (int)t->pid, sig);
			return TDC_EXIT_PROCESS;
		}
		tdc_sleep_ms(10);
	}
}

/* Send the request: to the agent's thread, so that no thread of the
 * program sees it (a non-restartable call there would return EINTR);
 * without one, to the process, as `kill` does. */
static int deliver(const tdc_target *t)
{
	pid_t tid = tdc_proc_agent_thread(t->procfd);

	if (tid > 0 && tgkill(t->pid, tid, t->sig) == 0)
		return TDC_EXIT_OK;
	/* (A thread that just ended: ESRCH; then the process.) */
	if (tid <= 0 || errno == ESRCH) {
		if (kill(t->pid, t->sig) == 0)
			return TDC_EXIT_OK;
	}
	if (errno == ESRCH)
		return gone(t, "before the dump");
	tdc_error("cannot signal process %d: %s", (int)t->pid,
		  strerror(errno));
	return TDC_EXIT_PROCESS;
}

/* Take the file that appeared, if it is one the agent writes. */
static int take(const tdc_target *t, const request *rq, const char *name,
		tdc_dumpfile *f)
{
	char why[256];
	tdc_buf b = {0};

	tdc_buf_printf(&b, "%s/%s", t->dir, name);
	if (tdc_dumpfile_open(dirfd(rq->dir), name, rq->creds.fsuid, f, why,
			      sizeof(why)) < 0) {
		tdc_error("not reading %s: %s (the agent writes a regular "
			  "file of the process's user, mode 0600)", b.p, why);
		tdc_buf_free(&b);
		return TDC_EXIT_INPUT;
	}
	f->path = b.p;
	return TDC_EXIT_OK;
}

static int request_dump(tdc_target *t, request *rq, double timeout_ms,
			tdc_dumpfile *f)
{
	double start = tdc_now_ms(), delay = 2;
	unsigned long long before, now;
	char *name = NULL;
	bool diagnosed = false;
	int r;

	/* The agent first: a relative directory is resolved at its thread. */
	if ((r = wait_handler(t, start + timeout_ms)) != TDC_EXIT_OK)
		return r;
	if ((r = open_dir(t, rq, timeout_ms)) != TDC_EXIT_OK)
		return r;
	if ((r = scan(t, rq->dir, &before, NULL)) < 0) {
		tdc_error("cannot read the dump directory %s: %s", t->dir,
			  strerror(-r));
		return TDC_EXIT_PROCESS;
	}
	if ((r = deliver(t)) != TDC_EXIT_OK)
		return r;
	for (;;) {
		double waited;
		bool alive = tdc_target_alive(t);

		/* Scan after the liveness check: a process that wrote its
		 * dump and then exited still delivered it. */
		if (scan(t, rq->dir, &now, &name) == 0 && now > before) {
			r = take(t, rq, name, f);
			free(name);
			return r;
		}
		free(name);
		name = NULL;
		if (!alive)
			return gone(t, "before writing the dump");
		waited = tdc_now_ms() - start;
		if (waited >= timeout_ms)
			return timed_out(t, rq, waited, true);
		if (!diagnosed && waited >= DIAGNOSE_AFTER_MS) {
			diagnosed = true;
			if ((r = timed_out(t, rq, waited, false)) !=
			    TDC_EXIT_OK)
				return r;
		}
		tdc_sleep_ms(delay);
		delay = delay < 50 ? delay * 2 : 50;
	}
}

int tdc_target_dump(tdc_target *t, double timeout_ms, tdc_dumpfile *f)
{
	request rq = {0};
	int r;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	r = request_dump(t, &rq, timeout_ms, f);
	if (rq.dir)
		closedir(rq.dir);
	tdc_creds_free(&rq.creds);
	return r;
}

void tdc_target_close(tdc_target *t)
{
	if (t->procfd >= 0)
		close(t->procfd);
	t->procfd = -1;
	free(t->dir);
	free(t->dir_env);
	t->dir = t->dir_env = NULL;
}
