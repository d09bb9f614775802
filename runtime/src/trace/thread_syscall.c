/* thread_syscall.c - another thread's system call, from /proc (see
 * thread_syscall.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "trace/thread_syscall.h"

/* ---- reading -------------------------------------------------------- */

int td_thread_syscall_read(pid_t tid, struct td_thread_syscall *out)
{
	char path[64], buf[512];
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';

	if (strncmp(buf, "running", 7) == 0) {
		out->where = TD_THREAD_RUNNING;
		return 0;
	}
	/* "nr a0 a1 a2 a3 a4 a5 sp pc" (hex after nr), or "-1 sp pc". */
	char *p = buf, *end;
	long nr = strtol(p, &end, 10);
	if (end == p)
		return -EPROTO;
	p = end;
	uint64_t v[8];
	int want = nr < 0 ? 2 : 8, got = 0;
	while (got < want) {
		errno = 0;
		unsigned long long x = strtoull(p, &end, 16);
		if (end == p || errno)
			return -EPROTO;
		v[got++] = x;
		p = end;
	}
	if (nr < 0) {
		out->where = TD_THREAD_BLOCKED;
		out->nr = -1;
		out->sp = (uintptr_t)v[0];
		out->pc = (uintptr_t)v[1];
		return 0;
	}
	out->where = TD_THREAD_IN_SYSCALL;
	out->nr = nr;
	memcpy(out->args, v, sizeof(out->args));
	out->sp = (uintptr_t)v[6];
	out->pc = (uintptr_t)v[7];
	return 0;
}

bool td_thread_syscall_same(const struct td_thread_syscall *a,
			    const struct td_thread_syscall *b)
{
	return a->where == b->where && a->nr == b->nr && a->sp == b->sp &&
	       a->pc == b->pc &&
	       memcmp(a->args, b->args, sizeof(a->args)) == 0;
}

ssize_t td_copy_own_memory(void *buf, uintptr_t addr, size_t len)
{
	struct iovec local = {buf, len};
	struct iovec remote = {(void *)addr, len};
	ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (n >= 0)
		return n;
	if (errno == EFAULT)
		return -EFAULT;
	/* Not permitted here (a seccomp filter, say): /proc/self/mem
	 * answers EIO for unmapped addresses instead of faulting. */
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)addr);
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err ? err : n;
}

/* ---- names ------------------------------------------------------------ */

/* The calls a blocked thread is likely to be in, and a few more.  Names
 * are the kernel's; glibc's sleep() is nanosleep/clock_nanosleep. */
static const char *const names[] = {
#define N(x) [SYS_##x] = #x
	N(read), N(write), N(readv), N(writev), N(pread64), N(pwrite64),
	N(preadv), N(pwritev), N(open), N(openat), N(close), N(poll),
	N(ppoll), N(select), N(pselect6), N(epoll_wait), N(epoll_pwait),
	N(nanosleep), N(clock_nanosleep), N(futex), N(connect), N(accept),
	N(accept4), N(recvfrom), N(sendto), N(recvmsg), N(sendmsg),
	N(recvmmsg), N(sendmmsg), N(wait4), N(waitid), N(flock), N(fcntl),
	N(ioctl), N(pause), N(rt_sigsuspend), N(rt_sigtimedwait), N(msgrcv),
	N(msgsnd), N(semop), N(semtimedop), N(mq_timedreceive),
	N(mq_timedsend), N(io_getevents), N(fsync), N(fdatasync),
	N(sendfile), N(splice), N(sched_yield), N(getrandom), N(mmap),
	N(munmap), N(madvise), N(msync), N(unlinkat), N(renameat),
	N(fstat), N(newfstatat), N(lseek), N(exit_group), N(clone),
	N(execve), N(kill), N(tgkill), N(shutdown), N(socket), N(bind),
	N(listen), N(getdents64), N(mkdirat), N(truncate), N(ftruncate),
	N(fallocate), N(copy_file_range), N(statx),
#ifdef SYS_epoll_pwait2
	N(epoll_pwait2),
#endif
#ifdef SYS_io_uring_enter
	N(io_uring_enter),
#endif
#ifdef SYS_clone3
	N(clone3),
#endif
#undef N
};

