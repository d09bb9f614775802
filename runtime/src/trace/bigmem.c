/* bigmem.c - a pool of large dump buffers (see bigmem.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace/bigmem.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif

struct pooled {
	void *p;     /* NULL: free slot */
	size_t size;
};

/* pool_lock guards pool[] and pool_bytes (the sum of the sizes listed);
 * invariant: pool_bytes <= TD_BIG_POOL_MAX. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pooled pool[TD_BIG_POOL_SLOTS];
static size_t pool_bytes;

static size_t page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (size + page - 1) & ~(page - 1);
}

void *td_big_alloc(size_t size, size_t *got)
{
	size = page_round(size ? size : 1);
	/* The smallest pooled mapping that fits, if it is not more than
	 * twice too big (a small request must not pin a huge mapping). */
	pthread_mutex_lock(&pool_lock);
	struct pooled *best = NULL;
	for (size_t i = 0; i < TD_BIG_POOL_SLOTS; i++) {
		struct pooled *e = &pool[i];
		if (e->p && e->size >= size && e->size / 2 <= size &&
		    (!best || e->size < best->size))
			best = e;
	}
	void *p = NULL;
	if (best) {
		p = best->p;
		*got = best->size;
		pool_bytes -= best->size;
		best->p = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (p) {
		/* Best effort: at worst a child would see zeros here. */
		(void)madvise(p, *got, MADV_KEEPONFORK);
		return p;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*got = size;
	return p;
}

void td_big_free(void *p, size_t size)
{
	if (!p)
		return;
	bool kept = false;
	pthread_mutex_lock(&pool_lock);
	if (pool_bytes + size <= TD_BIG_POOL_MAX) {
		for (size_t i = 0; i < TD_BIG_POOL_SLOTS; i++) {
			if (!pool[i].p) {
				/* Marked before it is listed: a fork sees
				 * it wiped or in use, never shared. */
				(void)madvise(p, size, MADV_WIPEONFORK);
				pool[i] = (struct pooled){p, size};
				pool_bytes += size;
				kept = true;
				break;
			}
		}
	}
	pthread_mutex_unlock(&pool_lock);
	if (!kept)
		munmap(p, size);
}

bool td_big_buf_get(struct td_big_buf *buf, size_t size)
{
	buf->mapped = 0;
	if (size >= TD_BIG_MIN)
		buf->p = td_big_alloc(size, &buf->mapped);
	else
		buf->p = malloc(size ? size : 1);
	return buf->p != NULL;
}

void td_big_buf_put(struct td_big_buf *buf)
{
	if (buf->mapped)
		td_big_free(buf->p, buf->mapped);
	else
		free(buf->p);
	buf->p = NULL;
	buf->mapped = 0;
}

void td_big_after_fork_child(void)
{
	/* The lock may have been held by a thread that is not here. */
	pthread_mutex_init(&pool_lock, NULL);
	for (size_t i = 0; i < TD_BIG_POOL_SLOTS; i++) {
		if (pool[i].p)
			munmap(pool[i].p, pool[i].size);
		pool[i] = (struct pooled){NULL, 0};
	}
	pool_bytes = 0;
}

size_t td_big_pooled(void)
{
	pthread_mutex_lock(&pool_lock);
	size_t n = pool_bytes;
	pthread_mutex_unlock(&pool_lock);
	return n;
}
