/* write_cache.c - the writers' cache of rendered pieces (write_cache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/write_cache.h"

#define ARENA (256u * 1024u)
#define MAX_PIECE 1024u        /* longer pieces are not kept */

static void clear(struct td_wcache *c)
{
	size_t i;

	for (i = 0; i < TD_WCACHE_SLOTS; i++)
		c->slots[i].off = TD_WCACHE_EMPTY;
	c->used = 0;
}

int td_wcache_init(struct td_wcache *c)
{
	c->slots = malloc(TD_WCACHE_SLOTS * sizeof(*c->slots));
	c->arena = malloc(ARENA);
	if (!c->slots || !c->arena) {
		td_wcache_free(c);
		return -ENOMEM;
	}
	clear(c);
	return 0;
}

void td_wcache_free(struct td_wcache *c)
{
	free(c->slots);
	free(c->arena);
	c->slots = NULL;
	c->arena = NULL;
}

void td_wcache_fill(struct td_wbuf *b, struct td_wcache_entry *e,
		    const struct td_wcache_key *key, td_wcache_render *render,
		    const void *arg)
{
	struct td_wcache *c = b->cache;
	unsigned long flushes;
	const char *start;
	size_t n;

	/* Render in place; keep the bytes only if no flush intervened (they
	 * are then contiguous in the buffer). */
	td_wbuf_reserve(b, TD_WBUF_MAX_RESERVE);
	flushes = b->flushes;
	start = b->pos;
	render(b, arg);
	n = (size_t)(b->pos - start);
	if (b->flushes != flushes || b->err || n > MAX_PIECE)
		return;
	if (c->used + n > ARENA)
		clear(c); /* e is among the slots cleared; refilled below */
	memcpy(c->arena + c->used, start, n);
	e->key = *key;
	e->off = (uint32_t)c->used;
	e->len = (uint32_t)n;
	c->used += n;
}

static void render_frame(struct td_wbuf *b, const void *fr)
{
	td_wbuf_frame(b, fr);
}

void td_wbuf_frame_cached(struct td_wbuf *b, const td_dump_frame *fr)
{
	/* The text shows the address only for a frame without a name. */
	bool named = fr->function && fr->function[0];
	struct td_wcache_key k = {
		{fr->function, fr->file, fr->module},
		(uint64_t)(uint32_t)fr->line << 1 | fr->inlined,
		fr->module_offset,
		named ? 0 : fr->ip,
	};

	td_wbuf_cached(b, &k, render_frame, fr);
}
