/* test_stress.c - the schedulers under load: 100 000 tasks (fewer under the
 * sanitizers) with random wake patterns - timers, mpsc channels, oneshots,
 * mutex hand-offs, notify, yields, wakes from other tasks (other workers)
 * and from plain threads, spawned children joined or aborted - on the
 * current-thread scheduler and on 1, 2 and 4 workers, checked against a
 * checksum computed from the seed alone; and shutdown: mid-run, with
 * thousands of tasks blocked on every kind of leaf, and while plain
 * threads keep waking tasks.
 *
 * Reproduce a failure with TD_STRESS_SEED=<printed seed>; TD_STRESS_TASKS
 * overrides the task count.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "taskdump/combinators.h"
#include "taskdump/io.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/notify.h"
#include "taskdump/oneshot.h"
#include "taskdump/runtime.h"
#include "taskdump/task.h"
#include "taskdump/time.h"
#include "sched/runtime_impl.h"
#include "test_rt.h"
#include "test_util.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif

static uint64_t g_seed; /* this test's seed */
static uint64_t g_base; /* TD_STRESS_SEED that reproduces it */

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr,                                       \
				"%s:%d: %s failed (TD_STRESS_SEED=%" PRIu64   \
				")\n",                                        \
				__FILE__, __LINE__, #cond, g_base);           \
			abort();                                              \
		}                                                             \
	} while (0)

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static size_t env_size(const char *name, size_t dflt)
{
	const char *s = getenv(name);
	return s && *s ? (size_t)strtoull(s, NULL, 0) : dflt;
}

static uint64_t pick_seed(void)
{
	const char *s = getenv("TD_STRESS_SEED");
	if (s && *s)
		return strtoull(s, NULL, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		   (uint64_t)getpid());
}

/* ---- the plan: who does what, computed from the seed alone ----------- */

/* Each cell of 16 tasks shares a channel, a oneshot, a mutex and a
 * notify; the 16 roles are shuffled within the cell. */
enum role {
	R_CONSUMER, /* receives everything the producers send */
	R_PRODUCER, /* x3: sends 1..8 items into the cell's bounded channel */
	R_OS_SEND,  /* sends one value through the cell's oneshot */
	R_OS_RECV,
	R_MUTEX,    /* x3: read-modify-write of the cell's counter under the
		     * mutex, sometimes yielding or sleeping while holding it */
	R_SLEEP,    /* 1..3 short sleeps */
	R_YIELD,    /* 1..20 yields */
	R_SPAWN,    /* spawns 1..3 children and joins them */
	R_ABORT,    /* spawns a child, aborts it, joins it */
	R_REMOTE,   /* woken by a plain thread */
	R_WAITER,   /* x2: waits on the cell's notify for the consumer */
	NROLES
};
#define CELL 16
static const uint8_t cell_template[CELL] = {
	R_CONSUMER, R_PRODUCER, R_PRODUCER, R_PRODUCER, R_OS_SEND, R_OS_RECV,
	R_MUTEX,    R_MUTEX,    R_MUTEX,    R_SLEEP,    R_YIELD,   R_SPAWN,
	R_ABORT,    R_REMOTE,   R_WAITER,   R_WAITER,
};

static void cell_roles(uint64_t seed, size_t c, uint8_t roles[CELL])
{
	uint64_t s = mix(seed ^ (0x5bd1e995ull * (c + 1)));
	memcpy(roles, cell_template, CELL);
	for (int i = CELL - 1; i > 0; i--) {
		s = mix(s);
		int j = (int)(s % (uint64_t)(i + 1));
		uint8_t t = roles[i];
		roles[i] = roles[j];
		roles[j] = t;
	}
}

static uint64_t task_value(uint64_t seed, size_t i)
{
	return mix(seed * 0x9e3779b97f4a7c15ull + i + 1);
}

static unsigned producer_items(uint64_t v)
{
	return 1 + (unsigned)(mix(v) % 8);
}

static uint64_t item_value(uint64_t v, unsigned k)
{
	return mix(v ^ (0xc2b2ae3d27d4eb4full * (k + 1)));
}

static unsigned spawn_children(uint64_t v)
{
	return 1 + (unsigned)(mix(v + 7) % 3);
}

static uint64_t child_value(uint64_t v, unsigned j)
{
	return mix(v + 1000 + j);
}

/* What task i's join handle reports. */
static uint64_t expected_output(uint64_t seed, size_t i)
{
	uint8_t roles[CELL];
	size_t c = i / CELL, base = c * CELL;
	cell_roles(seed, c, roles);
	uint64_t v = task_value(seed, i), out = v;
	switch (roles[i % CELL]) {
	case R_CONSUMER:
		for (int p = 0; p < CELL; p++) {
			if (roles[p] != R_PRODUCER)
				continue;
			uint64_t pv = task_value(seed, base + (size_t)p);
			for (unsigned k = 0; k < producer_items(pv); k++)
				out += item_value(pv, k);
		}
		break;
	case R_OS_RECV:
		for (int p = 0; p < CELL; p++)
			if (roles[p] == R_OS_SEND)
				out += 3 * task_value(seed, base + (size_t)p);
		break;
	case R_SPAWN:
		for (unsigned j = 0; j < spawn_children(v); j++)
			out += child_value(v, j);
		break;
	default:
		break;
	}
	return out;
}

/* ---- shared state ----------------------------------------------------- */

struct cell {
	td_mpsc *ch;
	td_oneshot *os;
	td_mutex mu;
	td_notify nt;
	uint64_t acc;          /* under mu */
	atomic_int released;   /* the consumer is done: waiters may go */
	atomic_int os_rx_taken; /* a recv future took the receiver handle */
	atomic_int os_tx_used;  /* the sender handle was used or released */
};

/* A wake-up delivered by a plain thread: shared by the task's future and
 * the remote queue, reference counted, so either side may go first. */
struct ticket {
	atomic_int refs;
	atomic_int fired;
	td_waker waker; /* under the remote queue's lock */
};

struct remote_q {
	pthread_mutex_t lock;
	struct ticket **items;
	size_t n, cap;
	atomic_int stop;
	atomic_long woken;
};

struct stress {
	uint64_t seed;
	size_t n;
	struct cell *cells;
	struct remote_q rq;
	/* Never released while the run lasts: what aborted children block
	 * on forever. */
	td_mutex block_mu;
	td_notify block_nt;
	/* Accounting: every future spawned completes or is dropped, once. */
	atomic_long attempts, completed, dropped;
	atomic_long aborted_ok, abort_raced;
	atomic_long spawn_progress; /* tasks spawned so far by the main */
	atomic_long spawn_refused;  /* children refused (shutdown) */
	/* A run that is shut down midway: peers may be gone, so a send or
	 * receive may fail with -EPIPE and a join with -ECANCELED. */
	bool midway;
	atomic_long child_bad;
};

static void ticket_release(struct ticket *t)
{
	if (atomic_fetch_sub(&t->refs, 1) == 1) {
		REQUIRE(!t->waker.vtable);
		free(t);
	}
}

static void *remote_main(void *p)
{
	struct remote_q *q = p;
	struct ticket *batch[64];
	uint32_t rng = (uint32_t)(uintptr_t)&batch | 1;
	while (!atomic_load(&q->stop)) {
		size_t n = 0;
		pthread_mutex_lock(&q->lock);
		/* Take a random few, not in order. */
		while (n < 64 && q->n > 0) {
			size_t k = rnd(&rng) % q->n;
			batch[n++] = q->items[k];
			q->items[k] = q->items[--q->n];
		}
		pthread_mutex_unlock(&q->lock);
		if (n == 0) {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			struct ticket *t = batch[k];
			pthread_mutex_lock(&q->lock);
			td_waker w = t->waker;
			t->waker = (td_waker){NULL, NULL};
			atomic_store(&t->fired, 1);
			pthread_mutex_unlock(&q->lock);
			td_waker_wake(&w);
			atomic_fetch_add(&q->woken, 1);
			ticket_release(t);
		}
	}
	return NULL;
}

