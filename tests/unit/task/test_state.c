/* test_state.c - the task state word (task/state.h): every transition from
 * every relevant state, the reference arithmetic, and the races the word
 * arbitrates (wakes vs. polls, tracing vs. polls and shutdown, the join
 * waker vs. completion), with real threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "task/state.h"
#include "test_util.h"

#define R TD_ST_REF_ONE
#define RUNNING TD_ST_RUNNING
#define COMPLETE TD_ST_COMPLETE
#define NOTIFIED TD_ST_NOTIFIED
#define CANCELLED TD_ST_CANCELLED
#define JOIN_INTEREST TD_ST_JOIN_INTEREST
#define JOIN_WAKER TD_ST_JOIN_WAKER
#define TRACING TD_ST_TRACING

/* Plain checks for the threaded loops (a passing ck_assert logs). */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,       \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

static uint64_t ld(_Atomic uint64_t *st)
{
	return atomic_load(st);
}

/* The state td_task_alloc gives a joinable task: the owned list, the first
 * Notified and the join handle each hold a reference. */
static void init_spawned(_Atomic uint64_t *st)
{
	atomic_init(st, 3 * R | NOTIFIED | JOIN_INTEREST);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- single-threaded transitions ---------------------------------------- */

START_TEST(ref_count_field)
{
	_Atomic uint64_t st;
	atomic_init(&st, 2 * R | RUNNING | NOTIFIED);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 2);
	td_state_ref_inc(&st);
	ck_assert_uint_eq(ld(&st), 3 * R | RUNNING | NOTIFIED);
	ck_assert(!td_state_ref_dec(&st, 2));
	ck_assert_uint_eq(ld(&st), 1 * R | RUNNING | NOTIFIED);
	ck_assert(td_state_ref_dec(&st, 1));
	/* The flags survive the last reference going. */
	ck_assert_uint_eq(ld(&st), RUNNING | NOTIFIED);
	/* A large count does not spill into the flags. */
	atomic_init(&st, 0);
	for (int i = 0; i < 100000; i++)
		td_state_ref_inc(&st);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 100000);
	ck_assert_uint_eq(ld(&st) & TD_ST_FLAGS, 0);
	ck_assert(td_state_ref_dec(&st, 100000));
}
END_TEST

START_TEST(to_running_from_each_state)
{
	_Atomic uint64_t st;

	/* Notified (fresh spawn): OK, NOTIFIED cleared, references kept. */
	init_spawned(&st);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_OK);
	ck_assert_uint_eq(ld(&st), 3 * R | RUNNING | JOIN_INTEREST);

	/* Already running: FAILED, nothing changes. */
	atomic_store(&st, 2 * R | RUNNING | NOTIFIED);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_FAILED);
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | NOTIFIED);

	/* Complete: FAILED. */
	atomic_store(&st, 2 * R | COMPLETE | NOTIFIED);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_FAILED);
	ck_assert_uint_eq(ld(&st), 2 * R | COMPLETE | NOTIFIED);

	/* Cancelled while queued: the popper holds RUNNING to cancel it. */
	atomic_store(&st, 2 * R | NOTIFIED | CANCELLED);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_CANCELLED);
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | CANCELLED);

	/* Shut down (RUNNING held by the shutdown): a stale queue entry
	 * must not poll it. */
	atomic_store(&st, 2 * R | RUNNING | CANCELLED | NOTIFIED);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_FAILED);
}
END_TEST

START_TEST(to_idle_from_each_state)
{
	_Atomic uint64_t st;

	/* Not woken: RUNNING goes and the poller's reference with it. */
	atomic_init(&st, 3 * R | RUNNING | JOIN_INTEREST);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_OK);
	ck_assert_uint_eq(ld(&st), 2 * R | JOIN_INTEREST);

	/* Woken during the poll: the poller's reference becomes the new
	 * Notified one; NOTIFIED stays. */
	atomic_store(&st, 3 * R | RUNNING | NOTIFIED | JOIN_INTEREST);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_NOTIFIED);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED | JOIN_INTEREST);

	/* Aborted during the poll: RUNNING stays (the caller cancels). */
	atomic_store(&st, 3 * R | RUNNING | CANCELLED | NOTIFIED);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_CANCELLED);
	ck_assert_uint_eq(ld(&st), 3 * R | RUNNING | CANCELLED | NOTIFIED);
}
END_TEST

/* The poller woke its own task (a yield, noted outside the word): the end
 * of the poll sets NOTIFIED itself and keeps the poller's reference as the
 * Notified one, whether or not another thread woke it too. */
