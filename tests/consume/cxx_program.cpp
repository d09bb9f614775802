// cxx_program.cpp - the public headers from C++17: every one of them
// compiles, and a program written in C++ links against libtaskdump, runs
// an async function (TD_BEGIN/TD_AWAIT/TD_END) on both flavors and dumps
// it (issue 14).  Built by test_cxx.sh with g++ and clang++.
#include "taskdump/combinators.h"
#include "taskdump/dump.h"
#include "taskdump/export.h"
#include "taskdump/future.h"
#include "taskdump/io.h"
#include "taskdump/mpsc.h"
#include "taskdump/mutex.h"
#include "taskdump/notify.h"
#include "taskdump/oneshot.h"
#include "taskdump/runtime.h"
#include "taskdump/semaphore.h"
#include "taskdump/sync_list.h"
#include "taskdump/task.h"
#include "taskdump/taskdump.h"
#include "taskdump/time.h"
#include "taskdump/trace.h"
#include "taskdump/waker.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// An async function: two naps, then it counts itself done.
struct napper {
	td_future base;
	td_async as;
	td_sleep nap;
	int *done;
};

td_poll napper_poll(td_future *f, td_context *cx)
{
	napper *n = reinterpret_cast<napper *>(f);
	TD_BEGIN(&n->as);
	td_sleep_init(&n->nap, 5);
	TD_AWAIT(&n->as, &n->nap, cx);
	td_sleep_init(&n->nap, 5);
	TD_AWAIT(&n->as, &n->nap, cx);
	++*n->done;
	TD_END(&n->as);
}

void napper_drop(td_future *f)
{
	td_async_drop(&reinterpret_cast<napper *>(f)->as);
}

const td_future_vtable napper_vtable = {napper_poll, napper_drop, nullptr,
					"napper"};

int run(td_flavor flavor)
{
	td_runtime_config cfg{};
	cfg.flavor = flavor;
	cfg.workers = 2;
	cfg.name = "cxx";
	td_runtime *rt = nullptr;
	if (td_runtime_new(&cfg, &rt) != 0)
		return 1;

	int done = 0;
	napper idle{};
	idle.base.vtable = &napper_vtable;
	idle.done = &done;
	td_join_handle h;
	if (td_spawn_named(rt, "napper", &idle, &h) != 0)
		return 1;

	// A dump from C++: the task is listed under its name.
	td_dump *d = nullptr;
	td_dump_options opts{};
	opts.timeout_ms = 2000;
	td_write_options wopts{};
	char *text = nullptr;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem || td_runtime_dump(rt, &opts, &d) != 0 ||
	    td_dump_write_text(d, mem, &wopts) != 0)
		return 1;
	std::fclose(mem);
	td_dump_free(d);
	bool listed = std::string(text).find("name=\"napper\"") !=
		      std::string::npos;
	std::free(text);
	if (!listed) {
		std::fprintf(stderr, "cxx: the dump does not list the task\n");
		return 1;
	}

	td_join join;
	td_join_init(&join, &h);
	if (td_runtime_block_on(rt, &join.base, nullptr) != 0 || join.error)
		return 1;
	td_runtime_free(rt);
	return done == 1 ? 0 : 1;
}

} // namespace

int main()
{
	static_assert(__cplusplus >= 201703L, "built as C++17");
	if (run(TD_FLAVOR_CURRENT_THREAD) != 0 ||
	    run(TD_FLAVOR_MULTI_THREAD) != 0) {
		std::puts("cxx: failed");
		return 1;
	}
	std::puts("cxx: ok");
	return 0;
}