/* A future completed by a remote thread. */
typedef struct remote_fut {
	td_future base;
	struct remote_q *q;
	struct ticket *t;
} remote_fut;

static td_poll remote_poll(td_future *f, td_context *cx)
{
	remote_fut *r = (remote_fut *)f;
	if (!r->t) {
		r->t = malloc(sizeof(*r->t));
		REQUIRE(r->t);
		atomic_init(&r->t->refs, 2);
		atomic_init(&r->t->fired, 0);
		r->t->waker = td_waker_clone(cx->waker);
		pthread_mutex_lock(&r->q->lock);
		if (r->q->n == r->q->cap) {
			r->q->cap = r->q->cap ? 2 * r->q->cap : 1024;
			r->q->items = realloc(r->q->items,
					      r->q->cap * sizeof(*r->q->items));
			REQUIRE(r->q->items);
		}
		r->q->items[r->q->n++] = r->t;
		pthread_mutex_unlock(&r->q->lock);
		return TD_PENDING;
	}
	pthread_mutex_lock(&r->q->lock);
	if (!atomic_load(&r->t->fired))
		td_waker_register(&r->t->waker, cx->waker);
	pthread_mutex_unlock(&r->q->lock);
	if (!atomic_load(&r->t->fired))
		return TD_PENDING;
	ticket_release(r->t);
	r->t = NULL;
	return TD_READY;
}

static void remote_drop(td_future *f)
{
	remote_fut *r = (remote_fut *)f;
	if (!r->t)
		return;
	pthread_mutex_lock(&r->q->lock);
	td_waker w = r->t->waker;
	r->t->waker = (td_waker){NULL, NULL};
	pthread_mutex_unlock(&r->q->lock);
	td_waker_drop(&w);
	ticket_release(r->t);
	r->t = NULL;
}

static const td_future_vtable remote_vtable = {.poll = remote_poll,
					       .drop = remote_drop};

/* ---- children (of R_SPAWN and R_ABORT) --------------------------------- */

enum child_mode {
	C_QUICK,     /* a few yields, then done */
	C_NAP,       /* a short sleep, then done */
	C_SLEEP,     /* blocked: a 60 s sleep */
	C_NOTIFIED,  /* blocked: a notify nobody notifies */
	C_LOCK,      /* blocked: a mutex held all along */
	C_RECV,      /* blocked: a channel nobody sends on (its own: a
		      * channel has one receiver) */
	NCHILD
};

typedef struct child {
	td_future base;
	td_async as;
	struct stress *g;
	uint64_t value;
	int mode, k, rounds;
	bool completed;
	td_mpsc *own_ch;
	union {
		td_yield yld;
		td_sleep sleep;
		td_notified ntf;
		td_mutex_lock lock;
		td_mpsc_recv recv;
	} u;
	uint64_t slot;
} child;

static td_poll child_poll(td_future *f, td_context *cx)
{
	child *c = (child *)f;
	TD_BEGIN(&c->as);
	if (c->mode == C_QUICK) {
		for (c->k = 0; c->k < c->rounds; c->k++) {
			td_yield_init(&c->u.yld);
			TD_AWAIT(&c->as, &c->u.yld, cx);
		}
	} else if (c->mode == C_NAP) {
		td_sleep_init(&c->u.sleep, (uint64_t)c->rounds % 3);
		TD_AWAIT(&c->as, &c->u.sleep, cx);
	} else if (c->mode == C_SLEEP) {
		td_sleep_init(&c->u.sleep, 60000);
		TD_AWAIT(&c->as, &c->u.sleep, cx);
		REQUIRE(!"a 60 s sleep completed");
	} else if (c->mode == C_NOTIFIED) {
		td_notified_init(&c->u.ntf, &c->g->block_nt);
		TD_AWAIT(&c->as, &c->u.ntf, cx);
		REQUIRE(!"a notify nobody notifies fired");
	} else if (c->mode == C_LOCK) {
		td_mutex_lock_init(&c->u.lock, &c->g->block_mu);
		TD_AWAIT(&c->as, &c->u.lock, cx);
		REQUIRE(!"a mutex held all along was acquired");
	} else {
		c->own_ch = td_mpsc_unbounded(sizeof(uint64_t));
		REQUIRE(c->own_ch);
		td_mpsc_recv_init(&c->u.recv, c->own_ch, &c->slot);
		TD_AWAIT(&c->as, &c->u.recv, cx);
		REQUIRE(!"a channel nobody sends on delivered");
	}
	c->completed = true;
	atomic_fetch_add(&c->g->completed, 1);
	TD_END(&c->as);
}

static void *child_output(td_future *f)
{
	return (void *)(uintptr_t)((child *)f)->value;
}

static void child_drop(td_future *f)
{
	child *c = (child *)f;
	td_async_drop(&c->as);
	if (c->own_ch) {
		td_mpsc_sender_release(c->own_ch);
		td_mpsc_receiver_release(c->own_ch);
	}
	if (!c->completed)
		atomic_fetch_add(&c->g->dropped, 1);
}

static const td_future_vtable child_vtable = {
	.poll = child_poll, .drop = child_drop, .output = child_output,
	.type_name = "stress_child"};

/* Spawn a child; refused only once the runtime is shutting down (the
 * child's future was dropped then, and the handle stays empty). */
static void spawn_child(struct stress *g, uint64_t value, int mode,
			int rounds, td_join_handle *h)
{
	child c = {.base = {&child_vtable}, .g = g, .value = value,
		   .mode = mode, .rounds = rounds};
	atomic_fetch_add(&g->attempts, 1);
	int err = td_spawn(NULL, &c, h);
	if (err) {
		REQUIRE(err == -ESHUTDOWN);
		atomic_fetch_add(&g->spawn_refused, 1);
	}
}

/* ---- the tasks ---------------------------------------------------------- */

/* err is acceptable: 0, or `gone` in a run shut down midway. */
static bool ok_or(const struct stress *g, int err, int gone)
{
	return err == 0 || (g->midway && err == gone);
}

#define MAX_KIDS 3

typedef struct stask {
	td_future base;
	td_async as;
	struct stress *g;
	struct cell *cell;
	size_t idx;
	uint8_t role;
	uint32_t rng;
	int k, n;
	uint64_t value, extra, tmp, item;
	bool completed, holding, tx_released, rx_released;
	union {
		td_sleep sleep;
		td_yield yld;
		td_mpsc_send send;
		td_mpsc_recv recv;
		td_mutex_lock lock;
		td_oneshot_recv osr;
		td_notified ntf;
		td_join join;
		remote_fut remote;
	} u;
	td_join_handle kids[MAX_KIDS];
	int child_mode;
} stask;

