/* consumer.c - a program as a user of the library writes it, built by the
 * tests of issue 14 from each way of consuming taskdump (a meson
 * subproject, the uninstalled and the installed taskdump.pc).
 *
 *   consumer [MS]
 *
 * A multi-thread runtime runs one task, "sleepy", that sleeps MS
 * milliseconds (default 0).  Prints "consumer: pid N" when the task runs,
 * "consumer: ok" at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "taskdump/taskdump.h"

typedef struct sleepy {
	td_future base;
	td_async as;
	unsigned long ms;
	td_sleep nap;
} sleepy;

static td_poll sleepy_poll(td_future *f, td_context *cx)
{
	sleepy *s = (sleepy *)f;
	TD_BEGIN(&s->as);
	printf("consumer: pid %d\n", (int)getpid());
	fflush(stdout);
	td_sleep_init(&s->nap, s->ms);
	TD_AWAIT(&s->as, &s->nap, cx);
	TD_END(&s->as);
}

static void sleepy_drop(td_future *f)
{
	td_async_drop(&((sleepy *)f)->as);
}

static const td_future_vtable sleepy_vtable = {.poll = sleepy_poll,
					       .drop = sleepy_drop};

int main(int argc, char **argv)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	sleepy s = {.base = {&sleepy_vtable},
		    .ms = argc > 1 ? strtoul(argv[1], NULL, 10) : 0};
	td_join_handle h;
	td_join join;

	if (td_runtime_new(&cfg, &rt) != 0 ||
	    td_spawn_named(rt, "sleepy", &s, &h) != 0)
		return 1;
	td_join_init(&join, &h);
	if (td_runtime_block_on(rt, &join.base, NULL) != 0 || join.error)
		return 1;
	td_runtime_free(rt);
	puts("consumer: ok");
	return 0;
}
