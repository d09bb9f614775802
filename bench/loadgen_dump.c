/* loadgen_dump.c - asking the server for dumps as a user would, and
 * clearing away the files (loadgen.h).
 *
 * The request goes to the agent's own thread with tgkill(), as `taskdump
 * dump` sends it: the agent thread waits for the signal in sigwaitinfo(),
 * so no worker is interrupted by the signal itself (`kill -USR1` may land
 * on any thread that does not block it).  --kill sends it to the process
 * instead.  Dump files are named taskdump-<pid>-<seq>.txt (or .json), seq
 * counting written dumps from 1; the highest seq seen is the number
 * written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loadgen.h"

/* The id of pid's thread named "taskdump-agent", or 0. */
static pid_t find_agent_thread(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	pid_t found = 0;
	struct dirent *e;
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char comm[sizeof(path) + sizeof(e->d_name) + 8], name[32] = "";
		snprintf(comm, sizeof(comm), "%s/%s/comm", path, e->d_name);
		int fd = open(comm, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (r > 0 && strncmp(name, "taskdump-agent\n", 15) == 0)
			found = (pid_t)atoi(e->d_name);
	}
	closedir(dir);
	return found;
}

int lg_dumper_init(struct lg_dumper *d, const struct lg_config *cfg)
{
	*d = (struct lg_dumper){.pid = cfg->pid, .signal = cfg->signal,
				.dir = cfg->dump_dir, .keep = cfg->keep_dumps};
	if (cfg->use_kill)
		return kill(d->pid, 0) == 0 ? 0 : -errno;
	d->agent_tid = find_agent_thread(d->pid);
	if (!d->agent_tid) {
		fprintf(stderr, "taskdump-loadgen: process %d has no "
			"taskdump-agent thread (run it with "
			"LD_PRELOAD=libtaskdump_agent.so)\n", (int)d->pid);
		return -ESRCH;
	}
	return 0;
}

int lg_dumper_fire(struct lg_dumper *d)
{
	long r = d->agent_tid
			 ? syscall(SYS_tgkill, d->pid, d->agent_tid, d->signal)
			 : kill(d->pid, d->signal);
	if (r != 0)
		return -errno;
	d->sent++;
	return 0;
}

/* The seq of a dump file name of pid, or 0 if it is not one. */
static unsigned dump_seq(const char *name, pid_t pid)
{
	char prefix[40];
	int n = snprintf(prefix, sizeof(prefix), "taskdump-%d-", (int)pid);
	if (strncmp(name, prefix, (size_t)n) != 0)
		return 0;
	char *end;
	unsigned long seq = strtoul(name + n, &end, 10);
	if (strcmp(end, ".txt") != 0 && strcmp(end, ".json") != 0)
		return 0;
	return (unsigned)seq;
}

void lg_dumper_collect(struct lg_dumper *d)
{
	if (!d->dir)
		return;
	DIR *dir = opendir(d->dir);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		unsigned seq = dump_seq(e->d_name, d->pid);
		if (!seq)
			continue;
		if (seq > d->written)
			d->written = seq;
		if (!d->keep)
			unlinkat(dirfd(dir), e->d_name, 0);
	}
	closedir(dir);
}
