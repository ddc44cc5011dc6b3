/*
 * NAME
 *	names - what a realm link is called, and who may make realmd dial
 * DESCRIPTION
 *	A link answers to several names (shm/realms.c): its own, the peer's
 *	realm_name, the id the peer's user gave it (the dialer sends it with
 *	its proof) and names added here by addrealm.  No name answers for
 *	two links.
 *
 *	addrealm for a peer that is linked already adds a name and starts
 *	nothing: the dialer learns who answered from the challenge, whose
 *	proof shows it is that realm, and hangs up before its own proof, so
 *	the peer never takes the probe for a new connection of the link and
 *	the live one carries on.
 *
 *	A user's addrealm makes realmd dial an address the user chose, so
 *	users together may start realm_user_dials dials a minute, at most
 *	USER_DIALS_AT_ONCE at once, and make at most realm_user_links links;
 *	the operator's add_realm (realmctl) is bounded by the table alone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "realmd/realmd.h"

#define USER_DIALS_AT_ONCE	8	/* users' addrealm handshakes at once */
#define DIAL_WINDOW_MS		60000	/* realm_user_dials per this */

static uint64_t dial_tokens_ms;	/* budget, in ms of DIAL_WINDOW_MS per dial */
static uint64_t dial_refill_at;	/* now_msec() of the last refill */

/* chan_operator - the channel is the master's: realmctl's add_realm */
bool
chan_operator(const struct chan *c)
{
	for (int i = 0; i < SHM_PROCS; i++)
		if (rd.st->procs[i].pid == c->pid &&
		    rd.st->procs[i].role == PROC_MASTER)
			return true;
	return false;
}

