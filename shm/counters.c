/*
 * NAME
 *	counters - the names of the per-command counters
 * DESCRIPTION
 *	Each process counts the requests it runs in shm_proc.commands[],
 *	indexed by the worker's command table (worker/command.c).  The
 *	master shows them by name without knowing that table, so the names
 *	live here, beside the counters' layout, in the table's order.  The
 *	worker asserts that the table has as many commands; a unit test
 *	(tests/unit/deliver.c) that the names agree one by one.
 */
#include "shm/state.h"

static const char *const command_names[] = {
	"auth", "register", "logout", "send", "inbox", "watch", "info",
	"whoami", "addgroup", "joingroup", "leavegroup", "sendgroup",
	"inboxgroup", "listgroups", "groupmembers", "sendfile",
	"sendgroupfile", "downloadfile", "downloadgroupfile",
	"downloadrealmfile", "downloadgrouprealmfile", "addrealm",
	"listrealm", "ackrealm", "sendrealm", "sendfilerealm",
	"sendgrouprealm", "sendgroupfilerealm", "inboxrealm",
	"joingrouprealm", "inboxgrouprealm", "realmlink",
};

_Static_assert(ARRAY_LEN(command_names) == COUNTED_COMMANDS,
    "COUNTED_COMMANDS is the number of names");
_Static_assert(COUNTED_COMMANDS <= STAT_COMMANDS, "too many commands to count");

/* counted_command_name - the name of the command counted at index i, or NULL */
const char *
counted_command_name(size_t i)
{
	return i < ARRAY_LEN(command_names) ? command_names[i] : NULL;
}
