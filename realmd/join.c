/*
 * NAME
 *	join - a remote user joins one of our groups (joingrouprealm)
 * DESCRIPTION
 *	A group's password is checked with yescrypt, which is slow on
 *	purpose: on realmd's single loop, a peer sending joins with wrong
 *	passwords would stop every link's mail meanwhile.  So the check runs
 *	in the password threads (lib/pwpool.c), and the join is finished on
 *	the loop once it is done.  By then the link may have closed or been
 *	replaced: the reply goes only to the same connection (known by our
 *	handshake nonce), else nowhere (the peer's request times out).
 *
 *	At most JOINS_MAX checks wait at once; more get QUOTA.  Wrong
 *	passwords count against the group as local guesses do (guard.c), so
 *	guessing through a link is throttled too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "lib/pwpool.h"
#include "realmd/realmd.h"
#include "shm/guard.h"

#define JOINS_MAX	32

char join_mark;			/* epoll data of the pool's eventfd */

struct join {
	struct pw_task	 t;		/* first: the pool sees only this */
	uint32_t	 realm;		/* the link it came on */
	char		 nonce[2 * NONCE_LEN + 1];	/* that connection's */
	uint64_t	 q;
	uint32_t	 group;
	char		 gname[NAME_LEN + 1];
	char		 from[NAME_LEN + 1];
	char		 from_name[DISPLAY_LEN + 1];
};

static int joins;			/* checks waiting */

/* join_peer - the connection j came on, if it is still up, or NULL */
static struct peer *
join_peer(const struct join *j)
{
	struct peer *p = j->realm <= REALMS_MAX ? rd.links[j->realm].conn : NULL;

	if (p == NULL || p->phase != PH_UP || strcmp(p->nonce, j->nonce) != 0)
		return NULL;
	return p;
}

/* join_member - make the remote user a member; the reply's code */
static enum rc_code
join_member(const struct join *j)
{
	enum rc_code why = E_COUNT;
	uint32_t u;

	txn_begin(rd.st);
	if (remote_user(rd.st, j->realm, j->from, j->from_name, &u) == -1)
		why = errno == ENOENT ? E_BAD_NAME : E_QUOTA;
	else if (member_add(rd.st, j->group, u,
	    (uint32_t)rd.cf->group_members) == -1)
		why = errno == EEXIST ? E_ALREADY_MEMBER :
		    errno == ENOENT ? E_NO_GROUP : E_QUOTA;
	if (why == E_COUNT)
		txn_commit(rd.st);
	else
		txn_abort(rd.st);
	return why;
}

/*
 * join_done - on the loop: the password is checked.  The group must
 * still be the one checked (same name, same hash).
 */
static void
join_done(struct pw_task *t)
{
	struct join *j = (struct join *)(void *)t;
	struct peer *p = join_peer(j);
	enum rc_code why = E_COUNT;
	struct shm_group *g;

	joins--;
	if (p != NULL) {
		state_lock(rd.st);
		g = group_at(rd.st, j->group);
		if (g == NULL || strcmp(g->name, j->gname) != 0 ||
		    strcmp(g->pwhash, t->hash) != 0)
			why = E_NO_GROUP;
		else if (!t->ok) {
			guard_group_failed_locked(GUARD_NO_ADDR, j->group,
			    (uint32_t)now_sec());
			why = E_BAD_PASSWORD;
		}
		state_unlock(rd.st);
		if (why == E_COUNT)
			why = join_member(j);
		send_reply(p, j->q, why, why == E_COUNT ?
		    "Berhasil join group" : NULL, NULL);
	}
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* join_lookup - the group named, its hash into j; the error if none */
static enum rc_code
join_lookup(struct join *j, uint32_t *wait)
{
	uint32_t g;

	*wait = 0;
	state_lock(rd.st);
	g = name_valid(j->gname, strlen(j->gname)) ?
	    group_find_locked(rd.st, j->gname, strlen(j->gname)) : 0;
	if (g != 0) {
		strlcpy(j->t.hash, rd.st->groups[g].pwhash, sizeof(j->t.hash));
		if (j->t.hash[0] != '\0')
			*wait = guard_group_wait_locked(GUARD_NO_ADDR, g,
			    (uint32_t)now_sec());
	}
	state_unlock(rd.st);
	j->group = g;
	return g == 0 ? E_NO_GROUP : E_COUNT;
}

/* join_start - a join frame: answer now, or once its password is checked */
void
join_start(struct peer *p, const struct link_frame *f)
{
	const char *gname = link_str(f->json, "group");
	const char *from = link_str(f->json, "from");
	const char *pw = link_str(f->json, "password");
	enum rc_code why = E_COUNT;
	struct join *j;
	uint32_t wait;

	if (strlen(gname) > NAME_LEN || strlen(from) > NAME_LEN ||
	    strlen(pw ? pw : "") > PASSWORD_MAX) {
		send_reply(p, f->q, strlen(gname) > NAME_LEN ? E_NO_GROUP :
		    strlen(from) > NAME_LEN ? E_BAD_NAME : E_BAD_PASSWORD,
		    NULL, NULL);
		return;
	}
	if (joins >= JOINS_MAX || (j = calloc(1, sizeof(*j))) == NULL) {
		send_reply(p, f->q, E_QUOTA, "Too many joins at once", NULL);
		return;
	}
	strlcpy(j->gname, gname, sizeof(j->gname));
	strlcpy(j->from, from, sizeof(j->from));
	strlcpy(j->from_name, link_str(f->json, "from_name"),
	    sizeof(j->from_name));
	strlcpy(j->t.pw, pw ? pw : "", sizeof(j->t.pw));
	strlcpy(j->nonce, p->nonce, sizeof(j->nonce));
	j->realm = p->realm;
	j->q = f->q;
	j->t.verify = true;
	j->t.done = join_done;
	if ((why = join_lookup(j, &wait)) == E_COUNT && wait > 0)
		why = E_QUOTA;
	if (why == E_COUNT && j->t.hash[0] == '\0') {
		why = join_member(j);
		send_reply(p, f->q, why, why == E_COUNT ? "Berhasil join group" :
		    NULL, NULL);
	} else if (why == E_COUNT) {
		joins++;
		pwpool_submit(&j->t);
		return;
	} else
		send_reply(p, f->q, why, why == E_QUOTA ?
		    "Too many wrong group passwords, retry later" : NULL, NULL);
	explicit_bzero(j, sizeof(*j));
	free(j);
}
