/* arena.c - a bump allocator (see arena.h).
 *
 * Chunks grow with the arena (a quarter of what it holds, up to
 * MAX_GROWTH), so that a dump of a million tasks takes a few dozen big
 * chunks, not thousands of small ones; chunks of TD_BIG_MIN bytes and
 * more are trace/bigmem.h's mappings, reused by the next dump. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/arena.h"
#include "trace/bigmem.h"

#define CHUNK_SIZE (256u * 1024u)
#define MAX_GROWTH ((size_t)8 << 20)
#define ALIGN 16u

struct td_arena_chunk {
	struct td_arena_chunk *next;
	size_t size;   /* of the data */
	size_t mapped; /* a td_big_alloc mapping of this size; 0: malloc */
	/* data follows, ALIGN-aligned */
};

void td_arena_init(struct td_arena *a)
{
	a->chunks = NULL;
	a->cur = a->end = NULL;
	a->failed = 0;
	a->bytes = 0;
}

void *td_arena_alloc(struct td_arena *a, size_t size)
{
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (size == 0)
		size = ALIGN;
	if ((size_t)(a->end - a->cur) < size || !a->cur) {
		size_t grown = a->bytes / 4 < MAX_GROWTH ? a->bytes / 4
							  : MAX_GROWTH;
		size_t data = size > CHUNK_SIZE ? size : CHUNK_SIZE;
		if (grown > data)
			data = grown;
		size_t head = (sizeof(struct td_arena_chunk) + ALIGN - 1) &
			      ~(size_t)(ALIGN - 1);
		size_t mapped = 0;
		struct td_arena_chunk *c;
		if (head + data >= TD_BIG_MIN) {
			c = td_big_alloc(head + data, &mapped);
			data = mapped - head; /* all of the mapping */
		} else {
			c = malloc(head + data);
		}
		if (!c) {
			a->failed = 1;
			return NULL;
		}
		c->next = a->chunks;
		c->size = data;
		c->mapped = mapped;
		a->bytes += data;
		a->chunks = c;
		a->cur = (char *)c + head;
		a->end = a->cur + data;
	}
	void *p = a->cur;
	a->cur += size;
	return p;
}

void *td_arena_alloc_array(struct td_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		a->failed = 1;
		return NULL;
	}
	return td_arena_alloc(a, n * size);
}

void *td_arena_calloc(struct td_arena *a, size_t n, size_t size)
{
	void *p = td_arena_alloc_array(a, n, size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

char *td_arena_strdup(struct td_arena *a, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = td_arena_alloc(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void td_arena_free(struct td_arena *a)
{
	struct td_arena_chunk *c = a->chunks;
	while (c) {
		struct td_arena_chunk *next = c->next;
		if (c->mapped)
			td_big_free(c, c->mapped);
		else
			free(c);
		c = next;
	}
	td_arena_init(a);
}
