/* test_rt.c - runtimes for tests that run on every scheduler flavor. */
#include <check.h>

#include "test_rt.h"

const struct test_flavor test_flavors[TEST_NFLAVORS] = {
	{TD_FLAVOR_CURRENT_THREAD, 0},
	{TD_FLAVOR_MULTI_THREAD, 1},
	{TD_FLAVOR_MULTI_THREAD, 2},
	{TD_FLAVOR_MULTI_THREAD, 4},
};

td_runtime *test_rt_new(int i)
{
	td_runtime_config cfg = {.flavor = test_flavors[i].flavor,
				 .workers = test_flavors[i].workers};
	td_runtime *rt = NULL;
	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	ck_assert_ptr_nonnull(rt);
	return rt;
}

static td_poll joiner_poll(td_future *f, td_context *cx)
{
	test_joiner *m = (test_joiner *)f;
	TD_BEGIN(&m->as);
	for (m->i = 0; m->i < m->n; m->i++) {
		td_join_init(&m->j, &m->hs[m->i]);
		TD_AWAIT(&m->as, &m->j, cx);
		if (m->j.error)
			m->errors++;
	}
	TD_END(&m->as);
}

static const td_future_vtable joiner_vtable = {.poll = joiner_poll};

void test_joiner_init(test_joiner *j, td_join_handle *hs, size_t n)
{
	*j = (test_joiner){.base = {&joiner_vtable}, .hs = hs, .n = n};
}

void test_block_on_join(td_runtime *rt, td_join_handle *hs, size_t n)
{
	test_joiner m;
	test_joiner_init(&m, hs, n);
	ck_assert_int_eq(td_runtime_block_on(rt, &m.base, NULL), 0);
	ck_assert_int_eq(m.errors, 0);
}
