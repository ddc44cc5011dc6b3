/*
 * NAME
 *	link - the realm link protocol
 * DESCRIPTION
 *	Realm links carry one JSON object per line (docs/PROTOCOL.md, "The
 *	link protocol"), inside TLS after the dialer's first line.  link_parse() checks a line completely -- an
 *	object, a known type, every field that type needs with its JSON
 *	type -- so that realmd only ever acts on frames that are whole.
 *	(The channel between workers and realmd is lib/chan.h.)
 */
#ifndef RC_LINK_H
#define RC_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "lib/buf.h"

#define LINK_VERSION	2	/* 2: TLS after the hello, proofs bound to it */
#define LINK_COMMAND	"realmlink"	/* first word of a dialer's first line */
#define NONCE_LEN	16		/* bytes; sent as 32 hex digits */
#define PROOF_HEX	64		/* HMAC-SHA-256 in hex */

enum link_type {
	LT_CHALLENGE, LT_PROOF, LT_WELCOME, LT_ERROR,	/* handshake */
	LT_MSG, LT_VERDICT,				/* stored messages */
	LT_PING, LT_JOIN, LT_HISTORY, LT_REPLY,		/* round trips */
	LT_COUNT
};

/* A parsed frame; json stays owned by the frame (link_frame_free). */
struct link_frame {
	enum link_type	 type;
	cJSON		*json;
	uint64_t	 id;		/* msg, verdict */
	uint64_t	 seq;		/* msg: its number on the link, 1..2^32-1 */
	uint64_t	 q;		/* ping, join, history, reply */
	bool		 ok;		/* verdict, reply */
};

/* The string fields a frame of each type must carry, NULL-ended. */
#define LINK_NEED_MAX	6
extern const char *const link_need_str[LT_COUNT][LINK_NEED_MAX];

int	 link_parse(const char *line, size_t len, struct link_frame *,
	    const char **why);
void	 link_frame_free(struct link_frame *);
const char *link_str(const cJSON *obj, const char *key);
bool	 link_uint(const cJSON *obj, const char *key, uint64_t *out);
int	 link_hello_parse(const char *line, size_t len, cJSON **hello,
	    const char **why);

void	 link_nonce(char hex[2 * NONCE_LEN + 1]);
void	 link_proof(const char *secret, const char *label, const char *n1,
	    const char *n2, const char *dialer, const char *acceptor,
	    const char *binding, char out[PROOF_HEX + 1]);
bool	 link_proof_ok(const char *secret, const char *label, const char *n1,
	    const char *n2, const char *dialer, const char *acceptor,
	    const char *binding, const char *given);
int	 link_send(struct buf *, cJSON *);

#endif
