/* proc.c - /proc readers and signal names (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
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

/* Read a whole /proc file (at most max bytes); returns a NUL-terminated
 * buffer (length in *len) or NULL with *err = -errno. */
static char *slurp(pid_t pid, const char *what, size_t max, size_t *len,
		   int *err)
{
	char path[64], *buf;
	size_t n = 0, cap = 4096;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
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

int tdc_proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	size_t len;
	int err;
	char *buf = slurp(pid, "stat", 1 << 16, &len, &err);
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

int tdc_proc_has_agent(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
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

int tdc_proc_catches(pid_t pid, int sig)
{
	size_t len;
	int err;
	char *buf = slurp(pid, "status", 1 << 16, &len, &err);
	char *p;
	unsigned long long mask;
	int rc = -EINVAL;

	if (!buf)
		return err;
	p = strstr(buf, "\nSigCgt:");
	if (p && sscanf(p + 8, "%llx", &mask) == 1)
		rc = (int)((mask >> (sig - 1)) & 1);
	free(buf);
	return rc;
}

char *tdc_proc_getenv(pid_t pid, const char *name, int *err)
{
	size_t len, nl = strlen(name);
	char *buf = slurp(pid, "environ", 16u << 20, &len, err);
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

char *tdc_proc_cwd(pid_t pid, int *err)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		*err = -errno;
		return NULL;
	}
	buf[n] = '\0';
	*err = 0;
	return tdc_xstrdup(buf);
}

int tdc_proc_creds(pid_t pid, tdc_creds *c)
{
	size_t len;
	int err;
	char *buf = slurp(pid, "status", 1 << 16, &len, &err);
	char *p;
	unsigned euid, suid, egid, rgid, sgid;
	unsigned ruid, fsuid, fsgid;

	if (!buf)
		return err;
	memset(c, 0, sizeof(*c));
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

		while (c->ngroups < 64) {
			unsigned long g = strtoul(s, &end, 10);

			if (end == s)
				break;
			c->groups[c->ngroups++] = (gid_t)g;
			s = end;
		}
	}
	free(buf);
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

int tdc_dir_writable_by(const char *dir, const tdc_creds *c)
{
	struct stat st;
	bool group;

	if (stat(dir, &st) != 0)
		return -errno;
	if (c->fsuid == 0)
		return 1;
	if (st.st_uid == c->fsuid)
		return (st.st_mode & (S_IWUSR | S_IXUSR)) ==
		       (S_IWUSR | S_IXUSR);
	group = st.st_gid == c->fsgid;
	for (int i = 0; !group && i < c->ngroups; i++)
		group = st.st_gid == c->groups[i];
	if (group)
		return (st.st_mode & (S_IWGRP | S_IXGRP)) ==
		       (S_IWGRP | S_IXGRP);
	return (st.st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}
