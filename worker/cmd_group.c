/*
 * NAME
 *	cmd_group - addgroup, joingroup, leavegroup, sendgroup, inboxgroup,
 *	listgroups, groupmembers
 * DESCRIPTION
 *	Also reached as "group add|join|leave|send|inbox|get|members".
 *	A group password is stored as a yescrypt hash, like a user's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "lib/password.h"
#include "worker/worker.h"

/* group_name - the group argument, checked; -1 after replying BAD_NAME */
static int
group_name(struct request *rq, const struct word *w, char name[NAME_LEN + 1])
{
	if (arg_copy(w, name, NAME_LEN + 1) == -1 || !name_valid(name, w->len)) {
		reply_errorf(rq->out, E_BAD_NAME, "Nama tidak valid: 1-%d "
		    "characters of A-Za-z0-9_.-", NAME_LEN);
		return -1;
	}
	return 0;
}

/* addgroup_finish - the password is hashed (or there is none): the group */
static void
addgroup_finish(struct worker *w, struct conn *c, struct pw_job *j,
    struct buf *out)
{
	struct state *st = w->st;
	uint32_t g;
	int saved;

	if (!j->t.ok) {
		reply_error(out, E_INTERNAL, NULL);
		return;
	}
	txn_begin(st);
	if (group_create(st, j->name, j->t.hash, j->user, &g) == -1) {
		saved = errno;
		txn_abort(st);
		if (saved == EEXIST)
			reply_error(out, E_GROUP_EXISTS, NULL);
		else
			reply_error(out, E_QUOTA, "Group table full");
		return;
	}
	txn_commit(st);
	form_note_group(w, j->session, j->user, g);
	reply_finish(out, reply_ok("Add group Berhasil"));
}

/*
 * cmd_addgroup - addgroup <group> [password]; the creator joins it.  A
 * password is hashed in a thread (pwjob.c) first.
 */
void
cmd_addgroup(struct request *rq)
{
	char name[NAME_LEN + 1];
	struct pw_job *j;

	if (group_name(rq, &rq->args[0], name) == -1)
		return;
	if (rq->nargs > 1 && rq->args[1].len > PASSWORD_MAX) {
		reply_error(rq->out, E_BAD_ARGS, "Password too long");
		return;
	}
	if ((j = pw_job_new(rq, rq->nargs > 1 ? &rq->args[1] : NULL)) == NULL)
		return;
	strlcpy(j->name, name, sizeof(j->name));
	if (rq->nargs > 1) {
		j->finish = addgroup_finish;
		pw_submit(rq, j);
		return;
	}
	j->t.ok = true;
	addgroup_finish(rq->w, rq->c, j, rq->out);
	pw_job_free(j);
}

/* join - make the request's user a member of group g, and answer */
static void
join(struct worker *w, uint32_t g, uint32_t user, uint32_t session,
    struct buf *out)
{
	struct state *st = w->st;
	int rc, saved;

	txn_begin(st);
	rc = member_add(st, g, user, (uint32_t)w->cf->group_members);
	saved = errno;
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	if (rc == 0 || saved == EEXIST)
		form_note_group(w, session, user, g);
	if (rc == 0)
		reply_finish(out, reply_ok("Join group berhasil"));
	else if (saved == EEXIST)
		reply_error(out, E_ALREADY_MEMBER, NULL);
	else if (saved == EDQUOT)
		reply_error(out, E_QUOTA, "Group is full");
	else
		reply_error(out, E_QUOTA, "Membership table full");
}

/*
 * joingroup_finish - the password is checked: join, or count a wrong
 * guess against the address and the group (guard.c).  The group may
 * have been replaced meanwhile: the hash checked must still be its own.
 */
static void
joingroup_finish(struct worker *w, struct conn *c, struct pw_job *j,
    struct buf *out)
{
	struct state *st = w->st;
	bool same;

	state_lock(st);
	same = st->groups[j->group].state == SLOT_USED &&
	    strcmp(st->groups[j->group].name, j->name) == 0 &&
	    strcmp(st->groups[j->group].pwhash, j->t.hash) == 0;
	if (same && !j->t.ok)
		guard_group_failed_locked(c->addr_bucket, j->group,
		    (uint32_t)now_sec());
	state_unlock(st);
	if (!same)
		reply_error(out, E_NO_GROUP, NULL);
	else if (!j->t.ok)
		reply_error(out, E_BAD_PASSWORD, NULL);
	else
		join(w, j->group, j->user, j->session, out);
}

/*
 * cmd_joingroup - joingroup <group> [password].  Guesses are throttled
 * like logins (guard.c); the check runs in a thread (pwjob.c).
 */
void
cmd_joingroup(struct request *rq)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1], hash[PWHASH_LEN];
	uint32_t g, wait = 0;
	struct pw_job *j;

	if (group_name(rq, &rq->args[0], name) == -1)
		return;
	if (rq->nargs > 1 && rq->args[1].len > PASSWORD_MAX) {
		reply_error(rq->out, E_BAD_PASSWORD, NULL);
		return;
	}
	state_lock(st);
	if ((g = group_find_locked(st, name, strlen(name))) != 0) {
		strlcpy(hash, st->groups[g].pwhash, sizeof(hash));
		if (hash[0] != '\0')
			wait = guard_group_wait_locked(rq->c->addr_bucket, g,
			    (uint32_t)now_sec());
	}
	state_unlock(st);
	if (g == 0) {
		reply_error(rq->out, E_NO_GROUP, NULL);
		return;
	}
	if (wait > 0) {
		reply_errorf(rq->out, E_QUOTA, "Too many wrong group passwords, "
		    "retry in %u s", (unsigned)wait);
		return;
	}
	if (hash[0] == '\0') {
		join(rq->w, g, rq->user, rq->session, rq->out);
		return;
	}
	if ((j = pw_job_new(rq, rq->nargs > 1 ? &rq->args[1] : NULL)) == NULL)
		return;
	j->t.verify = true;
	j->group = g;
	strlcpy(j->name, name, sizeof(j->name));
	strlcpy(j->t.hash, hash, sizeof(j->t.hash));
	j->finish = joingroup_finish;
	pw_submit(rq, j);
}

