/*
 * NAME
 *	cmd_account - auth, register, logout, info, whoami
 * DESCRIPTION
 *	Password hashing and checking are slow on purpose and run outside
 *	the state lock; the table changes around them are short
 *	transactions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "lib/password.h"
#include "worker/worker.h"

/* open_session - a new session for user, bound to the connection */
static int
open_session(struct request *rq, uint32_t user, uint8_t tok[TOKEN_LEN])
{
	struct worker *w = rq->w;
	uint64_t now = now_sec();
	uint32_t s;
	int rc;

	txn_begin(w->st);
	if (!guard_take_locked(GUARD_SESSION, rq->c->addr_bucket,
	    w->cf->sessions_per_address, (uint32_t)now)) {
		txn_abort(w->st);
		errno = EDQUOT;
		return -1;
	}
	rc = session_create(w->st, user, now, (uint32_t)w->cf->sessions_per_user,
	    tok, &s);
	if (rc == -1 && errno == ENOSPC &&
	    session_expire(w->st, now, w->cf->session_timeout, 1024) > 0)
		rc = session_create(w->st, user, now,
		    (uint32_t)w->cf->sessions_per_user, tok, &s);
	if (rc == -1) {
		int saved = errno;
		txn_abort(w->st);
		errno = saved;
		return -1;
	}
	txn_commit(w->st);
	session_bind(rq->c, tok);
	return 0;
}

/* reply_session - the OK reply of auth and register */
static void
reply_session(struct request *rq, const uint8_t tok[TOKEN_LEN],
    const char *user, const char *message)
{
	char text[TOKEN_STR_LEN + 1];
	cJSON *o = reply_ok(message);

	token_format(tok, text);
	cJSON_AddStringToObject(o, "tokenid", text);
	cJSON_AddStringToObject(o, "tokenId", text);	/* seed 002's key */
	cJSON_AddStringToObject(o, "username", user);
	reply_finish(rq->out, o);
}

static void
session_failed(struct request *rq)
{
	if (errno == ENOSPC)
		reply_error(rq->out, E_QUOTA, "Session table full");
	else if (errno == EDQUOT)
		reply_error(rq->out, E_QUOTA, "Too many new sessions from your "
		    "address, retry later");
	else
		reply_error(rq->out, E_INTERNAL, NULL);
}

/* throttled - the QUOTA reply of a login attempt made too early */
static void
throttled(struct request *rq, uint32_t wait)
{
	reply_errorf(rq->out, E_QUOTA, "Too many failed logins, retry in %u s",
	    (unsigned)wait);
}

/* auth_refused - the failure reply of a login (u 0: no such user) */
static void
auth_refused(struct request *rq, uint32_t u)
{
	if (u == 0)
		reply_error(rq->out, E_NO_USER, "User Tidak Ada");
	else
		reply_error(rq->out, E_BAD_PASSWORD, NULL);
}

/*
 * auth_failed - a failed login: counted against the address, and against
 * the user unless that was done when its check began (counted)
 */
static void
auth_failed(struct request *rq, uint32_t u, bool counted)
{
	struct worker *w = rq->w;

	state_lock(w->st);
	guard_auth_failed_locked(rq->c->addr_bucket,
	    u != 0 && !counted ? &w->st->users[u] : NULL, (uint32_t)now_sec());
	state_unlock(w->st);
	auth_refused(rq, u);
}

/* auth_succeeded - a user who logs in starts afresh */
static void
auth_succeeded(struct worker *w, uint32_t u)
{
	state_lock(w->st);
	w->st->users[u].auth_fails = 0;
	state_unlock(w->st);
}

/* auth_finish - the password is checked: a session, or a failure counted */
static void
auth_finish(struct worker *w, struct conn *c, struct pw_job *j,
    struct buf *out)
{
	struct request rq = { .w = w, .c = c, .out = out };
	uint8_t tok[TOKEN_LEN];

	if (!j->t.ok) {
		auth_failed(&rq, j->user, true);
		return;
	}
	auth_succeeded(w, j->user);
	if (open_session(&rq, j->user, tok) == -1) {
		session_failed(&rq);
		return;
	}
	reply_session(&rq, tok, j->name, "Login berhasil");
}

/*
 * cmd_auth - auth <user> <password>.  An address or a user with too many
 * recent failures is refused before the password is checked (guard.c);
 * the check itself runs in a thread (pwjob.c), auth_finish after it.
 */
