/*
 * NAME
 *	buf - growable byte buffer with a consumed prefix
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/*
 * buf_send - send what b holds to the socket fd without blocking, and
 * consume what it took.  0 when b is empty or the socket is full (b
 * still holds bytes: wait until it is writable), -1 on any other error
 * (errno set; what was sent before it is consumed all the same).  If
 * sent is not NULL, *sent is the number of bytes written.  A peer that
 * hung up is an error, never a SIGPIPE.  Whatever made the bytes (a
 * reply, a channel message, TLS records) is the caller's: this only
 * writes them, one send() per chunk the socket takes.
 */
int
buf_send(struct buf *b, int fd, size_t *sent)
{
	size_t total = 0;
	int rc = 0;

	while (buf_used(b) > 0) {
		ssize_t n = send(fd, buf_head(b), buf_used(b),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			rc = errno == EAGAIN ? 0 : -1;
			break;
		}
		buf_consume(b, (size_t)n);
		total += (size_t)n;
	}
	if (sent != NULL)
		*sent = total;
	return rc;
}
