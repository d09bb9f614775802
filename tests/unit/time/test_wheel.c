/* test_wheel.c - the hierarchical timing wheel (time/wheel.h), checked
 * against a brute-force model: random inserts, removes and advances with
 * deadlines on every level, beyond the wheel's span (> 64^6 ticks) and
 * equal to `elapsed`.  Every entry must fire exactly once, never early and
 * never late (in the advance whose `now` reaches its deadline), and
 * next_expiration must never be later than the earliest deadline - nor
 * stall (repeatedly advancing to it must make progress).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "time/wheel.h"

#define SPAN ((uint64_t)1 << 36) /* 64^6 */

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: %s failed (seed %" PRIu64     \
					")\n",                                \
				__FILE__, __LINE__, #cond, g_seed);           \
			abort();                                              \
		}                                                             \
	} while (0)

static uint64_t g_seed;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t seed_from_env(void)
{
	const char *s = getenv("TD_WHEEL_SEED");
	return s ? strtoull(s, NULL, 0) : (uint64_t)test_now_ms();
}

/* ---- the model ------------------------------------------------------------ */

struct model_entry {
	td_timer_entry e;
	bool in_wheel;
	int fired;
};

struct model {
	struct td_wheel w;
	struct model_entry *ents;
	size_t n;
	uint64_t rng;
	size_t live;
	unsigned long fired_total, inserted_total;
};

static struct model_entry *of(td_timer_entry *e)
{
	return (struct model_entry *)(void *)e; /* e is the first member */
}

/* A random delta, spread over every level of the wheel and beyond. */
static uint64_t rand_delta(uint64_t *rng)
{
	uint64_t r = splitmix(rng);
	switch (r % 16) {
	case 0:
		return 0; /* equal to elapsed: refused */
	case 1:
		return 1;
	case 2:
		return 1 + (r >> 8) % 64; /* level 0 */
	case 3:
		return (r >> 8) % 4096; /* level 1 */
	case 4:
		return (r >> 8) % (1u << 18);
	case 5:
		return (r >> 8) % (1u << 24);
	case 6:
		return (r >> 8) % (1u << 30);
	case 7:
		return (r >> 8) % SPAN; /* level 5 */
	case 8:
		return SPAN - 1 - (r >> 8) % 4096; /* the edge of the span */
	case 9:
		return SPAN + (r >> 8) % 4096; /* just past it */
	case 10:
		return SPAN + (r >> 8) % (SPAN * 64); /* far future */
	case 11: {
		/* a level boundary, give or take one */
		unsigned lvl = (unsigned)((r >> 8) % 6) + 1;
		uint64_t b = (uint64_t)1 << (6 * lvl);
		return b - 1 + (r >> 16) % 3;
	}
	default:
		return 1 + (r >> 8) % 200; /* mostly near */
	}
}

static void check_next_expiration(struct model *m)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < m->n; i++)
		if (m->ents[i].in_wheel && m->ents[i].e.deadline < min)
			min = m->ents[i].e.deadline;
	uint64_t next = td_wheel_next_expiration(&m->w);
	if (m->live == 0) {
		REQUIRE(next == UINT64_MAX);
		REQUIRE(td_wheel_is_empty(&m->w));
		return;
	}
	REQUIRE(!td_wheel_is_empty(&m->w));
	REQUIRE(next <= min);          /* never later than the earliest */
	REQUIRE(next >= m->w.elapsed); /* never in the past */
}

static void model_insert(struct model *m, struct model_entry *me,
			 uint64_t deadline)
{
	memset(&me->e, 0, sizeof(me->e));
	me->e.deadline = deadline;
	bool ok = td_wheel_insert(&m->w, &me->e);
	/* Refused exactly when the deadline is not after elapsed. */
	REQUIRE(ok == (deadline > m->w.elapsed));
	if (ok) {
		me->in_wheel = true;
		me->fired = 0;
		m->live++;
		m->inserted_total++;
	}
}

static void model_remove(struct model *m, struct model_entry *me)
{
	td_wheel_remove(&m->w, &me->e);
	me->in_wheel = false;
	m->live--;
}

