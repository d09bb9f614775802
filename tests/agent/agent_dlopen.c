/* agent_dlopen.c - a program that loads the taskdump runtime only after it
 * started, with dlopen(RTLD_LOCAL), for the agent's integration tests
 * (run_agent_tests.py).  It does not link libtaskdump: every runtime
 * function is found with dlsym, so the agent cannot see the runtime in the
 * global scope and has to find it among the loaded objects.
 *
 *   agent_dlopen /path/to/libtaskdump.so
 *
 * Commands on stdin, one per line:
 *   load       dlopen the runtime, start a multi-thread runtime "dlopened"
 *              with tasks "dl-sleeper" x2 and "dl-waiter"; prints
 *              "loaded" (or "load failed: ...")
 *   count      print "count rounds=R"
 *   quit / EOF free the runtime, print the results line, exit 0
 *
 * The headers are included for the types only.  TD_END is not used: it
 * names a runtime function (td_async_polled_after_completion), which would
 * make this program link against libtaskdump.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "taskdump/taskdump.h"

/* TD_END without the link-time reference to the runtime. */
#define DL_END(as)                        \
	(as)->resume = TD_ASYNC__DONE;    \
	return TD_READY;                  \
	default:                          \
		abort();                  \
	}

static struct {
	int (*runtime_new)(const td_runtime_config *, td_runtime **);
	void (*runtime_free)(td_runtime *);
	int (*spawn_with)(td_runtime *, td_future *, size_t,
			  const td_spawn_options *, td_join_handle *);
	void (*sleep_init)(td_sleep *, uint64_t);
	void (*notify_init)(td_notify *);
	void (*notified_init)(td_notified *, td_notify *);
} rtf;

static td_runtime *rt;
static td_notify never;
static atomic_bool quit;
static atomic_uint_fast64_t rounds;

typedef struct dl_nap {
	td_future base;
	td_async as;
	td_sleep sleep;
} dl_nap;

static td_poll dl_nap_poll(td_future *f, td_context *cx)
{
	dl_nap *n = (dl_nap *)f;
	TD_BEGIN(&n->as);
	rtf.sleep_init(&n->sleep, 20);
	TD_AWAIT(&n->as, &n->sleep, cx);
	DL_END(&n->as);
}

static void dl_nap_drop(td_future *f)
{
	td_async_drop(&((dl_nap *)f)->as);
}

static const td_future_vtable dl_nap_vtable = {
	.poll = dl_nap_poll, .drop = dl_nap_drop, .type_name = "dl_nap"};

typedef struct dl_sleeper {
	td_future base;
	td_async as;
	dl_nap nap;
} dl_sleeper;

static td_poll dl_sleeper_poll(td_future *f, td_context *cx)
{
	dl_sleeper *s = (dl_sleeper *)f;
	TD_BEGIN(&s->as);
	while (!atomic_load(&quit)) {
		s->nap = (dl_nap){.base = {&dl_nap_vtable}};
		TD_AWAIT(&s->as, &s->nap, cx);
		atomic_fetch_add(&rounds, 1);
	}
	DL_END(&s->as);
}

static void dl_sleeper_drop(td_future *f)
{
	td_async_drop(&((dl_sleeper *)f)->as);
}

static const td_future_vtable dl_sleeper_vtable = {
	.poll = dl_sleeper_poll, .drop = dl_sleeper_drop,
	.type_name = "dl_sleeper"};

typedef struct dl_waiter {
	td_future base;
	td_async as;
	td_notified notified;
} dl_waiter;

static td_poll dl_waiter_poll(td_future *f, td_context *cx)
{
	dl_waiter *w = (dl_waiter *)f;
	TD_BEGIN(&w->as);
	rtf.notified_init(&w->notified, &never);
	TD_AWAIT(&w->as, &w->notified, cx);
	DL_END(&w->as);
}

static void dl_waiter_drop(td_future *f)
{
	td_async_drop(&((dl_waiter *)f)->as);
}

static const td_future_vtable dl_waiter_vtable = {
	.poll = dl_waiter_poll, .drop = dl_waiter_drop,
	.type_name = "dl_waiter"};

/* dlsym into a function pointer of the right type (POSIX semantics). */
static int sym(void *h, const char *name, void *fnptr)
{
	void *p = dlsym(h, name);
	if (!p) {
		printf("load failed: no %s\n", name);
		return -1;
	}
	memcpy(fnptr, &p, sizeof(p));
	return 0;
}

static int spawn(td_future *f, size_t size, const char *name)
{
	static const td_spawn_site site = {__FILE__, "load_runtime", __LINE__};
	td_spawn_options o = {name, &site};
	return rtf.spawn_with(rt, f, size, &o, NULL);
}

static int load_runtime(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("load failed: %s\n", dlerror());
		return -1;
	}
	if (sym(h, "td_runtime_new", &rtf.runtime_new) ||
	    sym(h, "td_runtime_free", &rtf.runtime_free) ||
	    sym(h, "td_spawn_with", &rtf.spawn_with) ||
	    sym(h, "td_sleep_init", &rtf.sleep_init) ||
	    sym(h, "td_notify_init", &rtf.notify_init) ||
	    sym(h, "td_notified_init", &rtf.notified_init))
		return -1;
	/* Not in the global scope: the agent must look further. */
	if (dlsym(RTLD_DEFAULT, "td_dump_all")) {
		printf("load failed: td_dump_all is global\n");
		return -1;
	}
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2,
				 .name = "dlopened"};
	int err = rtf.runtime_new(&cfg, &rt);
	if (err) {
		printf("load failed: td_runtime_new: %s\n", strerror(-err));
		return -1;
	}
	rtf.notify_init(&never);
	for (int i = 0; i < 2 && !err; i++) {
		dl_sleeper s = {.base = {&dl_sleeper_vtable}};
		err = spawn(&s.base, sizeof(s), "dl-sleeper");
	}
	dl_waiter w = {.base = {&dl_waiter_vtable}};
	if (!err)
		err = spawn(&w.base, sizeof(w), "dl-waiter");
	if (err) {
		printf("load failed: spawn: %s\n", strerror(-err));
		return -1;
	}
	printf("loaded\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: agent_dlopen /path/to/libtaskdump.so\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("dlopen: pid %d ready\n", (int)getpid());
	char line[256];
	bool failed = false;
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "load", 4) == 0) {
			if (!rt && load_runtime(argv[1]) != 0)
				failed = true;
		} else if (strncmp(line, "count", 5) == 0) {
			printf("count rounds=%llu\n",
			       (unsigned long long)atomic_load(&rounds));
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("unknown command: %s", line);
		}
	}
	atomic_store(&quit, true);
	if (rt)
		rtf.runtime_free(rt); /* drops the tasks still waiting */
	bool ok = !failed && rt;
	printf("dlopen: results: rounds=%llu: %s\n",
	       (unsigned long long)atomic_load(&rounds),
	       ok ? "ok" : "MISMATCH");
	return ok ? 0 : 1;
}
