/* user_app.c - a program built the way the README tells users to build
 * theirs (`cc -g -O<n> user_app.c $(pkg-config --cflags --libs taskdump)`,
 * against an installed taskdump), which dumps itself and prints the dump
 * as text on stdout.  run_user_build.py builds it at every optimisation
 * level and checks every frame of every task exactly.
 *
 * Tasks (named), each parked on a known leaf:
 *   then, else  branch_poll: the same TD_AWAIT of a sleep in both branches
 *               of an `if` (the lines marked @then and @else)
 *   recv        recv_outer_poll -> recv_inner_poll -> mpsc receive (@outer,
 *               @inner); the channel's count comes from an inlined helper
 *   deep        deep_one_poll -> deep_two_poll -> deep_three_poll ->
 *               notified (@one, @two, @three)
 *   fan         fan_poll -> join_all -> {fan_nap_poll -> sleep (@nap),
 *               fan_wait_poll -> notified (@wait)} (@fan)
 * Lines carrying an await end in a marker comment that the checker looks
 * up; keep one await per line.
 *
 * Exit status 0 after printing the dump; 1 with a line on stderr when the
 * runtime could not be set up or no complete dump came within 10 s.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "taskdump/taskdump.h"

#define HOUR_MS (3600u * 1000u)

static td_notify gate = TD_NOTIFY_INITIALIZER;

/* ---- then / else -------------------------------------------------------- */

typedef struct branch {
	td_future base;
	td_async as;
	int which;
	td_sleep nap;
} branch;

static td_poll branch_poll(td_future *f, td_context *cx)
{
	branch *s = (branch *)f;
	TD_BEGIN(&s->as);
	if (s->which) {
		td_sleep_init(&s->nap, HOUR_MS);
		TD_AWAIT(&s->as, &s->nap, cx); /* @then */
	} else {
		td_sleep_init(&s->nap, HOUR_MS);
		TD_AWAIT(&s->as, &s->nap, cx); /* @else */
	}
	TD_END(&s->as);
}

static void branch_drop(td_future *f)
{
	td_async_drop(&((branch *)f)->as);
}

static const td_future_vtable branch_vt = {.poll = branch_poll,
					   .drop = branch_drop};

/* ---- recv --------------------------------------------------------------- */

typedef struct recv_inner {
	td_future base;
	td_async as;
	td_mpsc *ch;
	int value;
	td_mpsc_recv recv;
} recv_inner;

static td_poll recv_inner_poll(td_future *f, td_context *cx)
{
	recv_inner *s = (recv_inner *)f;
	TD_BEGIN(&s->as);
	td_mpsc_recv_init(&s->recv, s->ch, &s->value);
	TD_AWAIT(&s->as, &s->recv, cx); /* @inner */
	TD_END(&s->as);
}

static void recv_inner_drop(td_future *f)
{
	td_async_drop(&((recv_inner *)f)->as);
}

static const td_future_vtable recv_inner_vt = {.poll = recv_inner_poll,
					       .drop = recv_inner_drop};

typedef struct recv_outer {
	td_future base;
	td_async as;
	td_mpsc *ch;
	recv_inner inner;
} recv_outer;

static td_poll recv_outer_poll(td_future *f, td_context *cx)
{
	recv_outer *s = (recv_outer *)f;
	TD_BEGIN(&s->as);
	s->inner = (recv_inner){.base = {&recv_inner_vt}, .ch = s->ch};
	TD_AWAIT(&s->as, &s->inner, cx); /* @outer */
	TD_END(&s->as);
}

static void recv_outer_drop(td_future *f)
{
	td_async_drop(&((recv_outer *)f)->as);
}

static const td_future_vtable recv_outer_vt = {.poll = recv_outer_poll,
					       .drop = recv_outer_drop};

/* ---- deep --------------------------------------------------------------- */

typedef struct deep_three {
	td_future base;
	td_async as;
	td_notified wait;
} deep_three;

static td_poll deep_three_poll(td_future *f, td_context *cx)
{
	deep_three *s = (deep_three *)f;
	TD_BEGIN(&s->as);
	td_notified_init(&s->wait, &gate);
	TD_AWAIT(&s->as, &s->wait, cx); /* @three */
	TD_END(&s->as);
}

static void deep_three_drop(td_future *f)
{
	td_async_drop(&((deep_three *)f)->as);
}

static const td_future_vtable deep_three_vt = {.poll = deep_three_poll,
					       .drop = deep_three_drop};

typedef struct deep_two {
	td_future base;
	td_async as;
	deep_three inner;
} deep_two;

static td_poll deep_two_poll(td_future *f, td_context *cx)
{
	deep_two *s = (deep_two *)f;
	TD_BEGIN(&s->as);
	s->inner = (deep_three){.base = {&deep_three_vt}};
	TD_AWAIT(&s->as, &s->inner, cx); /* @two */
	TD_END(&s->as);
}

static void deep_two_drop(td_future *f)
{
	td_async_drop(&((deep_two *)f)->as);
}

static const td_future_vtable deep_two_vt = {.poll = deep_two_poll,
					     .drop = deep_two_drop};

typedef struct deep_one {
	td_future base;
	td_async as;
	deep_two inner;
} deep_one;

