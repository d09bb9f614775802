/* runtime.c - finding the taskdump runtime the program uses.
 *
 * The agent does not link libtaskdump: the program may link it, dlopen it
 * later (even RTLD_LOCAL), link it statically with exported symbols, or not
 * use it at all.  At dump time we look for td_dump_all first in the global
 * scope, then in every loaded object, reopening each with RTLD_NOLOAD so
 * that nothing is ever loaded by us.
 */
#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

#include "agent.h"

static bool fill(void *handle, struct agent_runtime_api *api)
{
	void *dump = dlsym(handle, "td_dump_all");
	void *text = dlsym(handle, "td_dump_write_text");
	void *json = dlsym(handle, "td_dump_write_json");
	void *dfree = dlsym(handle, "td_dump_free");
	if (!dump || !text || !json || !dfree)
		return false;
	/* Object pointers to function pointers: POSIX dlsym semantics. */
	memcpy(&api->dump_all, &dump, sizeof(dump));
	memcpy(&api->write_text, &text, sizeof(text));
	memcpy(&api->write_json, &json, sizeof(json));
	memcpy(&api->free_dump, &dfree, sizeof(dfree));
	return true;
}

struct search {
	struct agent_runtime_api *api;
	bool found;
};

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct search *s = arg;
	(void)size;
	if (s->found || !info->dlpi_name || !info->dlpi_name[0])
		return 0;
	void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return 0;
	s->found = fill(h, s->api);
	dlclose(h); /* drops only the reference NOLOAD took */
	return s->found;
}

bool agent_find_runtime(struct agent_runtime_api *api)
{
	memset(api, 0, sizeof(*api));
	if (fill(RTLD_DEFAULT, api))
		return true;
	struct search s = {api, false};
	dl_iterate_phdr(visit, &s);
	if (!s.found)
		memset(api, 0, sizeof(*api));
	return s.found;
}
