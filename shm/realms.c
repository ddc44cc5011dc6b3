/*
 * NAME
 *	realms - links to other realms, their outboxes and remote users
 * DESCRIPTION
 *	A link (struct shm_realm) holds the messages queued for the peer,
 *	oldest first, and what we have stored from it: the high-water mark
 *	of its message ids and a ring of the ids we refused, so that a
 *	resent message gets the same verdict again and is never stored
 *	twice.  Users of linked realms who reach us are remote users,
 *	"user@realm" in the user table, so that memberships, histories and
 *	inbox entries can name them like anybody else.
 *	Functions that change anything run inside a transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/reply.h"
#include "shm/table.h"

/* realm_at - the link in slot i, or NULL if i is not a used slot */
struct shm_realm *
realm_at(struct state *st, uint32_t i)
{
	struct slot_table tb = realms_table(st);

	return slot_used(&tb, i);
}

/*
 * realm_name_firm - name is the link's own name or its peer's
 * realm_name: names that never move to another link
 */
static bool
realm_name_firm(const struct shm_realm *r, const char *name, size_t len)
{
	return (strncmp(r->name, name, len) == 0 && r->name[len] == '\0') ||
	    (strncmp(r->peer, name, len) == 0 && r->peer[len] == '\0');
}

/* realm_name_soft - the slot of r holding name as a given name, or NULL */
static char *
realm_name_soft(struct shm_realm *r, const char *name, size_t len)
{
	if (strncmp(r->peer_id, name, len) == 0 && r->peer_id[len] == '\0')
		return r->peer_id;
	for (int k = 0; k < REALM_ALIASES; k++)
		if (strncmp(r->alias[k], name, len) == 0 &&
		    r->alias[k][len] == '\0')
			return r->alias[k];
	return NULL;
}

/*
 * realm_find_locked - the link that answers to name, 0 if none.  A link
 * answers to its own name, its peer's realm_name, the id the peer gave
 * it and the names added here; no name answers for two links.
 */
uint32_t
realm_find_locked(struct state *st, const char *name, size_t len)
{
	if (len == 0 || len > NAME_LEN || memchr(name, '\0', len) != NULL)
		return 0;
	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++) {
		struct shm_realm *r = &st->realms[i];
		if (r->state == SLOT_USED && (realm_name_firm(r, name, len) ||
		    realm_name_soft(r, name, len) != NULL))
			return i;
	}
	return 0;
}

/* realm_find_peer_locked - the link to the realm called peer, 0 if none */
uint32_t
realm_find_peer_locked(struct state *st, const char *peer)
{
	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++)
		if (st->realms[i].state == SLOT_USED &&
		    strcmp(st->realms[i].peer, peer) == 0)
			return i;
	return 0;
}

/*
 * realm_release_soft - a realm's own name outranks a name given to
 * another link (an alias or a peer's id): take it from that link
 */
static int
realm_release_soft(struct state *st, const char *name)
{
	size_t len = strlen(name);

	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++) {
		struct shm_realm *r = &st->realms[i];
		char *slot;

		if (r->state != SLOT_USED ||
		    (slot = realm_name_soft(r, name, len)) == NULL)
			continue;
		if (txn_log(st, slot, NAME_LEN + 1) == -1)
			return -1;
		memset(slot, 0, NAME_LEN + 1);
	}
	return 0;
}

/* realm_firm_owner - the link whose own or peer name is name, 0 if none */
static uint32_t
realm_firm_owner(struct state *st, const char *name)
{
	size_t len = strlen(name);

	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++)
		if (st->realms[i].state == SLOT_USED &&
		    realm_name_firm(&st->realms[i], name, len))
			return i;
	return 0;
}

/*
 * realm_insert - a new link.  EEXIST: name answers for a link already,
 * or peer is a link's own or peer name; a name merely given to another
 * link that equals peer is taken from it.  ENOSPC: the table is full.
 */
int
realm_insert(struct state *st, const char *name, const char *peer,
    const char *host, uint16_t port, uint32_t flags, uint32_t *idx)
{
	struct slot_table tb = realms_table(st);
	struct shm_realm *r;
	uint32_t i;

	if ((strcmp(name, peer) != 0 &&
	    realm_find_locked(st, name, strlen(name)) != 0) ||
	    realm_firm_owner(st, name) != 0 || realm_firm_owner(st, peer) != 0) {
		errno = EEXIST;
		return -1;
	}
	if (realm_release_soft(st, peer) == -1 ||
	    slot_alloc(st, &tb, &i) == -1)
		return -1;
	r = &st->realms[i];
	strlcpy(r->name, name, sizeof(r->name));
	strlcpy(r->peer, peer, sizeof(r->peer));
	strlcpy(r->host, host, sizeof(r->host));
	r->port = port;
	r->flags = flags;
	r->created = now_sec();
	*idx = i;
	return 0;
}