static td_poll stask_poll(td_future *f, td_context *cx)
{
	stask *t = (stask *)f;
	struct cell *c = t->cell;
	TD_BEGIN(&t->as);
	/* No switch around the awaits: TD_AWAIT's case labels must belong
	 * to TD_BEGIN's switch. */
	if (t->role == R_CONSUMER) {
		for (;;) {
			td_mpsc_recv_init(&t->u.recv, c->ch, &t->item);
			TD_AWAIT(&t->as, &t->u.recv, cx);
			if (t->u.recv.error == -EPIPE)
				break; /* every producer is done */
			REQUIRE(ok_or(t->g, t->u.recv.error, -EPIPE));
			t->extra += t->item;
		}
		td_mpsc_receiver_release(c->ch);
		t->rx_released = true;
		/* Let the waiters go: a wake from this task to two others,
		 * likely on other workers. */
		atomic_store(&c->released, 1);
		td_notify_waiters(&c->nt);
	} else if (t->role == R_PRODUCER) {
		t->n = (int)producer_items(t->value);
		for (t->k = 0; t->k < t->n; t->k++) {
			t->item = item_value(t->value, (unsigned)t->k);
			td_mpsc_send_init(&t->u.send, c->ch, &t->item);
			TD_AWAIT(&t->as, &t->u.send, cx);
			REQUIRE(ok_or(t->g, t->u.send.error, -EPIPE));
			if (rnd(&t->rng) % 4 == 0) {
				td_yield_init(&t->u.yld);
				TD_AWAIT(&t->as, &t->u.yld, cx);
			}
		}
		td_mpsc_sender_release(c->ch);
		t->tx_released = true;
	} else if (t->role == R_OS_SEND) {
		if (rnd(&t->rng) % 2) {
			td_sleep_init(&t->u.sleep, rnd(&t->rng) % 3);
			TD_AWAIT(&t->as, &t->u.sleep, cx);
		}
		atomic_store(&c->os_tx_used, 1);
		REQUIRE(ok_or(t->g,
			      td_oneshot_send(c->os,
					      (void *)(uintptr_t)(3 * t->value)),
			      -EPIPE));
	} else if (t->role == R_OS_RECV) {
		atomic_store(&c->os_rx_taken, 1);
		td_oneshot_recv_init(&t->u.osr, c->os);
		TD_AWAIT(&t->as, &t->u.osr, cx);
		REQUIRE(ok_or(t->g, t->u.osr.error, -EPIPE));
		t->extra = (uint64_t)(uintptr_t)t->u.osr.value;
	} else if (t->role == R_MUTEX) {
		td_mutex_lock_init(&t->u.lock, &c->mu);
		TD_AWAIT(&t->as, &t->u.lock, cx);
		t->holding = true;
		/* A read-modify-write split by a suspension: lost updates
		 * if the mutex ever let two tasks in. */
		t->tmp = c->acc;
		t->k = (int)(rnd(&t->rng) % 4);
		if (t->k == 0) {
			td_yield_init(&t->u.yld);
			TD_AWAIT(&t->as, &t->u.yld, cx);
		} else if (t->k == 1) {
			td_sleep_init(&t->u.sleep, rnd(&t->rng) % 2);
			TD_AWAIT(&t->as, &t->u.sleep, cx);
		}
		c->acc = t->tmp + t->value;
		t->holding = false;
		td_mutex_unlock(&c->mu); /* hand-off to the next waiter */
	} else if (t->role == R_SLEEP) {
		t->n = 1 + (int)(rnd(&t->rng) % 3);
		for (t->k = 0; t->k < t->n; t->k++) {
			td_sleep_init(&t->u.sleep, rnd(&t->rng) % 4);
			TD_AWAIT(&t->as, &t->u.sleep, cx);
		}
	} else if (t->role == R_YIELD) {
		t->n = 1 + (int)(rnd(&t->rng) % 20);
		for (t->k = 0; t->k < t->n; t->k++) {
			td_yield_init(&t->u.yld);
			TD_AWAIT(&t->as, &t->u.yld, cx);
		}
	} else if (t->role == R_SPAWN) {
		t->n = (int)spawn_children(t->value);
		for (t->k = 0; t->k < t->n; t->k++)
			spawn_child(t->g, child_value(t->value, (unsigned)t->k),
				    rnd(&t->rng) % 2 ? C_QUICK : C_NAP,
				    (int)(rnd(&t->rng) % 4), &t->kids[t->k]);
		for (t->k = 0; t->k < t->n; t->k++) {
			if (!t->kids[t->k].task)
				continue; /* refused: shutting down */
			td_join_init(&t->u.join, &t->kids[t->k]);
			TD_AWAIT(&t->as, &t->u.join, cx);
			REQUIRE(ok_or(t->g, t->u.join.error, -ECANCELED));
			t->extra += (uint64_t)(uintptr_t)t->u.join.output;
		}
	} else if (t->role == R_ABORT) {
		/* Blocked children are aborted for sure; quick ones race
		 * their abort. */
		t->child_mode = (int)(rnd(&t->rng) % NCHILD);
		t->tmp = mix(t->value + 55);
		spawn_child(t->g, t->tmp, t->child_mode,
			    (int)(rnd(&t->rng) % 3), &t->kids[0]);
		t->n = t->kids[0].task ? (int)(rnd(&t->rng) % 3) : 0;
		for (t->k = 0; t->k < t->n; t->k++) {
			td_yield_init(&t->u.yld);
			TD_AWAIT(&t->as, &t->u.yld, cx);
		}
		td_join_handle_abort(&t->kids[0]);
		td_join_init(&t->u.join, &t->kids[0]);
		TD_AWAIT(&t->as, &t->u.join, cx);
		if (t->u.join.error == -EINVAL) {
			/* refused at spawn: shutting down */
		} else if (t->u.join.error == 0) {
			/* Completed before the abort took effect. */
			if (t->child_mode != C_QUICK && t->child_mode != C_NAP)
				atomic_fetch_add(&t->g->child_bad, 1);
			if ((uint64_t)(uintptr_t)t->u.join.output != t->tmp)
				atomic_fetch_add(&t->g->child_bad, 1);
			atomic_fetch_add(&t->g->abort_raced, 1);
		} else {
			REQUIRE(t->u.join.error == -ECANCELED);
			atomic_fetch_add(&t->g->aborted_ok, 1);
		}
	} else if (t->role == R_REMOTE) {
		t->u.remote = (remote_fut){{&remote_vtable}, &t->g->rq, NULL};
		TD_AWAIT(&t->as, &t->u.remote, cx);
	} else if (t->role == R_WAITER) {
		for (;;) {
			/* Counted for notify_waiters from init on; the flag
			 * is checked after, so no wake can fall between. */
			td_notified_init(&t->u.ntf, &c->nt);
			if (atomic_load(&c->released)) {
				td_future_drop(&t->u.ntf.base);
				break;
			}
			TD_AWAIT(&t->as, &t->u.ntf, cx);
		}
	}
	t->completed = true;
	atomic_fetch_add(&t->g->completed, 1);
	TD_END(&t->as);
}

static void *stask_output(td_future *f)
{
	stask *t = (stask *)f;
	return (void *)(uintptr_t)(t->value + t->extra);
}

/* Dropped (abort, shutdown, or a refused spawn): give back whatever the
 * role still holds, so that nothing leaks and nobody waits forever. */
static void stask_drop(td_future *f)
{
	stask *t = (stask *)f;
	struct cell *c = t->cell;
	if (t->completed)
		return;
	td_async_drop(&t->as); /* the leaf it waits on, if any */
	switch (t->role) {
	case R_CONSUMER:
		if (!t->rx_released)
			td_mpsc_receiver_release(c->ch);
		atomic_store(&c->released, 1);
		td_notify_waiters(&c->nt);
		break;
	case R_PRODUCER:
		if (!t->tx_released)
			td_mpsc_sender_release(c->ch);
		break;
	case R_OS_SEND:
		if (!atomic_exchange(&c->os_tx_used, 1))
			td_oneshot_sender_release(c->os);
		break;
	case R_OS_RECV:
		/* Once a recv future took it, dropping that released it. */
		if (!atomic_exchange(&c->os_rx_taken, 1))
			td_oneshot_receiver_release(c->os);
		break;
	case R_MUTEX:
		if (t->holding)
			td_mutex_unlock(&c->mu);
		break;
	case R_SPAWN:
	case R_ABORT:
		for (int k = 0; k < MAX_KIDS; k++)
			td_join_handle_detach(&t->kids[k]);
		break;
	default:
		break;
	}
	atomic_fetch_add(&t->g->dropped, 1);
}