START_TEST(to_idle_self_woken_from_each_state)
{
	_Atomic uint64_t st;

	atomic_init(&st, 3 * R | RUNNING | JOIN_INTEREST);
	ck_assert_int_eq(td_state_to_idle(&st, true), TD_TO_IDLE_NOTIFIED);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED | JOIN_INTEREST);

	/* Also woken by another thread: still one Notified reference. */
	atomic_store(&st, 2 * R | RUNNING | NOTIFIED);
	ck_assert_int_eq(td_state_to_idle(&st, true), TD_TO_IDLE_NOTIFIED);
	ck_assert_uint_eq(ld(&st), 2 * R | NOTIFIED);

	/* Aborted during the poll: RUNNING stays (the caller cancels). */
	atomic_store(&st, 3 * R | RUNNING | CANCELLED | NOTIFIED);
	ck_assert_int_eq(td_state_to_idle(&st, true),
			 TD_TO_IDLE_CANCELLED);
	ck_assert_uint_eq(ld(&st), 3 * R | RUNNING | CANCELLED | NOTIFIED);
}
END_TEST

START_TEST(to_complete_flips_running)
{
	_Atomic uint64_t st;
	atomic_init(&st, 2 * R | RUNNING | JOIN_INTEREST | JOIN_WAKER);
	uint64_t s = td_state_to_complete(&st);
	ck_assert_uint_eq(s, 2 * R | COMPLETE | JOIN_INTEREST | JOIN_WAKER);
	ck_assert_uint_eq(ld(&st), s);
	/* A wake noted during the final poll stays visible, harmlessly. */
	atomic_store(&st, 2 * R | RUNNING | NOTIFIED);
	ck_assert_uint_eq(td_state_to_complete(&st), 2 * R | COMPLETE | NOTIFIED);
}
END_TEST

/* What complete() in task.c does: COMPLETE and the poller's references in
 * one step when no joiner waits; otherwise COMPLETE alone, so the joiner's
 * waker can be read before the references go. */
START_TEST(to_complete_release_drops_refs_unless_a_joiner_waits)
{
	_Atomic uint64_t st;
	uint64_t s;

	/* Detached, the last two references: one step, nothing left. */
	atomic_init(&st, 2 * R | RUNNING);
	ck_assert(td_state_to_complete_release(&st, 2, &s));
	ck_assert_uint_eq(s, COMPLETE);
	ck_assert_uint_eq(td_st_refs(s), 0);
	ck_assert_uint_eq(ld(&st), s);

	/* A join handle that has not polled yet: one step, its reference
	 * stays (a wake noted during the final poll stays visible). */
	atomic_store(&st, 3 * R | RUNNING | NOTIFIED | JOIN_INTEREST);
	ck_assert(td_state_to_complete_release(&st, 2, &s));
	ck_assert_uint_eq(s, R | COMPLETE | NOTIFIED | JOIN_INTEREST);
	ck_assert_uint_eq(ld(&st), s);

	/* A joiner waits: COMPLETE only, every reference kept. */
	atomic_store(&st, 3 * R | RUNNING | JOIN_INTEREST | JOIN_WAKER);
	ck_assert(!td_state_to_complete_release(&st, 2, &s));
	ck_assert_uint_eq(s, 3 * R | COMPLETE | JOIN_INTEREST | JOIN_WAKER);
	ck_assert_uint_eq(ld(&st), s);
}
END_TEST

START_TEST(wake_by_val_from_each_state)
{
	_Atomic uint64_t st;

	/* Idle: the waker's reference becomes the Notified one. */
	atomic_init(&st, 2 * R);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 2 * R | NOTIFIED);

	/* Already notified: only the waker's reference goes. */
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 1 * R | NOTIFIED);

	/* Running: NOTIFIED is set for the poller; reference dropped. */
	atomic_store(&st, 3 * R | RUNNING);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | NOTIFIED);
	/* and again: still one NOTIFIED, one reference less. */
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 1 * R | RUNNING | NOTIFIED);

	/* Complete: dropping a reference; the last one deallocates. */
	atomic_store(&st, 2 * R | COMPLETE);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 1 * R | COMPLETE);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_DEALLOC);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 0);

	/* Notified and the last reference: dealloc too (the queue entry
	 * was dropped by a shutdown). */
	atomic_store(&st, 1 * R | NOTIFIED | CANCELLED);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_DEALLOC);

	/* Idle but being traced: still queued (the popper waits). */
	atomic_store(&st, 2 * R | TRACING);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 2 * R | TRACING | NOTIFIED);
}
END_TEST

