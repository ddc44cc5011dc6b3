/*
 * NAME
 *	ctl - the control socket protocol shared by realmchatd and realmctl
 * DESCRIPTION
 *	A client connects to the control socket, writes one request: a JSON
 *	object on one line, {"type": "<name>", ...}, and reads one reply: a
 *	JSON object on one line, {"status": "OK" | "ERROR", ...}.  Then the
 *	daemon closes the connection, except after "stop", when it stays
 *	open until the daemon has exited, so that the client can wait for it.
 *
 *	Every request type is named once, in the table of ctl.c.  Types that
 *	change something are refused on the read-only socket.
 */
#ifndef RC_CTL_H
#define RC_CTL_H

#include <stdbool.h>

enum ctl_type {
	CTL_STATUS,		/* version, uptime, processes, table usage */
	CTL_SHOW_USERS,
	CTL_SHOW_SESSIONS,
	CTL_SHOW_GROUPS,
	CTL_SHOW_REALMS,	/* links to other realms and their counters */
	CTL_STATS,		/* counters summed over the processes */
	CTL_KICK,		/* {"user": name}: end the user's sessions */
	CTL_RELOAD,		/* read the configuration again */
	CTL_STOP,		/* stop gracefully */
	CTL_ADD_REALM,		/* {"id", "host", "port"}: link, through realmd */
	CTL_DEL_REALM,		/* {"id"}: drop a link and its queue */
	CTL_COUNT
};

#define CTL_REQUEST_MAX	1024		/* bytes of a request, with its LF */
#define CTL_REPLY_MAX	(16 << 20)	/* bytes of a reply */
#define CTL_LIST_MAX	10000		/* entries of a show reply */
#define CTL_HOST_LEN	255		/* bytes of a realm's host name */
#define CTL_SOCKET	"/run/realmchat/realmchat.ctl"	/* realmctl default */

const char	*ctl_type_name(enum ctl_type);
int		 ctl_type_find(const char *);
bool		 ctl_type_writes(enum ctl_type);

#endif
