/* write_cache.h - internal: pieces of output the dump writers repeat.
 *
 * A dump of 100 000 tasks shows the same few dozen frames (and spawn
 * locations) over and over, with the very same string pointers: the
 * symbolizer caches its answers per address.  Escaping those strings again
 * for every task is most of a writer's work, so the writers keep what they
 * rendered for a key made of the pointers and numbers the rendering reads,
 * and copy it on the next use.
 *
 * Pointer keys are sound here because a dump is immutable while it is
 * written: equal pointers and equal numbers render to equal bytes.  Equal
 * strings at different addresses merely miss the cache.
 *
 * The cache is direct-mapped (a colliding key replaces the entry) and its
 * text arena is bounded (when full, everything is forgotten at once), so
 * its memory use is fixed whatever the dump.
 */
#ifndef TD_TRACE_WRITE_CACHE_H
#define TD_TRACE_WRITE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/write_buf.h"

/* Everything a rendering depends on.  Fill every field (unused ones 0):
 * keys are compared with memcmp (no padding in this layout). */
struct td_wcache_key {
	const void *p[3];
	uint64_t a, b, c;
};

struct td_wcache_entry {
	struct td_wcache_key key;
	uint32_t off, len;  /* in the arena; off == UINT32_MAX: empty */
};

struct td_wcache {
	struct td_wcache_entry *slots;
	char *arena;
	size_t used;
};

/* Allocate an empty cache.  Returns 0 or -ENOMEM. */
int td_wcache_init(struct td_wcache *c);

void td_wcache_free(struct td_wcache *c);

#define TD_WCACHE_SLOTS 4096u /* a power of two */
#define TD_WCACHE_EMPTY UINT32_MAX

typedef void td_wcache_render(struct td_wbuf *b, const void *arg);

/* The miss path of td_wbuf_cached: render, and keep the bytes in e. */
void td_wcache_fill(struct td_wbuf *b, struct td_wcache_entry *e,
		    const struct td_wcache_key *key, td_wcache_render *render,
		    const void *arg);

static inline bool td_wcache_key_eq(const struct td_wcache_key *a,
				    const struct td_wcache_key *b)
{
	return a->p[0] == b->p[0] && a->p[1] == b->p[1] &&
	       a->p[2] == b->p[2] && a->a == b->a && a->b == b->b &&
	       a->c == b->c;
}

/* Append to b what render(b, arg) appends, taken from b->cache when `key`
 * was rendered before (no cache attached: just render).  Inline: the hit
 * path runs for every frame of a dump. */
static inline void td_wbuf_cached(struct td_wbuf *b,
				  const struct td_wcache_key *key,
				  td_wcache_render *render, const void *arg)
{
	struct td_wcache *c = b->cache;
	struct td_wcache_entry *e;
	uint64_t h;

	if (!c) {
		render(b, arg);
		return;
	}
	h = ((uint64_t)(uintptr_t)key->p[0] ^
	     (uint64_t)(uintptr_t)key->p[1] << 7 ^
	     (uint64_t)(uintptr_t)key->p[2] << 13 ^
	     key->a * 0x9e3779b97f4a7c15ull ^ key->b << 21 ^ key->c << 29) *
	    0xff51afd7ed558ccdull;
	e = &c->slots[(h >> 40) & (TD_WCACHE_SLOTS - 1)];
	if (e->off != TD_WCACHE_EMPTY && td_wcache_key_eq(&e->key, key))
		td_wbuf_put(b, c->arena + e->off, e->len);
	else
		td_wcache_fill(b, e, key, render, arg);
}

/* td_wbuf_frame(b, fr) through the cache. */
void td_wbuf_frame_cached(struct td_wbuf *b, const td_dump_frame *fr);

#endif /* TD_TRACE_WRITE_CACHE_H */