START_TEST(wake_by_ref_from_each_state)
{
	_Atomic uint64_t st;

	/* Idle: a new reference for the Notified entry. */
	atomic_init(&st, 2 * R);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED);
	/* Notified: nothing. */
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED);
	/* Running: NOTIFIED only, no reference. */
	atomic_store(&st, 2 * R | RUNNING);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | NOTIFIED);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | NOTIFIED);
	/* Complete: nothing. */
	atomic_store(&st, 1 * R | COMPLETE);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 1 * R | COMPLETE);
	/* Tracing, idle: queued. */
	atomic_store(&st, 2 * R | TRACING);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | TRACING | NOTIFIED);
}
END_TEST

/* Many wakes during one poll re-queue the task exactly once, and the
 * references add up: after the poll the only extra reference is the
 * Notified one. */
START_TEST(wake_while_running_requeues_once)
{
	_Atomic uint64_t st;
	init_spawned(&st); /* owned + notified + join */
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_OK);
	/* Three waker clones exist (references), used in different ways. */
	td_state_ref_inc(&st);
	td_state_ref_inc(&st);
	td_state_ref_inc(&st);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_NOTHING);
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_NOTHING);
	/* One clone left: owned + poller + join + clone. */
	ck_assert_uint_eq(td_st_refs(ld(&st)), 4);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_NOTIFIED);
	ck_assert_uint_eq(ld(&st), 4 * R | NOTIFIED | JOIN_INTEREST);
	/* The re-queued entry runs; nothing woke it this time. */
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_OK);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_OK);
	ck_assert_uint_eq(ld(&st), 3 * R | JOIN_INTEREST);
	/* Now idle: the clone's wake queues it once more. */
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED | JOIN_INTEREST);
}
END_TEST

START_TEST(cancel_from_each_state)
{
	_Atomic uint64_t st;

	/* Idle: queued (with a new reference) so the scheduler cancels it. */
	atomic_init(&st, 2 * R | JOIN_INTEREST);
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED | CANCELLED | JOIN_INTEREST);
	/* Twice: nothing more. */
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED | CANCELLED | JOIN_INTEREST);
	/* The queue entry runs: cancel, not poll. */
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_CANCELLED);

	/* Already queued: just the flag. */
	atomic_store(&st, 2 * R | NOTIFIED);
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 2 * R | NOTIFIED | CANCELLED);

	/* Running: the poller finds it at to_idle. */
	atomic_store(&st, 2 * R | RUNNING);
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_NOTHING);
	ck_assert(ld(&st) & CANCELLED);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 2);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_CANCELLED);
	ck_assert(ld(&st) & RUNNING);

	/* Complete: nothing. */
	atomic_store(&st, 1 * R | COMPLETE);
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_NOTHING);
	ck_assert_uint_eq(ld(&st), 1 * R | COMPLETE);

	/* Being traced while idle: queued; the popper waits for the trace
	 * (see to_running_waits_for_tracer). */
	atomic_store(&st, 2 * R | TRACING);
	ck_assert_int_eq(td_state_cancel(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | TRACING | NOTIFIED | CANCELLED);
	td_state_trace_end(&st);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_CANCELLED);
}
END_TEST

START_TEST(shutdown_from_each_state)
{
	_Atomic uint64_t st;

	atomic_init(&st, 2 * R);
	ck_assert(td_state_to_shutdown(&st));
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | CANCELLED);

	/* Queued: shutdown takes RUNNING; the queue entry then fails. */
	atomic_store(&st, 2 * R | NOTIFIED);
	ck_assert(td_state_to_shutdown(&st));
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | CANCELLED | NOTIFIED);
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_FAILED);

	/* Running elsewhere: only the flag; the poller cancels. */
	atomic_store(&st, 2 * R | RUNNING);
	ck_assert(!td_state_to_shutdown(&st));
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | CANCELLED);

	/* Complete: nothing to do. */
	atomic_store(&st, 1 * R | COMPLETE);
	ck_assert(!td_state_to_shutdown(&st));
	ck_assert(!(ld(&st) & RUNNING));
}
END_TEST

