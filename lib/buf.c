/*
 * NAME
 *	buf - growable byte buffer with a consumed prefix
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

/* buf_reserve - make room for n more bytes after len */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t live = b->len - b->off, want;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (b->off > 0 && b->cap - live >= n) {
		memmove(b->data, b->data + b->off, live);
		b->off = 0;
		b->len = live;
		return 0;
	}
	want = b->cap ? b->cap : 256;
	while (want - live < n) {
		if (want > (size_t)-1 / 2)
			return -1;
		want *= 2;
	}
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, live);
		b->off = 0;
		b->len = live;
	}
	if ((p = realloc(b->data, want)) == NULL)
		return -1;
	b->data = p;
	b->cap = want;
	return 0;
}

/* buf_append - copy n bytes to the end */
int
buf_append(struct buf *b, const void *src, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

/* buf_consume - drop n bytes from the front */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* buf_reset - empty the buffer, keeping its allocation */
void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

/* buf_free - empty the buffer and release its allocation */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
