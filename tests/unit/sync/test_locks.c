/* test_locks.c - the runtime's two internal locks: sync_flock (futex,
 * flock.h) and sync_spin (spin.h).  Threads increment a plain counter under
 * the lock; any lost update means two holders at once.  One holder
 * sometimes sleeps inside its critical section (as a preempted holder
 * would), so that waiters go down their slow paths: futex sleep for the
 * flock, yielding for the spin lock. */
#include <pthread.h>
#include <time.h>

#include "sync/flock.h"
#include "sync/spin.h"
#include "test_util.h"

enum { THREADS = 4, ROUNDS = 100000, SLEEP_EVERY = 20000 };

struct shared {
	bool spin; /* which lock */
	sync_flock flock;
	sync_spin slock;
	unsigned long counter; /* plain: only the holder touches it */
	unsigned long inside;  /* holders in the section right now */
};

static void lock(struct shared *s)
{
	if (s->spin)
		sync_spin_lock(&s->slock);
	else
		sync_flock_lock(&s->flock);
}

static void unlock(struct shared *s)
{
	if (s->spin)
		sync_spin_unlock(&s->slock);
	else
		sync_flock_unlock(&s->flock);
}

static void *hammer(void *arg)
{
	struct shared *s = arg;
	for (int i = 1; i <= ROUNDS; i++) {
		lock(s);
		s->inside++;
		ck_assert_uint_eq(s->inside, 1);
		s->counter++;
		if (i % SLEEP_EVERY == 0) {
			struct timespec ts = {0, 2000000}; /* 2 ms */
			nanosleep(&ts, NULL);
		}
		s->inside--;
		unlock(s);
	}
	return NULL;
}

static void run(bool spin)
{
	static struct shared s;
	s = (struct shared){.spin = spin};
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &s), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(s.counter, (unsigned long)THREADS * ROUNDS);
	/* Released at the end: a fresh lock attempt takes it at once. */
	lock(&s);
	unlock(&s);
	ck_assert_uint_eq(spin ? s.slock.word : s.flock.word, 0);
}

START_TEST(flock_excludes)
{
	run(false);
}
END_TEST

START_TEST(spin_excludes)
{
	run(true);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("locks");
	TCase *tc = tcase_create("mutual_exclusion");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, flock_excludes);
	tcase_add_test(tc, spin_excludes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