static const td_future_vtable stask_vtable = {
	.poll = stask_poll, .drop = stask_drop, .output = stask_output,
	.type_name = "stress_task"};

/* ---- setup and teardown ------------------------------------------------- */

static struct stress *stress_new(uint64_t seed, size_t n)
{
	struct stress *g = calloc(1, sizeof(*g));
	ck_assert_ptr_nonnull(g);
	g->seed = seed;
	g->n = n;
	g->cells = calloc(n / CELL, sizeof(*g->cells));
	ck_assert_ptr_nonnull(g->cells);
	for (size_t c = 0; c < n / CELL; c++) {
		struct cell *cl = &g->cells[c];
		uint64_t r = mix(seed + c);
		cl->ch = td_mpsc_bounded(sizeof(uint64_t), 1 + r % 4);
		ck_assert_ptr_nonnull(cl->ch);
		td_mpsc_sender_clone(cl->ch); /* three producers */
		td_mpsc_sender_clone(cl->ch);
		cl->os = td_oneshot_new();
		ck_assert_ptr_nonnull(cl->os);
		td_mutex_init(&cl->mu);
		td_notify_init(&cl->nt);
	}
	pthread_mutex_init(&g->rq.lock, NULL);
	td_mutex_init(&g->block_mu);
	ck_assert(td_mutex_try_lock(&g->block_mu));
	td_notify_init(&g->block_nt);
	return g;
}

/* After the runtime is gone: everything blocked on the never-released
 * objects was dropped, so they have no waiters left. */
static void stress_free(struct stress *g)
{
	ck_assert_ptr_null(g->block_mu.waiters.head);
	td_mutex_unlock(&g->block_mu);
	ck_assert(!td_mutex_is_locked(&g->block_mu));
	td_mutex_destroy(&g->block_mu);
	ck_assert_ptr_null(g->block_nt.waiters.head);
	td_notify_destroy(&g->block_nt);
	for (size_t c = 0; c < g->n / CELL; c++) {
		struct cell *cl = &g->cells[c];
		ck_assert_ptr_null(cl->mu.waiters.head);
		ck_assert(!td_mutex_is_locked(&cl->mu));
		td_mutex_destroy(&cl->mu);
		ck_assert_ptr_null(cl->nt.waiters.head);
		td_notify_destroy(&cl->nt);
	}
	pthread_mutex_destroy(&g->rq.lock);
	free(g->rq.items);
	free(g->cells);
	free(g);
}

static void build_task(struct stress *g, size_t i, stask *t)
{
	uint8_t roles[CELL];
	cell_roles(g->seed, i / CELL, roles);
	memset(t, 0, sizeof(*t));
	t->base.vtable = &stask_vtable;
	t->g = g;
	t->cell = &g->cells[i / CELL];
	t->idx = i;
	t->role = roles[i % CELL];
	t->value = task_value(g->seed, i);
	t->rng = (uint32_t)mix(t->value ^ 0xabcdef) | 1;
}

/* The block_on future: spawn every task in a random order (yielding now
 * and then, so that they run while others are still being spawned), then
 * join them all in index order. */
typedef struct stress_main {
	td_future base;
	td_async as;
	struct stress *g;
	size_t *order;
	td_join_handle *hs;
	size_t k, spawned_upto;
	td_join j;
	td_sleep nap;
	uint64_t sum;
	long mismatches, spawn_failed;
	bool nap_between_spawns;
} stress_main;

static td_poll stress_main_poll(td_future *f, td_context *cx)
{
	stress_main *m = (stress_main *)f;
	TD_BEGIN(&m->as);
	for (m->k = 0; m->k < m->g->n; m->k++) {
		stask t;
		size_t i = m->order[m->k];
		build_task(m->g, i, &t);
		atomic_fetch_add(&m->g->attempts, 1);
		m->spawned_upto = m->k + 1;
		if (td_spawn(NULL, &t, &m->hs[i]) != 0)
			m->spawn_failed++; /* (t was dropped) */
		atomic_store(&m->g->spawn_progress, (long)m->k + 1);
		if (m->k % 4096 == 4095 && m->nap_between_spawns) {
			/* Let the tasks run while others are still being
			 * spawned.  (Not td_yield: on a current-thread
			 * runtime a yielding block_on future starves the
			 * tasks - see ct_yield_starves_tasks.) */
			td_sleep_init(&m->nap, 0);
			TD_AWAIT(&m->as, &m->nap, cx);
		}
	}
	for (m->k = 0; m->k < m->g->n; m->k++) {
		td_join_init(&m->j, &m->hs[m->k]);
		TD_AWAIT(&m->as, &m->j, cx);
		if (m->j.error) {
			m->mismatches++;
			continue;
		}
		uint64_t out = (uint64_t)(uintptr_t)m->j.output;
		if (out != expected_output(m->g->seed, m->k) &&
		    m->mismatches++ < 5)
			fprintf(stderr, "task %zu: output %" PRIx64
					", expected %" PRIx64 "\n",
				m->k, out, expected_output(m->g->seed, m->k));
		m->sum += out;
	}
	TD_END(&m->as);
}

static void stress_main_drop(td_future *f)
{
	stress_main *m = (stress_main *)f;
	td_async_drop(&m->as);
	for (size_t i = 0; i < m->g->n; i++)
		td_join_handle_detach(&m->hs[i]);
	/* Tasks never spawned still hold their part of the cells (channel
	 * handles, the oneshot's ends): dropping them gives it back. */
	for (size_t k = m->spawned_upto; k < m->g->n; k++) {
		stask t;
		build_task(m->g, m->order[k], &t);
		atomic_fetch_add(&m->g->attempts, 1);
		td_future_drop(&t.base);
	}
	m->spawned_upto = m->g->n;
}

static const td_future_vtable stress_main_vtable = {
	.poll = stress_main_poll, .drop = stress_main_drop,
	.type_name = "stress_main"};

static size_t *random_order(uint64_t seed, size_t n)
{
	size_t *o = malloc(n * sizeof(*o));
	REQUIRE(o);
	for (size_t i = 0; i < n; i++)
		o[i] = i;
	uint64_t s = seed ^ 0x1234;
	for (size_t i = n - 1; i > 0; i--) {
		s = mix(s);
		size_t j = (size_t)(s % (i + 1));
		size_t x = o[i];
		o[i] = o[j];
		o[j] = x;
	}
	return o;
}

static size_t stress_tasks(void)
{
	size_t dflt = TSAN ? 30000 : 100000;
	size_t n = env_size("TD_STRESS_TASKS", dflt);
	n -= n % CELL;
	return n < CELL ? CELL : n;
}

/* Fails the test fast, with what it knows, when the run stops making
 * progress (a lost wake-up hangs it otherwise until Check's timeout). */
struct watchdog {
	struct stress *g;
	pthread_t th;
	atomic_int stop;
	unsigned stall_s;
};

