/* loadgen_main.c - taskdump-loadgen: open-loop load against
 * taskdump-service, with dumps of it meanwhile (see loadgen.h).
 *
 *   taskdump-loadgen --port P [--rate R] [--duration S] [--warmup S]
 *                    [--conns N] [--idle N] [--pid PID --dump-every MS
 *                    [--dump-dir DIR] [--keep-dumps] [--kill]
 *                    [--signal N]] [--drain S] [--tag TEXT]
 *
 * Opens `idle` connections (one request each, then silent: their server
 * tasks wait in a read) and `conns` active ones, sends R requests a second
 * over the active ones for warmup + duration seconds, and times the
 * requests due in the measured `duration` from when they were due.  With
 * --pid and --dump-every, asks that process's agent for a dump every MS
 * milliseconds of the measured window (the first half a period in), and
 * deletes the files that appear in --dump-dir (unless --keep-dumps).
 * Prints one line (times in microseconds):
 *
 *   RESULT <tag> workload=service_latency dumps=<none|MSms> n=<tasks>
 *     rate=.. conns=.. idle=.. duration_s=.. requests=.. p50_us=..
 *     p90_us=.. p99_us=.. p999_us=.. max_us=.. send_lag_p99_us=..
 *     send_lag_max_us=.. dumps_sent=.. dumps_written=.. missing=..
 *     setup_s=.. cpu_server_pct=.. cpu_loadgen_pct=.. cpu_other_pct=..
 *     near_dump_ms=20 near_requests=.. near_p99_us=.. near_max_us=..
 *     far_p99_us=.. far_max_us=..
 *
 * n is the server's connection tasks (idle + conns).  send_lag is how late
 * the load generator itself sent (part of the latency, and a sign of a
 * busy machine); the cpu_ fields are the CPU use over the measured window
 * in per cent of one CPU: the server's (with --pid), the load
 * generator's, and every other process's on the machine.  near_ and far_
 * split the latencies: requests due within near_dump_ms after a dump
 * request (the pause and its aftermath), and all the others.  Exit status 0; 1 if
 * the run failed or a reply is missing; 2 for a bad command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "loadgen.h"

/* Print the usage and exit 2. */
static void usage(void)
{
	fprintf(stderr,
		"usage: taskdump-loadgen --port P [--rate R] [--duration S] "
		"[--warmup S]\n"
		"         [--conns N] [--idle N] [--pid PID --dump-every MS "
		"[--dump-dir DIR]\n"
		"         [--keep-dumps] [--kill] [--signal N]] [--drain S] "
		"[--tag TEXT]\n");
	exit(2);
}

/* A number in [min, max] for option `opt`, or the usage. */
static double parse_num(const char *opt, const char *s, double min,
			double max)
{
	char *end;
	errno = 0;
	double v = strtod(s ? s : "", &end);
	if (!s || !*s || *end || errno || !(v >= min && v <= max)) {
		fprintf(stderr, "taskdump-loadgen: %s needs a number in "
			"%g..%g\n", opt, min, max);
		usage();
	}
	return v;
}

/* Fill in cfg from the command line (or exit 2). */
static void parse_args(int argc, char **argv, struct lg_config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--keep-dumps") == 0) {
			cfg->keep_dumps = true;
			continue;
		} else if (strcmp(a, "--kill") == 0) {
			cfg->use_kill = true;
			continue;
		}
		i++; /* every other option takes a value */
		if (strcmp(a, "--port") == 0)
			cfg->port = (uint16_t)parse_num(a, v, 1, 65535);
		else if (strcmp(a, "--rate") == 0)
			cfg->rate = parse_num(a, v, 1, 1e7);
		else if (strcmp(a, "--duration") == 0)
			cfg->duration_s = parse_num(a, v, 0.01, 86400);
		else if (strcmp(a, "--warmup") == 0)
			cfg->warmup_s = parse_num(a, v, 0, 86400);
		else if (strcmp(a, "--conns") == 0)
			cfg->conns = (unsigned)parse_num(a, v, 1, 10000);
		else if (strcmp(a, "--idle") == 0)
			cfg->idle = (unsigned)parse_num(a, v, 0, 1000000);
		else if (strcmp(a, "--pid") == 0)
			cfg->pid = (pid_t)parse_num(a, v, 1, 1 << 30);
		else if (strcmp(a, "--dump-every") == 0)
			cfg->dump_every_ms = parse_num(a, v, 0, 3600000);
		else if (strcmp(a, "--dump-dir") == 0 && v)
			cfg->dump_dir = v;
		else if (strcmp(a, "--signal") == 0)
			cfg->signal = (int)parse_num(a, v, 1, 64);
		else if (strcmp(a, "--drain") == 0)
			cfg->drain_s = parse_num(a, v, 0, 3600);
		else if (strcmp(a, "--tag") == 0 && v)
			cfg->tag = v;
		else
			usage();
	}
	if (!cfg->port || (cfg->dump_every_ms > 0 && !cfg->pid))
		usage();
}

