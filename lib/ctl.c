/*
 * NAME
 *	ctl - names of the control socket's request types
 */
#include <string.h>

#include "lib/ctl.h"
#include "lib/util.h"

static const struct {
	const char	*name;		/* "type" of the request */
	bool		 writes;	/* changes something */
} types[CTL_COUNT] = {
	[CTL_STATUS] = { "status", false },
	[CTL_SHOW_USERS] = { "show_users", false },
	[CTL_SHOW_SESSIONS] = { "show_sessions", false },
	[CTL_SHOW_GROUPS] = { "show_groups", false },
	[CTL_SHOW_REALMS] = { "show_realms", false },
	[CTL_STATS] = { "stats", false },
	[CTL_KICK] = { "kick", true },
	[CTL_RELOAD] = { "reload", true },
	[CTL_STOP] = { "stop", true },
	[CTL_ADD_REALM] = { "add_realm", true },
	[CTL_DEL_REALM] = { "del_realm", true },
};

/* ctl_type_name - the wire name of a request type */
const char *
ctl_type_name(enum ctl_type t)
{
	return types[t].name;
}

/* ctl_type_find - the type called name, -1 if there is none */
int
ctl_type_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(types); i++)
		if (strcmp(types[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ctl_type_writes - is the type refused on the read-only socket? */
bool
ctl_type_writes(enum ctl_type t)
{
	return types[t].writes;
}
