/*
 * NAME
 *	cmd_realm - the realm commands of a worker
 * DESCRIPTION
 *	A realm send is stored in the link's outbox (one transaction)
 *	before anything is said to the client; then, if the link is up, the
 *	reply waits for the peer's verdict through realmd (realmd.c), else it
 *	says "queued".  Everything that needs the peer itself (addrealm,
 *	ackrealm, joingrouprealm, inboxgrouprealm) is a round trip through
 *	realmd.  Messages that arrived over a link are read with inboxrealm.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/chan.h"
#include "lib/filedata.h"
#include "lib/link.h"
#include "lib/log.h"
#include "worker/worker.h"

/* find_realm - the link named by w, or 0 after replying NO_REALM */
static uint32_t
find_realm(struct request *rq, const struct word *w)
{
	uint32_t r;

	state_lock(rq->w->st);
	r = realm_find_locked(rq->w->st, w->p, w->len);
	state_unlock(rq->w->st);
	if (r == 0)
		reply_error(rq->out, E_NO_REALM, NULL);
	return r;
}

/* cmd_addrealm - addrealm <id> <host> <port> [src_host src_port] */
void
cmd_addrealm(struct request *rq)
{
	const struct word *id = &rq->args[0];
	char name[NAME_LEN + 1], host[HOST_LEN + 1], port[8];
	uint64_t p;
	cJSON *o;

	if (rq->session == 0 && form_anon_addrealm(rq) == -1)
		return;
	if (!name_valid(id->p, id->len) || token_shaped(id->p, id->len)) {
		reply_error(rq->out, E_BAD_NAME, "Realm names are 1-32 of A-Za-z0-9_.-");
		return;
	}
	if (arg_copy(&rq->args[1], host, sizeof(host)) == -1 ||
	    arg_copy(&rq->args[2], port, sizeof(port)) == -1 ||
	    parse_uint(port, 65535, &p) == -1 || p == 0) {
		reply_error(rq->out, E_BAD_ARGS, "Usage: addrealm <id> <host> <port>");
		return;
	}
	arg_copy(id, name, sizeof(name));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", name);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddNumberToObject(o, "port", (double)p);
	if (realmd_ask(rq, CHAN_ADDREALM, o, WAIT_ASK, 0) == -1)
		reply_error(rq->out, E_REALM_UNREACHABLE,
		    "Realm Unreachable: realmd is not running");
}

/* cmd_listrealm - every link, its state and counters, in realms and message */
void
cmd_listrealm(struct request *rq)
{
	struct state *st = rq->w->st;
	cJSON *o = reply_ok(NULL), *list = cJSON_AddArrayToObject(o, "realms");

	state_lock(st);
	for (uint32_t i = 1; i <= st->hdr->realms.hwm && i <= REALMS_MAX; i++)
		if (realm_at(st, i) != NULL)
			cJSON_AddItemToArray(list, realm_json(&st->realms[i]));
	state_unlock(st);
	reply_listing(o, list);
	reply_finish(rq->out, o);
}

/* ask_peer - a round trip to link r; the reply comes from realmd.c */
static void
ask_peer(struct request *rq, uint32_t type, uint32_t r, cJSON *o)
{
	cJSON_AddNumberToObject(o, "realm", r);
	if (realmd_ask(rq, type, o, WAIT_ASK, 0) == -1)
		reply_error(rq->out, E_REALM_UNREACHABLE,
		    "Realm Unreachable: realmd is not running");
}

/*
 * cmd_ackrealm - ackrealm <id>: is the peer there?  Seed 002's
 * ackrealm <id> <addr> <port> <src_addr> <src_port> adds the link
 * first when there is none by that id.
 */
