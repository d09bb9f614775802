/* hello.c - the README's example: two tasks and a channel. */
#include <stdio.h>

#include "taskdump/taskdump.h"

/* An async function: a struct whose first member is a td_future, and a
 * poll function between TD_BEGIN and TD_END.  State that must survive an
 * await lives in the struct. */
typedef struct producer {
	td_future base;
	td_async as;
	td_mpsc *out;
	int i;
	td_sleep nap;      /* child futures are embedded ... */
	td_mpsc_send send; /* ... and awaited with TD_AWAIT */
} producer;

static td_poll producer_poll(td_future *f, td_context *cx)
{
	producer *p = (producer *)f;
	TD_BEGIN(&p->as);
	for (p->i = 1; p->i <= 3; p->i++) {
		td_sleep_init(&p->nap, 100);
		TD_AWAIT(&p->as, &p->nap, cx);
		td_mpsc_send_init(&p->send, p->out, &p->i);
		TD_AWAIT(&p->as, &p->send, cx);
	}
	td_mpsc_sender_release(p->out); /* the consumer sees the end */
	TD_END(&p->as);
}

static const td_future_vtable producer_vtable = {.poll = producer_poll};

typedef struct consumer {
	td_future base;
	td_async as;
	td_mpsc *in;
	int value, sum;
	td_mpsc_recv recv;
} consumer;

static td_poll consumer_poll(td_future *f, td_context *cx)
{
	consumer *c = (consumer *)f;
	TD_BEGIN(&c->as);
	for (;;) {
		td_mpsc_recv_init(&c->recv, c->in, &c->value);
		TD_AWAIT(&c->as, &c->recv, cx);
		if (c->recv.error) /* -EPIPE: every sender is gone */
			break;
		printf("got %d\n", c->value);
		c->sum += c->value;
	}
	td_mpsc_receiver_release(c->in);
	TD_END(&c->as);
}

/* A task's result: what its join handle reports. */
static void *consumer_output(td_future *f)
{
	return (void *)(intptr_t)((consumer *)f)->sum;
}

static const td_future_vtable consumer_vtable = {.poll = consumer_poll,
						 .output = consumer_output};

int main(void)
{
	td_runtime_config cfg = {.flavor = TD_FLAVOR_MULTI_THREAD,
				 .workers = 2};
	td_runtime *rt;
	if (td_runtime_new(&cfg, &rt) != 0)
		return 1;

	td_mpsc *ch = td_mpsc_bounded(sizeof(int), 1);
	producer p = {.base = {&producer_vtable}, .out = ch};
	consumer c = {.base = {&consumer_vtable}, .in = ch};
	td_join_handle hp, hc;
	td_spawn_named(rt, "producer", &p, &hp); /* copies p into the task */
	td_spawn_named(rt, "consumer", &c, &hc);
	td_join_handle_detach(&hp);

	td_join join; /* a join handle is awaited through a td_join future */
	td_join_init(&join, &hc);
	td_runtime_block_on(rt, &join.base, NULL);
	printf("sum %d\n", (int)(intptr_t)join.output);

	td_runtime_free(rt);
	return 0;
}
