/*
 * NAME
 *	request - split one request line into words
 * DESCRIPTION
 *	A request is "cmd arg arg ...".  Spaces and tabs separate words;
 *	trailing blanks are not part of the line.  The text argument of a
 *	command is the rest of the line from a given word on, verbatim.
 */
#ifndef RC_REQUEST_H
#define RC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define REQ_WORDS	16	/* words recorded; the rest is only text */

struct word {
	const char	*p;
	size_t		 len;
};

struct request_line {
	const char	*line;		/* without line end and trailing blanks */
	size_t		 len;
	int		 nwords;	/* words recorded */
	bool		 more;		/* more words follow the recorded ones */
	struct word	 w[REQ_WORDS];
};

void	request_split(const char *line, size_t len, struct request_line *);
size_t	request_rest(const struct request_line *, int from, const char **);
bool	word_is(const struct word *, const char *lower);

#endif
