/*
 * NAME
 *	ascii - printed JSON made pure ASCII
 * SUMMARY
 *	len = ascii_escaped_len(s, n);
 *	ascii_escape(s, n, out);		out holds len bytes
 *	ascii_escape_tail(buf, used_before);	in place, at the end of buf
 *	text = json_print_ascii(o);		free with cJSON_free()
 * DESCRIPTION
 *	cJSON prints strings as raw UTF-8.  The public clients read replies
 *	in fixed-size chunks and decode each chunk on its own, so a
 *	character split across two chunks kills them.  Every reply and every
 *	link frame therefore goes out with each non-ASCII character as
 *	\uXXXX, and a character above U+FFFF as a surrogate pair, as
 *	Python's json.dumps writes it.
 *
 *	The step runs on printed JSON.  In valid JSON a byte of 0x80 and up
 *	can only stand inside a string, where the escape means the same
 *	character, so no parsing is needed.  cJSON has already escaped the
 *	quote, the backslash and the control characters.  Text is made
 *	well-formed before it is stored (json_add_text, utf8_sanitize); a
 *	malformed byte that gets here all the same becomes \ufffd.
 */
#ifndef RC_ASCII_H
#define RC_ASCII_H

#include <stddef.h>
#include <cJSON.h>

#include "lib/buf.h"

size_t	 ascii_escaped_len(const char *s, size_t len);
size_t	 ascii_escape(const char *s, size_t len, char *out);
int	 ascii_escape_tail(struct buf *, size_t used_before);
char	*json_print_ascii(const cJSON *);

#endif
