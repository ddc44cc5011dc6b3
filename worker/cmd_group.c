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

/* cmd_addgroup - addgroup <group> [password]; the creator joins it */
void
cmd_addgroup(struct request *rq)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1], pw[PASSWORD_MAX + 1], hash[PWHASH_LEN] = "";
	uint32_t g;
	int saved;

	if (group_name(rq, &rq->args[0], name) == -1)
		return;
	if (rq->nargs > 1) {
		if (arg_copy(&rq->args[1], pw, sizeof(pw)) == -1) {
			reply_error(rq->out, E_BAD_ARGS, "Password too long");
			return;
		}
		if (password_hash(pw, (unsigned)rq->w->cf->password_cost, hash,
		    sizeof(hash)) == -1) {
			reply_error(rq->out, E_INTERNAL, NULL);
			return;
		}
	}
	txn_begin(st);
	if (group_create(st, name, hash, rq->user, &g) == -1) {
		saved = errno;
		txn_abort(st);
		if (saved == EEXIST)
			reply_error(rq->out, E_GROUP_EXISTS, NULL);
		else
			reply_error(rq->out, E_QUOTA, "Group table full");
		return;
	}
	txn_commit(st);
	form_note_group(rq, g);
	reply_finish(rq->out, reply_ok("Add group Berhasil"));
}

/* cmd_joingroup - joingroup <group> [password] */
void
cmd_joingroup(struct request *rq)
{
	struct state *st = rq->w->st;
	char name[NAME_LEN + 1], pw[PASSWORD_MAX + 1] = "", hash[PWHASH_LEN];
	uint32_t g;
	int rc, saved;

	if (group_name(rq, &rq->args[0], name) == -1)
		return;
	if (rq->nargs > 1 && arg_copy(&rq->args[1], pw, sizeof(pw)) == -1) {
		reply_error(rq->out, E_BAD_PASSWORD, NULL);
		return;
	}
	state_lock(st);
	if ((g = group_find_locked(st, name, strlen(name))) != 0)
		strlcpy(hash, st->groups[g].pwhash, sizeof(hash));
	state_unlock(st);
	if (g == 0) {
		reply_error(rq->out, E_NO_GROUP, NULL);
		return;
	}
	if (hash[0] != '\0' && !password_verify(pw, hash)) {
		reply_error(rq->out, E_BAD_PASSWORD, NULL);
		return;
	}
	txn_begin(st);
	rc = member_add(st, g, rq->user, (uint32_t)rq->w->cf->group_members);
	saved = errno;
	if (rc == -1)
		txn_abort(st);
	else
		txn_commit(st);
	if (rc == 0 || saved == EEXIST)
		form_note_group(rq, g);
	if (rc == 0)
		reply_finish(rq->out, reply_ok("Join group berhasil"));
	else if (saved == EEXIST)
		reply_error(rq->out, E_ALREADY_MEMBER, NULL);
	else if (saved == EDQUOT)
		reply_error(rq->out, E_QUOTA, "Group is full");
	else
		reply_error(rq->out, E_QUOTA, "Membership table full");
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
			form_note_group(rq, t.group);
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
