/*
 * NAME
 *	chan - the channel between realmd and those who ask it
 * DESCRIPTION
 *	Workers, and the master for add_realm, talk to realmd over a UNIX
 *	stream socket (state_dir/realmd.sock) in typed messages: a fixed
 *	header (type, body length, request number) and a body of at most
 *	CHAN_MAX bytes.  A handoff's body is the bytes a dialer sent; every
 *	other body is one JSON object.  The asker numbers its requests;
 *	realmd answers each with one CHAN_RESULT carrying that number.
 *
 *	chan_take() takes a message off a buffer only whole and checked:
 *	a known type that travels towards the end that reads it, a length
 *	within bounds, and every field the type needs with its JSON type
 *	(the table in chan.c) -- so that, as link_parse() does for the
 *	frames of a realm link, the handlers act only on messages they can
 *	trust.  Bounds of values (a realm number that exists, a port above
 *	0) are the handler's to check.
 *
 *	This is not the realm link protocol (lib/link.h): that one crosses
 *	the network between realms, this one never leaves the machine.
 */
#ifndef RC_CHAN_H
#define RC_CHAN_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>

#include "lib/buf.h"
#include "lib/config.h"

#define CHAN_MAX	(8u << 20)	/* bytes of one body */

enum chan_type {
	CHAN_HANDOFF = 1,	/* to realmd: a dialer's connection (fd), body = bytes read */
	CHAN_SEND,		/* to realmd: a message queued for a link */
	CHAN_ADDREALM,		/* to realmd: dial a new link */
	CHAN_PING,		/* to realmd: round trips to a peer */
	CHAN_JOIN,
	CHAN_HISTORY,
	CHAN_RESULT,		/* to the asker: {"ok", "code", "message", fields of the reply} */
	CHAN_TYPES
};

/* Which end reads a message: realmd, or the worker or master that asked. */
enum chan_end { CHAN_AT_REALMD, CHAN_AT_ASKER };

struct chan_hdr {
	uint32_t	type;		/* enum chan_type */
	uint32_t	len;		/* body bytes */
	uint64_t	req;		/* the asker's number for the request */
};

/* A message taken off the channel; free with chan_msg_free. */
struct chan_msg {
	struct chan_hdr	 h;
	char		*body;		/* handoff: its h.len bytes and a NUL */
	cJSON		*json;		/* any other type: the checked object */
};

int	 chan_put(struct buf *, enum chan_type, uint64_t req, const char *body,
	    size_t len);
int	 chan_put_json(struct buf *, enum chan_type, uint64_t req, cJSON *);
int	 chan_take(struct buf *, enum chan_end, struct chan_msg *,
	    const char **why);
void	 chan_msg_free(struct chan_msg *);

/* A field of a taken message that its type needs: no check is left to do. */
uint64_t chan_uint(const cJSON *, const char *key);
const char *chan_str(const cJSON *, const char *key);
bool	 chan_bool(const cJSON *, const char *key);
int	 chan_socket_path(const struct config *, char *, size_t);
int	 chan_connect(const struct config *);


#endif
