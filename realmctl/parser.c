/*
 * NAME
 *	parser - the words realmctl understands, as one token table
 * DESCRIPTION
 *	Each table lists the words allowed at one position; a matched token
 *	names the request (value) and the table for the next word (next).
 *	A word may be shortened while it stays unambiguous ("sh us").  A
 *	word that matches nothing, a missing word or an extra one is an
 *	error that names the words that were possible.
 */
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "realmctl/realmctl.h"

#define NONE	-1

enum token_type {
	ENDTOKEN,		/* end of a table */
	KEYWORD,		/* this word, or an unambiguous prefix of it */
	USERNAME,		/* any user name */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	int			 value;		/* enum ctl_type, or NONE */
	const struct token	*next;		/* NULL: the last word */
};

static const struct token t_show[];
static const struct token t_kick[];

static const struct token t_main[] = {
	{ KEYWORD, "status", CTL_STATUS, NULL },
	{ KEYWORD, "show", NONE, t_show },
	{ KEYWORD, "stats", CTL_STATS, NULL },
	{ KEYWORD, "kick", NONE, t_kick },
	{ KEYWORD, "reload", CTL_RELOAD, NULL },
	{ KEYWORD, "stop", CTL_STOP, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_show[] = {
	{ KEYWORD, "users", CTL_SHOW_USERS, NULL },
	{ KEYWORD, "sessions", CTL_SHOW_SESSIONS, NULL },
	{ KEYWORD, "groups", CTL_SHOW_GROUPS, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_kick[] = {
	{ USERNAME, "USER", CTL_KICK, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

/* expected - the words a table allows, for an error message */
static void
expected(const struct token *table)
{
	fprintf(stderr, "realmctl: expected one of:");
	for (; table->type != ENDTOKEN; table++)
		fprintf(stderr, " %s", table->keyword);
	fprintf(stderr, "\n");
}

/* match_token - the token of table that word means, or NULL (reported) */
static const struct token *
match_token(const char *word, const struct token *table)
{
	const struct token *t, *found = NULL;
	size_t len = strlen(word);
	int matches = 0;

	for (t = table; t->type != ENDTOKEN; t++) {
		if (t->type == USERNAME && name_valid(word, len))
			return t;
		if (t->type != KEYWORD || strncmp(word, t->keyword, len) != 0)
			continue;
		if (t->keyword[len] == '\0')
			return t;		/* exact beats a prefix */
		found = t;
		matches++;
	}
	if (matches == 1 && len > 0)
		return found;
	fprintf(stderr, "realmctl: %s word \"%s\"\n",
	    matches > 1 ? "ambiguous" : "unknown", word);
	expected(table);
	return NULL;
}

/* parse - the words of the command line into a request; 0 or -1 */
int
parse(int argc, char *argv[], struct parse_result *res)
{
	const struct token *table = t_main, *t;

	memset(res, 0, sizeof(*res));
	for (int i = 0; i < argc; i++) {
		if (table == NULL) {
			fprintf(stderr, "realmctl: unexpected word \"%s\"\n",
			    argv[i]);
			return -1;
		}
		if ((t = match_token(argv[i], table)) == NULL)
			return -1;
		if (t->type == USERNAME)
			strlcpy(res->user, argv[i], sizeof(res->user));
		if (t->value != NONE)
			res->action = (enum ctl_type)t->value;
		table = t->next;
	}
	if (table != NULL) {
		fprintf(stderr, "realmctl: missing word\n");
		expected(table);
		return -1;
	}
	return 0;
}
