/*
 * NAME
 *	ascii - printed JSON made pure ASCII
 */
#include <stdint.h>
#include <string.h>

#include "lib/ascii.h"
#include "lib/util.h"

#define ESC_LEN		6	/* \uXXXX */

/* escape_len - bytes the character of n input bytes (0: malformed) takes */
static size_t
escape_len(size_t n, uint32_t cp)
{
	if (n == 1)
		return 1;
	return cp > 0xffff ? 2 * ESC_LEN : ESC_LEN;
}

/*
 * ascii_run - length of the run of ASCII bytes at the start of s: most
 * text is ASCII (and a file's base64 all of it), so it is stepped over
 * 32 bytes at a time, then 8.
 */
static size_t
ascii_run(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t word, w[4];
	size_t i = 0;

	while (len - i >= sizeof(w)) {
		memcpy(w, p + i, sizeof(w));
		if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ULL)
			break;
		i += sizeof(w);
	}
	while (len - i >= sizeof(word)) {
		memcpy(&word, p + i, sizeof(word));
		if (word & 0x8080808080808080ULL)
			break;
		i += sizeof(word);
	}
	while (i < len && p[i] < 0x80)
		i++;
	return i;
}

/* ascii_escaped_len - the length of s once escaped */
size_t
ascii_escaped_len(const char *s, size_t len)
{
	size_t out = 0, i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = ascii_run(s + i, len - i);
		i += n;
		out += n;
		if (i == len)
			break;
		n = utf8_decode(s + i, len - i, &cp);
		out += n == 0 ? ESC_LEN : escape_len(n, cp);
		i += n == 0 ? 1 : n;
	}
	return out;
}

/* put_u - write \uXXXX for the 16-bit unit u */
static void
put_u(char *out, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'u';
	out[2] = hex[(u >> 12) & 15];
	out[3] = hex[(u >> 8) & 15];
	out[4] = hex[(u >> 4) & 15];
	out[5] = hex[u & 15];
}

/*
 * ascii_escape - write s escaped to out, which holds
 * ascii_escaped_len(s, len) bytes; returns that length.  out may also
 * lie below s by the growth (out + ascii_escaped_len(s, len) == s + len,
 * the text moved to the end of the room it grows into): each character
 * is read before anything is written over it, and the writing never
 * passes the reading.
 */
size_t
ascii_escape(const char *s, size_t len, char *out)
{
	size_t o = 0, i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = ascii_run(s + i, len - i)) > 0) {
			memmove(out + o, s + i, n);	/* out may overlap s */
			o += n;
			i += n;
			continue;
		}
		n = utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		i += n;
		if (cp > 0xffff) {
			cp -= 0x10000;
			put_u(out + o, 0xd800 | (cp >> 10));
			put_u(out + o + ESC_LEN, 0xdc00 | (cp & 0x3ff));
			o += 2 * ESC_LEN;
		} else {
			put_u(out + o, cp);
			o += ESC_LEN;
		}
	}
	return o;
}

/*
 * ascii_escape_tail - escape, in place, the text at the end of b that
 * follows its first used_before live bytes (buf_used() before the text
 * was added), growing b as needed.  -1 when it cannot grow: the text is
 * then dropped, and b holds its first used_before bytes again.
 */
int
ascii_escape_tail(struct buf *b, size_t used_before)
{
	size_t len = buf_used(b) - used_before, skip, grow;
	char *p;

	/* the ASCII start of the text stays where it is */
	skip = ascii_run(buf_head(b) + used_before, len);
	if (skip == len)
		return 0;
	len -= skip;
	grow = ascii_escaped_len(buf_head(b) + used_before + skip, len) - len;
	if (buf_reserve(b, grow) == -1) {
		b->len = b->off + used_before;
		return -1;
	}
	p = buf_head(b) + used_before + skip;
	memmove(p + grow, p, len);
	ascii_escape(p + grow, len, p);
	b->len += grow;
	return 0;
}

/*
 * json_print_ascii - o printed unformatted and escaped, NUL-terminated,
 * to be freed with cJSON_free(); NULL without memory.
 */
char *
json_print_ascii(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o), *esc;
	size_t len, n;

	if (text == NULL)
		return NULL;
	len = strlen(text);
	n = ascii_escaped_len(text, len);
	if (n == len)
		return text;
	esc = cJSON_malloc(n + 1);
	if (esc != NULL) {
		ascii_escape(text, len, esc);
		esc[n] = '\0';
	}
	cJSON_free(text);
	return esc;
}