void
cmd_ackrealm(struct request *rq)
{
	uint32_t r;

	if (rq->nargs == 2 || rq->nargs == 4) {
		reply_error(rq->out, E_BAD_ARGS, "Usage: ackrealm <id> "
		    "[<addr> <port> [<src_addr> <src_port>]]");
		return;
	}
	state_lock(rq->w->st);
	r = realm_find_locked(rq->w->st, rq->args[0].p, rq->args[0].len);
	state_unlock(rq->w->st);
	if (r == 0 && rq->nargs >= 3)
		cmd_addrealm(rq);
	else if (r == 0)
		reply_error(rq->out, E_NO_REALM, NULL);
	else
		ask_peer(rq, CHAN_PING, r, cJSON_CreateObject());
}

/* member_here - the user is in a group of this name here (seed 001) */
static bool
member_here(struct request *rq, const char *name, size_t len)
{
	struct state *st = rq->w->st;
	size_t plen = strlen("group:");
	uint32_t g;
	bool in;

	if (len > plen && strncmp(name, "group:", plen) == 0) {
		name += plen;
		len -= plen;
	}
	if (!name_valid(name, len))
		return false;
	state_lock(st);
	in = (g = group_find_locked(st, name, len)) != 0 &&
	    member_find_locked(st, g, rq->user) != 0;
	state_unlock(st);
	return in;
}

/* add_sender - who asks, as the peer will know them */
static void
add_sender(struct request *rq, cJSON *o)
{
	struct state *st = rq->w->st;

	state_lock(st);
	cJSON_AddStringToObject(o, "from", st->users[rq->user].name);
	cJSON_AddStringToObject(o, "from_name", st->users[rq->user].display);
	state_unlock(st);
}

/* group_arg - the group word as a name, or false after replying NO_GROUP */
static bool
group_arg(struct request *rq, const struct word *w, char group[NAME_LEN + 1])
{
	if (arg_copy(w, group, NAME_LEN + 1) == -1 ||
	    !name_valid(group, strlen(group))) {
		reply_error(rq->out, E_NO_GROUP, NULL);
		return false;
	}
	return true;
}

/* cmd_joingrouprealm - joingrouprealm <id> <group> [password] */
void
cmd_joingrouprealm(struct request *rq)
{
	uint32_t r = find_realm(rq, &rq->args[0]);
	char group[NAME_LEN + 1], pw[256] = "";
	cJSON *o;

	if (r == 0 || !group_arg(rq, &rq->args[1], group))
		return;
	if (rq->nargs > 2 && arg_copy(&rq->args[2], pw, sizeof(pw)) == -1) {
		reply_error(rq->out, E_BAD_PASSWORD, NULL);
		return;
	}
	o = cJSON_CreateObject();
	add_sender(rq, o);
	cJSON_AddStringToObject(o, "group", group);
	json_add_text(o, "password", pw, strlen(pw));
	ask_peer(rq, CHAN_JOIN, r, o);
}

/* cmd_inboxgrouprealm - inboxgrouprealm <id> <group>: its history there */
void
cmd_inboxgrouprealm(struct request *rq)
{
	uint32_t r = find_realm(rq, &rq->args[0]);
	char group[NAME_LEN + 1];
	cJSON *o;

	if (r == 0 || !group_arg(rq, &rq->args[1], group))
		return;
	o = cJSON_CreateObject();
	add_sender(rq, o);
	cJSON_AddStringToObject(o, "group", group);
	if (member_here(rq, group, strlen(group)))
		cJSON_AddStringToObject(o, "member", "yes");
	ask_peer(rq, CHAN_HISTORY, r, o);
}

/* queue_refused - the reply to a realm send that could not be queued */
static void
queue_refused(struct request *rq, uint32_t r, int why)
{
	if (why == EFBIG)
		reply_error(rq->out, E_QUOTA, "File store is full");
	else if (why == EDQUOT)
		reply_errorf(rq->out, E_QUOTA, "Queue to realm %s is full",
		    rq->w->st->realms[r].name);
	else if (why == ENOENT)
		reply_error(rq->out, E_NO_REALM, NULL);
	else
		reply_error(rq->out, E_QUOTA, "Message store is full");
}