START_TEST(trace_begin_end)
{
	_Atomic uint64_t st;
	uint64_t seen = 0;

	atomic_init(&st, 2 * R);
	ck_assert(td_state_trace_begin(&st, &seen));
	ck_assert_uint_eq(seen, 2 * R);
	ck_assert_uint_eq(ld(&st), 2 * R | TRACING);
	/* Only one tracer at a time. */
	ck_assert(!td_state_trace_begin(&st, &seen));
	td_state_trace_end(&st);
	ck_assert_uint_eq(ld(&st), 2 * R);

	/* A queued task can be traced; its Notified entry is untouched. */
	atomic_store(&st, 3 * R | NOTIFIED);
	ck_assert(td_state_trace_begin(&st, &seen));
	ck_assert_uint_eq(seen, 3 * R | NOTIFIED);
	/* A wake during the trace is a normal idle-task wake... */
	td_state_trace_end(&st);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED);

	/* Not while running or complete. */
	atomic_store(&st, 2 * R | RUNNING);
	ck_assert(!td_state_trace_begin(&st, &seen));
	ck_assert_uint_eq(ld(&st), 2 * R | RUNNING);
	atomic_store(&st, 1 * R | COMPLETE);
	ck_assert(!td_state_trace_begin(&st, &seen));
	ck_assert_uint_eq(ld(&st), 1 * R | COMPLETE);

	/* Wakes during tracing leave TRACING alone. */
	atomic_store(&st, 2 * R);
	ck_assert(td_state_trace_begin(&st, &seen));
	ck_assert_int_eq(td_state_wake_by_ref(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(ld(&st), 3 * R | TRACING | NOTIFIED);
	td_state_trace_end(&st);
	ck_assert_uint_eq(ld(&st), 3 * R | NOTIFIED);
}
END_TEST

START_TEST(join_waker_flags)
{
	_Atomic uint64_t st;

	init_spawned(&st);
	ck_assert(td_state_set_join_waker(&st));
	ck_assert(ld(&st) & JOIN_WAKER);
	ck_assert(td_state_unset_join_waker(&st));
	ck_assert(!(ld(&st) & JOIN_WAKER));
	ck_assert(td_state_set_join_waker(&st));

	/* Dropping the handle before completion clears both bits and
	 * takes the handle's reference. */
	uint64_t prev;
	ck_assert(!td_state_drop_join_handle(&st, &prev));
	ck_assert(prev & JOIN_INTEREST);
	ck_assert(prev & JOIN_WAKER);
	ck_assert_uint_eq(ld(&st) & (JOIN_INTEREST | JOIN_WAKER), 0);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 2);

	/* After completion the slot belongs to the runtime side: set and
	 * unset fail, and dropping interest keeps JOIN_WAKER (the waker is
	 * then dropped with the task). */
	atomic_store(&st, 2 * R | COMPLETE | JOIN_INTEREST | JOIN_WAKER);
	ck_assert(!td_state_set_join_waker(&st));
	ck_assert(!td_state_unset_join_waker(&st));
	ck_assert(ld(&st) & JOIN_WAKER);
	ck_assert(!td_state_drop_join_handle(&st, &prev));
	ck_assert_uint_eq(prev, 2 * R | COMPLETE | JOIN_INTEREST | JOIN_WAKER);
	ck_assert_uint_eq(ld(&st), 1 * R | COMPLETE | JOIN_WAKER);
	/* The last reference: the caller frees the task. */
	ck_assert(td_state_drop_join_handle(&st, NULL));
	ck_assert_uint_eq(td_st_refs(ld(&st)), 0);

	atomic_store(&st, 2 * R | COMPLETE | JOIN_INTEREST);
	ck_assert(!td_state_set_join_waker(&st));
	ck_assert(!(ld(&st) & JOIN_WAKER));
}
END_TEST

/* A whole task life by the book: spawn, poll, park, wake, poll, complete,
 * join, release.  The references must reach zero exactly at the end. */
START_TEST(lifecycle_refcounts)
{
	_Atomic uint64_t st;
	init_spawned(&st); /* owned, notified, join handle */

	/* First poll stores a waker (clone: +1) and returns PENDING. */
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_OK);
	td_state_ref_inc(&st);
	ck_assert_int_eq(td_state_to_idle(&st, false), TD_TO_IDLE_OK);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 3); /* owned, join, waker */
	/* The joiner registers its waker. */
	ck_assert(td_state_set_join_waker(&st));
	/* The stored waker fires (by value). */
	ck_assert_int_eq(td_state_wake_by_val(&st), TD_WAKE_SUBMIT);
	ck_assert_uint_eq(td_st_refs(ld(&st)), 3); /* owned, join, notified */
	/* Second poll completes. */
	ck_assert_int_eq(td_state_to_running(&st), TD_TO_RUNNING_OK);
	uint64_t s = td_state_to_complete(&st);
	ck_assert(s & JOIN_WAKER); /* the completer must wake the joiner */
	ck_assert(s & JOIN_INTEREST);
	/* Completion drops the poller's and the owned list's references. */
	ck_assert(!td_state_ref_dec(&st, 2));
	/* The joiner reads the output and releases the handle: the last
	 * reference. */
	ck_assert(td_state_drop_join_handle(&st, NULL));
}
END_TEST

