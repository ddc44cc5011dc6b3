/*
 * NAME
 *	buf - growable byte buffer with a consumed prefix
 * DESCRIPTION
 *	Bytes live in data[off, len).  Appends grow the allocation; consuming
 *	moves off, and the dead prefix is reclaimed on the next append.
 *	An empty buffer may hold no allocation at all (idle connections).
 *	buf_send() writes what one holds to a non-blocking socket.
 */
#ifndef RC_BUF_H
#define RC_BUF_H

#include <stddef.h>

struct buf {
	char	*data;		/* allocation, or NULL */
	size_t	 off;		/* first live byte */
	size_t	 len;		/* end of live bytes */
	size_t	 cap;		/* size of the allocation */
};

static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
/* NULL for a buffer without allocation: NULL + 0 is undefined in C */
static inline char *buf_head(const struct buf *b)
{ return b->data != NULL ? b->data + b->off : NULL; }

int	buf_reserve(struct buf *, size_t);
int	buf_append(struct buf *, const void *, size_t);
void	buf_consume(struct buf *, size_t);
void	buf_reset(struct buf *);
void	buf_free(struct buf *);
int	buf_send(struct buf *, int fd, size_t *sent);

#endif