/*
 * outbox_store - store m (or the file up) in link r's outbox in one
 * transaction; 0, or why not (EFBIG: no room for the file; else
 * outbox_append's errno).  *link_up: the link is up, so the message is
 * marked to be waited for.
 */
static int
outbox_store(struct request *rq, uint32_t r, struct msg_new *m,
    const struct upload *up, uint64_t *id, bool *link_up)
{
	struct state *st = rq->w->st;
	struct evicted ev = { .n = 0 };
	int rc, saved = 0;

	txn_begin(st);
	/* the link is up: we shall wait for the verdict, and realmd knows */
	if ((*link_up = st->realms[r].link == LINK_UP))
		m->flags |= MF_WAIT;
	rc = up == NULL ? 0 : file_create_room(st, up->id, up->size, up->name,
	    0, rq->w->cf->spool_max, &m->file, &ev);
	if (rc == -1)
		saved = EFBIG;
	else if ((rc = outbox_append(st, r, m, (uint32_t)rq->w->cf->realm_queue,
	    id)) == -1)
		saved = errno;
	if (rc == 0) {
		txn_commit(st);
		evicted_unlink(st, &ev);
		return 0;
	}
	txn_abort(st);
	if (up != NULL)
		spool_unlink(st, up->id);
	return saved != 0 ? saved : ENOSPC;	/* never 0 once refused */
}

/*
 * queue_send - store "<target>\0<text>" (or a file) in link r's outbox,
 * then wait for the verdict if the link is up.
 */
static void
queue_send(struct request *rq, uint32_t r, const struct word *to,
    struct msg_new *m, const struct upload *up)
{
	struct state *st = rq->w->st;
	size_t tlen = to->len;
	char *blob;
	uint64_t id = 0;
	bool link_up = false;
	int why;
	cJSON *o;

	if ((blob = malloc(tlen + 1 + m->len)) == NULL) {
		reply_error(rq->out, E_INTERNAL, NULL);
		return;
	}
	memcpy(blob, to->p, tlen);
	blob[tlen] = '\0';
	if (m->len > 0)
		memcpy(blob + tlen + 1, m->text, m->len);
	m->text = blob;
	m->len += tlen + 1;
	why = outbox_store(rq, r, m, up, &id, &link_up);
	free(blob);
	if (why != 0) {
		queue_refused(rq, r, why);
		return;
	}
	__atomic_fetch_add(&rq->w->me->stored, 1, __ATOMIC_RELAXED);
	/* the reply names the link as the sender did: any of its names */
	if (arg_copy(&rq->args[0], rq->c->wait_realm,
	    sizeof(rq->c->wait_realm)) == -1)
		strlcpy(rq->c->wait_realm, st->realms[r].name,
		    sizeof(rq->c->wait_realm));
	if (link_up) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "realm", r);
		cJSON_AddNumberToObject(o, "id", (double)id);
		cJSON_AddBoolToObject(o, "wait", true);
		if (realmd_ask(rq, CHAN_SEND, o, WAIT_SEND, id) == 0)
			return;
	} else
		realmd_notify(rq->w, r, id);
	o = reply_ok("Message Sent");
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddStringToObject(o, "realm", rq->c->wait_realm);
	cJSON_AddBoolToObject(o, "queued", true);
	reply_finish(rq->out, o);
}

/*
 * send_target - the link (args[0]) and target (args[1]) of a realm send;
 * 0 after replying an error.  The target goes into the outbox before a
 * NUL, so it may hold none.
 */
static uint32_t
send_target(struct request *rq, uint32_t flags, const struct word *to)
{
	uint32_t r;

	if ((r = find_realm(rq, &rq->args[0])) == 0)
		return 0;
	if (to->len == 0 || to->len > REMOTE_NAME_LEN * 4 ||
	    memchr(to->p, '\0', to->len) != NULL) {
		reply_error(rq->out, flags ? E_NO_GROUP : E_NO_USER, NULL);
		return 0;
	}
	return r;
}