static void *watchdog_main(void *p)
{
	struct watchdog *w = p;
	long last = -1;
	uint64_t since = test_now_ms();
	while (!atomic_load(&w->stop)) {
		long now = atomic_load(&w->g->completed) +
			   atomic_load(&w->g->dropped) +
			   atomic_load(&w->g->rq.woken) +
			   atomic_load(&w->g->spawn_progress);
		if (now != last) {
			last = now;
			since = test_now_ms();
		} else if (test_now_ms() - since > w->stall_s * 1000u) {
			fprintf(stderr,
				"no progress for %u s: %ld of %ld futures "
				"completed, %ld dropped, %ld spawned by the "
				"main (lost wake-up?) TD_STRESS_SEED=%" PRIu64
				"\n",
				w->stall_s, atomic_load(&w->g->completed),
				atomic_load(&w->g->attempts),
				atomic_load(&w->g->dropped),
				atomic_load(&w->g->spawn_progress), g_base);
			abort();
		}
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void watchdog_start(struct watchdog *w, struct stress *g)
{
	w->g = g;
	w->stall_s = 20;
	atomic_init(&w->stop, 0);
	ck_assert_int_eq(pthread_create(&w->th, NULL, watchdog_main, w), 0);
}

static void watchdog_stop(struct watchdog *w)
{
	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
}

static void start_remotes(struct stress *g, pthread_t th[2])
{
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, remote_main,
						&g->rq),
				 0);
}

