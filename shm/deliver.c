/*
 * NAME
 *	deliver - resolve a target and deliver a message to it
 * DESCRIPTION
 *	A private message goes to one user of ours, whether a client of a
 *	worker sent it or it came over a link: both resolve it with
 *	target_user_locked() and store it with target_deliver(), so they
 *	meet the same checks and fail with the same errors.
 *
 *	A target is a group the sender may post to (by name, or group:NAME):
 *	an open one (created without a password), one the sender is in, or
 *	one whose name the sender's realm vouches for (seed 001's model: a
 *	group name on two linked realms is one group for its members),
 *	or an ad-hoc comma list of users (u1,u2,...).  A group message goes
 *	into the group's history and into every other member's inbox; an
 *	ad-hoc one into each listed user's inbox.  Both run inside the
 *	caller's transaction, so a fan-out is stored whole or not at all;
 *	unknown names and full inboxes are reported, not fatal, as long as
 *	someone received the message.
 */
#include <errno.h>
#include <string.h>

#include "lib/log.h"
#include "shm/deliver.h"

#define GROUP_PREFIX	"group:"

/*
 * target_list_ok - a comma list of at most TARGET_LIST_MAX names, known or
 * not.  It looks at no more than that many commas, so it is cheap on any
 * input; a worker asks before it takes the lock.
 */
bool
target_list_ok(const struct word *t)
{
	const char *p = t->p, *end = t->p + t->len, *comma;
	size_t names = 1;

	while ((comma = memchr(p, ',', (size_t)(end - p))) != NULL) {
		if (++names > TARGET_LIST_MAX)
			return false;
		p = comma + 1;
	}
	return true;
}

/*
 * target_resolve_locked - what t names, for the sender s->user.
 * Returns E_COUNT when it is a valid target, else the error to reply.
 */
enum rc_code
target_resolve_locked(const struct sender *s, const struct word *t,
    struct target *out)
{
	struct state *st = s->st;
	const char *name = t->p;
	size_t len = t->len, plen = strlen(GROUP_PREFIX);
	bool forced = len > plen && strncmp(name, GROUP_PREFIX, plen) == 0;

	memset(out, 0, sizeof(*out));
	if (forced) {
		name += plen;
		len -= plen;
	}
	if (!forced && memchr(name, ',', len) != NULL) {
		out->list = *t;
		return target_list_ok(t) ? E_COUNT : E_TOO_LARGE;
	}
	if (!name_valid(name, len))
		return forced ? E_NO_GROUP : E_NO_USER;
	if ((out->group = group_find_locked(st, name, len)) != 0) {
		memcpy(out->name, name, len);
		out->name[len] = '\0';
		/* open (no password), or a member, or vouched for by its realm */
		return st->groups[out->group].pwhash[0] == '\0' || s->vouched ||
		    member_find_locked(st, out->group, s->user) != 0 ?
		    E_COUNT : E_NOT_MEMBER;
	}
	if (!forced && user_find_locked(st, name, len) != 0) {
		out->list = *t;
		return E_COUNT;
	}
	return E_NO_GROUP;
}

/*
 * target_user_locked - the user of ours that t names, as the target of a
 * private message, sent here or over a link (one path for both).
 * E_COUNT when there is one, else E_NO_USER (a remote user has no inbox).
 */
enum rc_code
target_user_locked(const struct sender *s, const struct word *t,
    struct target *out)
{
	uint32_t u = name_valid(t->p, t->len) ?
	    user_find_locked(s->st, t->p, t->len) : 0;

	memset(out, 0, sizeof(*out));
	if (u == 0 || s->st->users[u].realm != 0)
		return E_NO_USER;
	out->user = u;
	out->list = *t;
	return E_COUNT;
}

/* note - add name to the list of names a delivery reports */
static void
note(cJSON **list, const char *name)
{
	if (*list == NULL)
		*list = cJSON_CreateArray();
	cJSON_AddItemToArray(*list, cJSON_CreateString(name));
}

/*
 * enqueue_to - one recipient's copy; a full inbox is noted in d->full.
 * -1 only on a hard error: ENOSPC when the message store is full.
 */
static int
enqueue_to(const struct sender *s, uint32_t user, struct msg_new *m,
    struct delivery *d)
{
	uint64_t id;

