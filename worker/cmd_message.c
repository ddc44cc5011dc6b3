/*
 * NAME
 *	cmd_message - send and inbox, and the replies of every delivery
 * DESCRIPTION
 *	Message text is stored as well-formed UTF-8 (malformed bytes are
 *	replaced on the way in), so that what a recipient reads is exactly
 *	what the reply carries.  A NUL byte cannot travel in a JSON string
 *	and is refused.  The delivery itself is shm/deliver.c's; what a
 *	request gets back from it (delivery_reply, delivery_error) and the
 *	leased drains (inbox_reply) are here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/worker.h"

#define INBOX_REPLY_BYTES	(32 << 20)	/* of text and files, beyond one */

/*
 * text_clean - the request's text as it will be stored: *out points at it
 * (a malloc'd copy in *tofree when it had to be repaired).  E_COUNT when
 * it can be stored, else the reason for text_refused().
 */
enum rc_code
text_clean(struct request *rq, const char **out, size_t *len, char **tofree)
{
	uint64_t max = rq->w->cf->max_message;
	char *fixed;

	*tofree = NULL;
	*out = rq->text;
	*len = rq->textlen;
	if (rq->textlen > max)
		return E_TOO_LARGE;
	if (memchr(rq->text, '\0', rq->textlen) != NULL)
		return E_BAD_ARGS;
	if (utf8_valid(rq->text, rq->textlen))
		return E_COUNT;
	if ((fixed = malloc(3 * rq->textlen)) == NULL)
		return E_INTERNAL;
	*len = utf8_sanitize(rq->text, rq->textlen, fixed);
	*out = *tofree = fixed;
	return *len > max ? E_TOO_LARGE : E_COUNT;
}

void
text_refused(struct request *rq, enum rc_code why)
{
	if (why == E_TOO_LARGE)
		reply_errorf(rq->out, E_TOO_LARGE, "Message longer than %llu bytes",
		    (unsigned long long)rq->w->cf->max_message);
	else if (why == E_BAD_ARGS)
		reply_error(rq->out, E_BAD_ARGS, "Message contains a NUL byte");
	else
		reply_error(rq->out, why, NULL);
}

/* send_refused - the reply of a private send that stored nothing */
static void
send_refused(struct request *rq, enum rc_code why, const struct delivery *d)
{
	const struct word *to = &rq->args[0];

	if (why == E_QUOTA && d->full != NULL)
		reply_errorf(rq->out, E_QUOTA, "Inbox of %.*s is full",
		    (int)to->len, to->p);
	else if (why == E_QUOTA)
		reply_error(rq->out, E_QUOTA, "Message store is full");
	else
		reply_error(rq->out, why, NULL);
}

/*
 * cmd_send - send <user> <message>: the same path as a private message
 * from a link (realmd), target_user_locked() then target_deliver()
 */
void
cmd_send(struct request *rq)
{
	struct worker *w = rq->w;
	struct sender s = request_sender(rq);
	struct msg_new m = { .from = rq->user, .kind = MSG_TEXT, .time = now_sec() };
	struct delivery d = { 0 };
	struct target t;
	enum rc_code why;
	char *tofree;

	if ((why = text_clean(rq, &m.text, &m.len, &tofree)) != E_COUNT) {
		text_refused(rq, why);
		return;
	}
	txn_begin(w->st);
	if ((why = target_user_locked(&s, &rq->args[0], &t)) == E_COUNT)
		why = target_deliver(&s, &t, &m, &d);
	if (why == E_COUNT)
		txn_commit(w->st);
	else
		txn_abort(w->st);
	free(tofree);
	if (why == E_COUNT) {
		cJSON *o = reply_ok("Message Sent");

		__atomic_fetch_add(&w->me->stored, 1, __ATOMIC_RELAXED);
		json_add_uint(o, "id", d.id);
		reply_finish(rq->out, o);
	} else
		send_refused(rq, why, &d);
	cJSON_Delete(d.full);
}