const char *td_syscall_name(long nr)
{
	if (nr < 0 || (size_t)nr >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[nr];
}

/* ---- arguments -------------------------------------------------------- */

enum timeout_kind { NO_TIMEOUT, REL_MS_INT, REL_TIMESPEC, REL_TIMEVAL,
		    ABS_TIMESPEC };

struct call_shape {
	long nr;
	int fd_arg;        /* index of the fd argument, -1: none */
	int timeout_arg;   /* index of the timeout argument, -1: none */
	enum timeout_kind kind;
	clockid_t clock;   /* ABS_TIMESPEC */
};

static const struct call_shape shapes[] = {
	{SYS_read, 0, -1, NO_TIMEOUT, 0},
	{SYS_write, 0, -1, NO_TIMEOUT, 0},
	{SYS_readv, 0, -1, NO_TIMEOUT, 0},
	{SYS_writev, 0, -1, NO_TIMEOUT, 0},
	{SYS_pread64, 0, -1, NO_TIMEOUT, 0},
	{SYS_pwrite64, 0, -1, NO_TIMEOUT, 0},
	{SYS_recvfrom, 0, -1, NO_TIMEOUT, 0},
	{SYS_sendto, 0, -1, NO_TIMEOUT, 0},
	{SYS_recvmsg, 0, -1, NO_TIMEOUT, 0},
	{SYS_sendmsg, 0, -1, NO_TIMEOUT, 0},
	{SYS_sendmmsg, 0, -1, NO_TIMEOUT, 0},
	{SYS_recvmmsg, 0, 4, REL_TIMESPEC, 0},
	{SYS_accept, 0, -1, NO_TIMEOUT, 0},
	{SYS_accept4, 0, -1, NO_TIMEOUT, 0},
	{SYS_connect, 0, -1, NO_TIMEOUT, 0},
	{SYS_flock, 0, -1, NO_TIMEOUT, 0},
	{SYS_fcntl, 0, -1, NO_TIMEOUT, 0},
	{SYS_ioctl, 0, -1, NO_TIMEOUT, 0},
	{SYS_fsync, 0, -1, NO_TIMEOUT, 0},
	{SYS_fdatasync, 0, -1, NO_TIMEOUT, 0},
	{SYS_epoll_wait, 0, 3, REL_MS_INT, 0},
	{SYS_epoll_pwait, 0, 3, REL_MS_INT, 0},
#ifdef SYS_epoll_pwait2
	{SYS_epoll_pwait2, 0, 3, REL_TIMESPEC, 0},
#endif
#ifdef SYS_io_uring_enter
	{SYS_io_uring_enter, 0, -1, NO_TIMEOUT, 0},
#endif
	{SYS_poll, -1, 2, REL_MS_INT, 0},
	{SYS_ppoll, -1, 2, REL_TIMESPEC, 0},
	{SYS_select, -1, 4, REL_TIMEVAL, 0},
	{SYS_pselect6, -1, 4, REL_TIMESPEC, 0},
	{SYS_nanosleep, -1, 0, REL_TIMESPEC, 0},
	{SYS_rt_sigtimedwait, -1, 2, REL_TIMESPEC, 0},
	{SYS_semtimedop, -1, 3, REL_TIMESPEC, 0},
	{SYS_io_getevents, -1, 4, REL_TIMESPEC, 0},
	{SYS_mq_timedreceive, 0, 4, ABS_TIMESPEC, CLOCK_REALTIME},
	{SYS_mq_timedsend, 0, 4, ABS_TIMESPEC, CLOCK_REALTIME},
};

static int64_t ms_of(int64_t sec, int64_t nsec)
{
	return sec * 1000 + nsec / 1000000;
}

static int64_t now_ms(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0)
		return 0;
	return ms_of(ts.tv_sec, ts.tv_nsec);
}

