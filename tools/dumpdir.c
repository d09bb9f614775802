/* dumpdir.c - opening a target's dump directory and files (see dumpdir.h). */
#include "dumpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* What the child of open_as() reports, with the descriptor (if any)
 * attached as SCM_RIGHTS. */
struct report {
	int stage; /* enum tdc_dir_stage */
	int err;   /* 0: a descriptor is attached */
};

static void send_report(int sock, int stage, int err, int fd)
{
	struct report r = {.stage = stage, .err = err};
	struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* The report and its descriptor; -errno if none came. */
static int recv_report(int sock, struct report *r, int *fd)
{
	struct iovec iov = {.iov_base = r, .iov_len = sizeof(*r)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n != (ssize_t)sizeof(*r) || (r->err == 0) != (*fd >= 0)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	return 0;
}

/* Open the directory `path` O_PATH, if its caller may search it: an
 * O_PATH open checks only the directories on the way to it, the lookup of
 * "." in it checks the directory itself.  Returns the descriptor or
 * -errno. */
static int open_searchable(int basefd, const char *path)
{
	int fd = openat(basefd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int in;

	if (fd < 0)
		return -errno;
	in = openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (in < 0)
		in = -errno;
	close(fd);
	return in;
}

/* In a child that takes the credentials `as` (all of its ids, so that it
 * has no privilege the target lacks; the change also makes it
 * non-dumpable, out of the target's reach), open path O_PATH and hand the
 * descriptor back.  The parent waits at most timeout_ms (then kills the
 * child), so a path through a hung mount cannot hold the tool past its
 * timeout. */
static int open_as(int basefd, const char *path, const tdc_creds *as,
		   double timeout_ms, enum tdc_dir_stage *stage)
{
	struct pollfd p;
	struct report r;
	int sv[2], fd = -1, rc, wait_ms;
	pid_t pid;

	*stage = TDC_DIR_OPEN; /* unless the child says otherwise */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		close(sv[0]);
		if (setgroups(as->ngroups, as->groups) != 0 ||
		    setresgid(as->fsgid, as->fsgid, as->fsgid) != 0 ||
		    setresuid(as->fsuid, as->fsuid, as->fsuid) != 0) {
			send_report(sv[1], TDC_DIR_IDENTITY, errno, -1);
			_exit(0);
		}
		fd = open_searchable(basefd, path);
		send_report(sv[1], TDC_DIR_OPEN, fd < 0 ? -fd : 0, fd);
		_exit(0);
	}
	close(sv[1]);
	p.fd = sv[0];
	p.events = POLLIN;
	wait_ms = timeout_ms > 0x7fffffff ? 0x7fffffff : (int)timeout_ms + 1;
	do
		rc = poll(&p, 1, wait_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		rc = -ETIMEDOUT;
		kill(pid, SIGKILL);
	} else if (rc < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
	} else if ((rc = recv_report(sv[0], &r, &fd)) == 0) {
		*stage = (enum tdc_dir_stage)r.stage;
		rc = r.err ? -r.err : fd;
	}
	close(sv[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
}

int tdc_dumpdir_open(int basefd, const char *path, const tdc_creds *as,
		     double timeout_ms, enum tdc_dir_stage *stage,
		     bool *as_other)
{
	int pathfd, fd;

	/* Only a privileged tool can reach more than the target: root
	 * opens as the target's user (unless that is root too).  Any other
	 * user reaches no more than its own files. */
	*as_other = geteuid() == 0 && as->fsuid != 0;
	*stage = TDC_DIR_OPEN;
	pathfd = *as_other ? open_as(basefd, path, as, timeout_ms, stage) :
			     open_searchable(basefd, path);
	if (pathfd < 0)
		return pathfd;
	/* Listing needs read permission; the agent needs only write and
	 * search, so the tool reads the directory the target reached with
	 * its own rights. */
	*stage = TDC_DIR_OPEN;
	fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(pathfd);
	return fd;
}

/* Why st is not a file the agent wrote for `owner`, or NULL. */
static const char *refuse(const struct stat *st, uid_t owner, char *why,
			  size_t size)
{
	const char *kind = S_ISLNK(st->st_mode)	 ? "a symbolic link" :
			   S_ISFIFO(st->st_mode) ? "a FIFO" :
			   S_ISCHR(st->st_mode)	 ? "a character device" :
			   S_ISBLK(st->st_mode)	 ? "a block device" :
			   S_ISSOCK(st->st_mode) ? "a socket" :
			   S_ISDIR(st->st_mode)	 ? "a directory" :
			   !S_ISREG(st->st_mode) ? "not a regular file" :
						   NULL;

	if (kind)
		snprintf(why, size, "it is %s", kind);
	else if (st->st_uid != owner)
		snprintf(why, size, "it is owned by uid %u, not by the "
			 "process's uid %u", (unsigned)st->st_uid,
			 (unsigned)owner);
	else if (st->st_mode & 07077)
		snprintf(why, size, "it has mode %04o (the agent writes "
			 "0600)", (unsigned)(st->st_mode & 07777));
	else if ((uint64_t)st->st_size > TDC_MAX_DUMP_FILE)
		snprintf(why, size, "it is larger than %llu MiB",
			 (unsigned long long)(TDC_MAX_DUMP_FILE >> 20));
	else
		return NULL;
	return why;
}

int tdc_dumpfile_open(int dirfd, const char *name, uid_t owner,
		      tdc_dumpfile *f, char *why, size_t size)
{
	struct stat before, st;
	int fd;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	/* Look before opening: a FIFO or a device is never even opened. */
	if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) != 0) {
		snprintf(why, size, "%s", strerror(errno));
		return -1;
	}
	if (refuse(&before, owner, why, size))
		return -1;
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, size, "%s", errno == ELOOP ? "it is a symbolic "
			 "link" : strerror(errno));
		return -1;
	}
	/* ... and again what was opened: it may have been swapped. */
	if (fstat(fd, &st) != 0) {
		snprintf(why, size, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (refuse(&st, owner, why, size)) {
		close(fd);
		return -1;
	}
	if (st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
		snprintf(why, size, "it was replaced while being opened");
		close(fd);
		return -1;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	return 0;
}

void tdc_dumpfile_close(tdc_dumpfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
}
