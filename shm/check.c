/*
 * NAME
 *	check - prove the tables consistent before serving them
 * DESCRIPTION
 *	Run at every start, after recovery: every index in range, every
 *	chain finite and pointing at used slots of the right owner, every
 *	count equal to what the chains hold, every text block inside the
 *	heap.  A file that fails is refused with the first fault found; the
 *	daemon never serves state it cannot vouch for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/table.h"

#define FAIL(...)	do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int
check_counts(const struct shm_table *t, uint32_t cap, const char *what,
    char *err, size_t errlen)
{
	if (t->hwm >= cap || t->count > t->hwm || t->free > t->hwm)
		FAIL("%s table counters out of range", what);
	return 0;
}

/* check_free - the free list holds exactly hwm - count free slots */
static int
check_free(const struct slot_table *tb, const char *what, char *err,
    size_t errlen)
{
	uint32_t n = 0;

	for (uint32_t i = tb->t->free; i != 0; i = slot_at(tb, i)->next) {
		if (i > tb->t->hwm || slot_at(tb, i)->state != SLOT_FREE ||
		    ++n > tb->t->hwm)
			FAIL("%s free list is damaged", what);
	}
	if (n != tb->t->hwm - tb->t->count)
		FAIL("%s free list holds %u slots, expected %u", what, n,
		    tb->t->hwm - tb->t->count);
	return 0;
}

/* home_fn - the bucket a used slot belongs in, from its key */
typedef uint32_t home_fn(struct state *, uint32_t);

static uint32_t
user_home(struct state *st, uint32_t i)
{
	return user_bucket(st, st->users[i].name,
	    strnlen(st->users[i].name, sizeof(st->users[i].name)));
}

static uint32_t
session_home(struct state *st, uint32_t i)
{
	return session_bucket(st, st->sessions[i].token);
}

static uint32_t
group_home(struct state *st, uint32_t i)
{
	return group_bucket(st, st->groups[i].name,
	    strnlen(st->groups[i].name, sizeof(st->groups[i].name)));
}

/* check_hash - every used slot is in its own bucket, exactly once */
static int
check_hash(struct state *st, const struct slot_table *tb, uint32_t nbuckets,
    home_fn *home, const char *what, char *err, size_t errlen)
{
	uint32_t n = 0;

	for (uint32_t b = 0; b < nbuckets; b++)
		for (uint32_t i = tb->buckets[b]; i != 0; i = slot_at(tb, i)->next)
			if (i > tb->t->hwm || slot_at(tb, i)->state != SLOT_USED ||
			    ++n > tb->t->count || home(st, i) != b)
				FAIL("%s hash chains are damaged", what);
	if (n != tb->t->count)
		FAIL("%s hash holds %u entries, expected %u", what, n,
		    tb->t->count);
	return 0;
}

/* msg_ok - a message record that can be read without harm */
static bool
msg_ok(struct state *st, const struct shm_msg *m)
{
	if (m->len > 0 && (m->text == 0 || m->text + m->len > st->hdr->heap_top))
		return false;
	if (m->kind == MSG_TEXT)
		return m->len > 0 && m->file == 0;
	return m->kind == MSG_FILE && file_at(st, m->file) != NULL;
}

static int
check_user(struct state *st, uint32_t ui, uint64_t *nmsgs, uint64_t *nsess,
    char *err, size_t errlen)
{
	struct shm_user *u = &st->users[ui];
	uint32_t n = 0, last = 0;

	uint32_t nrealm = 0;

	if (!user_name_ok(u) ||
	    memchr(u->display, '\0', sizeof(u->display)) == NULL ||
	    memchr(u->country, '\0', sizeof(u->country)) == NULL ||
	    memchr(u->pwhash, '\0', sizeof(u->pwhash)) == NULL)
		FAIL("user %u has a damaged record", ui);
	for (uint32_t i = u->inbox_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		if (m == NULL || m->to != ui || ++n > u->inbox_count ||
		    (m->flags & MF_KEPT) ||
		    user_at(st, m->from) == NULL || !msg_ok(st, m) ||
		    m->realm > REALMS_MAX ||
		    (m->group != 0 && group_at(st, m->group) == NULL))
			FAIL("inbox of user %s is damaged", u->name);
		nrealm += m->realm != 0;
		last = i;
	}
	if (n != u->inbox_count || last != u->inbox_tail ||
	    nrealm != u->realm_count)
		FAIL("inbox of user %s is damaged", u->name);
	n = 0;
	for (uint32_t i = u->sessions; i != 0; i = st->sessions[i].user_next) {
		struct shm_session *s = session_at(st, i);
		if (s == NULL || s->user != ui || ++n > u->nsessions)
			FAIL("sessions of user %s are damaged", u->name);
	}
	if (n != u->nsessions)
		FAIL("sessions of user %s are damaged", u->name);
	*nmsgs += u->inbox_count;
	*nsess += u->nsessions;
	return 0;
}