/* Nanoseconds as microseconds, for the RESULT line. */
static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* The RESULT line of a finished run. */
static void report(const struct lg_config *cfg, struct lg_result *res)
{
	struct lg_samples *l = &res->latency, *s = &res->send_lag;
	struct lg_samples *nd = &res->near_dump, *fa = &res->far;
	lg_samples_sort(l);
	lg_samples_sort(s);
	lg_samples_sort(nd);
	lg_samples_sort(fa);
	double server_pct, self_pct, other_pct;
	lg_cpu_usage(&res->cpu_start, &res->cpu_end, &server_pct, &self_pct,
		     &other_pct);
	char dumps[32] = "none";
	if (cfg->dump_every_ms > 0)
		snprintf(dumps, sizeof(dumps), "%gms", cfg->dump_every_ms);
	printf("RESULT %s workload=service_latency dumps=%s n=%u rate=%g "
	       "conns=%u idle=%u duration_s=%g requests=%zu p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	       "send_lag_p99_us=%.1f send_lag_max_us=%.1f dumps_sent=%u "
	       "dumps_written=%u missing=%llu setup_s=%.2f "
	       "cpu_server_pct=%.0f cpu_loadgen_pct=%.0f cpu_other_pct=%.0f "
	       "near_dump_ms=%d near_requests=%zu near_p99_us=%.1f "
	       "near_max_us=%.1f far_p99_us=%.1f far_max_us=%.1f\n",
	       cfg->tag, dumps, cfg->idle + cfg->conns, cfg->rate, cfg->conns,
	       cfg->idle, cfg->duration_s, l->n, us(lg_samples_pct(l, 50)),
	       us(lg_samples_pct(l, 90)), us(lg_samples_pct(l, 99)),
	       us(lg_samples_pct(l, 99.9)), us(lg_samples_pct(l, 100)),
	       us(lg_samples_pct(s, 99)), us(lg_samples_pct(s, 100)),
	       res->dumps_sent, res->dumps_written,
	       (unsigned long long)res->missing, res->setup_s, server_pct,
	       self_pct, other_pct, LG_NEAR_DUMP_MS, nd->n,
	       us(lg_samples_pct(nd, 99)), us(lg_samples_pct(nd, 100)),
	       us(lg_samples_pct(fa, 99)), us(lg_samples_pct(fa, 100)));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct lg_config cfg = {.rate = 2000, .duration_s = 10,
				.warmup_s = 1, .conns = 10, .idle = 9990,
				.signal = SIGUSR1, .drain_s = 2,
				.tag = "impl=taskdump"};
	parse_args(argc, argv, &cfg);
	/* Wake-ups on time, not up to 50 us late (the default slack). */
	prctl(PR_SET_TIMERSLACK, 1UL);

	unsigned total = cfg.idle + cfg.conns;
	if (lg_raise_nofile(total + 32) != 0)
		return 1;
	int *fds = calloc(total, sizeof(*fds));
	if (!fds) {
		fprintf(stderr, "taskdump-loadgen: out of memory\n");
		return 1;
	}
	uint64_t t = lg_now_ns();
	if (lg_connect_all(cfg.port, total, fds) != 0)
		return 1;
	struct lg_result res = {.setup_s = (double)(lg_now_ns() - t) / 1e9};
	fprintf(stderr, "taskdump-loadgen: %u idle + %u active connections "
		"in %.2f s\n", cfg.idle, cfg.conns, res.setup_s);

	/* The active connections are the last ones, opened when every
	 * idle one was already there. */
	int err = lg_run(&cfg, fds + cfg.idle, &res);
	lg_close_all(fds, total);
	free(fds);
	if (!err)
		report(&cfg, &res);
	if (!err && res.missing)
		fprintf(stderr, "taskdump-loadgen: %llu replies missing after "
			"%g s\n", (unsigned long long)res.missing, cfg.drain_s);
	lg_samples_free(&res.latency);
	lg_samples_free(&res.send_lag);
	lg_samples_free(&res.near_dump);
	lg_samples_free(&res.far);
	return err || res.missing ? 1 : 0;
}