static void stop_remotes(struct stress *g, pthread_t th[2])
{
	atomic_store(&g->rq.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* Tickets still queued: their futures were dropped or completed. */
	for (size_t k = 0; k < g->rq.n; k++) {
		struct ticket *t = g->rq.items[k];
		td_waker_drop(&t->waker);
		ticket_release(t);
	}
	g->rq.n = 0;
}

/* ---- 1. the whole mix, to completion ------------------------------------ */

START_TEST(stress_checksum)
{
	uint64_t base = g_base = pick_seed();
	g_seed = base + (uint64_t)_i;
	size_t n = stress_tasks();
	fprintf(stderr, "stress_checksum[%s, %u workers]: %zu tasks, "
			"TD_STRESS_SEED=%" PRIu64 "\n",
		test_flavors[_i].flavor ? "multi" : "current", test_flavors[_i].workers,
		n, base);
	struct stress *g = stress_new(g_seed, n);
	uint64_t expect = 0;
	for (size_t i = 0; i < n; i++)
		expect += expected_output(g_seed, i);

	td_runtime *rt = test_rt_new(_i);
	pthread_t th[2];
	start_remotes(g, th);
	stress_main m = {.base = {&stress_main_vtable}, .g = g,
			 .nap_between_spawns = true};
	m.order = random_order(g_seed, n);
	m.hs = calloc(n, sizeof(*m.hs));
	uint64_t t0 = test_now_ms();
	struct watchdog wd;
	watchdog_start(&wd, g);
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	watchdog_stop(&wd);
	uint64_t took = test_now_ms() - t0;
	fprintf(stderr, "  %" PRIu64 " ms; %ld remote wakes, %ld aborts "
			"(%ld raced completion)\n",
		took, atomic_load(&g->rq.woken), atomic_load(&g->aborted_ok),
		atomic_load(&g->abort_raced));

	ck_assert_int_eq(m.spawn_failed, 0);
	ck_assert_int_eq(atomic_load(&g->spawn_refused), 0);
	ck_assert_int_eq(m.mismatches, 0);
	ck_assert_uint_eq(m.sum, expect);
	ck_assert_int_eq(atomic_load(&g->child_bad), 0);
	ck_assert_uint_eq(td_runtime_task_count(rt), 0);
	/* Every cell's counter saw each mutex holder's update exactly once. */
	for (size_t c = 0; c < n / CELL; c++) {
		uint8_t roles[CELL];
		uint64_t want = 0;
		cell_roles(g_seed, c, roles);
		for (int p = 0; p < CELL; p++)
			if (roles[p] == R_MUTEX)
				want += task_value(g_seed, c * CELL + (size_t)p);
		REQUIRE(g->cells[c].acc == want);
	}
	td_runtime_free(rt);
	stop_remotes(g, th);
	/* Every spawned future completed or was dropped, exactly once. */
	ck_assert_int_eq(atomic_load(&g->attempts),
			 atomic_load(&g->completed) + atomic_load(&g->dropped));
	ck_assert_int_eq(atomic_load(&g->dropped), atomic_load(&g->aborted_ok));
	stress_free(g);
	free(m.order);
	free(m.hs);
}
END_TEST

/* ---- 2. shutdown in the middle of the mix --------------------------------- */

struct killer {
	td_runtime *rt;
	struct stress *g;
	long after_spawned; /* wait until the main has spawned this many */
	unsigned delay_ms;  /* then this long */
};

static void *killer_main(void *p)
{
	struct killer *k = p;
	while (atomic_load(&k->g->spawn_progress) < k->after_spawned)
		sched_yield();
	struct timespec ts = {k->delay_ms / 1000,
			      (long)(k->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	td_runtime_free(k->rt);
	return NULL;
}

static void run_midway(int _i, uint64_t base, int round)
{
	g_seed = base + 100 + (uint64_t)_i + 1000 * (uint64_t)round;
	size_t n = stress_tasks() / 2;
	n -= n % CELL;
	struct stress *g = stress_new(g_seed, n);
	g->midway = true;
	td_runtime *rt = test_rt_new(_i);
	pthread_t th[2], kt;
	start_remotes(g, th);
	/* The block_on future of a multi-thread runtime must not wait on a
	 * timer when the runtime is freed under it: see
	 * mt_free_wakes_block_on (a reported bug). */
	stress_main m = {.base = {&stress_main_vtable}, .g = g,
			 .nap_between_spawns =
				 test_flavors[_i].flavor == TD_FLAVOR_CURRENT_THREAD};
	m.order = random_order(g_seed, n);
	m.hs = calloc(n, sizeof(*m.hs));
	/* While spawning (spawns refused) or while running.  Under TSan,
	 * not while a multi-thread block_on future spawns: that races
	 * td_owned_close_and_shutdown (a reported bug, see
	 * spawn_races_free). */
	long after = (long)(mix(g_seed) % (n + 1));
	if (TSAN && test_flavors[_i].flavor == TD_FLAVOR_MULTI_THREAD)
		after = (long)n;
	struct killer k = {rt, g, after, (unsigned)(mix(g_seed + 1) % 30)};
	fprintf(stderr, "stress_shutdown_midway[%d] round %d: %zu tasks, free "
			"%u ms after %ld spawns, TD_STRESS_SEED=%" PRIu64 "\n",
		_i, round, n, k.delay_ms, k.after_spawned, base);
	ck_assert_int_eq(pthread_create(&kt, NULL, killer_main, &k), 0);
	struct watchdog wd;
	watchdog_start(&wd, g);
	int r = td_runtime_block_on(rt, &m.base, NULL);
	pthread_join(kt, NULL);
	watchdog_stop(&wd);
	if (r == -ESHUTDOWN) {
		/* Not finished: the block_on future is ours to drop (it
		 * lets go of the join handles). */
		td_future_drop(&m.base);
	} else {
		ck_assert_int_eq(r, 0);
	}
	stop_remotes(g, th);
	fprintf(stderr, "  block_on: %d; %ld completed, %ld dropped\n", r,
		atomic_load(&g->completed), atomic_load(&g->dropped));
	ck_assert_int_eq(atomic_load(&g->attempts),
			 atomic_load(&g->completed) + atomic_load(&g->dropped));
	/* Channels and oneshots are freed by their last handle: whatever a
	 * dropped task held went back (LSan reports what did not). */
	stress_free(g);
	free(m.order);
	free(m.hs);
}

START_TEST(stress_shutdown_midway)
{
	uint64_t base = g_base = pick_seed();
	for (int round = 0; round < 3; round++)
		run_midway(_i, base, round);
}
END_TEST

/* ---- 3. shutdown with thousands of tasks blocked on every kind of leaf --- */

enum block_kind {
	B_SLEEP,
	B_RECV,
	B_LOCK,
	B_NOTIFIED,
	B_ONESHOT,
	B_READ,
	B_JOIN,
	B_SELECT,
	B_REMOTE,
	NBLOCK
};

struct blocked_env {
	td_mpsc **chs;    /* one channel per B_RECV task (one receiver) */
	td_mutex mu;
	td_notify nt;
	td_oneshot **os;
	td_io *ios;       /* one reader per socket */
	int (*fds)[2];
	size_t nio;
	struct remote_q *rq;
	atomic_long polled, dropped, spawned;
};

typedef struct blocked {
	td_future base;
	td_async as;
	struct blocked_env *env;
	int kind;
	size_t slot;
	bool polled;
	union {
		td_sleep sleep;
		td_mpsc_recv recv;
		td_mutex_lock lock;
		td_notified ntf;
		td_oneshot_recv osr;
		td_io_read rd;
		td_join join;
		remote_fut remote;
	} u;
	td_sleep s2;
	td_notified n2;
	td_future *kids[2];
	td_select sel;
	td_join_handle h;
	uint64_t item;
	char buf[16];
} blocked;

static const td_future_vtable blocked_vtable;

static td_poll blocked_poll(td_future *f, td_context *cx)
{
	blocked *b = (blocked *)f;
	struct blocked_env *e = b->env;
	TD_BEGIN(&b->as);
	switch (b->kind) {
	case B_SLEEP:
		td_sleep_init(&b->u.sleep, 60000);
		break;
	case B_RECV:
		td_mpsc_recv_init(&b->u.recv, e->chs[b->slot], &b->item);
		break;
	case B_LOCK:
		td_mutex_lock_init(&b->u.lock, &e->mu);
		break;
	case B_NOTIFIED:
		td_notified_init(&b->u.ntf, &e->nt);
		break;
	case B_ONESHOT:
		/* The future owns the receiver side from now on. */
		td_oneshot_recv_init(&b->u.osr, e->os[b->slot]);
		break;
	case B_READ:
		td_io_read_init(&b->u.rd, &e->ios[b->slot % e->nio], b->buf,
				sizeof(b->buf));
		break;
	case B_JOIN: {
		/* A child that is itself blocked (it is counted too). */
		blocked kid = {.base = {&blocked_vtable}, .env = e,
			       .kind = B_SLEEP};
		atomic_fetch_add(&e->spawned, 1);
		REQUIRE(td_spawn(NULL, &kid, &b->h) == 0);
		td_join_init(&b->u.join, &b->h);
		break;
	}
	case B_SELECT:
		td_sleep_init(&b->s2, 60000);
		td_notified_init(&b->n2, &e->nt);
		b->kids[0] = &b->s2.base;
		b->kids[1] = &b->n2.base;
		td_select_init(&b->sel, b->kids, 2);
		break;
	default:
		b->u.remote = (remote_fut){{&remote_vtable}, e->rq, NULL};
		break;
	}
	if (!b->polled) {
		b->polled = true;
		atomic_fetch_add(&e->polled, 1);
	}
	if (b->kind == B_SELECT)
		TD_AWAIT(&b->as, &b->sel, cx);
	else
		TD_AWAIT(&b->as, &b->u, cx);
	REQUIRE(!"a blocked task completed");
	TD_END(&b->as);
}

static void blocked_drop(td_future *f)
{
	blocked *b = (blocked *)f;
	td_async_drop(&b->as);
	atomic_fetch_add(&b->env->dropped, 1);
}

static const td_future_vtable blocked_vtable = {
	.poll = blocked_poll, .drop = blocked_drop, .type_name = "blocked"};

/* Waits (by polling) until `want` tasks have been polled once. */
typedef struct until_polled {
	td_future base;
	td_async as;
	atomic_long *polled;
	long want;
	td_sleep nap;
} until_polled;

static td_poll until_polled_poll(td_future *f, td_context *cx)
{
	until_polled *u = (until_polled *)f;
	TD_BEGIN(&u->as);
	while (atomic_load(u->polled) < u->want) {
		td_sleep_init(&u->nap, 2);
		TD_AWAIT(&u->as, &u->nap, cx);
	}
	TD_END(&u->as);
}

static const td_future_vtable until_polled_vtable = {
	.poll = until_polled_poll};

START_TEST(shutdown_drops_blocked_tasks)
{
	const size_t n = TSAN ? 3000 : 9000, nio = 48;
	td_runtime *rt = test_rt_new(_i);
	struct remote_q rq = {0};
	pthread_mutex_init(&rq.lock, NULL);
	struct blocked_env e = {0};
	e.chs = calloc(n, sizeof(*e.chs));
	td_mutex_init(&e.mu);
	ck_assert(td_mutex_try_lock(&e.mu));
	td_notify_init(&e.nt);
	e.os = calloc(n, sizeof(*e.os));
	e.ios = calloc(nio, sizeof(*e.ios));
	e.fds = calloc(nio, sizeof(*e.fds));
	e.nio = nio;
	e.rq = &rq;
	for (size_t k = 0; k < nio; k++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, e.fds[k]),
				 0);
		ck_assert_int_eq(td_io_register(rt, &e.ios[k], e.fds[k][0]), 0);
	}
	/* No remote thread: remote waits stay blocked. */
	size_t readers = 0, kids = 0;
	for (size_t i = 0; i < n; i++) {
		int kind = (int)(i % NBLOCK);
		/* One reader per socket (a second would replace the first's
		 * wake-up; still dropped correctly, but keep it simple). */
		if (kind == B_READ && readers++ >= nio)
			kind = B_SLEEP;
		blocked b = {.base = {&blocked_vtable}, .env = &e,
			     .kind = kind, .slot = i};
		if (kind == B_ONESHOT) {
			e.os[i] = td_oneshot_new();
			ck_assert_ptr_nonnull(e.os[i]);
		}
		if (kind == B_RECV) {
			e.chs[i] = td_mpsc_bounded(sizeof(uint64_t), 4);
			ck_assert_ptr_nonnull(e.chs[i]);
		}
		if (kind == B_JOIN)
			kids++;
		if (kind == B_READ)
			b.slot = readers - 1;
		atomic_fetch_add(&e.spawned, 1);
		ck_assert_int_eq(td_spawn(rt, &b, NULL), 0);
	}
	until_polled u = {.base = {&until_polled_vtable}, .polled = &e.polled,
			  .want = (long)(n + kids) /* with the joined kids */};
	ck_assert_int_eq(td_runtime_block_on(rt, &u.base, NULL), 0);
	ck_assert_uint_ge(td_runtime_task_count(rt), n);
	ck_assert_int_eq(atomic_load(&e.dropped), 0);

	td_runtime_free(rt);
	/* Every future dropped exactly once: the blocked tasks and the
	 * children they were joining. */
	ck_assert_int_eq(atomic_load(&e.dropped), atomic_load(&e.spawned));
	/* And every registration went with them. */
	ck_assert_ptr_null(e.mu.waiters.head);
	ck_assert_ptr_null(e.nt.waiters.head);
	td_mutex_unlock(&e.mu);
	ck_assert(!td_mutex_is_locked(&e.mu));
	td_mutex_destroy(&e.mu);
	td_notify_destroy(&e.nt);
	for (size_t i = 0; i < n; i++) {
		if (e.chs[i]) {
			/* The recv futures only borrowed the receiver. */
			td_mpsc_receiver_release(e.chs[i]);
			td_mpsc_sender_release(e.chs[i]);
		}
		if (e.os[i]) {
			/* The dropped recv future released the receiver:
			 * a send now fails, and the channel goes with the
			 * sender's handle. */
			ck_assert(td_oneshot_is_closed(e.os[i]));
			td_oneshot_sender_release(e.os[i]);
		}
	}
	for (size_t k = 0; k < nio; k++) {
		/* A registration outlives the runtime (it holds a reference
		 * to it): deregistering after td_runtime_free is allowed, and
		 * needed to let the runtime's memory go. */
		td_io_close(&e.ios[k]);
		close(e.fds[k][1]);
	}
	for (size_t k = 0; k < rq.n; k++) {
		td_waker_drop(&rq.items[k]->waker);
		ticket_release(rq.items[k]);
	}
	free(rq.items);
	pthread_mutex_destroy(&rq.lock);
	free(e.os);
	free(e.chs);
	free(e.ios);
	free(e.fds);
}
END_TEST

/* ---- 4. shutdown while plain threads keep waking tasks ------------------ */

struct waker_farm {
	td_waker *wakers; /* clones collected from the tasks */
	size_t n;
	atomic_long have;
	atomic_int stop;
	atomic_long wakes;
};

typedef struct farmed {
	td_future base;
	struct waker_farm *farm;
	size_t slot;
	bool stored;
	atomic_long *drops;
	atomic_long *polls;
} farmed;

static td_poll farmed_poll(td_future *f, td_context *cx)
{
	farmed *t = (farmed *)f;
	atomic_fetch_add(t->polls, 1);
	if (!t->stored) {
		t->stored = true;
		t->farm->wakers[t->slot] = td_waker_clone(cx->waker);
		atomic_fetch_add(&t->farm->have, 1);
	}
	/* Sometimes wake itself (a busy task), mostly wait for the farm. */
	if (t->slot % 7 == 0)
		td_waker_wake_by_ref(cx->waker);
	return TD_PENDING;
}

static void farmed_drop(td_future *f)
{
	atomic_fetch_add(((farmed *)f)->drops, 1);
}

static const td_future_vtable farmed_vtable = {.poll = farmed_poll,
					       .drop = farmed_drop};

static void *farm_main(void *p)
{
	struct waker_farm *fm = p;
	uint32_t rng = (uint32_t)(uintptr_t)&rng | 1;
	while (!atomic_load(&fm->stop)) {
		size_t i = rnd(&rng) % fm->n;
		/* Clone, wake by value or by reference, drop: all of it
		 * before, during and after td_runtime_free. */
		td_waker w = td_waker_clone(&fm->wakers[i]);
		if (rnd(&rng) & 1) {
			td_waker_wake(&w);
		} else {
			td_waker_wake_by_ref(&w);
			td_waker_drop(&w);
		}
		atomic_fetch_add(&fm->wakes, 1);
	}
	return NULL;
}

START_TEST(shutdown_while_threads_wake)
{
	const size_t n = TSAN ? 1000 : 4000;
	td_runtime *rt = test_rt_new(_i);
	struct waker_farm fm = {0};
	atomic_long drops = 0, polls = 0;
	fm.wakers = calloc(n, sizeof(*fm.wakers));
	fm.n = n;
	for (size_t i = 0; i < n; i++) {
		farmed t = {.base = {&farmed_vtable}, .farm = &fm, .slot = i,
			    .drops = &drops, .polls = &polls};
		ck_assert_int_eq(td_spawn(rt, &t, NULL), 0);
	}
	/* Every task has stored its waker before the farm starts. */
	until_polled u = {.base = {&until_polled_vtable}, .polled = &fm.have,
			  .want = (long)n};
	ck_assert_int_eq(td_runtime_block_on(rt, &u.base, NULL), 0);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, farm_main, &fm);
	/* Let the farm hammer the running runtime for a moment. */
	until_polled u3 = {.base = {&until_polled_vtable}, .polled = &polls,
			   .want = atomic_load(&polls) + (long)n};
	ck_assert_int_eq(td_runtime_block_on(rt, &u3.base, NULL), 0);

	td_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&drops), (long)n);
	long after_free = atomic_load(&polls);
	/* Keep waking for a while after the runtime is gone. */
	long w0 = atomic_load(&fm.wakes);
	while (atomic_load(&fm.wakes) < w0 + 20000)
		sched_yield();
	atomic_store(&fm.stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	/* Nothing was polled after the shutdown, nothing dropped twice. */
	ck_assert_int_eq(atomic_load(&polls), after_free);
	ck_assert_int_eq(atomic_load(&drops), (long)n);
	/* The last references: the task allocations (and the runtime's
	 * memory) go now; LSan checks that they do. */
	for (size_t i = 0; i < n; i++)
		td_waker_drop(&fm.wakers[i]);
	free(fm.wakers);
}
END_TEST