	m->to = user;
	if (msg_enqueue(s->st, m, (uint32_t)s->cf->inbox_quota, &id) == -1) {
		if (errno == E2BIG)	/* a text no heap block holds */
			errno = ENOSPC;
		if (errno != EDQUOT)
			return -1;
		note(&d->full, s->st->users[user].name);
		return 0;
	}
	if (d->id == 0)
		d->id = id;
	d->delivered++;
	return 0;
}

/* to_group - history, then every other member of ours (remote ones read it there) */
static int
to_group(const struct sender *s, const struct target *t, struct msg_new *m,
    struct delivery *d)
{
	struct state *st = s->st;
	uint32_t cap = st->hdr->region[RG_MEMBERS].count, steps = 0;

	m->group = t->group;
	m->to = 0;
	if (group_post(st, t->group, m, (uint32_t)s->cf->group_history,
	    &d->id, &d->gone) == -1)
		return -1;
	for (uint32_t i = st->groups[t->group].members; i != 0 && i < cap &&
	    steps++ < cap; i = st->members[i].next) {
		uint32_t u = st->members[i].user;
		if (u != s->user && st->users[u].realm == 0 &&
		    enqueue_to(s, u, m, d) == -1)
			return -1;
	}
	return 0;
}

/* to_list - each listed user of ours once; unknown names are noted */
static int
to_list(const struct sender *s, const struct target *t, struct msg_new *m,
    struct delivery *d)
{
	struct state *st = s->st;
	uint32_t seen[TARGET_LIST_MAX];
	size_t nseen = 0;
	const char *p = t->list.p, *end = p + t->list.len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((comma ? comma : end) - p);
		uint32_t u = 0;
		bool dup = false;

		if (len > 0 && name_valid(p, len))
			u = user_find_locked(st, p, len);
		if (len > 0 && u == 0) {
			char name[3 * NAME_LEN + 1];
			size_t n = utf8_sanitize(p, len > NAME_LEN ? NAME_LEN : len,
			    name);
			name[n] = '\0';
			note(&d->unknown, name);
		}
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = seen[i] == u;
		if (u != 0 && !dup) {
			if (nseen == ARRAY_LEN(seen)) {
				errno = E2BIG;
				return -1;
			}
			seen[nseen++] = u;
			if (enqueue_to(s, u, m, d) == -1)
				return -1;
		}
		p += len + 1;
	}
	return 0;
}

/*
 * target_deliver - deliver m to t inside the caller's transaction.
 * E_COUNT on success; else the error to reply (the caller aborts):
 * E_QUOTA when nobody could take it (d->full names a full inbox, else
 * the message store is full), E_NO_USER when a list named nobody known,
 * E_TOO_LARGE for a list of too many users.
 */
enum rc_code
target_deliver(const struct sender *s, const struct target *t,
    struct msg_new *m, struct delivery *d)
{
	int rc = t->group ? to_group(s, t, m, d) :
	    t->user ? enqueue_to(s, t->user, m, d) : to_list(s, t, m, d);

	if (rc == -1) {
		if (errno == ENOSPC)
			return E_QUOTA;
		if (errno == E2BIG)
			return E_TOO_LARGE;
		log_err("delivery: %m");
		return E_INTERNAL;
	}
	if (t->group == 0 && d->delivered == 0)
		return d->unknown != NULL ? E_NO_USER : E_QUOTA;
	return E_COUNT;
}

/*
 * refusal_bounce_locked - the one place a refusal becomes a bounce: tell
 * from (inside a transaction) that link realm refused message id.  A
 * full inbox still takes it (bounce_enqueue); a sender that is gone
 * gets nothing.  A failure (a full message table) may have changed the
 * state half-way: logged, -1, and the caller aborts.
 */
int
refusal_bounce_locked(struct state *st, uint32_t from, const char *realm,
    int code, const char *target, const char *why, uint64_t id)
{
	if (user_at(st, from) == NULL ||
	    bounce_enqueue(st, from, realm, code, target, why, id) == 0)
		return 0;
	log_warn("realm %s: could not tell %s that message %llu was refused: %m",
	    realm, st->users[from].name, (unsigned long long)id);
	return -1;
}