void
cmd_auth(struct request *rq)
{
	struct worker *w = rq->w;
	char name[NAME_LEN + 1], hash[PWHASH_LEN];
	uint32_t u = 0, now = (uint32_t)now_sec(), wait;
	struct pw_job *j;

	state_lock(w->st);
	wait = guard_auth_wait_locked(rq->c->addr_bucket, now);
	if (wait == 0 && arg_copy(&rq->args[0], name, sizeof(name)) == 0 &&
	    name_valid(name, strlen(name)) &&
	    (u = user_find_locked(w->st, name, strlen(name))) != 0) {
		wait = user_auth_wait_locked(&w->st->users[u], now);
		strlcpy(hash, w->st->users[u].pwhash, sizeof(hash));
		if (wait == 0 && rq->args[1].len <= PASSWORD_MAX)
			user_auth_count_locked(&w->st->users[u], now);
	}
	state_unlock(w->st);
	if (wait > 0) {
		throttled(rq, wait);
		return;
	}
	if (u == 0 || rq->args[1].len > PASSWORD_MAX) {
		auth_failed(rq, u, false);
		return;
	}
	if ((j = pw_job_new(rq, &rq->args[1])) == NULL)
		return;
	j->t.verify = true;
	j->user = u;
	strlcpy(j->t.hash, hash, sizeof(j->t.hash));
	strlcpy(j->name, name, sizeof(j->name));
	j->finish = auth_finish;
	pw_submit(rq, j);
}

/*
 * profile_field - a display name or country from the request: '_' stands
 * for a space, malformed UTF-8 is replaced.  -1 if too long.
 */
