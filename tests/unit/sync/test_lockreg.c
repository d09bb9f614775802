/* test_lockreg.c - the registries of mutexes and semaphores
 * (sync/lockreg.h) under churn: threads create, lock, unlock and destroy
 * heap mutexes and semaphores (first locks link them, destroys unlink
 * them) while another thread walks both registries as a dump does.  A
 * walk that reached a destroyed object would read freed memory (the
 * AddressSanitizer build says so); a lost link would leave the count of
 * linked objects wrong at the end.  Locks held by plain threads belong to
 * no task: the walks report none. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "sync/lockreg.h"
#include "taskdump/mutex.h"
#include "taskdump/semaphore.h"
#include "test_util.h"

enum { THREADS = 3, ROUNDS = 5000, KEEP = 8 };

static atomic_int stop, facts;

static void *churn(void *arg)
{
	td_mutex *kept[KEEP] = {0};
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		td_mutex *m = malloc(sizeof(*m));
		td_semaphore *s = malloc(sizeof(*s));
		ck_assert(m && s);
		td_mutex_init(m);
		td_semaphore_init(s, 2);
		ck_assert(td_mutex_try_lock(m));
		ck_assert_int_eq(td_semaphore_try_acquire(s, 1), 0);
		td_semaphore_release(s, 1);
		td_mutex_unlock(m);
		td_semaphore_destroy(s);
		free(s);
		/* Some live a while, locked (by no task). */
		int k = i % KEEP;
		if (kept[k]) {
			td_mutex_unlock(kept[k]);
			td_mutex_destroy(kept[k]);
			free(kept[k]);
		}
		ck_assert(td_mutex_try_lock(m));
		kept[k] = m;
	}
	for (int k = 0; k < KEEP; k++)
		if (kept[k]) {
			td_mutex_unlock(kept[k]);
			td_mutex_destroy(kept[k]);
			free(kept[k]);
		}
	return NULL;
}

static void count_fact(const struct td_held_fact *f, void *arg)
{
	(void)f;
	(void)arg;
	atomic_fetch_add(&facts, 1);
}

static void count_link(td_sync_link *l, void *arg)
{
	(void)l;
	(*(size_t *)arg)++;
}

static void *walker(void *arg)
{
	long *walks = arg;
	while (!atomic_load(&stop)) {
		td_mutex_held_for_each(count_fact, NULL);
		td_semaphore_held_for_each(count_fact, NULL);
		(*walks)++;
	}
	return NULL;
}

static size_t linked(struct td_lockreg *r)
{
	size_t n = 0;
	td_lockreg_for_each(r, count_link, &n);
	return n;
}

START_TEST(test_churn_while_walking)
{
	pthread_t th[THREADS], w;
	long walks = 0;
	size_t m0 = linked(&td_lockreg_mutexes);
	size_t s0 = linked(&td_lockreg_semaphores);

	atomic_store(&stop, 0);
	atomic_store(&facts, 0);
	ck_assert_int_eq(pthread_create(&w, NULL, walker, &walks), 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(w, NULL);
	ck_assert_int_gt(walks, 0);
	ck_assert_int_eq(atomic_load(&facts), 0);
	ck_assert_uint_eq(linked(&td_lockreg_mutexes), m0);
	ck_assert_uint_eq(linked(&td_lockreg_semaphores), s0);
}
END_TEST

/* Linked at the first lock only, once; unlinked by destroy; a static
 * mutex too. */
START_TEST(test_link_once)
{
	static td_mutex sm = TD_MUTEX_INITIALIZER;
	td_mutex m;
	size_t m0 = linked(&td_lockreg_mutexes);

	td_mutex_init(&m);
	ck_assert_uint_eq(linked(&td_lockreg_mutexes), m0);
	for (int i = 0; i < 3; i++) {
		ck_assert(td_mutex_try_lock(&m));
		td_mutex_unlock(&m);
	}
	ck_assert_uint_eq(linked(&td_lockreg_mutexes), m0 + 1);
	ck_assert(td_mutex_try_lock(&sm));
	td_mutex_unlock(&sm);
	ck_assert_uint_eq(linked(&td_lockreg_mutexes), m0 + 2);
	td_mutex_destroy(&m);
	td_mutex_destroy(&sm);
	ck_assert_uint_eq(linked(&td_lockreg_mutexes), m0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lockreg");
	TCase *tc = tcase_create("lockreg");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_link_once);
	tcase_add_test(tc, test_churn_while_walking);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