static int
check_group(struct state *st, uint32_t gi, uint64_t *nmsgs, uint64_t *nmemb,
    char *err, size_t errlen)
{
	struct shm_group *g = &st->groups[gi];
	uint32_t cap = st->hdr->region[RG_MEMBERS].count, n = 0, last = 0;

	if (memchr(g->name, '\0', sizeof(g->name)) == NULL ||
	    !name_valid(g->name, strlen(g->name)) ||
	    memchr(g->pwhash, '\0', sizeof(g->pwhash)) == NULL)
		FAIL("group %u has a damaged record", gi);
	for (uint32_t i = g->members; i != 0; i = st->members[i].next) {
		if (i >= cap || i > st->hdr->members.hwm ||
		    st->members[i].state != SLOT_USED ||
		    st->members[i].group != gi ||
		    user_at(st, st->members[i].user) == NULL || ++n > g->nmembers)
			FAIL("members of group %s are damaged", g->name);
	}
	if (n != g->nmembers)
		FAIL("members of group %s are damaged", g->name);
	n = 0;
	for (uint32_t i = g->hist_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		if (m == NULL || m->to != 0 || m->group != gi ||
		    ++n > g->hist_count || (m->flags & MF_KEPT) ||
		    user_at(st, m->from) == NULL ||
		    !msg_ok(st, m))
			FAIL("history of group %s is damaged", g->name);
		last = i;
	}
	if (n != g->hist_count || last != g->hist_tail)
		FAIL("history of group %s is damaged", g->name);
	*nmsgs += g->hist_count;
	*nmemb += g->nmembers;
	return 0;
}

/* given_names_ok - a link's peer id and aliases: each "" or a valid name */
static bool
given_names_ok(const struct shm_realm *r)
{
	if (memchr(r->peer_id, '\0', sizeof(r->peer_id)) == NULL ||
	    (r->peer_id[0] != '\0' && !name_valid(r->peer_id, strlen(r->peer_id))))
		return false;
	for (int k = 0; k < REALM_ALIASES; k++)
		if (memchr(r->alias[k], '\0', sizeof(r->alias[k])) == NULL ||
		    (r->alias[k][0] != '\0' &&
		    !name_valid(r->alias[k], strlen(r->alias[k]))))
			return false;
	return true;
}

/* names_clash - a name of link ri answers for another link too */
static bool
names_clash(struct state *st, uint32_t ri)
{
	const char *names[REALM_NAMES_MAX];
	int n = realm_names(&st->realms[ri], names);

	for (int k = 0; k < n; k++)
		if (realm_find_locked(st, names[k], strlen(names[k])) != ri)
			return true;
	return false;
}

/* check_realm - a link's record and its queue of outgoing messages */
static int
check_realm(struct state *st, uint32_t ri, uint64_t *nmsgs, char *err,
    size_t errlen)
{
	struct shm_realm *r = &st->realms[ri];
	uint32_t n = 0, last = 0;
	uint64_t prev = 0;

	if (memchr(r->name, '\0', sizeof(r->name)) == NULL ||
	    !name_valid(r->name, strlen(r->name)) ||
	    memchr(r->peer, '\0', sizeof(r->peer)) == NULL ||
	    memchr(r->host, '\0', sizeof(r->host)) == NULL ||
	    !given_names_ok(r))
		FAIL("realm %u has a damaged record", ri);
	if (names_clash(st, ri))
		FAIL("a name of realm %s names another link too", r->name);
	for (uint32_t i = r->out_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		if (m == NULL || m->to != 0 || m->group != 0 || m->realm != ri ||
		    m->id <= prev || ++n > r->out_count || (m->flags & MF_KEPT) ||
		    user_at(st, m->from) == NULL || !msg_ok(st, m) ||
		    memchr(heap_ptr(st, m->text), '\0', m->len) == NULL)
			FAIL("queue of realm %s is damaged", r->name);
		prev = m->id;
		last = i;
	}
	if (n != r->out_count || last != r->out_tail)
		FAIL("queue of realm %s is damaged", r->name);
	*nmsgs += r->out_count;
	return 0;
}

/*
 * check_kept - the chain of files inbox replies showed: each a file
 * message of one of our users, on no other chain (the MF_KEPT flag)
 */
static int
check_kept(struct state *st, uint64_t *nmsgs, char *err, size_t errlen)
{
	struct shm_header *h = st->hdr;
	uint32_t n = 0, last = 0;

	for (uint32_t i = h->kept_head; i != 0; i = st->msgs[i].next) {
		struct shm_msg *m = msg_at(st, i);
		if (m == NULL || !(m->flags & MF_KEPT) || m->kind != MSG_FILE ||
		    ++n > h->kept_count || user_at(st, m->to) == NULL ||
		    user_at(st, m->from) == NULL || !msg_ok(st, m) ||
		    m->realm > REALMS_MAX ||
		    (m->group != 0 && group_at(st, m->group) == NULL))
			FAIL("kept files are damaged");
		last = i;
	}
	if (n != h->kept_count || last != h->kept_tail)
		FAIL("kept files are damaged: %u on the chain, %u counted", n,
		    h->kept_count);
	*nmsgs += n;
	return 0;
}

