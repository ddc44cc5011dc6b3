/*
 * NAME
 *	cmd_message - send and inbox
 * DESCRIPTION
 *	Message text is stored as well-formed UTF-8 (malformed bytes are
 *	replaced on the way in), so that what a recipient reads is exactly
 *	what the reply carries.  A NUL byte cannot travel in a JSON string
 *	and is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "worker/worker.h"

/*
 * clean_text - the request's text as it will be stored: *out points at it
 * (a malloc'd copy in *tofree when it had to be repaired).
 */
static enum rc_code
clean_text(struct request *rq, const char **out, size_t *len, char **tofree)
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

static void
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

/* cmd_send - send <user> <message> */
void
cmd_send(struct request *rq)
{
	struct worker *w = rq->w;
	const struct word *to = &rq->args[0];
	struct msg_new m = { .from = rq->user, .kind = MSG_TEXT, .time = now_sec() };
	enum rc_code why;
	char *tofree;
	uint64_t id;
	int rc = -1, saved = ENOENT;

	if ((why = clean_text(rq, &m.text, &m.len, &tofree)) != E_COUNT) {
		text_refused(rq, why);
		return;
	}
	txn_begin(w->st);
	if (name_valid(to->p, to->len) &&
	    (m.to = user_find_locked(w->st, to->p, to->len)) != 0) {
		rc = msg_enqueue(w->st, &m, (uint32_t)w->cf->inbox_quota, &id);
		saved = errno;
	}
	if (rc == -1)
		txn_abort(w->st);
	else
		txn_commit(w->st);
	free(tofree);
	if (rc == 0) {
		cJSON *o = reply_ok("Message Sent");

		__atomic_fetch_add(&w->me->stored, 1, __ATOMIC_RELAXED);
		cJSON_AddNumberToObject(o, "id", (double)id);
		reply_finish(rq->out, o);
	} else if (saved == ENOENT)
		reply_error(rq->out, E_NO_USER, NULL);
	else if (saved == EDQUOT)
		reply_errorf(rq->out, E_QUOTA, "Inbox of %.*s is full",
		    (int)to->len, to->p);
	else if (saved == ENOSPC || saved == E2BIG)
		reply_error(rq->out, E_QUOTA, "Message store is full");
	else {
		log_err("send: %m");
		reply_error(rq->out, E_INTERNAL, NULL);
	}
}

/* add_message - one inbox entry under its sender's name */
static void
add_message(struct state *st, cJSON *messages, const struct shm_msg *m)
{
	const struct shm_user *from = &st->users[m->from];
	const struct shm_user *to = &st->users[m->to];
	cJSON *list = cJSON_GetObjectItemCaseSensitive(messages, from->name);
	cJSON *e = cJSON_CreateObject();
	char when[21];

	if (list == NULL)
		list = cJSON_AddArrayToObject(messages, from->name);
	json_add_text(e, "msg_from", from->display, strlen(from->display));
	json_add_text(e, "msg_to", to->display, strlen(to->display));
	json_add_text(e, "msg", heap_ptr(st, m->text), m->len);
	cJSON_AddNumberToObject(e, "id", (double)m->id);
	cJSON_AddStringToObject(e, "from", from->name);
	iso_time(m->time, when);
	cJSON_AddStringToObject(e, "time", when);
	cJSON_AddItemToArray(list, e);
}

/*
 * cmd_inbox - drain the caller's queue, oldest first, at most inbox_batch
 * messages.  They are leased now and leave the queue only when the reply
 * has been written in full (conn.c).
 */
void
cmd_inbox(struct request *rq)
{
	struct worker *w = rq->w;
	struct state *st = w->st;
	struct lease l = {
		.proc = (uint32_t)st->proc + 1,
		.gen = __atomic_load_n(&w->me->gen, __ATOMIC_ACQUIRE),
		.serial = ++w->serial,
	};
	cJSON *o = reply_ok(NULL), *messages;
	bool more;
	size_t n;

	state_lock(st);
	n = inbox_lease_locked(st, rq->user, &l, w->msg_idx,
	    (size_t)w->cf->inbox_batch, &more);
	state_unlock(st);
	/* leased messages are ours alone until released or committed */
	messages = cJSON_AddObjectToObject(o, "messages");
	for (size_t i = 0; i < n; i++)
		add_message(st, messages, &st->msgs[w->msg_idx[i]]);
	if (more)
		cJSON_AddBoolToObject(o, "more", true);
	if (reply_finish(rq->out, o) == -1 ||
	    (n > 0 && conn_add_pending(rq->c, rq->user, &l) == -1)) {
		/* not sent, or not trackable: the messages stay queued */
		state_lock(st);
		inbox_release_locked(st, rq->user, &l);
		state_unlock(st);
	}
}
