/* oneshot.c - the one-value channel (taskdump/oneshot.h).
 *
 * Lock-free: one atomic state word decides who owns what.
 *
 *   VALUE     the sender stored `value` (set once, by a CAS that fails if
 *             RX_CLOSED is already set, so a refused value is never seen)
 *   TX_GONE   the sender was released without sending
 *   RX_CLOSED the receiver refuses the value (close or release)
 *   RX_WAKER  rx_waker holds the receiver's waker
 *   TAKEN     the receiver took the value
 *
 * Ownership of the fields:
 * - `value`: the sender writes it before its release-CAS sets VALUE; the
 *   receiver reads (and clears) it only after an acquire load saw VALUE.
 * - `rx_waker`: only the receiver writes it, and only while RX_WAKER is
 *   clear (it clears the bit with a CAS that fails once VALUE or TX_GONE
 *   is set).  The sender reads it (wake_by_ref) only when the RMW that set
 *   VALUE or TX_GONE returned RX_WAKER set: from that point the receiver
 *   can no longer clear the bit, so the slot is stable.  Whatever waker is
 *   left is dropped when the channel is freed.
 * - The object is freed by whoever drops the last of the two references
 *   (acq_rel decrement: every access by the other side happens before).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "taskdump/oneshot.h"
#include "trace/leaf.h"

enum {
	ST_VALUE = 1u << 0,
	ST_TX_GONE = 1u << 1,
	ST_RX_CLOSED = 1u << 2,
	ST_RX_WAKER = 1u << 3,
	ST_TAKEN = 1u << 4,
};

/* The receiver waits for one of these. */
#define ST_COMPLETE (ST_VALUE | ST_TX_GONE)

struct td_oneshot {
	uint32_t state;               /* atomic; bits above */
	uint32_t refs;                /* atomic; one per live handle */
	void *value;
	void (*drop_value)(void *value);
	td_waker rx_waker;
};

/* A benchmark parks 100 000 tasks on oneshots: keep the object within
 * malloc's 48-byte chunk. */
_Static_assert(sizeof(struct td_oneshot) <= 40, "td_oneshot grew");

static inline uint32_t load_state(const td_oneshot *ch)
{
	return __atomic_load_n(&ch->state, __ATOMIC_ACQUIRE);
}

static inline uint32_t set_bits(td_oneshot *ch, uint32_t bits)
{
	return __atomic_fetch_or(&ch->state, bits, __ATOMIC_ACQ_REL);
}

static void unref(td_oneshot *ch)
{
	if (__atomic_fetch_sub(&ch->refs, 1, __ATOMIC_ACQ_REL) != 1)
		return;
	uint32_t s = load_state(ch);
	if ((s & ST_VALUE) && !(s & ST_TAKEN) && ch->drop_value)
		ch->drop_value(ch->value);
	td_waker_drop(&ch->rx_waker);
	free(ch);
}

td_oneshot *td_oneshot_new_with_drop(void (*drop_value)(void *value))
{
	td_oneshot *ch = malloc(sizeof(*ch));

	if (!ch)
		return NULL;
	ch->state = 0;
	ch->refs = 2; /* the sender and the receiver */
	ch->value = NULL;
	ch->drop_value = drop_value;
	ch->rx_waker = (td_waker){NULL, NULL};
	return ch;
}

td_oneshot *td_oneshot_new(void)
{
	return td_oneshot_new_with_drop(NULL);
}

/* ---- sender ----------------------------------------------------------- */