/* Advance to `now` and check what fired against the model. */
static size_t model_advance(struct model *m, uint64_t now)
{
	uint64_t before = m->w.elapsed;
	td_timer_entry *e = td_wheel_advance(&m->w, now);
	size_t n = 0;
	while (e) {
		td_timer_entry *next = e->next;
		struct model_entry *me = of(e);
		REQUIRE(me >= m->ents && me < m->ents + m->n);
		REQUIRE(me->in_wheel);       /* was registered */
		REQUIRE(me->fired == 0);     /* fires once */
		REQUIRE(e->deadline <= now); /* never early */
		REQUIRE(e->deadline > before);
		me->fired = 1;
		me->in_wheel = false;
		m->live--;
		m->fired_total++;
		n++;
		e = next;
	}
	/* Never late: whatever is left is due after now. */
	for (size_t i = 0; i < m->n; i++)
		if (m->ents[i].in_wheel)
			REQUIRE(m->ents[i].e.deadline > now);
	REQUIRE(m->w.elapsed >= now || m->w.elapsed == before);
	REQUIRE(m->w.elapsed == (now > before ? now : before));
	check_next_expiration(m);
	return n;
}

static void model_init(struct model *m, size_t n, uint64_t start,
		       uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	td_wheel_init(&m->w, start);
	m->ents = calloc(n, sizeof(*m->ents));
	ck_assert_ptr_nonnull(m->ents);
	m->n = n;
	m->rng = seed;
}

/* Repeatedly advancing to next_expiration reaches the earliest entry in a
 * bounded number of hops when it is within the wheel's span: each hop
 * either moves it down a level, or re-parks the far-future entries of one
 * top-level slot (at most every slot, twice), so a wheel that reports a
 * slot as due without moving anything on fails here. */
static void check_progress(struct model *m)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < m->n; i++)
		if (m->ents[i].in_wheel && m->ents[i].e.deadline < min)
			min = m->ents[i].e.deadline;
	if (min == UINT64_MAX || min - m->w.elapsed >= SPAN)
		return;
	for (int hops = 0;; hops++) {
		REQUIRE(hops <= TD_WHEEL_LEVELS + 2 * TD_WHEEL_SLOTS + 4);
		uint64_t next = td_wheel_next_expiration(&m->w);
		REQUIRE(next <= min);
		if (model_advance(m, next) > 0)
			break;
	}
	REQUIRE(m->w.elapsed == min);
}

