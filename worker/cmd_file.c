/*
 * NAME
 *	cmd_file - sendfile, sendgroupfile, downloadfile
 * DESCRIPTION
 *	The body is decoded from base64 (a b'...' wrapper is accepted),
 *	written to the spool under a temporary name and renamed to its id;
 *	then one transaction creates the file slot and every message that
 *	points at it.  If that transaction fails the body is unlinked, so a
 *	body exists for every committed file, stored once however many
 *	recipients it has.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/filedata.h"
#include "lib/log.h"
#include "worker/worker.h"

/*
 * upload_decode - the file of a request: its name (the word name) and its
 * body (the request's text, base64); false after replying an error.
 */
bool
upload_decode(struct request *rq, const struct word *name, struct upload *up)
{
	const char *b64 = rq->text;
	size_t len = rq->textlen;
	ssize_t n;

	file_name_clean(name->p, name->len, up->name, sizeof(up->name));
	b64_unwrap(&b64, &len);
	if (b64_decoded_max(len) > rq->w->cf->max_file + 3) {
		reply_errorf(rq->out, E_TOO_LARGE, "File larger than %llu bytes",
		    (unsigned long long)rq->w->cf->max_file);
		return false;
	}
	if ((up->body = malloc(b64_decoded_max(len) + 1)) == NULL) {
		reply_error(rq->out, E_INTERNAL, NULL);
		return false;
	}
	if ((n = b64_decode(b64, len, up->body)) == -1) {
		reply_error(rq->out, E_BAD_FILE, "File content is not base64");
		return false;
	}
	up->size = (size_t)n;
	if (up->size > rq->w->cf->max_file) {
		reply_errorf(rq->out, E_TOO_LARGE, "File larger than %llu bytes",
		    (unsigned long long)rq->w->cf->max_file);
		return false;
	}
	return true;
}

/*
 * upload_store - the body into the spool; false after replying (QUOTA
 * when the disk would keep less than spool_reserve free)
 */
bool
upload_store(struct request *rq, struct upload *up)
{
	if (spool_store(rq->w->st, up->body, up->size, &up->id) == 0)
		return true;
	if (errno == EDQUOT) {
		reply_error(rq->out, E_QUOTA, "The server's disk is nearly full");
		return false;
	}
	log_err("spool: %m");
	reply_error(rq->out, E_INTERNAL, "Cannot store the file");
	return false;
}

/* send_upload - store the body, then deliver it to the target */
static void
send_upload(struct request *rq, const struct word *to, bool private)
{
	struct state *st = rq->w->st;
	const struct sender snd = request_sender(rq);
	struct msg_new m = { .from = rq->user, .kind = MSG_FILE, .time = now_sec() };
	struct upload up = { .body = NULL };
	struct delivery d = { 0 };
	struct target t;
	enum rc_code why;
	uint32_t f;

	if (private && !name_valid(to->p, to->len)) {
		reply_error(rq->out, E_NO_USER, NULL);
		return;
	}
	if (!private && !target_list_ok(to)) {
		reply_error(rq->out, E_TOO_LARGE, "Too many recipients");
		return;
	}
	if (!upload_decode(rq, &rq->args[1], &up))
		goto done;
	if (!upload_store(rq, &up))
		goto done;
	txn_begin(st);
	if (private) {
		memset(&t, 0, sizeof(t));
		t.list = *to;
		why = user_find_locked(st, to->p, to->len) ? E_COUNT : E_NO_USER;
	} else
		why = target_resolve_locked(&snd, to, &t);
	if (why == E_COUNT && file_create(st, up.id, up.size, up.name, t.group,
	    rq->w->cf->spool_max, &f) == -1)
		why = E_QUOTA;
	if (why == E_COUNT) {
		m.file = f;
		why = target_deliver(&snd, &t, &m, &d);
	}
	if (why != E_COUNT) {
		txn_abort(st);
		spool_unlink(st, up.id);
		if (why == E_QUOTA && d.delivered == 0 && d.full == NULL &&
		    d.unknown == NULL)
			reply_error(rq->out, E_QUOTA, "File store is full");
		else
			delivery_error(rq, why, &d);
		goto done;
	}
	txn_commit(st);
	spool_unlink(st, d.gone);
	delivery_reply(rq, &t, &d, "File Sent");
done:
	free(up.body);
}

/* cmd_sendfile - sendfile <user> <filename> <base64> */
void
cmd_sendfile(struct request *rq)
{
	send_upload(rq, &rq->args[0], true);
}

/* cmd_sendgroupfile - sendgroupfile <group | group:NAME | u1,u2> <filename> <base64> */
void
cmd_sendgroupfile(struct request *rq)
{
	send_upload(rq, &rq->args[0], false);
}

/* may_download_locked - was file f sent to user (inbox or group history)? */
static bool
may_download_locked(struct state *st, uint32_t f, uint32_t user)
{
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;
	const struct shm_file *file = &st->files[f];

	if (file->group != 0 && member_find_locked(st, file->group, user) != 0)
		return true;
	for (uint32_t i = st->users[user].inbox_head; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next)
		if (st->msgs[i].file == f)
			return true;
	return false;
}

/* cmd_downloadfile - downloadfile <file_id> [filename]: the body, base64 */
void
cmd_downloadfile(struct request *rq)
{
	struct state *st = rq->w->st;
	char idtext[FILE_ID_LEN + 1], *end, *b64 = NULL;
	struct shm_file copy;
	unsigned long long id;
	uint32_t f = 0;
	cJSON *o;

	if (arg_copy(&rq->args[0], idtext, sizeof(idtext)) == -1 ||
	    strlen(idtext) != FILE_ID_LEN ||
	    (id = strtoull(idtext, &end, 16), *end != '\0')) {
		reply_error(rq->out, E_BAD_FILE, "No such file");
		return;
	}
	state_lock(st);
	for (uint32_t i = 1; i <= st->hdr->files.hwm && f == 0; i++)
		if (file_at(st, i) != NULL && st->files[i].id == id &&
		    may_download_locked(st, i, rq->user))
			f = i;
	if (f != 0)
		copy = st->files[f];
	state_unlock(st);
	/* read outside the lock: if the body went meanwhile, it is gone */
	if (f == 0 || (b64 = file_body_b64(st, &copy)) == NULL) {
		reply_error(rq->out, E_BAD_FILE, "No such file");
		return;
	}
	o = reply_ok(NULL);
	cJSON_AddStringToObject(o, "message", b64);
	cJSON_AddStringToObject(o, "file_id", idtext);
	cJSON_AddStringToObject(o, "file_name", copy.name);
	json_add_uint(o, "file_size", copy.size);
	free(b64);
	reply_finish(rq->out, o);
}