/* The timeout at the thread's pointer p: relative ms, or -1. */
static int64_t read_timespec(uintptr_t p, bool absolute, clockid_t clock)
{
	struct timespec ts;
	if (!p || td_copy_own_memory(&ts, p, sizeof(ts)) != sizeof(ts))
		return -1;
	int64_t ms = ms_of(ts.tv_sec, ts.tv_nsec);
	if (!absolute)
		return ms;
	int64_t left = ms - now_ms(clock);
	return left > 0 ? left : 0;
}

static int64_t read_timeval(uintptr_t p)
{
	struct timeval tv;
	if (!p || td_copy_own_memory(&tv, p, sizeof(tv)) != sizeof(tv))
		return -1;
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* futex(uaddr, op, val, timeout, ...): which commands wait, and how. */
static int64_t futex_timeout(const uint64_t *a)
{
	int op = (int)a[1];
	int cmd = op & FUTEX_CMD_MASK;
	clockid_t clock = (op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME
						      : CLOCK_MONOTONIC;
	switch (cmd) {
	case FUTEX_WAIT:
		return read_timespec((uintptr_t)a[3], false, 0);
	case FUTEX_WAIT_BITSET:
	case FUTEX_WAIT_REQUEUE_PI:
		return read_timespec((uintptr_t)a[3], true, clock);
	case FUTEX_LOCK_PI:
		return read_timespec((uintptr_t)a[3], true, CLOCK_REALTIME);
	default:
		return -1;
	}
}

static void describe_fd(int fd, struct td_syscall_info *out)
{
	char path[48];
	out->fd = fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* readlink looks the descriptor up; it never uses it. */
	ssize_t n = readlink(path, out->fd_target, sizeof(out->fd_target) - 1);
	out->fd_target[n > 0 ? n : 0] = '\0';
}

void td_thread_syscall_describe(const struct td_thread_syscall *s,
				struct td_syscall_info *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->timeout_ms = -1;
	out->nr = s->nr;
	if (s->where != TD_THREAD_IN_SYSCALL)
		return;
	out->name = td_syscall_name(s->nr);
	if (!out->name)
		out->name = "syscall";
	const uint64_t *a = s->args;

	if (s->nr == SYS_futex) {
		out->timeout_ms = futex_timeout(a);
		return;
	}
	if (s->nr == SYS_clock_nanosleep) {
		bool abs = (a[1] & TIMER_ABSTIME) != 0;
		out->timeout_ms = read_timespec((uintptr_t)a[2], abs,
						(clockid_t)a[0]);
		return;
	}
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct call_shape *c = &shapes[i];
		if (c->nr != s->nr)
			continue;
		if (c->fd_arg >= 0)
			describe_fd((int)a[c->fd_arg], out);
		switch (c->kind) {
		case NO_TIMEOUT:
			break;
		case REL_MS_INT: {
			int ms = (int)a[c->timeout_arg];
			out->timeout_ms = ms < 0 ? -1 : ms;
			break;
		}
		case REL_TIMESPEC:
			out->timeout_ms = read_timespec(
				(uintptr_t)a[c->timeout_arg], false, 0);
			break;
		case REL_TIMEVAL:
			out->timeout_ms = read_timeval(
				(uintptr_t)a[c->timeout_arg]);
			break;
		case ABS_TIMESPEC:
			out->timeout_ms = read_timespec(
				(uintptr_t)a[c->timeout_arg], true, c->clock);
			break;
		}
		break;
	}
	/* poll/ppoll on one descriptor: name it. */
	if ((s->nr == SYS_poll || s->nr == SYS_ppoll) && a[1] == 1) {
		struct pollfd p;
		if (td_copy_own_memory(&p, (uintptr_t)a[0], sizeof(p)) ==
		    sizeof(p))
			describe_fd(p.fd, out);
	}
}