/* check_files - every file's reference count is what the messages hold */
static int
check_files(struct state *st, char *err, size_t errlen)
{
	uint32_t hwm = st->hdr->files.hwm, *counted;
	uint64_t bytes = 0;
	int rc = 0;

	if ((counted = calloc((size_t)hwm + 1, sizeof(*counted))) == NULL)
		FAIL("check: out of memory");
	for (uint32_t i = 1; i <= st->hdr->msgs.hwm; i++)
		if (st->msgs[i].state == SLOT_USED && st->msgs[i].file != 0 &&
		    st->msgs[i].file <= hwm)
			counted[st->msgs[i].file]++;
	for (uint32_t i = 1; i <= hwm && rc == 0; i++) {
		struct shm_file *f = &st->files[i];
		if (f->state != SLOT_USED)
			continue;
		bytes += f->size;
		if (memchr(f->name, '\0', sizeof(f->name)) == NULL ||
		    f->refs == 0 || counted[i] != f->refs) {
			snprintf(err, errlen, "file %u has %u references, %u "
			    "counted", i, f->refs, counted[i]);
			rc = -1;
		}
	}
	free(counted);
	if (rc == 0 && bytes != st->hdr->spool_bytes) {
		snprintf(err, errlen, "spool holds %llu bytes, %llu counted",
		    (unsigned long long)st->hdr->spool_bytes,
		    (unsigned long long)bytes);
		rc = -1;
	}
	return rc;
}

/* state_check - -1 with err set at the first inconsistency found */
int
state_check(struct state *st, char *err, size_t errlen)
{
	struct shm_header *h = st->hdr;
	struct slot_table users = users_table(st), sessions = sessions_table(st);
	struct slot_table msgs = msgs_table(st), groups = groups_table(st);
	struct slot_table members = members_table(st), files = files_table(st);
	struct slot_table realms = realms_table(st);
	uint64_t nmsgs = 0, nsess = 0, nmemb = 0, nremote = 0;

	if (check_counts(&h->users, users.cap, "user", err, errlen) == -1 ||
	    check_counts(&h->sessions, sessions.cap, "session", err, errlen) == -1 ||
	    check_counts(&h->msgs, msgs.cap, "message", err, errlen) == -1 ||
	    check_counts(&h->groups, groups.cap, "group", err, errlen) == -1 ||
	    check_counts(&h->members, members.cap, "member", err, errlen) == -1 ||
	    check_counts(&h->files, files.cap, "file", err, errlen) == -1 ||
	    check_counts(&h->realms, realms.cap, "realm", err, errlen) == -1)
		return -1;
	if (h->heap_top > h->region[RG_HEAP].size || h->heap_used > h->heap_top)
		FAIL("message heap counters out of range");
	if (check_free(&users, "user", err, errlen) == -1 ||
	    check_free(&sessions, "session", err, errlen) == -1 ||
	    check_free(&msgs, "message", err, errlen) == -1 ||
	    check_hash(st, &users, h->users.mask + 1, user_home, "user", err,
	    errlen) == -1 ||
	    check_hash(st, &sessions, h->sessions.mask + 1, session_home,
	    "session", err, errlen) == -1 ||
	    check_free(&groups, "group", err, errlen) == -1 ||
	    check_free(&members, "member", err, errlen) == -1 ||
	    check_free(&files, "file", err, errlen) == -1 ||
	    check_free(&realms, "realm", err, errlen) == -1 ||
	    check_hash(st, &groups, h->groups.mask + 1, group_home, "group",
	    err, errlen) == -1)
		return -1;
	for (uint32_t i = 1; i <= h->users.hwm; i++) {
		if (st->users[i].state == SLOT_USED &&
		    check_user(st, i, &nmsgs, &nsess, err, errlen) == -1)
			return -1;
		nremote += st->users[i].state == SLOT_USED &&
		    st->users[i].realm != 0;
	}
	if (nremote != h->remote_users || h->remote_cap >= users.cap)
		FAIL("%llu remote users listed but %u counted (room %u)",
		    (unsigned long long)nremote, h->remote_users, h->remote_cap);
	for (uint32_t i = 1; i <= h->groups.hwm; i++)
		if (st->groups[i].state == SLOT_USED &&
		    check_group(st, i, &nmsgs, &nmemb, err, errlen) == -1)
			return -1;
	for (uint32_t i = 1; i <= h->realms.hwm; i++)
		if (st->realms[i].state == SLOT_USED &&
		    check_realm(st, i, &nmsgs, err, errlen) == -1)
			return -1;
	if (check_kept(st, &nmsgs, err, errlen) == -1)
		return -1;
	if (nmemb != h->members.count)
		FAIL("%llu memberships listed but %u in the table",
		    (unsigned long long)nmemb, h->members.count);
	if (check_files(st, err, errlen) == -1)
		return -1;
	if (nmsgs != h->msgs.count)
		FAIL("%llu messages queued but %u in the table",
		    (unsigned long long)nmsgs, h->msgs.count);
	if (nsess != h->sessions.count)
		FAIL("%llu sessions listed but %u in the table",
		    (unsigned long long)nsess, h->sessions.count);
	return 0;
}
