/* agent_noruntime.c - a program without any taskdump runtime, for the
 * agent's integration tests (run_agent_tests.py).
 *
 * A worker thread computes and checks a sum in a loop (the program's
 * "work"); the main thread reads commands from stdin:
 *   count      print "count rounds=R"
 *   quit / EOF stop the worker, print the results line, exit 0
 *
 * The same source is also built linked against libtaskdump_agent.so
 * (agent_secure), so that the agent is loaded even where LD_PRELOAD is
 * ignored (set-user-ID programs): it prints getauxval(AT_SECURE), whether
 * the agent is loaded and whether the agent's thread exists.
 */
#include <dirent.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static atomic_bool stop;
static atomic_uint_fast64_t rounds, wrong;

static void *work(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		volatile uint64_t sum = 0;
		for (uint64_t i = 1; i <= 10000; i++)
			sum += i;
		if (sum != 10000ull * 10001 / 2)
			atomic_fetch_add(&wrong, 1);
		atomic_fetch_add(&rounds, 1);
		usleep(100);
	}
	return NULL;
}

/* Is a thread named "taskdump-agent" running in this process? */
static bool agent_thread_exists(void)
{
	DIR *d = opendir("/proc/self/task");
	bool found = false;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && !found) {
		char path[300], name[64] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(name, sizeof(name), f))
				found = strncmp(name, "taskdump-agent", 14) == 0;
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static int find_agent(struct dl_phdr_info *info, size_t size, void *found)
{
	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libtaskdump_agent"))
		*(bool *)found = true;
	return 0;
}

/* Is libtaskdump_agent.so loaded in this process? */
static bool agent_loaded(void)
{
	bool found = false;
	dl_iterate_phdr(find_agent, &found);
	return found;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, work, NULL) != 0)
		return 1;
	printf("noruntime: pid %d ready secure=%lu agent_loaded=%d "
	       "agent_thread=%d\n",
	       (int)getpid(), getauxval(AT_SECURE), agent_loaded(),
	       agent_thread_exists());
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "count", 5) == 0)
			printf("count rounds=%llu\n",
			       (unsigned long long)atomic_load(&rounds));
		else if (strncmp(line, "quit", 4) == 0)
			break;
		else
			printf("unknown command: %s", line);
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	uint64_t r = atomic_load(&rounds), w = atomic_load(&wrong);
	bool ok = w == 0;
	printf("noruntime: results: rounds=%llu wrong=%llu: %s\n",
	       (unsigned long long)r, (unsigned long long)w,
	       ok ? "ok" : "MISMATCH");
	return ok ? 0 : 1;
}
