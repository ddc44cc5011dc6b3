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
	REALMID,		/* any name a link may have */
	HOST,			/* a host name or address */
	PORT,			/* 1 to 65535 */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	int			 value;		/* enum ctl_type, or NONE */
	const struct token	*next;		/* NULL: the last word */
};

static const struct token t_show[];
static const struct token t_kick[];
static const struct token t_add[];
static const struct token t_del[];

static const struct token t_main[] = {
	{ KEYWORD, "status", CTL_STATUS, NULL },
	{ KEYWORD, "show", NONE, t_show },
	{ KEYWORD, "stats", CTL_STATS, NULL },
	{ KEYWORD, "kick", NONE, t_kick },
	{ KEYWORD, "add", NONE, t_add },
	{ KEYWORD, "del", NONE, t_del },
	{ KEYWORD, "reload", CTL_RELOAD, NULL },
	{ KEYWORD, "stop", CTL_STOP, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_show[] = {
	{ KEYWORD, "users", CTL_SHOW_USERS, NULL },
	{ KEYWORD, "sessions", CTL_SHOW_SESSIONS, NULL },
	{ KEYWORD, "groups", CTL_SHOW_GROUPS, NULL },
	{ KEYWORD, "realms", CTL_SHOW_REALMS, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_kick[] = {
	{ USERNAME, "USER", CTL_KICK, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_add_port[] = {
	{ PORT, "PORT", CTL_ADD_REALM, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_add_host[] = {
	{ HOST, "HOST", NONE, t_add_port },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_add_id[] = {
	{ REALMID, "ID", NONE, t_add_host },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_add[] = {
	{ KEYWORD, "realm", NONE, t_add_id },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_del_id[] = {
	{ REALMID, "ID", CTL_DEL_REALM, NULL },
	{ ENDTOKEN, "", NONE, NULL }
};

static const struct token t_del[] = {
	{ KEYWORD, "realm", NONE, t_del_id },
	{ ENDTOKEN, "", NONE, NULL }
};

/* fits - word is a value of the argument token type t */
static bool
fits(enum token_type t, const char *word, size_t len)
{
	uint64_t port;

	switch (t) {
	case USERNAME:
		return name_valid(word, len);
	case REALMID:
		return name_valid(word, len) && !token_shaped(word, len);
	case HOST:
		return len > 0 && len <= CTL_HOST_LEN;
	case PORT:
		return parse_uint(word, 65535, &port) == 0 && port > 0;
	default:
		return false;
	}
}

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
		if (t->type != KEYWORD && fits(t->type, word, len))
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

/* take_argument - keep the word of an argument token in res */
static void
take_argument(enum token_type t, const char *word, struct parse_result *res)
{
	uint64_t port;

	switch (t) {
	case USERNAME:
		strlcpy(res->user, word, sizeof(res->user));
		break;
	case REALMID:
		strlcpy(res->realm, word, sizeof(res->realm));
		break;
	case HOST:
		strlcpy(res->host, word, sizeof(res->host));
		break;
	case PORT:
		if (parse_uint(word, 65535, &port) == 0)
			res->port = (unsigned)port;
		break;
	default:
		break;
	}
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
		take_argument(t->type, argv[i], res);
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
