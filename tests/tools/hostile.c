/* hostile.c - a target that fakes the agent and plants what it is told,
 * for the tests of what `taskdump dump` trusts (test_e2e_hostile.sh).
 *
 *   hostile AGENT MODE [ARG [ARG2]]
 *
 * It maps AGENT read-only (so /proc/PID/maps names libtaskdump_agent.so;
 * none of its code runs), catches SIGUSR1, prints "hostile: pid N ready"
 * and then, on each SIGUSR1, plants entry number SEQ (1, 2, ...) in its
 * dump directory ($TASKDUMP_DIR, else its working directory) and prints
 * "hostile: signal SEQ":
 *
 *   link TARGET        taskdump-PID-SEQ.txt is a symbolic link to TARGET
 *   fifo               ... is a FIFO
 *   copy FILE [MODE]   ... is a copy of FILE (.json if FILE ends so), mode
 *                      MODE (octal, default 0600), renamed into place
 *   size BYTES         ... is a 0600 file "taskdump 1\n" made BYTES long
 *                      (sparse)
 *   relink LINK DEST   nothing is planted: the symbolic link LINK is made
 *                      to point to DEST (atomically, by rename)
 *   none               nothing happens
 *
 * SIGTERM ends it (default action). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t signals;

static void on_usr1(int sig)
{
	(void)sig;
	signals++;
}

static void die(const char *what)
{
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void copy(const char *from, const char *to, mode_t mode)
{
	char buf[65536], tmp[4300];
	ssize_t n;
	int in = open(from, O_RDONLY), out;

	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (in < 0 || out < 0)
		die("copy: open");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("copy: write");
	if (n < 0 || fchmod(out, mode) != 0 || close(out) != 0 ||
	    rename(tmp, to) != 0)
		die("copy");
	close(in);
}

static void plant(int argc, char **argv, const char *dir, unsigned seq)
{
	const char *mode = argv[2];
	const char *ext = ".txt";
	char name[4200];

	if (strcmp(mode, "copy") == 0 && argc > 3) {
		size_t n = strlen(argv[3]);

		if (n > 5 && strcmp(argv[3] + n - 5, ".json") == 0)
			ext = ".json";
	}
	snprintf(name, sizeof(name), "%s/taskdump-%d-%u%s", dir, (int)getpid(),
		 seq, ext);
	if (strcmp(mode, "link") == 0 && argc > 3) {
		if (symlink(argv[3], name) != 0)
			die("symlink");
	} else if (strcmp(mode, "fifo") == 0) {
		if (mkfifo(name, 0600) != 0)
			die("mkfifo");
	} else if (strcmp(mode, "copy") == 0 && argc > 3) {
		copy(argv[3], name,
		     argc > 4 ? (mode_t)strtoul(argv[4], NULL, 8) : 0600);
	} else if (strcmp(mode, "size") == 0 && argc > 3) {
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);

		if (fd < 0 || write(fd, "taskdump 1\n", 11) != 11 ||
		    ftruncate(fd, (off_t)strtoull(argv[3], NULL, 10)) != 0)
			die("size");
		close(fd);
	} else if (strcmp(mode, "relink") == 0 && argc > 4) {
		char tmp[4300];

		snprintf(tmp, sizeof(tmp), "%s.new", argv[3]);
		unlink(tmp);
		if (symlink(argv[4], tmp) != 0 || rename(tmp, argv[3]) != 0)
			die("relink");
	} else if (strcmp(mode, "none") != 0) {
		fprintf(stderr, "hostile: bad mode %s\n", mode);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct stat st;
	const char *dir = getenv("TASKDUMP_DIR");
	unsigned seen = 0;
	sigset_t usr1, old;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: hostile AGENT MODE [ARG [ARG2]]\n");
		return 2;
	}
	if (!dir || !dir[0])
		dir = ".";
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 ||
	    mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) ==
		    MAP_FAILED)
		die(argv[1]);
	close(fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("hostile: pid %d ready\n", (int)getpid());
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	for (;;) {
		sigprocmask(SIG_BLOCK, &usr1, &old);
		while ((unsigned)signals == seen)
			sigsuspend(&old);
		sigprocmask(SIG_SETMASK, &old, NULL);
		seen++;
		plant(argc, argv, dir, seen);
		printf("hostile: signal %u\n", seen);
	}
}