/*
 * realm_set_peer - link i's peer now calls itself peer.  EEXIST: that is
 * the own or peer name of another link; a name given to another link is
 * taken from it.
 */
int
realm_set_peer(struct state *st, uint32_t i, const char *peer)
{
	struct shm_realm *r = realm_at(st, i);
	uint32_t firm = realm_firm_owner(st, peer);

	if (r == NULL || !name_valid(peer, strlen(peer))) {
		errno = ENOENT;
		return -1;
	}
	if (firm != 0 && firm != i) {
		errno = EEXIST;
		return -1;
	}
	if (realm_release_soft(st, peer) == -1 ||
	    txn_log(st, r->peer, sizeof(r->peer)) == -1)
		return -1;
	strlcpy(r->peer, peer, sizeof(r->peer));
	return 0;
}

/*
 * realm_add_name - link i answers to name too (a name given here).
 * 0 if it does now (or did); EEXIST: name answers for another link;
 * EDQUOT: the link has REALM_ALIASES given names already.
 */
int
realm_add_name(struct state *st, uint32_t i, const char *name)
{
	struct shm_realm *r = realm_at(st, i);
	uint32_t owner = realm_find_locked(st, name, strlen(name));

	if (r == NULL || !name_valid(name, strlen(name))) {
		errno = ENOENT;
		return -1;
	}
	if (owner == i)
		return 0;
	if (owner != 0) {
		errno = EEXIST;
		return -1;
	}
	for (int k = 0; k < REALM_ALIASES; k++) {
		if (r->alias[k][0] != '\0')
			continue;
		if (txn_log(st, r->alias[k], sizeof(r->alias[k])) == -1)
			return -1;
		strlcpy(r->alias[k], name, sizeof(r->alias[k]));
		return 0;
	}
	errno = EDQUOT;
	return -1;
}

/*
 * realm_set_peer_id - the peer calls link i id: it answers to that too,
 * in place of the id it gave before.  EEXIST (nothing changes): id
 * answers for another link.
 */
int
realm_set_peer_id(struct state *st, uint32_t i, const char *id)
{
	struct shm_realm *r = realm_at(st, i);
	uint32_t owner = realm_find_locked(st, id, strlen(id));

	if (r == NULL || !name_valid(id, strlen(id))) {
		errno = ENOENT;
		return -1;
	}
	if (strcmp(r->peer_id, id) == 0)
		return 0;
	if (owner != 0 && owner != i) {
		errno = EEXIST;
		return -1;
	}
	if (txn_log(st, r->peer_id, sizeof(r->peer_id)) == -1)
		return -1;
	strlcpy(r->peer_id, id, sizeof(r->peer_id));
	return 0;
}

/* realm_names - the names link r answers to, each once; how many */
int
realm_names(const struct shm_realm *r, const char *out[REALM_NAMES_MAX])
{
	const char *all[REALM_NAMES_MAX];
	int n = 0, k = 0;

	all[k++] = r->name;
	all[k++] = r->peer;
	all[k++] = r->peer_id;
	for (int a = 0; a < REALM_ALIASES; a++)
		all[k++] = r->alias[a];
	for (int a = 0; a < k; a++) {
		bool seen = all[a][0] == '\0';
		for (int b = 0; b < n && !seen; b++)
			seen = strcmp(out[b], all[a]) == 0;
		if (!seen)
			out[n++] = all[a];
	}
	return n;
}

/*
 * realm_remove - drop a link with up to max of its queued messages
 * (bodies to unlink go to gone[], which has room for max); the link
 * itself goes once its queue is empty.  max bounds what one transaction
 * logs.  Returns 1 when it is gone, 0 when messages remain.
 */
int
realm_remove(struct state *st, uint32_t i, uint64_t *gone, size_t *ngone,
    size_t max)
{
	struct slot_table tb = realms_table(st);
	struct shm_realm *r = realm_at(st, i);
	size_t n = 0;

	*ngone = 0;
	if (r == NULL) {
		errno = ENOENT;
		return -1;
	}
	while (r->out_head != 0 && n++ < max) {
		uint64_t g;
		if (outbox_remove(st, i, r->out_head, &g) == -1)
			return -1;
		if (g != 0)
			gone[(*ngone)++] = g;
	}
	if (r->out_head != 0)
		return 0;
	return slot_free(st, &tb, i) == -1 ? -1 : 1;
}

/*
 * realm_arrivals_home - make up to max messages that arrived over link
 * realm and still wait in inboxes ordinary inbox messages, as if sent
 * from here (before the link goes, so that none is left pointing at it).
 * The scan of the message table starts at *pos and wraps round; *pos
 * is where to go on, and *whole says the scan saw every slot, so that
 * none is left in this transaction.  Returns how many were moved.
 */
