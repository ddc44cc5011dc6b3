/*
 * NAME
 *	realmctl.h - the admin tool: words in, one request out, a reply shown
 * DESCRIPTION
 *	parser.c turns the words of the command line into a request through
 *	one token table; realmctl.c sends it over the control socket and
 *	reads the reply; output.c shows the reply as aligned text or JSON.
 */
#ifndef RC_REALMCTL_H
#define RC_REALMCTL_H

#include <cJSON.h>

#include "lib/ctl.h"
#include "lib/util.h"

struct parse_result {
	enum ctl_type	 action;
	char		 user[NAME_LEN + 1];	/* kick */
	char		 realm[NAME_LEN + 1];	/* add realm, del realm: the id */
	char		 host[CTL_HOST_LEN + 1];	/* add realm */
	unsigned	 port;			/* add realm */
};

/* parser.c */
int	parse(int argc, char *argv[], struct parse_result *);

/* output.c */
void	output_text(enum ctl_type, const cJSON *reply);
void	output_json(const cJSON *reply);

#endif
