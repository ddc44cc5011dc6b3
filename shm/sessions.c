/*
 * NAME
 *	sessions - the session table, hashed by token
 * DESCRIPTION
 *	A session belongs to one user and sits on two chains: its hash
 *	bucket (by token) and its user's list (to count, evict and end them).
 *	last_seen is written without the undo log: it is a single word that
 *	no structure depends on.
 */
#include <errno.h>
#include <string.h>
#include <openssl/crypto.h>

#include "shm/table.h"

/* session_at - the session in slot i, or NULL if i is not a used slot */
struct shm_session *
session_at(struct state *st, uint32_t i)
{
	struct slot_table tb = sessions_table(st);

	return slot_used(&tb, i);
}

uint32_t
session_bucket(struct state *st, const uint8_t *tok)
{
	return hash_str(st->hdr->hash_key, (const char *)tok, TOKEN_LEN) &
	    st->hdr->sessions.mask;
}

static bool
expired(const struct shm_session *s, uint64_t now, uint64_t timeout)
{
	return s->last_seen + timeout < now;
}

/*
 * session_find_locked - slot of the live session with this token, 0 if
 * none or if it has idled past timeout.  Marks it seen now.
 */
uint32_t
session_find_locked(struct state *st, const uint8_t *tok, uint64_t now,
    uint64_t timeout)
{
	uint32_t cap = st->hdr->region[RG_SESSIONS].count, steps = 0;
	uint32_t i = st->session_hash[session_bucket(st, tok)];

	while (i != 0 && i < cap && steps++ < cap) {
		struct shm_session *s = &st->sessions[i];
		if (CRYPTO_memcmp(s->token, tok, TOKEN_LEN) == 0) {
			if (expired(s, now, timeout))
				return 0;
			s->last_seen = now;
			return i;
		}
		i = s->next;
	}
	return 0;
}

/* user_unlink_session - take session i off its user's list */
static int
user_unlink_session(struct state *st, struct shm_user *u, uint32_t i)
{
	uint32_t *link = &u->sessions, steps = 0;
	uint32_t cap = st->hdr->region[RG_SESSIONS].count;

	while (*link != 0 && *link != i) {
		if (*link >= cap || ++steps > cap) {
			errno = EIO;
			return -1;
		}
		link = &st->sessions[*link].user_next;
	}
	if (*link != i) {
		errno = ENOENT;
		return -1;
	}
	if (txn_log(st, link, sizeof(*link)) == -1 ||
	    txn_log(st, &u->nsessions, sizeof(u->nsessions)) == -1)
		return -1;
	*link = st->sessions[i].user_next;
	u->nsessions--;
	return 0;
}

/* session_delete - end session i */
int
session_delete(struct state *st, uint32_t i)
{
	struct slot_table tb = sessions_table(st);
	struct shm_session *s = session_at(st, i);
	struct shm_user *u;

	if (s == NULL || (u = user_at(st, s->user)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (chain_unlink(st, &tb, session_bucket(st, s->token), i) == -1 ||
	    user_unlink_session(st, u, i) == -1)
		return -1;
	return slot_free(st, &tb, i);
}

/* oldest_session - the user's least recently seen session */
static uint32_t
oldest_session(struct state *st, const struct shm_user *u)
{
	uint32_t cap = st->hdr->region[RG_SESSIONS].count, steps = 0;
	uint32_t best = 0;

	for (uint32_t i = u->sessions; i != 0 && i < cap && steps++ < cap;
	    i = st->sessions[i].user_next)
		/* the list is newest first: on a tie the later one is older */
		if (best == 0 ||
		    st->sessions[i].last_seen <= st->sessions[best].last_seen)
			best = i;
	return best;
}

/*
 * session_create - a new session for user with a fresh random token.
 * Beyond per_user sessions, the user's least recently seen one ends.
 */
int
session_create(struct state *st, uint32_t user, uint64_t now,
    uint32_t per_user, uint8_t tok[TOKEN_LEN], uint32_t *idx)
{
	struct slot_table tb = sessions_table(st);
	struct shm_user *u = user_at(st, user);
	struct shm_session *s;
	uint32_t i;

	if (u == NULL) {
		errno = ENOENT;
		return -1;
	}
	while (u->nsessions >= per_user && u->sessions != 0)
		if (session_delete(st, oldest_session(st, u)) == -1)
			return -1;
	do
		token_new(tok);
	while (session_find_locked(st, tok, now, UINT64_MAX / 2) != 0);
	if (slot_alloc(st, &tb, &i) == -1)
		return -1;
	s = &st->sessions[i];
	memcpy(s->token, tok, TOKEN_LEN);
	s->user = user;
	s->created = now;
	s->last_seen = now;
	s->cur_group = 0;
	s->sflags = 0;
	if (chain_push(st, &tb, session_bucket(st, tok), i) == -1 ||
	    txn_log(st, &u->sessions, sizeof(u->sessions)) == -1 ||
	    txn_log(st, &u->nsessions, sizeof(u->nsessions)) == -1)
		return -1;
	s->user_next = u->sessions;
	u->sessions = i;
	u->nsessions++;
	*idx = i;
	return 0;
}

/* session_expire - end up to max sessions idle past timeout; how many */
int
session_expire(struct state *st, uint64_t now, uint64_t timeout, uint32_t max)
{
	uint32_t hwm = st->hdr->sessions.hwm;
	int n = 0;

	for (uint32_t i = 1; i <= hwm && (uint32_t)n < max; i++) {
		struct shm_session *s = session_at(st, i);
		if (s != NULL && expired(s, now, timeout)) {
			if (session_delete(st, i) == -1)
				return -1;
			n++;
		}
	}
	return n;
}
