/* mpsc.c - multi-producer single-consumer channels (taskdump/mpsc.h).
 *
 * One lock protects everything in the channel: a futex lock (sync/flock.h)
 * rather than a pthread mutex, since a message takes it twice and the
 * uncontended pthread pair costs a third of a round trip.  Elements live in
 * a ring buffer (`ring`, `ring_cap` slots, `len` of them queued starting at
 * `head`), grown by doubling: unbounded channels without limit, bounded
 * ones up to `limit`, so steady-state sends and receives never allocate.
 *
 * Invariants, under ch->lock:
 * - Capacity is shared by queued elements and reserved slots:
 *   len + reserved <= limit.  Senders wait (send_waiters non-empty) only
 *   while that sum is at the limit.  A receive that frees a slot reserves
 *   it for the oldest waiting sender (GRANTED) and wakes it; that sender
 *   copies its value in when polled.  Reserving, rather than having the
 *   receiver copy the value in, is what makes a dropped send future
 *   guarantee "not sent" (as Tokio's does); dropping a GRANTED send passes
 *   the reservation on to the next waiter.
 * - A waiting send future is WAITING and on send_waiters.  Whoever changes
 *   that (a receive: GRANTED; close: FINISHED with -EPIPE) unlinks it,
 *   moves its waker out and stores the new state with release order as
 *   the last access: from then on only the owner touches the future.
 * - rx_waker holds the receiver's waker while a recv is pending; whoever
 *   makes receiving possible (a send, the last sender leaving) takes it
 *   out and wakes it after unlocking - one wake per registration.
 * - The channel is freed by whoever releases the last handle
 *   (senders == 0 && !rx_alive), after unlocking: nobody else can reach it.
 *
 * `len`, `tx_gone` and `rx_closed` are also read without the lock (fast
 * path peeks, td_mpsc_len & co, leaf hooks), hence relaxed __atomic
 * accesses for them; under the lock the plain reads are race-free since
 * every write happens under the lock too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "taskdump/mpsc.h"
#include "sync/flock.h"
#include "sync/waitlist.h"
#include "trace/leaf.h"

#define INITIAL_RING 16

struct td_mpsc {
	sync_flock lock;        /* sync/flock.h: the hot path's lock */
	unsigned char *ring;
	size_t ring_cap;        /* slots allocated */
	size_t head;            /* slot of the oldest element */
	size_t len;             /* queued elements */
	size_t reserved;        /* slots reserved for GRANTED senders */
	size_t limit;           /* capacity; SIZE_MAX when unbounded */
	size_t elem_size;
	size_t senders;         /* live sender handles */
	bool tx_gone;           /* senders reached 0 (never undone) */
	bool rx_alive;          /* receiver handle not yet released */
	bool rx_closed;         /* sends fail (close or receiver release) */
	td_waker rx_waker;      /* the pending recv's waker */
	td_sync_list send_waiters; /* td_mpsc_send futures, oldest first */
};

enum {
	SD_INIT = 0,  /* not polled for real yet */
	SD_WAITING,   /* on send_waiters */
	SD_GRANTED,   /* a slot is reserved for us: copy the value in */
	SD_FINISHED,  /* failed by close (error -EPIPE), not yet polled */
	SD_DONE,      /* READY returned, or dropped */
};

enum {
	RV_INIT = 0,
	RV_WAITING,   /* rx_waker registered */
	RV_DONE,
};

static inline size_t peek_len(const td_mpsc *ch)
{
	return __atomic_load_n(&ch->len, __ATOMIC_RELAXED);
}

static inline void set_len(td_mpsc *ch, size_t len)
{
	__atomic_store_n(&ch->len, len, __ATOMIC_RELAXED);
}

static inline bool peek_rx_closed(const td_mpsc *ch)
{
	return __atomic_load_n(&ch->rx_closed, __ATOMIC_RELAXED);
}

static inline bool peek_tx_gone(const td_mpsc *ch)
{
	return __atomic_load_n(&ch->tx_gone, __ATOMIC_RELAXED);
}

static inline int load_send_state(const td_mpsc_send *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
}

