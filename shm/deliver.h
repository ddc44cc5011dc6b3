/*
 * NAME
 *	deliver.h - the delivery layer: resolve a target, deliver a message,
 *	render what was stored
 * DESCRIPTION
 *	Below the processes: a worker delivers what its clients send,
 *	realmd what a link brings, and both render inbox and history
 *	entries from here; the master renders links for realmctl.  It knows
 *	the state and replies' error codes, never a connection or a request
 *	(the worker turns a delivery into a reply, worker/cmd_message.c).
 *	deliver.c resolves and fans out, render.c builds the JSON entries.
 */
#ifndef RC_DELIVER_H
#define RC_DELIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>

#include "lib/config.h"
#include "lib/reply.h"
#include "lib/request.h"
#include "shm/state.h"

#define TARGET_LIST_MAX	256	/* names in a comma list, known or not */
#define BOUNCE_FROM	"realmchat"	/* sender of bounce notices */

/*
 * A target: a group the sender may post to, an ad-hoc list of users,
 * or one user of ours (a private message).
 */
struct target {
	uint32_t	 group;		/* group slot, or 0 */
	uint32_t	 user;		/* private: the user, or 0 */
	char		 name[NAME_LEN + 1];	/* the group's name */
	struct word	 list;		/* the comma list, or the name */
};

/* Who sends: one of our users, or a remote user (realmd). */
struct sender {
	struct state		*st;
	const struct config	*cf;
	uint32_t		 user;
	bool			 vouched;	/* a remote sender is in a group
						   of the target's name there */
};

/* What a delivery did. */
struct delivery {
	uint64_t	 id;		/* history entry, or first copy */
	uint32_t	 delivered;	/* inbox copies */
	cJSON		*unknown;	/* names that are no user */
	cJSON		*full;		/* users whose inbox is full */
	uint64_t	 gone;		/* file body to unlink after commit */
	struct evicted	 evicted;	/* kept bodies dropped to make room */
};

/* deliver.c */
bool	target_list_ok(const struct word *);
enum rc_code target_resolve_locked(const struct sender *, const struct word *,
	    struct target *);
enum rc_code target_user_locked(const struct sender *, const struct word *,
	    struct target *);
enum rc_code target_deliver(const struct sender *, const struct target *,
	    struct msg_new *, struct delivery *);
int	refusal_bounce_locked(struct state *, uint32_t from, const char *realm,
	    int code, const char *target, const char *why, uint64_t id);

/* render.c */
cJSON	*message_json(struct state *, const struct shm_msg *, bool content);
char	*file_body_b64(struct state *, const struct shm_file *);
cJSON	*realm_json(const struct shm_realm *);

#endif