static void run_model(uint64_t seed, uint64_t start, size_t nents, long ops)
{
	struct model m;
	model_init(&m, nents, start, seed);
	for (long op = 0; op < ops; op++) {
		uint64_t r = splitmix(&m.rng);
		struct model_entry *me = &m.ents[r % m.n];
		switch ((r >> 32) % 10) {
		case 0: case 1: case 2: case 3:
			if (!me->in_wheel) {
				uint64_t d = rand_delta(&m.rng);
				/* now and then a deadline in the past */
				uint64_t dl = (r >> 40) % 17 == 0 && m.w.elapsed > d
						      ? m.w.elapsed - d
						      : m.w.elapsed + d;
				model_insert(&m, me, dl);
			}
			break;
		case 4:
			if (me->in_wheel)
				model_remove(&m, me);
			break;
		case 5: case 6: case 7:
			model_advance(&m, m.w.elapsed + rand_delta(&m.rng));
			break;
		case 8:
			/* exactly to the next expiration, or just before */
			if (m.live) {
				uint64_t nx = td_wheel_next_expiration(&m.w);
				model_advance(&m, (r >> 40) & 1 ? nx : nx - 1);
			}
			break;
		case 9:
			if ((r >> 40) % 8 == 0)
				check_progress(&m);
			else
				model_advance(&m, m.w.elapsed); /* no time */
			break;
		}
		check_next_expiration(&m);
	}
	/* Drain: everything fires at the very end, once. */
	while (m.live) {
		uint64_t nx = td_wheel_next_expiration(&m.w);
		REQUIRE(nx != UINT64_MAX);
		model_advance(&m, nx + (nx - m.w.elapsed) / 2);
	}
	for (size_t i = 0; i < m.n; i++)
		REQUIRE(!m.ents[i].in_wheel);
	REQUIRE(td_wheel_is_empty(&m.w));
	REQUIRE(m.fired_total > 0);
	free(m.ents);
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(random_model)
{
	/* _i selects where the wheel's clock starts: 0 (as the driver does),
	 * odd values inside every level's block, and past the top block. */
	static const uint64_t starts[] = {
		0, 1, 63, 64 * 64 - 1, 5ull * (1u << 30) + 100,
		SPAN - 5, SPAN + 12345, 3 * SPAN + (SPAN / 2) + 7,
	};
	g_seed = seed_from_env() + (uint64_t)_i;
	fprintf(stderr, "wheel random_model[%d]: seed %" PRIu64
			" (TD_WHEEL_SEED to repeat)\n",
		_i, g_seed - (uint64_t)_i);
	run_model(g_seed, starts[_i], 600, 60000);
}
END_TEST

/* A deadline more than 64^6 ticks ahead, registered when `elapsed` is not
 * at a top-level block boundary, is parked in the top level.  It must not
 * be due at once (the wheel would spin re-inserting it into the slot it
 * is processing), must not fire early, and must fire when its time
 * comes. */
START_TEST(far_future_not_due_at_once)
{
	static const uint64_t starts[] = {1, 1000, 5ull * (1u << 30) + 100,
					  SPAN - 1, SPAN + 1};
	static const uint64_t deltas[] = {
		SPAN, SPAN + 1, 2 * SPAN, ((uint64_t)1 << 40),
		((uint64_t)1 << 44), SPAN - 1, SPAN - 50,
	};
	g_seed = 0;
	for (size_t si = 0; si < sizeof(starts) / sizeof(starts[0]); si++) {
		for (size_t di = 0; di < sizeof(deltas) / sizeof(deltas[0]);
		     di++) {
			struct td_wheel w;
			td_timer_entry e;
			uint64_t start = starts[si];
			memset(&e, 0, sizeof(e));
			td_wheel_init(&w, start);
			e.deadline = start + deltas[di];
			ck_assert(td_wheel_insert(&w, &e));
			uint64_t nx = td_wheel_next_expiration(&w);
			ck_assert_uint_le(nx, e.deadline);
			ck_assert_uint_ge(nx, start);
			/* Nothing is due one tick later... */
			ck_assert_ptr_null(td_wheel_advance(&w, start + 1));
			/* ...nor just before the deadline... */
			ck_assert_ptr_null(
				td_wheel_advance(&w, e.deadline - 1));
			ck_assert(!td_wheel_is_empty(&w));
			/* ...and at the deadline it fires, once. */
			ck_assert_ptr_eq(td_wheel_advance(&w, e.deadline), &e);
			ck_assert(td_wheel_is_empty(&w));
			ck_assert_uint_eq(td_wheel_next_expiration(&w),
					  UINT64_MAX);
		}
	}
}
END_TEST

/* Stepping one tick at a time (as a busy driver does) through entries on
 * several levels: each fires in the step that reaches its deadline. */
START_TEST(tick_by_tick)
{
	enum { N = 300 };
	struct td_wheel w;
	td_timer_entry e[N];
	uint64_t rng = 42;
	g_seed = 42;
	td_wheel_init(&w, 1000);
	for (int i = 0; i < N; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].deadline = 1001 + splitmix(&rng) % 9000;
		ck_assert(td_wheel_insert(&w, &e[i]));
	}
	int fired = 0;
	for (uint64_t now = 1001; now <= 10001; now++) {
		for (td_timer_entry *x = td_wheel_advance(&w, now); x;
		     x = x->next) {
			REQUIRE(x->deadline == now);
			fired++;
		}
	}
	ck_assert_int_eq(fired, N);
	ck_assert(td_wheel_is_empty(&w));
}
END_TEST

/* Removing entries from the middle and the ends of a slot's list keeps
 * the others, and an emptied slot is no longer reported. */
START_TEST(remove_from_slot_lists)
{
	struct td_wheel w;
	td_timer_entry e[5];
	td_wheel_init(&w, 0);
	for (int i = 0; i < 5; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].deadline = 100; /* same slot */
		ck_assert(td_wheel_insert(&w, &e[i]));
	}
	td_wheel_remove(&w, &e[2]); /* middle */
	td_wheel_remove(&w, &e[4]); /* head (inserted last) */
	td_wheel_remove(&w, &e[0]); /* tail */
	int seen[5] = {0};
	for (td_timer_entry *x = td_wheel_advance(&w, 100); x; x = x->next)
		seen[x - e]++;
	ck_assert_int_eq(seen[0] + seen[2] + seen[4], 0);
	ck_assert_int_eq(seen[1], 1);
	ck_assert_int_eq(seen[3], 1);
	ck_assert(td_wheel_is_empty(&w));

	memset(&e[0], 0, sizeof(e[0]));
	e[0].deadline = 5000;
	ck_assert(td_wheel_insert(&w, &e[0]));
	td_wheel_remove(&w, &e[0]);
	ck_assert(td_wheel_is_empty(&w));
	ck_assert_uint_eq(td_wheel_next_expiration(&w), UINT64_MAX);
	ck_assert_ptr_null(td_wheel_advance(&w, 1u << 20));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wheel");
	TCase *tc = tcase_create("wheel");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, random_model, 0, 8);
	tcase_add_test(tc, far_future_not_due_at_once);
	tcase_add_test(tc, tick_by_tick);
	tcase_add_test(tc, remove_from_slot_lists);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(suite());
}