int td_oneshot_send(td_oneshot *ch, void *value)
{
	uint32_t s = __atomic_load_n(&ch->state, __ATOMIC_RELAXED);
	int rc = 0;

	ch->value = value; /* invisible to the receiver until VALUE is set */
	do {
		if (s & ST_RX_CLOSED) {
			rc = -EPIPE;
			break;
		}
	} while (!__atomic_compare_exchange_n(&ch->state, &s, s | ST_VALUE,
					      true, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	if (rc == 0 && (s & ST_RX_WAKER))
		td_waker_wake_by_ref(&ch->rx_waker);
	unref(ch);
	return rc;
}

void td_oneshot_sender_release(td_oneshot *ch)
{
	uint32_t s = set_bits(ch, ST_TX_GONE);

	if ((s & ST_RX_WAKER) && !(s & ST_RX_CLOSED))
		td_waker_wake_by_ref(&ch->rx_waker);
	unref(ch);
}

bool td_oneshot_is_closed(const td_oneshot *ch)
{
	return __atomic_load_n(&ch->state, __ATOMIC_RELAXED) & ST_RX_CLOSED;
}

/* ---- receiver --------------------------------------------------------- */

void td_oneshot_close(td_oneshot *ch)
{
	set_bits(ch, ST_RX_CLOSED);
}

void td_oneshot_receiver_release(td_oneshot *ch)
{
	set_bits(ch, ST_RX_CLOSED);
	unref(ch);
}

int td_oneshot_try_recv(td_oneshot *ch, void **value)
{
	uint32_t s = load_state(ch);

	if (s & ST_TAKEN)
		return -EPIPE;
	if (s & ST_VALUE) {
		*value = ch->value;
		ch->value = NULL;
		/* Only the receiver and the final free read TAKEN. */
		__atomic_fetch_or(&ch->state, ST_TAKEN, __ATOMIC_RELAXED);
		return 0;
	}
	if (s & (ST_TX_GONE | ST_RX_CLOSED))
		return -EPIPE;
	return -EAGAIN;
}

/* Make rx_waker wake `w`; returns the latest state seen.  If that state
 * has a COMPLETE bit the sender may not have seen our waker: the caller
 * must complete now instead of waiting. */
static uint32_t register_waker(td_oneshot *ch, uint32_t s, const td_waker *w)
{
	if (s & ST_RX_WAKER) {
		if (td_waker_will_wake(&ch->rx_waker, w))
			return s;
		/* Take the slot back, unless the sender got there first. */
		do {
			if (s & ST_COMPLETE)
				return s;
		} while (!__atomic_compare_exchange_n(
			&ch->state, &s, s & ~(uint32_t)ST_RX_WAKER, true,
			__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
		td_waker_drop(&ch->rx_waker);
	}
	ch->rx_waker = td_waker_clone(w);
	return set_bits(ch, ST_RX_WAKER) | ST_RX_WAKER;
}

static td_poll td_oneshot_recv_poll(td_future *fut, td_context *cx)
{
	td_oneshot_recv *f = (td_oneshot_recv *)fut;
	td_oneshot *ch = f->ch;

	TD_LEAF_HOOK(cx, .kind = TD_WAIT_ONESHOT, .object = ch,
		     .flags = ch && (load_state(ch) & ST_COMPLETE) == ST_TX_GONE
				      ? TD_WAIT_NO_SENDER
				      : 0);

	if (!ch)
		return TD_READY; /* completed before */
	uint32_t s = load_state(ch);
	if (!(s & (ST_COMPLETE | ST_RX_CLOSED))) {
		s = register_waker(ch, s, cx->waker);
		if (!(s & ST_COMPLETE))
			return TD_PENDING;
	}
	if (!td_coop_proceed(cx))
		return TD_PENDING;
	f->error = td_oneshot_try_recv(ch, &f->value);
	if (f->error)
		f->value = NULL;
	f->ch = NULL;
	td_oneshot_receiver_release(ch);
	return TD_READY;
}

static void recv_drop(td_future *fut)
{
	td_oneshot_recv *f = (td_oneshot_recv *)fut;

	if (f->ch) {
		td_oneshot_receiver_release(f->ch);
		f->ch = NULL;
	}
}

static const td_future_vtable recv_vtable = {
	.poll = td_oneshot_recv_poll,
	.drop = recv_drop,
	.type_name = "td_oneshot_recv",
};

void td_oneshot_recv_init(td_oneshot_recv *f, td_oneshot *ch)
{
	f->base.vtable = &recv_vtable;
	f->ch = ch;
	f->value = NULL;
	f->error = 0;
}