static td_poll deep_one_poll(td_future *f, td_context *cx)
{
	deep_one *s = (deep_one *)f;
	TD_BEGIN(&s->as);
	s->inner = (deep_two){.base = {&deep_two_vt}};
	TD_AWAIT(&s->as, &s->inner, cx); /* @one */
	TD_END(&s->as);
}

static void deep_one_drop(td_future *f)
{
	td_async_drop(&((deep_one *)f)->as);
}

static const td_future_vtable deep_one_vt = {.poll = deep_one_poll,
					     .drop = deep_one_drop};

/* ---- fan ---------------------------------------------------------------- */

typedef struct fan_nap {
	td_future base;
	td_async as;
	td_sleep nap;
} fan_nap;

static td_poll fan_nap_poll(td_future *f, td_context *cx)
{
	fan_nap *s = (fan_nap *)f;
	TD_BEGIN(&s->as);
	td_sleep_init(&s->nap, HOUR_MS);
	TD_AWAIT(&s->as, &s->nap, cx); /* @nap */
	TD_END(&s->as);
}

static void fan_nap_drop(td_future *f)
{
	td_async_drop(&((fan_nap *)f)->as);
}

static const td_future_vtable fan_nap_vt = {.poll = fan_nap_poll,
					    .drop = fan_nap_drop};

typedef struct fan_wait {
	td_future base;
	td_async as;
	td_notified wait;
} fan_wait;

static td_poll fan_wait_poll(td_future *f, td_context *cx)
{
	fan_wait *s = (fan_wait *)f;
	TD_BEGIN(&s->as);
	td_notified_init(&s->wait, &gate);
	TD_AWAIT(&s->as, &s->wait, cx); /* @wait */
	TD_END(&s->as);
}

static void fan_wait_drop(td_future *f)
{
	td_async_drop(&((fan_wait *)f)->as);
}

static const td_future_vtable fan_wait_vt = {.poll = fan_wait_poll,
					     .drop = fan_wait_drop};

typedef struct fan {
	td_future base;
	td_async as;
	fan_nap nap;
	fan_wait wait;
	td_future *kids[2];
	td_join_all all;
} fan;

static td_poll fan_poll(td_future *f, td_context *cx)
{
	fan *s = (fan *)f;
	TD_BEGIN(&s->as);
	s->nap = (fan_nap){.base = {&fan_nap_vt}};
	s->wait = (fan_wait){.base = {&fan_wait_vt}};
	s->kids[0] = &s->nap.base;
	s->kids[1] = &s->wait.base;
	td_join_all_init(&s->all, s->kids, 2);
	TD_AWAIT(&s->as, &s->all, cx); /* @fan */
	TD_END(&s->as);
}

static void fan_drop(td_future *f)
{
	td_async_drop(&((fan *)f)->as);
}

static const td_future_vtable fan_vt = {.poll = fan_poll, .drop = fan_drop};

/* ---- main --------------------------------------------------------------- */

/* Every task listed, polled, traced, with at least one trace. */
static bool settled(const td_dump *d, size_t want)
{
	size_t n = 0;

	if (d->nruntimes != 1)
		return false;
	for (size_t i = 0; i < d->runtimes[0].ntasks; i++) {
		const td_dump_task *t = &d->runtimes[0].tasks[i];
		if (t->is_block_on)
			continue;
		if (!t->traced || t->ntraces == 0 || t->polls == 0)
			return false;
		n++;
	}
	return n == want;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
	nanosleep(&ts, NULL);
}

int main(void)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	if (td_runtime_new(&cfg, &rt) != 0) {
		fprintf(stderr, "user_app: no runtime\n");
		return 1;
	}
	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	branch b_then = {.base = {&branch_vt}, .which = 1};
	branch b_else = {.base = {&branch_vt}, .which = 0};
	recv_outer recv = {.base = {&recv_outer_vt}, .ch = ch};
	deep_one deep = {.base = {&deep_one_vt}};
	fan fanout = {.base = {&fan_vt}};
	td_join_handle h[5];
	int err = 0;
	err |= td_spawn_named(rt, "then", &b_then, &h[0]);
	err |= td_spawn_named(rt, "else", &b_else, &h[1]);
	err |= td_spawn_named(rt, "recv", &recv, &h[2]);
	err |= td_spawn_named(rt, "deep", &deep, &h[3]);
	err |= td_spawn_named(rt, "fan", &fanout, &h[4]);
	if (err || !ch) {
		fprintf(stderr, "user_app: spawn failed\n");
		return 1;
	}

	td_dump *d = NULL;
	for (int tries = 0; tries < 1000; tries++) {
		td_dump_free(d);
		d = NULL;
		if (td_dump_all(NULL, &d) == 0 && settled(d, 5))
			break;
		pause_ms(10);
	}
	int rc = 0;
	if (!d || !settled(d, 5)) {
		fprintf(stderr, "user_app: no complete dump within 10 s\n");
		rc = 1;
	} else if (td_dump_write_text(d, stdout, NULL) != 0) {
		rc = 1;
	}
	td_dump_free(d);
	for (int i = 0; i < 5; i++)
		td_join_handle_abort(&h[i]);
	for (int i = 0; i < 5; i++)
		td_join_handle_detach(&h[i]);
	td_runtime_free(rt);
	td_mpsc_receiver_release(ch);
	td_mpsc_sender_release(ch);
	return rc;
}