/* cmd_leavegroup - leavegroup <group> */
void
cmd_leavegroup(struct request *rq)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1];
	uint32_t g;
	int rc = -1;

	if (group_name(rq, &rq->args[0], name) == -1)
		return;
	txn_begin(st);
	if ((g = group_find_locked(st, name, strlen(name))) != 0)
		rc = member_remove(st, g, rq->user);
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	if (rc == 0)
		reply_finish(rq->out, reply_ok("Leave group berhasil"));
	else
		reply_error(rq->out, g == 0 ? E_NO_GROUP : E_NOT_MEMBER, NULL);
}

/*
 * cmd_sendgroup - sendgroup <group | group:NAME | u1,u2,...> <message>;
 * group send [group] <message> (forms.c)
 */
void
cmd_sendgroup(struct request *rq)
{
	struct state *st = rq->w->st;
	const struct sender snd = request_sender(rq);
	struct msg_new m = { .from = rq->user, .kind = MSG_TEXT, .time = now_sec() };
	struct delivery d = { 0 };
	struct target t;
	struct word to;
	enum rc_code why;
	char *tofree, buf[NAME_LEN + 8];

	if (!target_list_ok(&rq->args[0])) {	/* before the lock: any length */
		reply_error(rq->out, E_TOO_LARGE, "Too many recipients");
		return;
	}
	if (form_group_target(rq, 0, &to, buf) == -1)
		return;
	if ((why = text_clean(rq, &m.text, &m.len, &tofree)) != E_COUNT) {
		text_refused(rq, why);
		return;
	}
	txn_begin(st);
	if ((why = target_resolve_locked(&snd, &to, &t)) == E_COUNT)
		why = target_deliver(&snd, &t, &m, &d);
	if (why != E_COUNT) {
		txn_abort(st);
		delivery_error(rq, why, &d);
	} else {
		txn_commit(st);
		spool_unlink(st, d.gone);
		if (t.group != 0)
			form_note_group(rq->w, rq->session, rq->user, t.group);
		delivery_reply(rq, &t, &d, "Message Sent");
	}
	free(tofree);
}

/*
 * member_view - for commands only members may run: on success the lock
 * is held and the reply object, naming the group, is returned with the
 * group's slot; otherwise the error is replied and NULL returned.
 */
static cJSON *
member_view(struct request *rq, uint32_t *g)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1];
	enum rc_code why = E_COUNT;
	cJSON *o;

	if (group_name(rq, &rq->args[0], name) == -1)
		return NULL;
	state_lock(st);
	if ((*g = group_find_locked(st, name, strlen(name))) == 0)
		why = E_NO_GROUP;
	else if (st->groups[*g].pwhash[0] != '\0' &&	/* open groups: all */
	    member_find_locked(st, *g, rq->user) == 0)
		why = E_NOT_MEMBER;
	if (why != E_COUNT) {
		state_unlock(st);
		reply_error(rq->out, why, NULL);
		return NULL;
	}
	o = reply_ok(NULL);
	cJSON_AddStringToObject(o, "group", name);
	return o;
}

/* cmd_inboxgroup - inboxgroup <group>: its history, oldest first */
void
cmd_inboxgroup(struct request *rq)
{
	struct state *st = rq->w->st;
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0, g;
	cJSON *o, *list;

	if ((o = member_view(rq, &g)) == NULL)
		return;
	list = cJSON_AddArrayToObject(o, "messages");
	for (uint32_t i = st->groups[g].hist_head; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next)
		cJSON_AddItemToArray(list, message_json(st, &st->msgs[i], false));
	state_unlock(st);
	reply_listing(o, list);
	reply_finish(rq->out, o);
}

/* cmd_listgroups - every group and its member count, in groups and message */
void
cmd_listgroups(struct request *rq)
{
	struct state *st = rq->w->st;
	cJSON *o = reply_ok(NULL), *list = cJSON_AddArrayToObject(o, "groups");
	int n = 0;

	state_lock(st);
	for (uint32_t i = 1; i <= st->hdr->groups.hwm; i++) {
		struct shm_group *g = group_at(st, i);
		cJSON *e;

		if (g == NULL)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", g->name);
		json_add_uint(e, "members", g->nmembers);
		cJSON_AddBoolToObject(e, "password", g->pwhash[0] != '\0');
		cJSON_AddItemToArray(list, e);
		n++;
	}
	state_unlock(st);
	json_add_uint(o, "count", (uint64_t)n);
	reply_listing(o, list);
	reply_finish(rq->out, o);
}

/* cmd_groupmembers - groupmembers <group>: for its members only */
void
cmd_groupmembers(struct request *rq)
{
	struct state *st = rq->w->st;
	uint32_t cap = st->hdr->region[RG_MEMBERS].count, steps = 0, g;
	cJSON *o, *list;

	if ((o = member_view(rq, &g)) == NULL)
		return;
	list = cJSON_AddArrayToObject(o, "members");
	for (uint32_t i = st->groups[g].members; i != 0 && i < cap &&
	    steps++ < cap; i = st->members[i].next)
		cJSON_AddItemToArray(list,
		    cJSON_CreateString(st->users[st->members[i].user].name));
	state_unlock(st);
	reply_listing(o, list);
	reply_finish(rq->out, o);
}
