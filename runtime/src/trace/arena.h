/* arena.h - internal: a bump allocator for data that is freed all at once
 * (a dump and everything it points to). */
#ifndef TD_TRACE_ARENA_H
#define TD_TRACE_ARENA_H

#include <stddef.h>

struct td_arena_chunk;

struct td_arena {
	struct td_arena_chunk *chunks; /* newest first */
	char *cur, *end;
	int failed; /* some allocation failed */
	size_t bytes; /* in all chunks */
};

void td_arena_init(struct td_arena *a);

/* size bytes aligned for any type, or NULL (and `failed` set). */
void *td_arena_alloc(struct td_arena *a, size_t size);

/* Room for n elements of `size` bytes, NOT zeroed (n * size checked for
 * overflow). */
void *td_arena_alloc_array(struct td_arena *a, size_t n, size_t size);

/* As td_arena_alloc, zeroed; n * size checked for overflow. */
void *td_arena_calloc(struct td_arena *a, size_t n, size_t size);

/* A copy of s (NULL for NULL). */
char *td_arena_strdup(struct td_arena *a, const char *s);

void td_arena_free(struct td_arena *a);

#endif /* TD_TRACE_ARENA_H */