/* ---- threads: to_running and shutdown wait while a trace runs ----------- */

struct tracer_arg {
	_Atomic uint64_t *st;
	_Atomic int phase; /* 1: to_running called, 2: returned */
	int result;
	bool shutdown; /* call to_shutdown instead of to_running */
};

static void *popper_main(void *p)
{
	struct tracer_arg *a = p;
	atomic_store(&a->phase, 1);
	if (a->shutdown)
		a->result = td_state_to_shutdown(a->st);
	else
		a->result = td_state_to_running(a->st);
	atomic_store(&a->phase, 2);
	return NULL;
}

static void check_waits_for_tracer(bool shutdown)
{
	_Atomic uint64_t st;
	uint64_t seen;
	atomic_init(&st, 2 * R | NOTIFIED);
	ck_assert(td_state_trace_begin(&st, &seen));

	struct tracer_arg a = {.st = &st, .shutdown = shutdown};
	atomic_init(&a.phase, 0);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, popper_main, &a), 0);
	while (atomic_load(&a.phase) == 0)
		sched_yield();
	/* The popper must wait for the trace to end, however long. */
	for (int i = 0; i < 30; i++) {
		sleep_ms(2);
		ck_assert_int_eq(atomic_load(&a.phase), 1);
		ck_assert(ld(&st) & TRACING);
		ck_assert(!(ld(&st) & RUNNING));
	}
	td_state_trace_end(&st);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&a.phase), 2);
	if (shutdown) {
		ck_assert(a.result);
		ck_assert_uint_eq(ld(&st), 2 * R | RUNNING | CANCELLED | NOTIFIED);
	} else {
		ck_assert_int_eq(a.result, TD_TO_RUNNING_OK);
		ck_assert_uint_eq(ld(&st), 2 * R | RUNNING);
	}
}

START_TEST(to_running_waits_for_tracer)
{
	check_waits_for_tracer(false);
}
END_TEST

START_TEST(shutdown_waits_for_tracer)
{
	check_waits_for_tracer(true);
}
END_TEST

/* ---- threads: wakers vs. the poller vs. a tracer vs. an abort ----------- */

/*
 * One task, one poller thread (the "scheduler": a one-slot queue), waker
 * threads that clone (ref_inc) and wake by value or by reference, a tracer
 * thread, and optionally an aborter.  Checked:
 *  - at most one Notified entry exists at any time (SUBMIT only when the
 *    queue slot is empty);
 *  - RUNNING and TRACING are never held together;
 *  - no wake is lost: the last poll starts after the last wake;
 *  - the references add up to exactly what is left at the end;
 *  - with an abort: the task is cancelled exactly once, and never polled
 *    after the poller saw the cancellation.
 */
#define MAX_WAKERS 3

struct race {
	_Atomic uint64_t st;
	_Atomic int queued;        /* Notified entries in the "queue": 0/1 */
	_Atomic long wakes_issued; /* incremented before each wake */
	_Atomic long seen_at_poll; /* wakes_issued read after to_running */
	_Atomic int wakers_done;
	_Atomic int stop_tracer;
	_Atomic int cancelled;     /* cancellations performed */
	_Atomic int abort_now;
	_Atomic long polls, traces;
	_Atomic int last_drops;    /* drops of the very last reference */
	long per_waker;
	int wakers;
	unsigned wait_mask; /* wait for a poll after wakes i & mask == 0 */
	bool with_abort;
};

static void enqueue(struct race *r)
{
	REQUIRE(atomic_exchange(&r->queued, 1) == 0);
}

static void *race_waker(void *p)
{
	struct race *r = p;
	unsigned x = (unsigned)(uintptr_t)&x | 1u;
	for (long i = 0; i < r->per_waker; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		long ticket = atomic_fetch_add(&r->wakes_issued, 1) + 1;
		enum td_wake_action a;
		if (x & 1) {
			td_state_ref_inc(&r->st); /* clone the stored one */
			a = td_state_wake_by_val(&r->st);
		} else {
			a = td_state_wake_by_ref(&r->st);
		}
		/* Until completion the owned list's reference keeps the
		 * count above 0; afterwards a clone may be the last. */
		if (a == TD_WAKE_DEALLOC) {
			REQUIRE(r->with_abort);
			REQUIRE(ld(&r->st) & COMPLETE);
			atomic_fetch_add(&r->last_drops, 1);
		}
		if (a == TD_WAKE_SUBMIT)
			enqueue(r);
		if ((x & 0x30) == 0)
			sched_yield();
		/* Now and then, wait for a poll that has seen this wake: a
		 * lost wake leaves every waker waiting here. */
		if (!r->with_abort && (i & r->wait_mask) == 0) {
			uint64_t t0 = test_now_ms();
			while (atomic_load(&r->seen_at_poll) < ticket) {
				REQUIRE(test_now_ms() - t0 < 10000);
				sched_yield();
			}
		}
		if (r->with_abort && i == r->per_waker / 2)
			atomic_store(&r->abort_now, 1);
	}
	/* Drop this thread's own stored waker. */
	if (td_state_ref_dec(&r->st, 1)) {
		REQUIRE(r->with_abort);
		atomic_fetch_add(&r->last_drops, 1);
	}
	atomic_fetch_add(&r->wakers_done, 1);
	return NULL;
}