static inline void store_send_state(td_mpsc_send *f, int st)
{
	__atomic_store_n(&f->state, st, __ATOMIC_RELEASE);
}

/* ---- creation and handles --------------------------------------------- */

static td_mpsc *channel_new(size_t elem_size, size_t limit)
{
	size_t slots = limit < INITIAL_RING ? limit : INITIAL_RING;
	td_mpsc *ch;

	if (elem_size == 0 || limit == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (elem_size > SIZE_MAX / INITIAL_RING) {
		errno = ENOMEM;
		return NULL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->ring = malloc(slots * elem_size);
	if (!ch->ring) {
		free(ch);
		return NULL;
	}
	ch->ring_cap = slots;
	ch->limit = limit;
	ch->elem_size = elem_size;
	ch->senders = 1;
	ch->rx_alive = true;
	return ch;
}

td_mpsc *td_mpsc_bounded(size_t elem_size, size_t capacity)
{
	return channel_new(elem_size, capacity);
}

td_mpsc *td_mpsc_unbounded(size_t elem_size)
{
	return channel_new(elem_size, SIZE_MAX);
}

static void channel_free(td_mpsc *ch)
{
	td_waker_drop(&ch->rx_waker);
	free(ch->ring);
	free(ch);
}

td_mpsc *td_mpsc_sender_clone(td_mpsc *ch)
{
	sync_flock_lock(&ch->lock);
	ch->senders++;
	sync_flock_unlock(&ch->lock);
	return ch;
}

void td_mpsc_sender_release(td_mpsc *ch)
{
	td_waker rx = {NULL, NULL};
	bool last;

	sync_flock_lock(&ch->lock);
	if (--ch->senders == 0) {
		__atomic_store_n(&ch->tx_gone, true, __ATOMIC_RELAXED);
		rx = sync_waker_take(&ch->rx_waker); /* it will see "closed" */
	}
	last = ch->senders == 0 && !ch->rx_alive;
	sync_flock_unlock(&ch->lock);
	td_waker_wake(&rx);
	if (last)
		channel_free(ch);
}

/* ---- the ring --------------------------------------------------------- */

/* memcpy with the common pointer-sized element inlined. */
static inline void copy_elem(void *dst, const void *src, size_t size)
{
	if (size == sizeof(uint64_t))
		memcpy(dst, src, sizeof(uint64_t));
	else
		memcpy(dst, src, size);
}

/* Under the lock: double the ring (up to the limit), keeping order. */
static int grow_locked(td_mpsc *ch)
{
	size_t ncap = ch->ring_cap > ch->limit / 2 ? ch->limit : ch->ring_cap * 2;
	size_t es = ch->elem_size;
	unsigned char *nr;

	if (ncap > SIZE_MAX / es)
		return -ENOMEM;
	nr = malloc(ncap * es);
	if (!nr)
		return -ENOMEM;
	size_t first = ch->ring_cap - ch->head; /* elements before the wrap */
	if (first > ch->len)
		first = ch->len;
	memcpy(nr, ch->ring + ch->head * es, first * es);
	memcpy(nr + first * es, ch->ring, (ch->len - first) * es);
	free(ch->ring);
	ch->ring = nr;
	ch->ring_cap = ncap;
	ch->head = 0;
	return 0;
}

/* Under the lock, with len < limit: append a copy of *value. */
static int push_locked(td_mpsc *ch, const void *value)
{
	if (ch->len == ch->ring_cap) {
		int rc = grow_locked(ch);
		if (rc)
			return rc;
	}
	size_t tail = ch->head + ch->len;
	if (tail >= ch->ring_cap)
		tail -= ch->ring_cap;
	copy_elem(ch->ring + tail * ch->elem_size, value, ch->elem_size);
	set_len(ch, ch->len + 1);
	return 0;
}

/* Under the lock: unlink waiter w and move it to state `st` (GRANTED or
 * FINISHED with `error`).  Returns its waker, to wake after unlocking. */
static td_waker finish_sender(td_mpsc *ch, td_mpsc_send *w, int st,
			      int error)
{
	td_waker wk = sync_waker_take(&w->waker);

	sync_list_remove(&ch->send_waiters, &w->link);
	w->error = error;
	store_send_state(w, st); /* last access: the owner may free w */
	return wk;
}

/* Under the lock: if a slot is free, reserve it for the oldest waiting
 * sender.  Returns that sender's waker. */
static td_waker admit_sender_locked(td_mpsc *ch)
{
	td_sync_link *l = ch->send_waiters.head;

	if (!l || ch->len + ch->reserved >= ch->limit)
		return (td_waker){NULL, NULL};
	ch->reserved++;
	return finish_sender(ch, sync_container_of(l, td_mpsc_send, link),
			     SD_GRANTED, 0);
}

/* Under the lock, with len > 0: move the oldest element to *out and give
 * the freed slot to the oldest waiting sender, if any (its waker is
 * returned). */
static td_waker pop_locked(td_mpsc *ch, void *out)
{
	copy_elem(out, ch->ring + ch->head * ch->elem_size, ch->elem_size);
	if (++ch->head == ch->ring_cap)
		ch->head = 0;
	set_len(ch, ch->len - 1);
	return admit_sender_locked(ch);
}

/* ---- sending ---------------------------------------------------------- */

/* Under the lock: try to send at once.  Returns 0, -EPIPE, -ENOMEM, or
 * -EAGAIN (must wait); on 0 *rx holds the receiver's waker to wake. */
static int send_now_locked(td_mpsc *ch, const void *value, td_waker *rx)
{
	int rc;

	if (ch->rx_closed)
		return -EPIPE;
	if (ch->len + ch->reserved >= ch->limit ||
	    !sync_list_empty(&ch->send_waiters))
		return -EAGAIN;
	rc = push_locked(ch, value);
	if (rc == 0)
		*rx = sync_waker_take(&ch->rx_waker);
	return rc;
}

static td_poll send_finished(td_mpsc_send *f, td_context *cx)
{
	if (!td_coop_proceed(cx))
		return TD_PENDING; /* stays FINISHED; the task was re-woken */
	store_send_state(f, SD_DONE);
	return TD_READY;
}

/* A slot was reserved for us: fill it, budget permitting. */
static td_poll send_granted(td_mpsc_send *f, td_context *cx)
{
	td_mpsc *ch = f->ch;
	td_waker rx = {NULL, NULL}, next = {NULL, NULL};
	int rc;

	if (!td_coop_proceed(cx))
		return TD_PENDING; /* keeps the reservation */
	sync_flock_lock(&ch->lock);
	ch->reserved--;
	if (ch->rx_closed) {
		rc = -EPIPE;
	} else {
		rc = push_locked(ch, f->value);
		if (rc == 0)
			rx = sync_waker_take(&ch->rx_waker);
		else
			next = admit_sender_locked(ch); /* -ENOMEM */
	}
	f->error = rc;
	store_send_state(f, SD_DONE);
	sync_flock_unlock(&ch->lock);
	td_waker_wake(&rx);
	td_waker_wake(&next);
	return TD_READY;
}

static td_poll send_first_poll(td_mpsc_send *f, td_context *cx)
{
	td_mpsc *ch = f->ch;
	td_waker rx = {NULL, NULL};
	int rc;

	/* Likely to complete at once: the budget must agree first. */
	if ((peek_rx_closed(ch) || peek_len(ch) < ch->limit) &&
	    !td_coop_proceed(cx))
		return TD_PENDING;

	sync_flock_lock(&ch->lock);
	rc = send_now_locked(ch, f->value, &rx);
	if (rc == -EAGAIN) {
		f->waker = td_waker_clone(cx->waker);
		sync_list_push_back(&ch->send_waiters, &f->link);
		store_send_state(f, SD_WAITING);
		sync_flock_unlock(&ch->lock);
		return TD_PENDING;
	}
	f->error = rc;
	store_send_state(f, SD_DONE);
	sync_flock_unlock(&ch->lock);
	td_waker_wake(&rx);
	return TD_READY;
}

static td_poll send_wait_poll(td_mpsc_send *f, td_context *cx)
{
	td_mpsc *ch = f->ch;
	td_waker old = {NULL, NULL};

	sync_flock_lock(&ch->lock);
	int st = load_send_state(f);
	if (st == SD_WAITING) {
		sync_waker_update(&f->waker, cx->waker, &old);
		sync_flock_unlock(&ch->lock);
		td_waker_drop(&old);
		return TD_PENDING;
	}
	sync_flock_unlock(&ch->lock);
	if (st == SD_GRANTED)
		return send_granted(f, cx);
	return send_finished(f, cx);
}

static td_poll td_mpsc_send_poll(td_future *fut, td_context *cx)
{
	td_mpsc_send *f = (td_mpsc_send *)fut;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_CHAN_SEND, .object = f->ch,
		     .count = peek_len(f->ch),
		     .value = f->ch->limit == SIZE_MAX ? 0 : f->ch->limit);

	switch (load_send_state(f)) {
	case SD_INIT:
		return send_first_poll(f, cx);
	case SD_WAITING:
		return send_wait_poll(f, cx);
	case SD_GRANTED:
		return send_granted(f, cx);
	case SD_FINISHED:
		return send_finished(f, cx);
	default:
		return TD_READY;
	}
}

static void send_drop(td_future *fut)
{
	td_mpsc_send *f = (td_mpsc_send *)fut;
	td_mpsc *ch = f->ch;
	td_waker mine = {NULL, NULL}, next = {NULL, NULL};
	int st = load_send_state(f);

	if (st != SD_WAITING && st != SD_GRANTED)
		return; /* nothing registered, or finished */
	sync_flock_lock(&ch->lock);
	st = load_send_state(f); /* a receive or close may have raced */
	if (st == SD_WAITING) {
		sync_list_remove(&ch->send_waiters, &f->link);
		mine = sync_waker_take(&f->waker);
	} else if (st == SD_GRANTED) {
		/* Not sent: pass the reserved slot on. */
		ch->reserved--;
		next = admit_sender_locked(ch);
	}
	store_send_state(f, SD_DONE);
	sync_flock_unlock(&ch->lock);
	td_waker_drop(&mine);
	td_waker_wake(&next);
}

static const td_future_vtable send_vtable = {
	.poll = td_mpsc_send_poll,
	.drop = send_drop,
	.type_name = "td_mpsc_send",
};

void td_mpsc_send_init(td_mpsc_send *f, td_mpsc *ch, const void *value)
{
	memset(f, 0, sizeof(*f));
	f->base.vtable = &send_vtable;
	f->ch = ch;
	f->value = value;
	f->state = SD_INIT;
}

int td_mpsc_try_send(td_mpsc *ch, const void *value)
{
	td_waker rx = {NULL, NULL};
	int rc;

	sync_flock_lock(&ch->lock);
	rc = send_now_locked(ch, value, &rx);
	sync_flock_unlock(&ch->lock);
	td_waker_wake(&rx);
	return rc;
}

/* ---- receiving -------------------------------------------------------- */

/* Under the lock: receive at once.  Returns 0 (*sender holds a waiting
 * sender's waker to wake), -EPIPE or -EAGAIN. */
static int recv_now_locked(td_mpsc *ch, void *out, td_waker *sender)
{
	if (ch->len > 0) {
		*sender = pop_locked(ch, out);
		return 0;
	}
	if (ch->senders == 0 || ch->rx_closed)
		return -EPIPE;
	return -EAGAIN;
}

static td_poll td_mpsc_recv_poll(td_future *fut, td_context *cx)
{
	td_mpsc_recv *f = (td_mpsc_recv *)fut;
	td_mpsc *ch = f->ch;
	td_waker sender = {NULL, NULL}, old = {NULL, NULL};
	int rc;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_CHAN_RECV, .object = ch,
		     .count = peek_len(ch),
		     .flags = peek_tx_gone(ch) && peek_len(ch) == 0
				      ? TD_WAIT_NO_SENDER
				      : 0);

	if (f->state == RV_DONE)
		return TD_READY;
	/* Likely to complete at once: the budget must agree first. */
	if ((peek_len(ch) > 0 || peek_tx_gone(ch) ||
	     peek_rx_closed(ch)) &&
	    !td_coop_proceed(cx))
		return TD_PENDING;

	sync_flock_lock(&ch->lock);
	rc = recv_now_locked(ch, f->out, &sender);
	if (rc == -EAGAIN) {
		sync_waker_update(&ch->rx_waker, cx->waker, &old);
		f->state = RV_WAITING;
		sync_flock_unlock(&ch->lock);
		td_waker_drop(&old);
		return TD_PENDING;
	}
	/* Done: our waker, if still registered, is of no use any more. */
	old = sync_waker_take(&ch->rx_waker);
	f->error = rc;
	f->state = RV_DONE;
	sync_flock_unlock(&ch->lock);
	td_waker_drop(&old);
	td_waker_wake(&sender);
	return TD_READY;
}