static int
profile_field(const struct word *wd, char *dst, size_t size)
{
	char raw[3 * DISPLAY_LEN + 1];
	size_t n;

	if (wd->len > DISPLAY_LEN)
		return -1;
	n = utf8_sanitize(wd->p, wd->len, raw);
	if (n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		dst[i] = raw[i] == '_' ? ' ' : raw[i];
	dst[n] = '\0';
	return 0;
}

/*
 * register_job - a job holding the user, name and country of a register
 * line, in the order forms.c reads, its password to hash; NULL after a
 * reply
 */
static struct pw_job *
register_job(struct request *rq)
{
	const struct word *a = rq->args;
	struct pw_job *j;
	int pos[4];

	if (form_register(rq, pos) == -1)
		return NULL;
	if (a[pos[0]].len > NAME_LEN ||
	    !name_valid(a[pos[0]].p, a[pos[0]].len)) {
		reply_errorf(rq->out, E_BAD_NAME, "Nama tidak valid: 1-%d "
		    "characters of A-Za-z0-9_.-", NAME_LEN);
		return NULL;
	}
	if ((j = pw_job_new(rq, &a[pos[1]])) == NULL)
		return NULL;
	memcpy(j->name, a[pos[0]].p, a[pos[0]].len);
	strlcpy(j->display, j->name, sizeof(j->display));
	if ((pos[2] >= 0 && profile_field(&a[pos[2]], j->display,
	    sizeof(j->display)) == -1) || (pos[3] >= 0 &&
	    profile_field(&a[pos[3]], j->country, sizeof(j->country)) == -1)) {
		reply_error(rq->out, E_BAD_ARGS, "Name or country too long");
		pw_job_free(j);
		return NULL;
	}
	return j;
}

/* register_finish - the password is hashed: the user and a session */
static void
register_finish(struct worker *w, struct conn *c, struct pw_job *j,
    struct buf *out)
{
	struct request rq = { .w = w, .c = c, .out = out };
	struct user_fields f = { j->name, j->display, j->country, j->t.hash };
	char done[64 + NAME_LEN];
	uint8_t tok[TOKEN_LEN];
	uint32_t u;

	if (!j->t.ok) {
		log_err("password hash failed");
		reply_error(out, E_INTERNAL, NULL);
		return;
	}
	txn_begin(w->st);
	if (user_insert(w->st, &f, &u) == -1) {
		int saved = errno;
		txn_abort(w->st);
		if (saved == EEXIST)
			reply_error(out, E_USER_EXISTS, NULL);
		else
			reply_error(out, E_QUOTA, "User table full");
		return;
	}
	txn_commit(w->st);
	if (open_session(&rq, u, tok) == -1) {
		session_failed(&rq);
		return;
	}
	snprintf(done, sizeof(done), "Register berhasil: username %s", j->name);
	reply_session(&rq, tok, j->name, done);
}

/*
 * cmd_register - register <user> <password> [name] [country], or seed
 * 001's register <name> <country> <user> <password> (forms.c decides).
 * The password is hashed in a thread (pwjob.c), register_finish after it.
 */
void
cmd_register(struct request *rq)
{
	struct worker *w = rq->w;
	struct pw_job *j;
	uint32_t u;
	bool room = true;

	if ((j = register_job(rq)) == NULL)
		return;
	state_lock(w->st);
	if ((u = user_find_locked(w->st, j->name, strlen(j->name))) == 0)
		room = guard_take_locked(GUARD_REGISTER, rq->c->addr_bucket,
		    w->cf->registrations_per_address, (uint32_t)now_sec());
	state_unlock(w->st);
	if (u != 0 || !room) {
		if (u != 0)
			reply_error(rq->out, E_USER_EXISTS, NULL);
		else
			reply_error(rq->out, E_QUOTA, "Too many registrations "
			    "from your address, retry later");
		pw_job_free(j);
		return;
	}
	j->finish = register_finish;
	pw_submit(rq, j);
}

/* cmd_logout - end the session of this request (not the user's others) */
void
cmd_logout(struct request *rq)
{
	struct worker *w = rq->w;
	int rc;

	txn_begin(w->st);
	if ((rc = session_delete(w->st, rq->session)) == -1)
		txn_abort(w->st);
	else
		txn_commit(w->st);
	if (rq->c->has_token && memcmp(rq->c->token, rq->token, TOKEN_LEN) == 0)
		rq->c->has_token = false;
	if (rc == -1)
		reply_error(rq->out, E_NO_SESSION, NULL);
	else
		reply_finish(rq->out, reply_ok("Logout berhasil"));
}

/* add_user - the public fields of a user, added to o */
static cJSON *
add_user(cJSON *o, struct worker *w, const struct shm_user *u)
{
	cJSON_AddStringToObject(o, "username", u->name);
	json_add_text(o, "name", u->display, strlen(u->display));
	json_add_text(o, "country", u->country, strlen(u->country));
	cJSON_AddStringToObject(o, "realm", w->cf->realm_name);
	return o;
}

struct online {
	uint32_t	user;
	uint64_t	since;
};

static int
online_cmp(const void *a, const void *b)
{
	const struct online *x = a, *y = b;

	return x->user < y->user ? -1 : x->user > y->user;
}

/*
 * cmd_info - users with a live session, with the time of their first:
 * as a list, and in message keyed by user name (never by token)
 */
void
cmd_info(struct request *rq)
{
	struct state *st = rq->w->st;
	uint64_t now = now_sec(), timeout = rq->w->cf->session_timeout;
	struct online *on;
	size_t n = 0, m = 0;
	cJSON *o, *arr, *by_name;
	char when[21];

	state_lock(st);
	if ((on = calloc(st->hdr->sessions.count + 1, sizeof(*on))) == NULL) {
		state_unlock(st);
		reply_error(rq->out, E_INTERNAL, NULL);
		return;
	}
	for (uint32_t i = 1; i <= st->hdr->sessions.hwm; i++) {
		struct shm_session *s = session_at(st, i);
		if (s != NULL && s->last_seen + timeout >= now &&
		    n <= st->hdr->sessions.count) {
			on[n].user = s->user;
			on[n++].since = s->created;
		}
	}
	qsort(on, n, sizeof(*on), online_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && on[m - 1].user == on[i].user) {
			if (on[i].since < on[m - 1].since)
				on[m - 1].since = on[i].since;
		} else
			on[m++] = on[i];
	}
	o = reply_ok(NULL);
	arr = cJSON_AddArrayToObject(o, "users");
	/* clients print message, or read message.values()[i]["username"] */
	by_name = cJSON_AddObjectToObject(o, "message");
	for (size_t i = 0; i < m; i++) {
		const struct shm_user *su = &st->users[on[i].user];
		cJSON *u = add_user(cJSON_CreateObject(), rq->w, su);
		iso_time(on[i].since, when);
		cJSON_AddStringToObject(u, "since", when);
		cJSON_AddItemToArray(arr, u);
		cJSON_AddItemReferenceToObject(by_name, su->name, u);
	}
	state_unlock(st);
	free(on);
	json_add_uint(o, "count", m);
	reply_finish(rq->out, o);
}

/* cmd_whoami - the session's user, also as the object in message */
void
cmd_whoami(struct request *rq)
{
	struct state *st = rq->w->st;
	cJSON *o = reply_ok(NULL);

	state_lock(st);
	add_user(o, rq->w, &st->users[rq->user]);
	add_user(cJSON_AddObjectToObject(o, "message"), rq->w,
	    &st->users[rq->user]);
	state_unlock(st);
	reply_finish(rq->out, o);
}