static void *race_tracer(void *p)
{
	struct race *r = p;
	while (!atomic_load(&r->stop_tracer)) {
		uint64_t seen;
		if (td_state_trace_begin(&r->st, &seen)) {
			REQUIRE(!(seen & (RUNNING | COMPLETE)));
			REQUIRE(!(ld(&r->st) & RUNNING));
			atomic_fetch_add(&r->traces, 1);
			REQUIRE(!(ld(&r->st) & RUNNING));
			td_state_trace_end(&r->st);
		}
		sched_yield();
	}
	return NULL;
}

static void *race_aborter(void *p)
{
	struct race *r = p;
	while (!atomic_load(&r->abort_now))
		sched_yield();
	if (td_state_cancel(&r->st) == TD_WAKE_SUBMIT)
		enqueue(r);
	/* A second abort is a no-op. */
	REQUIRE(td_state_cancel(&r->st) == TD_WAKE_NOTHING);
	return NULL;
}

/* Cancel the task whose RUNNING the poller holds: complete it and drop
 * the poller's and the owned list's references. */
static void race_cancel(struct race *r)
{
	REQUIRE(atomic_fetch_add(&r->cancelled, 1) == 0);
	uint64_t s = td_state_to_complete(&r->st);
	REQUIRE(s & COMPLETE);
	REQUIRE(!(s & RUNNING));
	if (td_state_ref_dec(&r->st, 2))
		atomic_fetch_add(&r->last_drops, 1);
}

static void run_race(bool with_abort, int wakers, long per_waker,
		     unsigned wait_mask)
{
	struct race *r = calloc(1, sizeof(*r));
	/* The owned list, the first Notified entry, and one stored waker
	 * per waker thread (which clones it for wakes by value). */
	atomic_init(&r->st, (uint64_t)(2 + wakers) * R | NOTIFIED);
	atomic_init(&r->queued, 1);
	r->per_waker = per_waker;
	r->wakers = wakers;
	r->wait_mask = wait_mask;
	r->with_abort = with_abort;

	pthread_t wk[MAX_WAKERS], tracer, aborter;
	for (int i = 0; i < wakers; i++)
		pthread_create(&wk[i], NULL, race_waker, r);
	pthread_create(&tracer, NULL, race_tracer, r);
	if (with_abort)
		pthread_create(&aborter, NULL, race_aborter, r);

	bool complete = false;
	for (;;) {
		if (atomic_load(&r->queued)) {
			atomic_store(&r->queued, 0);
			enum td_to_running tr = td_state_to_running(&r->st);
			if (tr == TD_TO_RUNNING_FAILED) {
				/* Only after the cancellation completed it. */
				REQUIRE(complete);
				if (td_state_ref_dec(&r->st, 1))
					atomic_fetch_add(&r->last_drops, 1);
				continue;
			}
			REQUIRE(!(ld(&r->st) & TRACING));
			if (tr == TD_TO_RUNNING_CANCELLED) {
				race_cancel(r);
				complete = true;
				continue;
			}
			atomic_store(&r->seen_at_poll,
				     atomic_load(&r->wakes_issued));
			atomic_fetch_add(&r->polls, 1);
			/* "Poll" for a while, so that wakes land in RUNNING. */
			for (long k = atomic_load(&r->polls) % 64; k > 0; k--)
				REQUIRE(!(ld(&r->st) & TRACING));
			if ((atomic_load(&r->polls) & 15) == 0)
				sched_yield();
			switch (td_state_to_idle(&r->st, false)) {
			case TD_TO_IDLE_OK:
				break;
			case TD_TO_IDLE_NOTIFIED:
				enqueue(r);
				break;
			case TD_TO_IDLE_CANCELLED:
				race_cancel(r);
				complete = true;
				break;
			}
			continue;
		}
		if (atomic_load(&r->wakers_done) == wakers &&
		    !atomic_load(&r->queued) &&
		    (!with_abort || atomic_load(&r->cancelled)))
			break;
		sched_yield();
	}
	atomic_store(&r->stop_tracer, 1);
	for (int i = 0; i < wakers; i++)
		pthread_join(wk[i], NULL);
	pthread_join(tracer, NULL);
	if (with_abort)
		pthread_join(aborter, NULL);

	uint64_t s = ld(&r->st);
	if (!with_abort) {
		/* No lost wake: the last poll saw every wake. */
		ck_assert_int_eq(atomic_load(&r->seen_at_poll),
				 wakers * per_waker);
		/* Idle, only the owned list's reference left: every clone
		 * woken by value gave its reference back. */
		ck_assert_uint_eq(s, 1 * R);
	} else {
		ck_assert_int_eq(atomic_load(&r->cancelled), 1);
		ck_assert(s & COMPLETE);
		ck_assert(!(s & RUNNING));
		ck_assert_uint_eq(td_st_refs(s), 0);
		/* ... and the allocation would be freed exactly once. */
		ck_assert_int_eq(atomic_load(&r->last_drops), 1);
	}
	ck_assert_int_eq(atomic_load(&r->queued), 0);
	ck_assert(!(s & TRACING));
	free(r);
}