int
realm_arrivals_home(struct state *st, uint32_t realm, uint32_t *pos,
    uint32_t max, bool *whole)
{
	uint32_t hwm = st->hdr->msgs.hwm, start, steps, n = 0;

	start = *pos >= 1 && *pos <= hwm ? *pos : 1;
	for (steps = 0; steps < hwm && n < max; steps++) {
		struct shm_msg *m = &st->msgs[(start - 1 + steps) % hwm + 1];
		struct shm_user *u;

		if (m->state != SLOT_USED || m->realm != realm || m->to == 0)
			continue;
		if (m->flags & MF_KEPT) {	/* shown already: off every inbox */
			if (txn_log(st, &m->realm, sizeof(m->realm)) == -1)
				return -1;
			m->realm = 0;
			n++;
			continue;
		}
		if ((u = user_at(st, m->to)) == NULL || u->realm_count == 0) {
			errno = EIO;
			return -1;
		}
		if (txn_log(st, &m->realm, sizeof(m->realm)) == -1 ||
		    txn_log(st, &u->realm_count, sizeof(u->realm_count)) == -1)
			return -1;
		m->realm = 0;
		u->realm_count--;
		n++;
	}
	*pos = hwm == 0 ? 1 : (start - 1 + steps) % hwm + 1;
	*whole = steps == hwm;
	return (int)n;
}

/*
 * outbox_append - queue a message for link realm; its text is
 * "<target>\0<text>".  EDQUOT: limit messages wait already.
 */
int
outbox_append(struct state *st, uint32_t realm, const struct msg_new *m,
    uint32_t limit, uint64_t *id)
{
	struct shm_realm *r = realm_at(st, realm);
	struct msg_new q = *m;
	uint32_t i;

	if (r == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (r->out_count >= limit) {
		errno = EDQUOT;
		return -1;
	}
	q.to = 0;
	q.realm = realm;
	if (msg_create(st, &q, &i, id) == -1 ||
	    txn_log(st, &r->out_seq, sizeof(r->out_seq)) == -1 ||
	    txn_log(st, &st->msgs[i].seq, sizeof(st->msgs[i].seq)) == -1)
		return -1;
	if (++r->out_seq == 0)		/* 0 is "nothing received yet" */
		r->out_seq = 1;
	st->msgs[i].seq = r->out_seq;
	return fifo_append(st, FIFO_OF(r, out), i);
}

/* outbox_find_locked - the queued message of link realm with this id, 0 */
uint32_t
outbox_find_locked(struct state *st, uint32_t realm, uint64_t id)
{
	struct shm_realm *r = realm_at(st, realm);
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;

	if (r == NULL)
		return 0;
	for (uint32_t i = r->out_head; i != 0 && i < cap && steps++ < cap;
	    i = st->msgs[i].next) {
		if (st->msgs[i].id == id)
			return i;
		if (st->msgs[i].id > id)
			break;		/* ids increase along the queue */
	}
	return 0;
}

/* outbox_remove - take message msg off link realm's queue and free it */
int
outbox_remove(struct state *st, uint32_t realm, uint32_t msg, uint64_t *gone)
{
	struct shm_realm *r = realm_at(st, realm);
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0, prev = 0;
	uint32_t *link;

	if (r == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (fifo_log(st, FIFO_OF(r, out)) == -1)
		return -1;
	for (link = &r->out_head; *link != 0 && *link != msg;
	    link = &st->msgs[*link].next) {
		if (*link >= cap || ++steps > cap) {
			errno = EIO;
			return -1;
		}
		prev = *link;
	}
	if (*link == 0) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, link, sizeof(*link)) == -1)
		return -1;
	*link = st->msgs[msg].next;
	if (r->out_tail == msg)
		r->out_tail = prev;
	r->out_count--;
	return msg_release(st, msg, gone);
}

/*
 * realm_received - record that the peer's message id, sequence number
 * seq, was handled: stored (code < 0) or refused with code.  The mark
 * only moves forward (in sequence-number arithmetic).
 */
int
realm_received(struct state *st, uint32_t realm, uint64_t seq, uint64_t id,
    int code)
{
	struct shm_realm *r = realm_at(st, realm);

	if (r == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, &r->recv_hwm, sizeof(r->recv_hwm)) == -1)
		return -1;
	if (seq_after(seq, r->recv_hwm))
		r->recv_hwm = seq;
	if (code < 0)
		return 0;
	uint32_t k = r->reject_next % REJECTS_KEPT;
	if (txn_log(st, &r->reject_next, sizeof(r->reject_next)) == -1 ||
	    txn_log(st, &r->reject_id[k], sizeof(r->reject_id[k])) == -1 ||
	    txn_log(st, &r->reject_code[k], sizeof(r->reject_code[k])) == -1)
		return -1;
	r->reject_id[k] = id;
	r->reject_code[k] = (uint8_t)code;
	r->reject_next = (k + 1) % REJECTS_KEPT;
	return 0;
}

