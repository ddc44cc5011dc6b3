/*
 * NAME
 *	util - small helpers shared by every realmchat process
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bsd/stdlib.h>

#include "lib/util.h"

/* now_sec - wall-clock seconds, for stored timestamps */
uint64_t
now_sec(void)
{
	return (uint64_t)time(NULL);
}

/* now_msec - monotonic milliseconds, for timers */
uint64_t
now_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * iso_time - format seconds since the epoch as ISO 8601 UTC.  Messages
 * read together were mostly sent in the same second, so the last one
 * formatted is kept.
 */
void
iso_time(uint64_t sec, char out[21])
{
	static uint64_t last_sec = UINT64_MAX;
	static char last[21];
	time_t t = (time_t)sec;
	struct tm tm;

	if (sec != last_sec) {
		gmtime_r(&t, &tm);
		strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SZ", &tm);
		last_sec = sec;
	}
	memcpy(out, last, sizeof(last));
}

/* token_new - 128 random bits laid out as a version 4 UUID */
void
token_new(uint8_t tok[TOKEN_LEN])
{
	arc4random_buf(tok, TOKEN_LEN);
	tok[6] = (tok[6] & 0x0f) | 0x40;
	tok[8] = (tok[8] & 0x3f) | 0x80;
}

/* token_format - lower-case 8-4-4-4-12 text of a token */
void
token_format(const uint8_t tok[TOKEN_LEN], char out[TOKEN_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < TOKEN_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[tok[i] >> 4];
		*p++ = hex[tok[i] & 15];
	}
	*p = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* token_shaped - does the word look like a UUID (any version, any case)? */
bool
token_shaped(const char *s, size_t len)
{
	if (len != TOKEN_STR_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? s[i] != '-' : hexval((unsigned char)s[i]) < 0)
			return false;
	}
	return true;
}

/* token_parse - UUID text to its 16 bytes; -1 if not UUID-shaped */
int
token_parse(const char *s, size_t len, uint8_t tok[TOKEN_LEN])
{
	int n = 0;

	if (!token_shaped(s, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			continue;
		int v = hexval((unsigned char)s[i]);
		if (n & 1)
			tok[n / 2] |= (uint8_t)v;
		else
			tok[n / 2] = (uint8_t)(v << 4);
		n++;
	}
	return 0;
}

/* name_valid - 1 to NAME_LEN characters of A-Za-z0-9_.- */
bool
name_valid(const char *s, size_t len)
{
	if (len == 0 || len > NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

/* utf8_seq - length of the well-formed UTF-8 sequence at s, or 0 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;

	return utf8_decode((const char *)s, len, &cp);
}

/* utf8_valid - is the whole buffer well-formed UTF-8? */
bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t word;

	for (size_t i = 0; i < len;) {
		/* most text is ASCII: step over 8 such bytes at a time */
		if (len - i >= sizeof(word)) {
			memcpy(&word, p + i, sizeof(word));
			if ((word & 0x8080808080808080ULL) == 0) {
				i += sizeof(word);
				continue;
			}
		}
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * utf8_sanitize - copy s to out, each malformed byte replaced by U+FFFD.
 * out must hold 3 * len bytes; returns the length written.
 */
size_t
utf8_sanitize(const char *s, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}

/*
 * hash_str - keyed 32-bit string hash.  The key is random per state file,
 * so that names chosen by clients cannot be aimed at one hash chain.
 */
uint32_t
hash_str(uint64_t key, const char *s, size_t len)
{
	uint64_t h = key ^ 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* parse_uint - decimal number in [0, max] */
int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* scaled - number with one optional suffix from the table */
static int
scaled(const char *s, const char *suffixes, const uint64_t *mult, uint64_t *out)
{
	char *end;
	unsigned long long v;
	const char *p;
	uint64_t m = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || (p = strchr(suffixes, *end)) == NULL)
			return -1;
		m = mult[p - suffixes];
	}
	if (m != 0 && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

/* parse_size - bytes, with an optional K, M or G suffix (powers of 1024) */
int
parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024, 1024, 1 << 20, 1 << 20,
	    1ULL << 30, 1ULL << 30 };

	return scaled(s, "KkMmGg", mult, out);
}

/* parse_duration - seconds, with an optional s, m, h or d suffix */
int
parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };

	return scaled(s, "smhd", mult, out);
}

/* mkdir_p - create a directory and its missing parents (mode for each) */
int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* read_full - exactly len bytes from fd; -1 on error or early end */
int
read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* write_full - all len bytes to fd; -1 on error */
int
write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