/* ---- regressions: bugs these tests found, since fixed -------------------- */


/* A block_on future that yields while it waits for a task: td_yield
 * promises a turn to the tasks already runnable. */
static atomic_int starve_flag;

static td_poll setter_poll(td_future *f, td_context *cx)
{
	(void)f;
	(void)cx;
	atomic_store(&starve_flag, 1);
	return TD_READY;
}

static const td_future_vtable setter_vtable = {.poll = setter_poll};

typedef struct yielder_main {
	td_future base;
	td_async as;
	td_yield y;
	uint64_t t0;
	long yields;
} yielder_main;

static td_poll yielder_main_poll(td_future *f, td_context *cx)
{
	yielder_main *m = (yielder_main *)f;
	TD_BEGIN(&m->as);
	m->t0 = test_now_ms();
	{
		td_future setter = {&setter_vtable};
		REQUIRE(td_spawn(NULL, &setter, NULL) == 0);
	}
	while (!atomic_load(&starve_flag) && test_now_ms() - m->t0 < 2000) {
		m->yields++;
		td_yield_init(&m->y);
		TD_AWAIT(&m->as, &m->y, cx);
	}
	TD_END(&m->as);
}

static const td_future_vtable yielder_main_vtable = {
	.poll = yielder_main_poll};

/*
 * BUG (sched/current_thread.c, ct_block_on): on a current-thread runtime
 * a block_on future that wakes itself (td_yield, or any self-wake) starves
 * every task.  After polling it, the task loop runs only
 * `while (... && !mw->woken)`: the self-wake has already set `woken`, so
 * no task runs, the loop polls the main future again, and so on - a
 * block_on future that yields until a task has done something spins
 * forever (23 million yields in 2 s here, the task never polled).  The
 * multi-thread flavor runs the task on a worker and is fine.
 */
START_TEST(ct_yield_starves_tasks)
{
	td_runtime *rt = test_rt_new(_i);
	atomic_store(&starve_flag, 0);
	yielder_main m = {.base = {&yielder_main_vtable}};
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	if (!atomic_load(&starve_flag))
		fprintf(stderr, "task never ran during %ld yields of the "
				"block_on future\n",
			m.yields);
	ck_assert(atomic_load(&starve_flag));
	td_runtime_free(rt);
}
END_TEST

/* td_runtime_free from another thread while td_runtime_block_on waits on
 * a timer: block_on must return -ESHUTDOWN. */
typedef struct napper {
	td_future base;
	td_async as;
	td_sleep s;
	atomic_int *polled;
} napper;