START_TEST(race_wakes_polls_traces)
{
	/* Contention: three wakers, checking for lost wakes now and then. */
	run_race(false, 3, 50000, 7);
}
END_TEST

START_TEST(race_every_wake_is_seen)
{
	/* One waker that waits for every wake to be seen by a poll: a
	 * single lost wake hangs it (and fails after 10 s). */
	run_race(false, 1, 30000, 0);
}
END_TEST

START_TEST(race_wakes_polls_traces_abort)
{
	for (int round = 0; round < 20; round++)
		run_race(true, 3, 5000, 0);
}
END_TEST

/* ---- threads: the join waker vs. completion ---------------------------- */

/*
 * The joiner (td_join_poll) stores a waker and publishes it with
 * set_join_waker, or takes it back with unset to change it; the completer
 * (complete() in task.c) flips COMPLETE and wakes the joiner if JOIN_WAKER
 * was set.  Whatever the interleaving, the joiner must find out: either
 * set/unset fails (it sees COMPLETE) or the completer saw JOIN_WAKER and
 * wakes it.  Never both silent, never a wake of a slot being rewritten.
 */
struct join_race {
	_Atomic uint64_t st;
	_Atomic int go;      /* round number started */
	_Atomic int done;    /* rounds finished by the completer */
	_Atomic int woken;   /* the completer's wake of this round */
	_Atomic int slot_busy; /* the joiner is rewriting join_waker */
	int rounds;
};

static void *join_completer(void *p)
{
	struct join_race *j = p;
	for (int round = 1; round <= j->rounds; round++) {
		while (atomic_load(&j->go) != round)
			sched_yield();
		for (int spin = round % 7; spin > 0; spin--)
			sched_yield();
		REQUIRE(td_state_to_running(&j->st) == TD_TO_RUNNING_OK);
		/* As complete() in task.c: one step when nobody waits. */
		uint64_t s;
		if (!td_state_to_complete_release(&j->st, 1, &s)) {
			if ((s & JOIN_INTEREST) && (s & JOIN_WAKER)) {
				/* Reading join_waker: the joiner must not
				 * be rewriting it now. */
				REQUIRE(!atomic_load(&j->slot_busy));
				atomic_store(&j->woken, 1);
			}
			REQUIRE(!td_state_ref_dec(&j->st, 1));
		}
		REQUIRE(td_st_refs(ld(&j->st)) == 2);
		atomic_store(&j->done, round);
	}
	return NULL;
}