static void recv_drop(td_future *fut)
{
	td_mpsc_recv *f = (td_mpsc_recv *)fut;
	td_mpsc *ch = f->ch;
	td_waker old = {NULL, NULL};

	if (f->state != RV_WAITING)
		return;
	sync_flock_lock(&ch->lock);
	old = sync_waker_take(&ch->rx_waker);
	sync_flock_unlock(&ch->lock);
	td_waker_drop(&old);
	f->state = RV_DONE;
}

static const td_future_vtable recv_vtable = {
	.poll = td_mpsc_recv_poll,
	.drop = recv_drop,
	.type_name = "td_mpsc_recv",
};

void td_mpsc_recv_init(td_mpsc_recv *f, td_mpsc *ch, void *out)
{
	memset(f, 0, sizeof(*f));
	f->base.vtable = &recv_vtable;
	f->ch = ch;
	f->out = out;
	f->state = RV_INIT;
}

int td_mpsc_try_recv(td_mpsc *ch, void *out)
{
	td_waker sender = {NULL, NULL};
	int rc;

	sync_flock_lock(&ch->lock);
	rc = recv_now_locked(ch, out, &sender);
	sync_flock_unlock(&ch->lock);
	td_waker_wake(&sender);
	return rc;
}

/* ---- closing ---------------------------------------------------------- */

