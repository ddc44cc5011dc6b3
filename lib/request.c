/*
 * NAME
 *	request - split one request line into words
 */
#include <ctype.h>
#include <string.h>

#include "lib/request.h"

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * request_split - find the words of line[0, len).  len excludes the LF;
 * a CR before it and trailing blanks are dropped here.
 */
void
request_split(const char *line, size_t len, struct request_line *rl)
{
	size_t i = 0;

	while (len > 0 && (line[len - 1] == '\r' || blank(line[len - 1])))
		len--;
	rl->line = line;
	rl->len = len;
	rl->nwords = 0;
	rl->more = false;
	for (;;) {
		size_t start;

		while (i < len && blank(line[i]))
			i++;
		if (i == len)
			break;
		if (rl->nwords == REQ_WORDS) {
			rl->more = true;
			break;
		}
		start = i;
		while (i < len && !blank(line[i]))
			i++;
		rl->w[rl->nwords].p = line + start;
		rl->w[rl->nwords].len = i - start;
		rl->nwords++;
	}
}

/* request_rest - the line from word `from` to its end; its length */
size_t
request_rest(const struct request_line *rl, int from, const char **p)
{
	if (from >= rl->nwords) {
		*p = rl->line + rl->len;
		return 0;
	}
	*p = rl->w[from].p;
	return (size_t)(rl->line + rl->len - *p);
}

/* word_is - case-insensitive match of a word against a lower-case name */
bool
word_is(const struct word *w, const char *lower)
{
	size_t n = strlen(lower);

	if (w->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)w->p[i]) != lower[i])
			return false;
	return true;
}