START_TEST(race_join_waker_vs_complete)
{
	struct join_race *j = calloc(1, sizeof(*j));
	j->rounds = 20000;
	pthread_t th;
	pthread_create(&th, NULL, join_completer, j);
	long silent_rounds = 0;
	for (int round = 1; round <= j->rounds; round++) {
		atomic_store(&j->st, 3 * R | NOTIFIED | JOIN_INTEREST);
		atomic_store(&j->woken, 0);
		atomic_store(&j->go, round);
		bool saw_complete = false;
		/* Register, then change the waker a few times (as a joiner
		 * moved between tasks/combinators would). */
		for (int k = 0; k < 3 && !saw_complete; k++) {
			uint64_t s = ld(&j->st);
			if (s & JOIN_WAKER) {
				if (!td_state_unset_join_waker(&j->st)) {
					saw_complete = true;
					break;
				}
			}
			atomic_store(&j->slot_busy, 1);
			/* ... rewrite join_waker ... */
			atomic_store(&j->slot_busy, 0);
			if (!td_state_set_join_waker(&j->st))
				saw_complete = true;
		}
		while (atomic_load(&j->done) != round)
			sched_yield();
		/* At least one of: the joiner saw COMPLETE, or it was woken. */
		bool woken = atomic_load(&j->woken);
		if (!saw_complete && !woken)
			silent_rounds++;
		REQUIRE(ld(&j->st) & COMPLETE);
		if (!saw_complete)
			REQUIRE(ld(&j->st) & JOIN_WAKER);
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(silent_rounds, 0);
	free(j);
}
END_TEST

/* Dropping the join handle races completion: the completer may only wake
 * the join waker when the handle was still there (both bits set in the
 * state it replaced), i.e. when the drop came after completion. */
struct drop_race {
	_Atomic uint64_t st;
	_Atomic int go, done;
	uint64_t completed_from;
	int rounds;
};

static void *drop_completer(void *p)
{
	struct drop_race *d = p;
	for (int round = 1; round <= d->rounds; round++) {
		while (atomic_load(&d->go) != round)
			sched_yield();
		if (round & 1)
			sched_yield();
		/* As complete() in task.c; completed_from then shows a
		 * joiner only when the completer had to wake it. */
		uint64_t s;
		if (td_state_to_complete_release(&d->st, 1, &s))
			s &= ~JOIN_WAKER;
		else
			td_state_ref_dec(&d->st, 1);
		d->completed_from = s;
		atomic_store(&d->done, round);
	}
	return NULL;
}

START_TEST(race_drop_join_handle_vs_complete)
{
	struct drop_race *d = calloc(1, sizeof(*d));
	d->rounds = 20000;
	pthread_t th;
	pthread_create(&th, NULL, drop_completer, d);
	for (int round = 1; round <= d->rounds; round++) {
		atomic_store(&d->st, 3 * R | RUNNING | JOIN_INTEREST);
		REQUIRE(td_state_set_join_waker(&d->st));
		atomic_store(&d->go, round);
		if (round % 3 == 0)
			sched_yield();
		uint64_t prev;
		td_state_drop_join_handle(&d->st, &prev);
		while (atomic_load(&d->done) != round)
			sched_yield();
		uint64_t s = d->completed_from;
		bool completer_wakes = (s & JOIN_INTEREST) && (s & JOIN_WAKER);
		/* The completer wakes iff the drop came after completion. */
		REQUIRE(completer_wakes == ((prev & COMPLETE) != 0));
		/* After completion the slot is the runtime's: JOIN_WAKER
		 * stays set so the waker is dropped with the task. */
		if (prev & COMPLETE)
			REQUIRE(ld(&d->st) & JOIN_WAKER);
		else
			REQUIRE(!(ld(&d->st) & JOIN_WAKER));
		REQUIRE(!(ld(&d->st) & JOIN_INTEREST));
	}
	pthread_join(th, NULL);
	free(d);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("task_state");
	TCase *tc = tcase_create("transitions");
	tcase_add_test(tc, ref_count_field);
	tcase_add_test(tc, to_running_from_each_state);
	tcase_add_test(tc, to_idle_from_each_state);
	tcase_add_test(tc, to_idle_self_woken_from_each_state);
	tcase_add_test(tc, to_complete_flips_running);
	tcase_add_test(tc, to_complete_release_drops_refs_unless_a_joiner_waits);
	tcase_add_test(tc, wake_by_val_from_each_state);
	tcase_add_test(tc, wake_by_ref_from_each_state);
	tcase_add_test(tc, wake_while_running_requeues_once);
	tcase_add_test(tc, cancel_from_each_state);
	tcase_add_test(tc, shutdown_from_each_state);
	tcase_add_test(tc, trace_begin_end);
	tcase_add_test(tc, join_waker_flags);
	tcase_add_test(tc, lifecycle_refcounts);
	suite_add_tcase(s, tc);

	TCase *th = tcase_create("threads");
	tcase_set_timeout(th, 60);
	tcase_add_test(th, to_running_waits_for_tracer);
	tcase_add_test(th, shutdown_waits_for_tracer);
	tcase_add_test(th, race_wakes_polls_traces);
	tcase_add_test(th, race_every_wake_is_seen);
	tcase_add_test(th, race_wakes_polls_traces_abort);
	tcase_add_test(th, race_join_waker_vs_complete);
	tcase_add_test(th, race_drop_join_handle_vs_complete);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
