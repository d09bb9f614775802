/* loadgen_cpu.c - where the machine's CPU time went during a run
 * (loadgen.h): the server's, the load generator's, and everyone else's.
 *
 * On a small shared machine the third one is what makes a run noisy: a
 * build next door takes the cores the server and the client need, and
 * both the server's latency and the client's send lag grow.  Times come
 * from /proc in clock ticks: the machine's busy time (every state but
 * idle and iowait, summed over the CPUs) from /proc/stat, a process's
 * utime + stime (all its threads) from /proc/<pid>/stat.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loadgen.h"

/* utime + stime of process `pid` (0: this one) in ticks, 0 if unknown. */
static uint64_t process_ticks(pid_t pid)
{
	char path[64], buf[1024];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces and ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* The machine's busy time in ticks (all CPUs), 0 if unknown. */
static uint64_t machine_ticks(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	unsigned long long v[8] = {0};
	int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		       &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (k < 4)
		return 0;
	/* user nice system [idle iowait] irq softirq steal */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

void lg_cpu_sample(struct lg_cpu *c, pid_t server)
{
	c->at_ns = lg_now_ns();
	c->machine = machine_ticks();
	c->server = server ? process_ticks(server) : 0;
	c->self = process_ticks(0);
}

void lg_cpu_usage(const struct lg_cpu *a, const struct lg_cpu *b,
		  double *server_pct, double *self_pct, double *other_pct)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	double secs = (double)(b->at_ns - a->at_ns) / 1e9;
	double scale = secs > 0 && hz > 0 ? 100.0 / (hz * secs) : 0;
	*server_pct = (double)(b->server - a->server) * scale;
	*self_pct = (double)(b->self - a->self) * scale;
	*other_pct = (double)(b->machine - a->machine) * scale - *server_pct -
		     *self_pct;
	if (*other_pct < 0) /* ticks are coarse: a little under is noise */
		*other_pct = 0;
}
