/* bench_util.c - helpers shared by the workloads. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bench_proc_status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t klen = strlen(key);
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			unsigned long long x;
			if (sscanf(line + klen + 1, "%llu", &x) == 1)
				v = x;
			break;
		}
	}
	fclose(f);
	return v;
}

void bench_appendf(struct bench_ctx *ctx, const char *fmt, ...)
{
	size_t len = strlen(ctx->result);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->result + len, sizeof(ctx->result) - len, fmt, ap);
	va_end(ap);
}
