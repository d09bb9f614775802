/* test_rt.h - runtimes for tests that run on every scheduler flavor. */
#ifndef TD_TEST_RT_H
#define TD_TEST_RT_H

#include <stddef.h>

#include "taskdump/runtime.h"
#include "taskdump/task.h"

/* Current-thread, and multi-thread with 1, 2 and 4 workers: loop tests
 * over [0, TEST_NFLAVORS) and build the runtime with test_rt_new(_i). */
struct test_flavor {
	td_flavor flavor;
	unsigned workers;
};

#define TEST_NFLAVORS 4
extern const struct test_flavor test_flavors[TEST_NFLAVORS];

/* A runtime of flavor i (fails the test when it cannot be made). */
td_runtime *test_rt_new(int i);

/* A future that joins every handle of hs[0..n) in order, counting the
 * tasks that did not complete normally in `errors`. */
typedef struct test_joiner {
	td_future base;
	td_async as;
	td_join_handle *hs;
	size_t n, i;
	td_join j;
	int errors;
} test_joiner;

void test_joiner_init(test_joiner *j, td_join_handle *hs, size_t n);

/* Block on a test_joiner of hs[0..n); fails the test if block_on fails or
 * a task did not complete normally. */
void test_block_on_join(td_runtime *rt, td_join_handle *hs, size_t n);

#endif /* TD_TEST_RT_H */