/* vouch - MF_VOUCHED for a group send by a member of a group of its name */
static uint32_t
vouch(struct request *rq, uint32_t flags, const struct word *to)
{
	return (flags & MF_GROUP_SEND) && member_here(rq, to->p, to->len) ?
	    MF_VOUCHED : 0;
}

/* send_text - sendrealm / sendgrouprealm, to the target to */
static void
send_text(struct request *rq, uint32_t flags, const struct word *to)
{
	struct msg_new m = { .from = rq->user, .kind = MSG_TEXT,
	    .time = now_sec(), .flags = flags | vouch(rq, flags, to) };
	enum rc_code why;
	char *tofree;
	uint32_t r;

	if ((r = send_target(rq, flags, to)) == 0)
		return;
	if ((why = text_clean(rq, &m.text, &m.len, &tofree)) != E_COUNT) {
		text_refused(rq, why);
		return;
	}
	queue_send(rq, r, to, &m, NULL);
	free(tofree);
}

/* send_file - sendfilerealm / sendgroupfilerealm */
static void
send_file(struct request *rq, uint32_t flags)
{
	const struct word *to = &rq->args[1];
	struct msg_new m = { .from = rq->user, .kind = MSG_FILE,
	    .time = now_sec(), .flags = flags | vouch(rq, flags, to) };
	struct upload up = { .body = NULL };
	uint32_t r;

	if (rq->nargs < 3) {
		form_file_path(rq);
		return;
	}
	if ((r = send_target(rq, flags, to)) == 0)
		return;
	if (!upload_decode(rq, &rq->args[2], &up))
		goto done;
	if (!upload_store(rq, &up))
		goto done;
	queue_send(rq, r, to, &m, &up);
done:
	free(up.body);
}

void
cmd_sendrealm(struct request *rq)
{
	send_text(rq, 0, &rq->args[1]);
}

/* cmd_sendgrouprealm - sendgrouprealm <id> [target] <message> (forms.c) */
void
cmd_sendgrouprealm(struct request *rq)
{
	char buf[NAME_LEN + 8];
	struct word to;

	if (form_group_target(rq, 1, &to, buf) == 0)
		send_text(rq, MF_GROUP_SEND, &to);
}

void
cmd_sendfilerealm(struct request *rq)
{
	send_file(rq, 0);
}

void
cmd_sendgroupfilerealm(struct request *rq)
{
	send_file(rq, MF_GROUP_SEND);
}

/* add_entry - one entry of an inboxrealm reply's list */
static void
add_entry(struct state *st, cJSON *list, const struct shm_msg *m)
{
	cJSON_AddItemToArray(list, message_json(st, m, true));
}

/* cmd_inboxrealm - inboxrealm <id>: drain what arrived over that link */
void
cmd_inboxrealm(struct request *rq)
{
	uint32_t r = find_realm(rq, &rq->args[0]);
	cJSON *o;

	if (r == 0)
		return;
	o = reply_ok(NULL);
	inbox_reply(rq, r, o, cJSON_AddArrayToObject(o, "messages"), add_entry);
}

/* cmd_realmlink - a peer realm dials in: the connection goes to realmd */
void
cmd_realmlink(struct request *rq)
{
	struct conn *c = rq->c;
	size_t cl = strlen(LINK_COMMAND);

	if (c->handoff != NULL)
		return;
	if ((c->handoff = malloc(cl + 1 + rq->textlen)) == NULL) {
		reply_error(rq->out, E_INTERNAL, NULL);
		return;
	}
	memcpy(c->handoff, LINK_COMMAND, cl);
	c->handoff[cl] = ' ';
	memcpy(c->handoff + cl + 1, rq->text, rq->textlen);
	c->handoff_len = cl + 1 + rq->textlen;
}
