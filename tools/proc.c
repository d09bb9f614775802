/* proc.c - /proc readers and signal names (see proc.h). */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signame.h"
#include "util.h"

int tdc_signal_parse(const char *s)
{
	return td_signame_parse(s);
}

void tdc_signal_name(int sig, char *buf, size_t size)
{
	td_signame_format(sig, buf, size);
}

/* Read a whole file under `dirfd` (at most max bytes); returns a
 * NUL-terminated buffer (length in *len) or NULL with *err = -errno. */
static char *slurp(int dirfd, const char *what, size_t max, size_t *len,
		   int *err)
{
	char *buf;
	size_t n = 0, cap = 4096;
	int fd = openat(dirfd, what, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	buf = tdc_xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= max)
				break;
			cap *= 2;
			buf = tdc_xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = -errno;
			close(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	*err = 0;
	return buf;
}

int tdc_proc_open(pid_t pid)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int tdc_proc_stat(int procfd, char *state, unsigned long long *start)
{
	size_t len;
	int err;
	char *buf = slurp(procfd, "stat", 1 << 16, &len, &err);
	char *p;
	int rc = -EINVAL;

	if (!buf)
		return err;
	/* "pid (comm) S ppid ..." - comm may hold anything, even ")". */
	p = strrchr(buf, ')');
	if (p && p[1] == ' ' && p[2]) {
		*state = p[2];
		p += 3;
		/* starttime is field 22; we are at field 4. */
		for (int field = 4; p && field < 22; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p && sscanf(p, "%llu", start) == 1)
			rc = 0;
	}
	free(buf);
	return rc;
}

int tdc_proc_has_agent(int procfd)
{
	char *line = NULL;
	size_t cap = 0;
	int found = 0, fd = openat(procfd, "maps", O_RDONLY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");

	if (!f) {
		found = -errno;
		if (fd >= 0)
			close(fd);
		return found;
	}
	while (!found && getline(&line, &cap, f) > 0) {
		char *name = strrchr(line, '/');

		/* The file name, with or without a version suffix. */
		found = name && strncmp(name + 1, "libtaskdump_agent.so",
					20) == 0;
	}
	if (!found && ferror(f))
		found = -EIO;
	free(line);
	fclose(f);
	return found;
}

/* The hex mask after `key` (e.g. "\nSigCgt:") in a status file. */
static int status_mask(const char *buf, const char *key,
		       unsigned long long *mask)
{
	const char *p = strstr(buf, key);

	return p && sscanf(p + strlen(key), "%llx", mask) == 1 ? 0 : -EINVAL;
}

int tdc_proc_catches(int procfd, int sig)
{
	size_t len;
	int err;
	char *buf = slurp(procfd, "status", 1 << 16, &len, &err);
	unsigned long long mask;
	int rc;

	if (!buf)
		return err;
	rc = status_mask(buf, "\nSigCgt:", &mask);
	if (rc == 0)
		rc = (int)((mask >> (sig - 1)) & 1);
	free(buf);
	return rc;
}

/* Is thread `tid` (a name under task/) the agent's? */
static bool is_agent_thread(int taskfd, const char *tid)
{
	char rel[64], *buf;
	size_t len;
	int err;
	bool yes;

	snprintf(rel, sizeof(rel), "%s/comm", tid);
	buf = slurp(taskfd, rel, 64, &len, &err);
	yes = buf && strcmp(buf, "taskdump-agent\n") == 0;
	free(buf);
	return yes;
}

pid_t tdc_proc_agent_thread(int procfd)
{
	int fd = openat(procfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	pid_t tid = 0;

	if (!d) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	while (tid == 0 && (de = readdir(d)) != NULL) {
		uint64_t v;

		if (tdc_parse_u64(de->d_name, strlen(de->d_name), &v) &&
		    v > 0 && v <= INT_MAX && is_agent_thread(dirfd(d), de->d_name))
			tid = (pid_t)v;
	}
	closedir(d);
	return tid;
}

char *tdc_proc_getenv(int procfd, const char *name, int *err)
{
	size_t len, nl = strlen(name);
	char *buf = slurp(procfd, "environ", 16u << 20, &len, err);
	char *val = NULL;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		if (strncmp(buf + i, name, nl) == 0 && buf[i + nl] == '=') {
			val = tdc_xstrdup(buf + i + nl + 1);
			break;
		}
	}
	free(buf);
	return val;
}

char *tdc_proc_cwd(int procfd, pid_t tid, int *err)
{
	char buf[4096], rel[64] = "cwd";

	if (tid > 0)
		snprintf(rel, sizeof(rel), "task/%d/cwd", (int)tid);
	ssize_t n = readlinkat(procfd, rel, buf, sizeof(buf) - 1);

	if (n < 0) {
		*err = -errno;
		return NULL;
	}
	buf[n] = '\0';
	*err = 0;
	return tdc_xstrdup(buf);
}

int tdc_proc_creds(int procfd, tdc_creds *c)
{
	size_t len, cap = 0;
	int err;
	char *buf = slurp(procfd, "status", 1 << 20, &len, &err);
	char *p;
	unsigned euid, suid, egid, rgid, sgid;
	unsigned ruid, fsuid, fsgid;

	memset(c, 0, sizeof(*c));
	if (!buf)
		return err;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%u %u %u %u", &ruid, &euid, &suid,
			 &fsuid) != 4)
		goto bad;
	p = strstr(buf, "\nGid:");
	if (!p || sscanf(p + 5, "%u %u %u %u", &rgid, &egid, &sgid,
			 &fsgid) != 4)
		goto bad;
	c->ruid = ruid;
	c->fsuid = fsuid;
	c->fsgid = fsgid;
	p = strstr(buf, "\nGroups:");
	if (p) {
		char *s = p + 8, *end;

		for (;;) {
			unsigned long g;

			while (*s == ' ' || *s == '\t')
				s++;
			if (*s < '0' || *s > '9')
				break;
			g = strtoul(s, &end, 10);
			c->groups = tdc_grow(c->groups, &cap, c->ngroups + 1,
					     sizeof(*c->groups));
			c->groups[c->ngroups++] = (gid_t)g;
			s = end;
		}
	}
	free(buf);
	return 0;
bad:
	free(buf);
	tdc_creds_free(c);
	return -EINVAL;
}

void tdc_creds_free(tdc_creds *c)
{
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
}

int tdc_dir_writable_by(const struct stat *st, const tdc_creds *c)
{
	bool group;

	if (c->fsuid == 0)
		return 1;
	if (st->st_uid == c->fsuid)
		return (st->st_mode & (S_IWUSR | S_IXUSR)) ==
		       (S_IWUSR | S_IXUSR);
	group = st->st_gid == c->fsgid;
	for (size_t i = 0; !group && i < c->ngroups; i++)
		group = st->st_gid == c->groups[i];
	if (group)
		return (st->st_mode & (S_IWGRP | S_IXGRP)) ==
		       (S_IWGRP | S_IXGRP);
	return (st->st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}
