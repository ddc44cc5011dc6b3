/*
 * NAME
 *	heap - message text blocks in the heap region
 * DESCRIPTION
 *	Blocks come in power-of-two classes from 16 bytes up.  A free block
 *	keeps the offset of the next free block of its class in its first
 *	8 bytes; a live block carries no header (its owner knows its length).
 *	New blocks are cut from heap_top.  Offset 0 is never handed out, so
 *	it can mean "none".  Runs inside a transaction.
 */
#include <errno.h>
#include <string.h>

#include "shm/state.h"

static int
class_of(size_t len)
{
	int k = 0;

	while (((size_t)1 << (k + HEAP_MIN_SHIFT)) < len)
		k++;
	return k;
}

static uint64_t
class_size(int k)
{
	return (uint64_t)1 << (k + HEAP_MIN_SHIFT);
}

/* heap_alloc - a block for len bytes; ENOSPC when the region is full */
int
heap_alloc(struct state *st, size_t len, uint64_t *off)
{
	struct shm_header *h = st->hdr;
	int k = class_of(len);
	uint64_t *head, size;

	if (k >= HEAP_CLASSES) {
		errno = E2BIG;
		return -1;
	}
	head = &h->heap_free[k];
	size = class_size(k);
	if (txn_log(st, &h->heap_used, sizeof(h->heap_used)) == -1)
		return -1;
	if (*head != 0) {
		uint64_t *next = (uint64_t *)(void *)(st->heap + *head);
		if (*head + size > h->heap_top ||
		    txn_log(st, head, sizeof(*head)) == -1 ||
		    txn_log(st, next, sizeof(*next)) == -1) {
			if (errno != ENOSPC)
				errno = EIO;
			return -1;
		}
		*off = *head;
		*head = *next;
	} else {
		if (h->heap_top + size > h->region[RG_HEAP].size) {
			errno = ENOSPC;
			return -1;
		}
		if (txn_log(st, &h->heap_top, sizeof(h->heap_top)) == -1)
			return -1;
		*off = h->heap_top;
		h->heap_top += size;
	}
	h->heap_used += size;
	return 0;
}

/* heap_release - return the block at off, which held len bytes */
int
heap_release(struct state *st, uint64_t off, size_t len)
{
	struct shm_header *h = st->hdr;
	int k = class_of(len);
	uint64_t *head = &h->heap_free[k];
	uint64_t *block = (uint64_t *)(void *)(st->heap + off);

	if (txn_log(st, head, sizeof(*head)) == -1 ||
	    txn_log(st, block, sizeof(*block)) == -1 ||
	    txn_log(st, &h->heap_used, sizeof(h->heap_used)) == -1)
		return -1;
	*block = *head;
	*head = off;
	h->heap_used -= class_size(k);
	return 0;
}
