/* test_util.h - small helpers shared by the unit tests. */
#ifndef TD_TEST_UTIL_H
#define TD_TEST_UTIL_H

#include <check.h>
#include <stdint.h>

/* Run a Check suite with CK_FORK as configured; returns the exit status
 * for main(): 0 when every test passed. */
int test_run_suite(Suite *s);

/* Monotonic milliseconds. */
uint64_t test_now_ms(void);

#endif /* TD_TEST_UTIL_H */