static td_poll napper_poll(td_future *f, td_context *cx)
{
	napper *n = (napper *)f;
	TD_BEGIN(&n->as);
	td_sleep_init(&n->s, 60000);
	atomic_store(n->polled, 1);
	TD_AWAIT(&n->as, &n->s, cx);
	TD_END(&n->as);
}

static void napper_drop(td_future *f)
{
	td_async_drop(&((napper *)f)->as);
}

static const td_future_vtable napper_vtable = {.poll = napper_poll,
					       .drop = napper_drop};

struct block_on_arg {
	td_runtime *rt;
	napper *fut;
	atomic_int done;
	int result;
};

static void *block_on_main(void *p)
{
	struct block_on_arg *a = p;
	a->result = td_runtime_block_on(a->rt, &a->fut->base, NULL);
	atomic_store(&a->done, 1);
	return NULL;
}

/*
 * BUG (sched/multi_thread.c mt_stop_threads / runtime.c td_runtime_free):
 * on a multi-thread runtime td_runtime_free does not wake, nor wait for,
 * threads inside td_runtime_block_on.  Such a thread parks on its main
 * waker's own parker (mt_block_on: td_parker_park(&mw->own, NULL)), which
 * only its future's wake-ups unpark; if the future waits on a timer or I/O
 * (whose drivers td_runtime_free destroys) nothing ever wakes it, and
 * block_on never returns -ESHUTDOWN.  And a block_on poll still running
 * while td_runtime_free destroys the drivers uses them after destruction
 * (the I/O slot table is freed).  The current-thread flavor does it right:
 * ct_stop_threads unparks the driving thread until it has left.
 */
static void free_under_block_on(int flavor_index)
{
	td_runtime *rt = test_rt_new(flavor_index);
	atomic_int polled = 0;
	napper *fut = calloc(1, sizeof(*fut));
	fut->base.vtable = &napper_vtable;
	fut->polled = &polled;
	struct block_on_arg a = {.rt = rt, .fut = fut};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, block_on_main, &a), 0);
	while (!atomic_load(&polled))
		sched_yield();
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL); /* parked by now */
	td_runtime_free(rt);
	uint64_t t0 = test_now_ms();
	while (!atomic_load(&a.done) && test_now_ms() - t0 < 3000)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	if (!atomic_load(&a.done)) {
		fprintf(stderr, "block_on still parked 3 s after "
				"td_runtime_free\n");
		ck_abort_msg("td_runtime_free left a block_on thread parked");
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(a.result, -ESHUTDOWN);
	/* The future is the caller's to drop, after td_runtime_free: its
	 * timer is still registered and holds a runtime reference, so the
	 * driver it points at is still there (dropping it used to lock a
	 * destroyed mutex); the drop unregisters it and frees the rest. */
	ck_assert_ptr_nonnull(fut->s.entry.driver);
	td_future_drop(&fut->base);
	ck_assert_ptr_null(fut->s.entry.driver);
	free(fut);
}

START_TEST(mt_free_wakes_block_on)
{
	free_under_block_on(_i);
}
END_TEST

/*
 * BUG (sched/current_thread.c, ct_block_on/leave_driving, ~line 128 and
 * 207): the block_on thread releases its main waker - and with it its
 * reference to the runtime - and then calls leave_driving(), which stores
 * driving = false and only then calls td_dump_gate_poke(&rt->gate).  A
 * td_runtime_free on another thread waits in ct_stop_threads for exactly
 * that store, then finishes and drops the last reference: release_memory
 * destroys the gate's mutex and condition variable, frees rt->ct and rt
 * - while the block_on thread is still inside td_dump_gate_poke (lock,
 * broadcast, unlock on freed memory).  TSan: "data race" between
 * pthread_mutex_lock in td_dump_gate_poke and pthread_mutex_destroy in
 * td_dump_gate_destroy; ASan can see the heap-use-after-free.  Fix: keep
 * a runtime reference until after leave_driving (release the main waker
 * last), or make the store of `driving` the last access to the runtime.
 * Only the sanitizers detect it.
 */
START_TEST(ct_free_races_leave_driving)
{
	for (int round = 0; round < 20; round++)
		free_under_block_on(0);
}
END_TEST

/*
 * BUG (sched/owned.c, td_owned_bind line ~38 vs td_owned_close_and_shutdown
 * line ~94): `closed` is one plain bool written under each shard's lock in
 * turn and read under a single shard's lock, so the write under shard 0's
 * lock races a read under shard 5's (a C11 data race: TSan reports it;
 * the outcome happens to be benign, since a bind that still sees false is
 * shut down with its shard).  It takes a spawn concurrent with
 * td_runtime_free, which a multi-thread block_on future can do (its
 * thread keeps polling while another thread frees the runtime).  Fix:
 * make it an atomic, or a flag per shard.  Only TSan detects it.
 */
typedef struct spawner_main {
	td_future base;
	atomic_long *spawned;
} spawner_main;

static td_poll spawner_main_poll(td_future *f, td_context *cx)
{
	spawner_main *m = (spawner_main *)f;
	for (int k = 0; k < 64; k++) {
		td_future quick = {&setter_vtable};
		if (td_spawn(NULL, &quick, NULL) != 0)
			return TD_READY; /* refused: shutting down */
		atomic_fetch_add(m->spawned, 1);
	}
	td_waker_wake_by_ref(cx->waker); /* poll again at once */
	return TD_PENDING;
}

static const td_future_vtable spawner_main_vtable = {
	.poll = spawner_main_poll};

struct spawner_arg {
	td_runtime *rt;
	spawner_main *m;
	int result;
};

static void *spawner_thread(void *p)
{
	struct spawner_arg *a = p;
	a->result = td_runtime_block_on(a->rt, &a->m->base, NULL);
	return NULL;
}

START_TEST(spawn_races_free)
{
	for (int round = 0; round < 10; round++) {
		td_runtime *rt = test_rt_new(2);
		atomic_long spawned = 0;
		spawner_main m = {{&spawner_main_vtable}, &spawned};
		struct spawner_arg a = {rt, &m, 0};
		pthread_t th;
		td_runtime_ref(rt); /* see ct_free_races_leave_driving */
		ck_assert_int_eq(pthread_create(&th, NULL, spawner_thread, &a),
				 0);
		while (atomic_load(&spawned) < 1000)
			sched_yield();
		td_runtime_free(rt);
		pthread_join(th, NULL);
		td_runtime_unref(rt);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stress");
	/* Separate cases, so that CK_RUN_CASE can pick one. */
	TCase *tc = tcase_create("checksum");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, stress_checksum, 0, TEST_NFLAVORS);
	suite_add_tcase(s, tc);
	TCase *mid = tcase_create("midway");
	tcase_set_timeout(mid, 120);
	tcase_add_loop_test(mid, stress_shutdown_midway, 0, TEST_NFLAVORS);
	suite_add_tcase(s, mid);
	TCase *sd = tcase_create("shutdown");
	tcase_set_timeout(sd, 120);
	tcase_add_loop_test(sd, shutdown_drops_blocked_tasks, 0, TEST_NFLAVORS);
	tcase_add_loop_test(sd, shutdown_while_threads_wake, 0, TEST_NFLAVORS);
	suite_add_tcase(s, sd);
	TCase *kb = tcase_create("regressions");
	tcase_set_timeout(kb, 60);
	tcase_add_loop_test(kb, ct_yield_starves_tasks, 0, TEST_NFLAVORS);
	tcase_add_loop_test(kb, mt_free_wakes_block_on, 1, TEST_NFLAVORS);
	tcase_add_test(kb, ct_free_races_leave_driving);
	tcase_add_test(kb, spawn_races_free);
	suite_add_tcase(s, kb);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
