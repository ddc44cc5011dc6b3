/*
 * NAME
 *	util - small helpers shared by every realmchat process
 * DESCRIPTION
 *	Clock, token (UUID) formatting, UTF-8 checking, name rules, the keyed
 *	string hash used by the state tables, and size/duration parsing.
 */
#ifndef RC_UTIL_H
#define RC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define NAME_LEN	32	/* longest user, group or realm name */
#define TOKEN_LEN	16	/* a session token is 128 random bits */
#define TOKEN_STR_LEN	36	/* its 8-4-4-4-12 text form */

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

uint64_t	now_sec(void);
uint64_t	now_msec(void);
void		iso_time(uint64_t sec, char out[21]);

void		token_new(uint8_t tok[TOKEN_LEN]);
void		token_format(const uint8_t tok[TOKEN_LEN], char out[TOKEN_STR_LEN + 1]);
int		token_parse(const char *s, size_t len, uint8_t tok[TOKEN_LEN]);
bool		token_shaped(const char *s, size_t len);

bool		name_valid(const char *s, size_t len);
bool		utf8_valid(const char *s, size_t len);
size_t		utf8_sanitize(const char *s, size_t len, char *out);

uint32_t	hash_str(uint64_t key, const char *s, size_t len);

/*
 * utf8_decode - length of the well-formed UTF-8 sequence at s, or 0, and
 * its code point in *cp.  Rejects overlong forms, surrogates and code
 * points above U+10FFFF.
 */
static inline size_t
utf8_decode(const char *str, size_t len, uint32_t *cpp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;

	if (c < 0x80) {
		*cpp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4; cp = c & 0x07; min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpp = cp;
	return n;
}

int		parse_size(const char *s, uint64_t *out);
int		parse_duration(const char *s, uint64_t *out);
int		parse_uint(const char *s, uint64_t max, uint64_t *out);
int		mkdir_p(const char *path, mode_t mode);
int		read_full(int fd, void *buf, size_t len);
int		write_full(int fd, const void *buf, size_t len);

#endif
