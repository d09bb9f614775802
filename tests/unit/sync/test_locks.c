/* test_locks.c - the runtime's internal futex lock, sync_flock (flock.h),
 * used by the owned-task list, the injection queue and the channels.
 * Threads increment a plain counter under the lock; two holders at once
 * show as `inside` above 1 or as lost updates.  Each holder sometimes
 * sleeps inside its critical section (as a preempted holder would), so
 * that waiters go down the slow path: spin, then sleep on the futex, and
 * are woken by the unlock. */
#include <pthread.h>
#include <time.h>

#include "sync/flock.h"
#include "test_util.h"

enum { THREADS = 4, ROUNDS = 100000, SLEEP_EVERY = 20000 };

struct shared {
	sync_flock lock;
	unsigned long counter; /* plain: only the holder touches it */
	unsigned long inside;  /* holders in the section right now */
};

static void *hammer(void *arg)
{
	struct shared *s = arg;
	for (int i = 1; i <= ROUNDS; i++) {
		sync_flock_lock(&s->lock);
		s->inside++;
		ck_assert_uint_eq(s->inside, 1);
		s->counter++;
		if (i % SLEEP_EVERY == 0) {
			struct timespec ts = {0, 2000000}; /* 2 ms */
			nanosleep(&ts, NULL);
		}
		s->inside--;
		sync_flock_unlock(&s->lock);
	}
	return NULL;
}

START_TEST(flock_excludes)
{
	static struct shared s;
	s = (struct shared){0};
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(s.counter, (unsigned long)THREADS * ROUNDS);
	/* Released at the end, sleepers' mark (2) included. */
	ck_assert_uint_eq(s.lock.word, 0);
	sync_flock_lock(&s.lock);
	sync_flock_unlock(&s.lock);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("locks");
	TCase *tc = tcase_create("mutual_exclusion");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, flock_excludes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
