/* test_comb_runtime.c - join_all, select and yield on real runtimes, with
 * real task wakers and timers (current-thread and multi-thread). */
#include <check.h>

#include "taskdump/combinators.h"
#include "taskdump/runtime.h"
#include "taskdump/time.h"
#include "test_util.h"

/* join_all(sleep 30, sleep 10, sleep 20), three yields, then
 * select(sleep 60000, sleep 20): the short sleep must win. */
typedef struct scenario {
	td_future base;
	td_async as;
	td_sleep s[3];
	td_future *kids[3];
	td_join_all all;
	td_select sel;
	td_yield y;
	int yields;
	uint64_t t_all, t_sel;
} scenario;

static td_poll scenario_poll(td_future *f, td_context *cx)
{
	scenario *self = (scenario *)f;

	TD_BEGIN(&self->as);
	self->t_all = test_now_ms();
	td_sleep_init(&self->s[0], 30);
	td_sleep_init(&self->s[1], 10);
	td_sleep_init(&self->s[2], 20);
	for (int i = 0; i < 3; i++)
		self->kids[i] = &self->s[i].base;
	td_join_all_init(&self->all, self->kids, 3);
	TD_AWAIT(&self->as, &self->all, cx);
	self->t_all = test_now_ms() - self->t_all;

	for (self->yields = 0; self->yields < 3; self->yields++) {
		td_yield_init(&self->y);
		TD_AWAIT(&self->as, &self->y, cx);
	}

	td_sleep_init(&self->s[0], 60000);
	td_sleep_init(&self->s[1], 20);
	self->kids[0] = &self->s[0].base;
	self->kids[1] = &self->s[1].base;
	td_select_init(&self->sel, self->kids, 2);
	self->t_sel = test_now_ms();
	TD_AWAIT(&self->as, &self->sel, cx);
	self->t_sel = test_now_ms() - self->t_sel;
	TD_END(&self->as);
}

static void scenario_drop(td_future *f)
{
	td_async_drop(&((scenario *)f)->as);
}

static const td_future_vtable scenario_vtable = {
	.poll = scenario_poll,
	.drop = scenario_drop,
	.type_name = "scenario",
};

static void run_scenario(td_flavor flavor)
{
	td_runtime_config cfg = {.flavor = flavor, .workers = 2};
	td_runtime *rt = NULL;
	scenario sc = {.base = {&scenario_vtable}};

	ck_assert_int_eq(td_runtime_new(&cfg, &rt), 0);
	ck_assert_int_eq(td_runtime_block_on(rt, &sc.base, NULL), 0);
	ck_assert(td_async_done(&sc.as));
	ck_assert_int_eq(sc.all.error, 0);
	ck_assert_uint_ge(sc.t_all, 29);
	ck_assert_uint_lt(sc.t_all, 5000);
	ck_assert_int_eq(sc.yields, 3);
	ck_assert_uint_eq(sc.sel.winner, 1);
	ck_assert_uint_ge(sc.t_sel, 19);
	ck_assert_uint_lt(sc.t_sel, 5000);
	td_runtime_free(rt);
}

START_TEST(current_thread)
{
	run_scenario(TD_FLAVOR_CURRENT_THREAD);
}
END_TEST

START_TEST(multi_thread)
{
	run_scenario(TD_FLAVOR_MULTI_THREAD);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("combinators_runtime");
	TCase *tc = tcase_create("runtime");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, current_thread);
	tcase_add_test(tc, multi_thread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(runtime_suite());
}
