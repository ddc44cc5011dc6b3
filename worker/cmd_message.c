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
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "lib/filedata.h"
#include "lib/log.h"
#include "worker/worker.h"

#define INBOX_REPLY_BYTES	(32 << 20)	/* of text and files, beyond one */
#define BOUNCE_FROM		"realmchat"	/* sender of bounce notices */

static cJSON *bounce_json(struct state *, const struct shm_msg *, cJSON *);

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

	if ((why = text_clean(rq, &m.text, &m.len, &tofree)) != E_COUNT) {
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
		json_add_uint(o, "id", id);
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

/* file_body_b64 - the base64 of a spooled body, malloc'd; NULL on error */
char *
file_body_b64(struct state *st, const struct shm_file *f)
{
	char path[PATH_MAX + 32], *b64 = NULL;
	unsigned char *body;
	int fd;

	spool_path(st, f->id, false, path, sizeof(path));
	if ((body = malloc(f->size ? f->size : 1)) == NULL)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    read_full(fd, body, f->size) == 0 &&
	    (b64 = malloc(b64_encoded_len(f->size) + 1)) != NULL)
		b64_encode(body, f->size, b64);
	else if (errno != ENOENT)
		log_err("%s: cannot read spooled file: %m", path);
	if (fd != -1)
		close(fd);
	free(body);
	return b64;
}

/*
 * message_json - one inbox or history entry.  File entries carry their
 * body (base64) only when content is true.
 */
cJSON *
message_json(struct state *st, const struct shm_msg *m, bool content)
{
	const struct shm_user *from = &st->users[m->from];
	cJSON *e = cJSON_CreateObject();
	char when[21];

	if (m->flags & MF_BOUNCE)
		return bounce_json(st, m, e);
	json_add_text(e, "msg_from", from->display, strlen(from->display));
	if (m->to != 0)
		json_add_text(e, "msg_to", st->users[m->to].display,
		    strlen(st->users[m->to].display));
	if (m->kind == MSG_FILE) {
		const struct shm_file *f = &st->files[m->file];
		char id[FILE_ID_LEN + 1], *b64;

		snprintf(id, sizeof(id), "%016llx", (unsigned long long)f->id);
		cJSON_AddStringToObject(e, "msg", f->name);
		cJSON_AddStringToObject(e, "file_id", id);
		cJSON_AddStringToObject(e, "file_name", f->name);
		json_add_uint(e, "file_size", f->size);
		if (content && (b64 = file_body_b64(st, f)) != NULL) {
			cJSON_AddStringToObject(e, "file_content", b64);
			free(b64);
		}
	} else
		json_add_text(e, "msg", heap_ptr(st, m->text), m->len);
	json_add_uint(e, "id", m->id);
	if (from->realm != 0) {		/* "user@realm": a user over a link */
		size_t len;
		const char *name = remote_user_name(from, &len);
		json_add_text(e, "from", name, len);
		cJSON_AddStringToObject(e, "realm",
		    name[len] == '@' ? name + len + 1 : "");
	} else
		cJSON_AddStringToObject(e, "from", from->name);
	iso_time(m->time, when);
	cJSON_AddStringToObject(e, "time", when);
	if (m->group != 0)
		cJSON_AddStringToObject(e, "group", st->groups[m->group].name);
	return e;
}

/* next_field - the NUL-ended field at *p, up to end at most; *p goes past it */
static const char *
next_field(const char **p, const char *end, size_t *len)
{
	const char *f = *p;

	*len = strnlen(f, (size_t)(end - f));
	*p = f + *len < end ? f + *len + 1 : end;
	return f;
}

/*
 * bounce_json - a notice that a peer realm refused one of our messages;
 * its text is "<realm>\0<code>\0<target>\0<why>" (bounce_enqueue)
 */
static cJSON *
bounce_json(struct state *st, const struct shm_msg *m, cJSON *e)
{
	const char *p = heap_ptr(st, m->text), *end = p + m->len;
	const char *realm, *code, *target, *why;
	size_t rlen, clen, tlen, wlen;
	char when[21], *text = NULL;

	realm = next_field(&p, end, &rlen);
	code = next_field(&p, end, &clen);
	target = next_field(&p, end, &tlen);
	why = next_field(&p, end, &wlen);
	cJSON_AddStringToObject(e, "msg_from", BOUNCE_FROM);
	json_add_text(e, "msg_to", st->users[m->to].display,
	    strlen(st->users[m->to].display));
	if (asprintf(&text, "Pesan ke %.*s di realm %.*s ditolak: %.*s",
	    (int)tlen, target, (int)rlen, realm, (int)wlen, why) >= 0) {
		json_add_text(e, "msg", text, strlen(text));
		free(text);
	}
	cJSON_AddBoolToObject(e, "bounce", true);
	json_add_text(e, "code", code, clen);
	json_add_text(e, "realm", realm, rlen);
	cJSON_AddNumberToObject(e, "ref", (double)m->ref);
	cJSON_AddNumberToObject(e, "id", (double)m->id);
	cJSON_AddStringToObject(e, "from", BOUNCE_FROM);
	iso_time(m->time, when);
	cJSON_AddStringToObject(e, "time", when);
	return e;
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