/* delivery_reply - the OK reply of a fan-out */
void
delivery_reply(struct request *rq, const struct target *t, struct delivery *d,
    const char *message)
{
	cJSON *o = reply_ok(message);

	json_add_uint(o, "id", d->id);
	if (t->group)
		cJSON_AddStringToObject(o, "group", t->name);
	json_add_uint(o, "recipients", d->delivered);
	if (d->unknown != NULL)
		cJSON_AddItemToObject(o, "unknown", d->unknown);
	if (d->full != NULL)
		cJSON_AddItemToObject(o, "full", d->full);
	d->unknown = d->full = NULL;
	__atomic_fetch_add(&rq->w->me->stored, d->delivered, __ATOMIC_RELAXED);
	reply_finish(rq->out, o);
}

/* delivery_error - reply the error of a fan-out that was aborted */
void
delivery_error(struct request *rq, enum rc_code why, struct delivery *d)
{
	cJSON_Delete(d->unknown);
	cJSON_Delete(d->full);
	d->unknown = d->full = NULL;
	switch (why) {
	case E_QUOTA:
		reply_error(rq->out, E_QUOTA, "No recipient could take the message");
		break;
	case E_TOO_LARGE:
		reply_error(rq->out, E_TOO_LARGE, "Too many recipients");
		break;
	default:
		reply_error(rq->out, why, NULL);
	}
}

/* add_message - one inbox entry, under its sender's name */
static void
add_message(struct state *st, cJSON *messages, const struct shm_msg *m)
{
	const char *sender = m->flags & MF_BOUNCE ? BOUNCE_FROM :
	    st->users[m->from].name;
	cJSON *list = cJSON_GetObjectItemCaseSensitive(messages, sender);

	if (list == NULL)
		list = cJSON_AddArrayToObject(messages, sender);
	cJSON_AddItemToArray(list, message_json(st, m, true));
}

/* add_realm_pending - how many messages wait in each realm's queue */
static void
add_realm_pending(struct state *st, uint32_t user, cJSON *o)
{
	uint32_t counts[REALMS_MAX + 1];
	cJSON *p = NULL;

	state_lock(st);
	inbox_realm_counts_locked(st, user, counts);
	for (uint32_t r = 1; r <= REALMS_MAX; r++)
		if (counts[r] > 0 && realm_at(st, r) != NULL) {
			if (p == NULL)
				p = cJSON_AddObjectToObject(o, "realm_pending");
			cJSON_AddNumberToObject(p, st->realms[r].name, counts[r]);
		}
	state_unlock(st);
}

/*
 * inbox_reply - the reply o of a drain: the caller's waiting messages that
 * came over link realm (0: from this realm), oldest first, at most
 * inbox_batch, each added to list by add.  They are leased now and leave
 * the queue only when the reply has been written in full (conn.c).
 */
void
inbox_reply(struct request *rq, uint32_t realm, cJSON *o, cJSON *list,
    inbox_add_fn *add)
{
	struct worker *w = rq->w;
	struct state *st = w->st;
	struct lease l = {
		.proc = (uint32_t)st->proc + 1,
		.gen = __atomic_load_n(&w->me->gen, __ATOMIC_ACQUIRE),
		.serial = ++w->serial,
	};
	char text[32];
	bool more;
	size_t n;

	state_lock(st);
	n = inbox_lease_locked(st, rq->user, realm, &l, w->msg_idx,
	    (size_t)w->cf->inbox_batch, INBOX_REPLY_BYTES, &more);
	state_unlock(st);
	snprintf(text, sizeof(text), "%zu %s", n, n == 1 ? "message" : "messages");
	cJSON_AddStringToObject(o, "message", text);
	/* leased messages are ours alone until released or committed */
	for (size_t i = 0; i < n; i++)
		add(st, list, &st->msgs[w->msg_idx[i]]);
	if (more)
		cJSON_AddBoolToObject(o, "more", true);
	if (realm == 0 && st->users[rq->user].realm_count > 0)
		add_realm_pending(st, rq->user, o);
	if (reply_finish(rq->out, o) == -1 ||
	    (n > 0 && conn_add_pending(rq->c, rq->user, &l) == -1)) {
		/* not sent, or not trackable: the messages stay queued */
		state_lock(st);
		inbox_release_locked(st, rq->user, &l);
		state_unlock(st);
	}
}

/* cmd_inbox - drain the caller's own queue, grouped by sender */
void
cmd_inbox(struct request *rq)
{
	cJSON *o = reply_ok(NULL);

	inbox_reply(rq, 0, o, cJSON_AddObjectToObject(o, "messages"),
	    add_message);
}
