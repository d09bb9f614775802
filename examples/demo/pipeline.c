/* pipeline.c - a producer and a consumer over a bounded channel.  The
 * producer is quicker than the consumer, so the channel fills up and the
 * producer waits for room: a dump shows one blocked in send, or the
 * other waiting in recv. */
#include "demo.h"

typedef struct producer {
	td_future base;
	td_async as;
	struct demo *d;
	uint64_t next;
	td_mpsc_send send;
	td_sleep pause;
} producer;

static td_poll producer_poll(td_future *f, td_context *cx)
{
	producer *p = (producer *)f;
	TD_BEGIN(&p->as);
	for (p->next = 1;; p->next++) {
		td_mpsc_send_init(&p->send, p->d->jobs, &p->next);
		TD_AWAIT(&p->as, &p->send, cx);
		if (p->send.error)
			TD_RETURN(&p->as); /* the consumer is gone */
		atomic_fetch_add(&p->d->produced_sum, p->next);
		td_sleep_init(&p->pause, 20);
		TD_AWAIT(&p->as, &p->pause, cx);
	}
	TD_END(&p->as);
}

static void producer_drop(td_future *f)
{
	td_async_drop(&((producer *)f)->as);
}

static const td_future_vtable producer_vtable = {
	.poll = producer_poll, .drop = producer_drop, .type_name = "producer"};

typedef struct consumer {
	td_future base;
	td_async as;
	struct demo *d;
	uint64_t job;
	td_mpsc_recv recv;
	td_sleep work;
} consumer;

static td_poll consumer_poll(td_future *f, td_context *cx)
{
	consumer *c = (consumer *)f;
	TD_BEGIN(&c->as);
	for (;;) {
		td_mpsc_recv_init(&c->recv, c->d->jobs, &c->job);
		TD_AWAIT(&c->as, &c->recv, cx);
		if (c->recv.error)
			TD_RETURN(&c->as); /* every sender is gone */
		td_sleep_init(&c->work, 30); /* "processing" the job */
		TD_AWAIT(&c->as, &c->work, cx);
		atomic_fetch_add(&c->d->consumed_sum, c->job);
	}
	TD_END(&c->as);
}

static void consumer_drop(td_future *f)
{
	td_async_drop(&((consumer *)f)->as);
}

static const td_future_vtable consumer_vtable = {
	.poll = consumer_poll, .drop = consumer_drop, .type_name = "consumer"};

int demo_spawn_pipeline(struct demo *d)
{
	producer p = {.base = {&producer_vtable}, .d = d};
	consumer c = {.base = {&consumer_vtable}, .d = d};
	int err = td_spawn_named(d->rt, "producer", &p, NULL);
	return err ? err : td_spawn_named(d->rt, "consumer", &c, NULL);
}
