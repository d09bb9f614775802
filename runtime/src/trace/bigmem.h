/* bigmem.h - internal: the large buffers of a dump, kept for the next one.
 *
 * A dump of 100 000 tasks needs some 60 MB at once (the pause's records,
 * the collector's backtraces, the dump's own entries), and fresh memory
 * costs a page fault and a page clearing for every 4 KiB touched: a fifth
 * of such a dump was the kernel clearing pages.  So buffers of at least
 * TD_BIG_MIN bytes are mappings of their own, populated when made (one
 * system call instead of a fault per page), and given back to a pool
 * when the dump is done with them, for the next dump to reuse as they are
 * (their bytes are NOT zeroed).
 *
 * Bounds: the pool holds at most TD_BIG_POOL_MAX bytes (TD_BIG_POOL_SLOTS
 * mappings); what does not fit is unmapped at once, so a rare big dump
 * (a million tasks) returns its memory as soon as it is over and an idle
 * process keeps at most the bound.
 *
 * fork(): pooled mappings are MADV_WIPEONFORK, so neither process pays a
 * copy-on-write copy for them (the child sees zeros there); the child's
 * handler (td_big_after_fork_child) unmaps them and starts an empty pool.
 * A mapping handed out is MADV_KEEPONFORK again: a dump's data read by a
 * child stays intact.
 *
 * Thread-safe (one lock, held only to pick or put an entry).
 */
#ifndef TD_TRACE_BIGMEM_H
#define TD_TRACE_BIGMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Smaller buffers come from malloc. */
#define TD_BIG_MIN ((size_t)1 << 20)
#define TD_BIG_POOL_MAX ((size_t)64 << 20)
#define TD_BIG_POOL_SLOTS 32

/* A mapping of at least `size` bytes (a pooled one when one fits, else a
 * new, populated one); its size in *got.  Contents undefined.  NULL when
 * out of memory. */
void *td_big_alloc(size_t size, size_t *got);

/* Give back a mapping from td_big_alloc (`size` as *got said). */
void td_big_free(void *p, size_t size);

/* A buffer that is a mapping when big, malloc'ed when small. */
struct td_big_buf {
	void *p;
	size_t mapped; /* td_big_alloc's size; 0: malloc'ed */
};

/* At least `size` bytes into buf->p (contents undefined).  Returns false,
 * buf->p NULL, when out of memory. */
bool td_big_buf_get(struct td_big_buf *buf, size_t size);

/* Give buf->p back (NULL is fine); buf is empty afterwards. */
void td_big_buf_put(struct td_big_buf *buf);

/* In a fork child: forget the pool (unmapping it). */
void td_big_after_fork_child(void);

/* Bytes in the pool now (tests). */
size_t td_big_pooled(void);

#endif /* TD_TRACE_BIGMEM_H */