/* realm_rejected_locked - the code a resent id was refused with, or -1 */
int
realm_rejected_locked(struct state *st, uint32_t realm, uint64_t id)
{
	struct shm_realm *r = realm_at(st, realm);

	if (r == NULL)
		return -1;
	for (int k = 0; k < REJECTS_KEPT; k++)
		if (r->reject_id[k] == id && id != 0)
			return r->reject_code[k];
	return -1;
}

/*
 * remote_room - may link r make one more remote user?  All links share
 * the room kept for them (remote_cap); one link may take a quarter of
 * it, so the senders of one peer cannot crowd out the others'.
 * EDQUOT if not.
 */
static int
remote_room(struct state *st, const struct shm_realm *r)
{
	uint32_t cap = st->hdr->remote_cap;
	uint32_t share = cap / 4 > 0 ? cap / 4 : cap;

	if (st->hdr->remote_users >= cap || r->users >= share) {
		errno = EDQUOT;
		return -1;
	}
	return 0;
}

/*
 * remote_user - the user slot standing for user of link realm, made on
 * first use; its display name follows what the peer says.
 */
int
remote_user(struct state *st, uint32_t realm, const char *user,
    const char *display, uint32_t *idx)
{
	struct shm_realm *r = realm_at(st, realm);
	char name[REMOTE_NAME_LEN + 1];
	struct user_fields f;
	size_t len;

	if (r == NULL || !name_valid(user, strlen(user))) {
		errno = ENOENT;
		return -1;
	}
	len = (size_t)snprintf(name, sizeof(name), "%s@%s", user, r->name);
	if ((*idx = user_find_locked(st, name, len)) != 0) {
		struct shm_user *u = &st->users[*idx];
		if (strcmp(u->display, display) == 0)
			return 0;
		if (txn_log(st, u->display, sizeof(u->display)) == -1)
			return -1;
		strlcpy(u->display, display, sizeof(u->display));
		return 0;
	}
	if (remote_room(st, r) == -1)
		return -1;
	f.name = name;
	f.display = display;
	f.country = "";
	f.pwhash = "!";		/* matches no password */
	if (user_insert_remote(st, &f, idx) == -1 ||
	    txn_log(st, &st->hdr->remote_users,
	    sizeof(st->hdr->remote_users)) == -1 ||
	    txn_log(st, &r->users, sizeof(r->users)) == -1)
		return -1;
	st->hdr->remote_users++;
	r->users++;
	st->users[*idx].realm = realm;	/* a fresh slot: logged whole */
	return 0;
}

/* remote_user_name - the user part of a remote user's name */
const char *
remote_user_name(const struct shm_user *u, size_t *len)
{
	const char *at = strchr(u->name, '@');

	*len = at != NULL ? (size_t)(at - u->name) : strlen(u->name);
	return u->name;
}

/* user_name_ok - the record's name follows the rules for its kind */
bool
user_name_ok(const struct shm_user *u)
{
	const char *at;

	if (memchr(u->name, '\0', sizeof(u->name)) == NULL)
		return false;
	if (u->realm == 0)
		return name_valid(u->name, strlen(u->name));
	at = strchr(u->name, '@');
	return at != NULL && u->realm <= REALMS_MAX &&
	    name_valid(u->name, (size_t)(at - u->name)) &&
	    name_valid(at + 1, strlen(at + 1));
}

/*
 * bounce_enqueue - tell user that the peer refused message ref; the
 * notice's text is "<realm>\0<code>\0<target>\0<why>".  A notice is
 * not held to inbox_quota: it answers one of the user's own messages,
 * which held a slot of the message table until the verdict, so the
 * notices cannot outgrow what their sender sent, and a full inbox never
 * loses one (only a full message table can).
 */
int
bounce_enqueue(struct state *st, uint32_t user, const char *realm, int code,
    const char *target, const char *why, uint64_t ref)
{
	char text[NAME_LEN + 16 + REMOTE_NAME_LEN * 4 + 256];
	const char *cname = code_name((enum rc_code)code);
	int n;
	struct msg_new m = {
		.from = user, .to = user, .kind = MSG_TEXT, .time = now_sec(),
		.flags = MF_BOUNCE, .ref = ref, .text = text,
	};
	uint64_t id;

	n = snprintf(text, sizeof(text), "%s%c%s%c%.*s%c%.200s", realm, '\0',
	    cname, '\0', REMOTE_NAME_LEN * 4, target, '\0', why);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	m.len = (size_t)n;
	return msg_enqueue(st, &m, UINT32_MAX, &id);
}