/* added - answer an addrealm OK: the link is called id, its peer peer */
static void
added(struct chan *c, uint64_t req, const char *id, const char *peer)
{
	cJSON *o;

	if (c == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddStringToObject(o, "message", "Connect realm berhasil");
	cJSON_AddStringToObject(o, "realm", id);
	cJSON_AddStringToObject(o, "peer", peer);
	realmd_result(c, req, o);
}

/*
 * user_dial_allowed - a user's addrealm may dial now (and the dial is
 * counted); else false after answering QUOTA
 */
static bool
user_dial_allowed(struct chan *c, uint64_t req)
{
	uint64_t now = now_msec(), per = rd.cf->realm_user_dials;
	int busy = 0;
	char msg[160];

	for (struct peer *p = rd.peers; p != NULL; p = p->next)
		busy += p->realm == 0 && p->dialer && p->ask_user &&
		    p->phase != PH_CLOSED;
	if (per == 0 || busy >= USER_DIALS_AT_ONCE) {
		realmd_error(c, req, E_QUOTA, per == 0 ?
		    "Only the operator adds realm links here" :
		    "Too many realm handshakes in progress; try again soon");
		return false;
	}
	dial_tokens_ms += now - dial_refill_at;	/* refills in real time */
	dial_refill_at = now;
	if (dial_tokens_ms > DIAL_WINDOW_MS)
		dial_tokens_ms = DIAL_WINDOW_MS;
	if (dial_tokens_ms < DIAL_WINDOW_MS / per) {
		snprintf(msg, sizeof(msg), "Too many addrealm (%llu a minute); "
		    "try again in %llu s", (unsigned long long)per,
		    (unsigned long long)((DIAL_WINDOW_MS / per - dial_tokens_ms)
		    / 1000 + 1));
		realmd_error(c, req, E_QUOTA, msg);
		return false;
	}
	dial_tokens_ms -= DIAL_WINDOW_MS / per;
	return true;
}

/*
 * names_addrealm_answered - what addrealm id host port needs no dial
 * for: an id that already names a link (a user: REALM_EXISTS, as the
 * seeds say; the operator: OK for the same link again), the same id
 * being added (REALM_EXISTS), a user over the limits (QUOTA).  True when
 * c was answered.  Either way the live link is left alone.
 */
bool
names_addrealm_answered(struct chan *c, uint64_t req, const char *id,
    const char *host, uint16_t port)
{
	char peer[NAME_LEN + 1] = "";
	bool same = false;
	uint32_t have;

	state_lock(rd.st);
	if ((have = realm_find_locked(rd.st, id, strlen(id))) != 0) {
		struct shm_realm *r = &rd.st->realms[have];
		strlcpy(peer, r->peer, sizeof(peer));
		same = (r->flags & RF_DIALER) && r->port == port &&
		    strcmp(r->host, host) == 0;
	}
	state_unlock(rd.st);
	if (have != 0 && chan_operator(c) && same) {
		added(c, req, id, peer);
		return true;
	}
	if (have != 0 && !chan_operator(c)) {
		char msg[96 + 2 * NAME_LEN];
		snprintf(msg, sizeof(msg), "Realm sudah ada: %s already names "
		    "the link to realm %s", id, peer);
		realmd_error(c, req, E_REALM_EXISTS, same ? NULL : msg);
		return true;
	}
	for (struct peer *p = rd.peers; p != NULL; p = p->next)
		if (p->ask != NULL && strcmp(p->ask_id, id) == 0) {
			realmd_error(c, req, E_REALM_EXISTS,
			    "Realm sudah ada: an addrealm of that name is in progress");
			return true;
		}
	return !chan_operator(c) && !user_dial_allowed(c, req);
}

/* user_links_locked - links that users' addrealm made */
static uint32_t
user_links_locked(void)
{
	uint32_t n = 0;

	for (uint32_t i = 1; i <= rd.st->hdr->realms.hwm && i <= REALMS_MAX; i++)
		n += rd.st->realms[i].state == SLOT_USED &&
		    (rd.st->realms[i].flags & RF_USER);
	return n;
}

/* add_name - link l answers to p's id too; answer the addrealm */
static void
add_name(struct peer *p, uint32_t l)
{
	char msg[160];
	int rc, err;

	txn_begin(rd.st);
	rc = realm_add_name(rd.st, l, p->ask_id);
	err = errno;
	if (rc == 0)
		txn_commit(rd.st);
	else
		txn_abort(rd.st);
	if (rc == 0) {
		log_info("realm %s is called %s here too", p->peer_name,
		    p->ask_id);
		added(p->ask, p->ask_req, p->ask_id, p->peer_name);
	} else if (err == EDQUOT) {
		snprintf(msg, sizeof(msg), "The link to realm %s has %d names "
		    "given here already", p->peer_name, REALM_ALIASES);
		realmd_error(p->ask, p->ask_req, E_QUOTA, msg);
	} else if (err == EEXIST) {
		realmd_error(p->ask, p->ask_req, E_REALM_EXISTS, NULL);
	} else
		realmd_error(p->ask, p->ask_req, E_INTERNAL, NULL);
	p->ask = NULL;
}

/*
 * names_known_peer - the dialer of an addrealm knows who answered (the
 * challenge proved it): a peer linked already gets the name and nothing
 * more; a name that would mean two links, or a user's link beyond
 * realm_user_links, is refused.  True when p was answered and must close
 * before it proves anything, so that the peer keeps its live connection.
 * A link that only the peer dials and that has no connection now takes
 * this one instead (names_new_link): nothing live is touched, and the
 * link is up again.
 */
bool
names_known_peer(struct peer *p)
{
	uint32_t linked, named, users;
	char other[NAME_LEN + 1] = "", msg[160];
	bool idle;

	state_lock(rd.st);
	linked = realm_find_peer_locked(rd.st, p->peer_name);
	named = realm_find_locked(rd.st, p->ask_id, strlen(p->ask_id));
	users = user_links_locked();
	idle = linked != 0 && rd.links[linked].conn == NULL &&
	    !(rd.st->realms[linked].flags & RF_DIALER);
	if (named != 0)
		strlcpy(other, rd.st->realms[named].peer, sizeof(other));
	state_unlock(rd.st);
	if (named != 0 && named != linked) {
		snprintf(msg, sizeof(msg), "Realm sudah ada: %s already names "
		    "the link to realm %s", p->ask_id, other);
		realmd_error(p->ask, p->ask_req, E_REALM_EXISTS, msg);
	} else if (idle)
		return false;
	else if (linked != 0)
		add_name(p, linked);
	else if (p->ask_user && users >= rd.cf->realm_user_links) {
		snprintf(msg, sizeof(msg), "Users may add %llu realm links here; "
		    "more are for the operator",
		    (unsigned long long)rd.cf->realm_user_links);
		realmd_error(p->ask, p->ask_req, E_QUOTA, msg);
	} else
		return false;
	p->ask = NULL;
	return true;
}

/*
 * names_new_link - store the link an addrealm made (inside a transaction).
 * If the peer is linked (an idle link the peer dials, or one made while
 * we shook hands), this connection is that link's now, and the id
 * becomes a name of it (if it cannot, the addrealm is answered so here).
 * NULL, or why the link cannot be stored: "exists", "full".
 */
const char *
names_new_link(struct peer *p, uint32_t *realm)
{
	uint32_t flags = RF_DIALER | (p->ask_user ? RF_USER : 0);

	if (realm_insert(rd.st, p->ask_id, p->peer_name, p->host, p->port,
	    flags, realm) == 0)
		return NULL;
	if (errno != EEXIST)
		return "full";
	if ((*realm = realm_find_peer_locked(rd.st, p->peer_name)) == 0)
		return "exists";
	if (realm_add_name(rd.st, *realm, p->ask_id) == -1) {
		realmd_error(p->ask, p->ask_req, errno == EDQUOT ? E_QUOTA :
		    E_REALM_EXISTS, NULL);
		p->ask = NULL;
	}
	return NULL;
}

/*
 * names_peer_id - the dialer of link realm calls it id: it answers to
 * that here too, unless id is this realm's own name or a name of another
 * link (then the link is kept, without that name)
 */
void
names_peer_id(uint32_t realm, const char *id)
{
	struct shm_realm *r = realm_at(rd.st, realm);
	int rc, err;

	if (r == NULL || id == NULL || !name_valid(id, strlen(id)) ||
	    strcmp(id, rd.cf->realm_name) == 0 || strcmp(r->peer_id, id) == 0)
		return;
	txn_begin(rd.st);
	rc = realm_set_peer_id(rd.st, realm, id);
	err = errno;
	if (rc == 0)
		txn_commit(rd.st);
	else
		txn_abort(rd.st);
	if (rc == -1 && err == EEXIST)
		log_info("realm %s calls its link %s, a name of another link "
		    "here: not taken", r->peer, id);
}