void td_mpsc_close(td_mpsc *ch)
{
	struct sync_wake_batch b;
	td_sync_link *l;

	sync_wake_init(&b);
	sync_flock_lock(&ch->lock);
	__atomic_store_n(&ch->rx_closed, true, __ATOMIC_RELAXED);
	/* No new waiters can join now (sends see rx_closed), so dropping
	 * the lock to wake a full batch is safe. */
	while ((l = ch->send_waiters.head) != NULL) {
		td_waker wk = finish_sender(
			ch, sync_container_of(l, td_mpsc_send, link),
			SD_FINISHED, -EPIPE);
		sync_wake_add(&b, &wk);
		if (sync_wake_full(&b)) {
			sync_flock_unlock(&ch->lock);
			sync_wake_all(&b);
			sync_flock_lock(&ch->lock);
		}
	}
	sync_flock_unlock(&ch->lock);
	sync_wake_all(&b);
}

void td_mpsc_receiver_release(td_mpsc *ch)
{
	td_waker old;
	bool last;

	td_mpsc_close(ch);
	sync_flock_lock(&ch->lock);
	ch->head = 0;
	set_len(ch, 0); /* queued elements are discarded */
	ch->rx_alive = false;
	old = sync_waker_take(&ch->rx_waker);
	last = ch->senders == 0;
	sync_flock_unlock(&ch->lock);
	td_waker_drop(&old);
	if (last)
		channel_free(ch);
}

/* ---- accessors -------------------------------------------------------- */

size_t td_mpsc_len(const td_mpsc *ch)
{
	return peek_len(ch);
}

size_t td_mpsc_capacity(const td_mpsc *ch)
{
	return ch->limit == SIZE_MAX ? 0 : ch->limit;
}

size_t td_mpsc_elem_size(const td_mpsc *ch)
{
	return ch->elem_size;
}

size_t td_mpsc_sender_count(td_mpsc *ch)
{
	size_t n;

	sync_flock_lock(&ch->lock);
	n = ch->senders;
	sync_flock_unlock(&ch->lock);
	return n;
}

bool td_mpsc_is_closed(const td_mpsc *ch)
{
	return peek_rx_closed(ch);
}
