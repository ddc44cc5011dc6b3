/*
 * NAME
 *	cmd_file - sendfile, sendgroupfile and the download commands
 * DESCRIPTION
 *	The body is decoded from base64 (a b'...' wrapper is accepted),
 *	written to the spool under a temporary name and renamed to its id;
 *	then one transaction creates the file slot and every message that
 *	points at it.  If that transaction fails the body is unlinked, so a
 *	body exists for every committed file, stored once however many
 *	recipients it has.
 *
 *	A file stays fetchable by each recipient while it waits in their
 *	inbox and for file_keep after an inbox reply showed it (the kept
 *	chain, shm/inbox.c), and by the members of its group while any
 *	message holds it.  Everyone else is told there is no such file, the
 *	same answer as for an id that does not exist.
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

	if (rq->nargs < 2) {
		form_file_path(rq);
		return;
	}
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
	if (why == E_COUNT && file_create_room(st, up.id, up.size, up.name,
	    t.group, rq->w->cf->spool_max, &f, &d.evicted) == -1)
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
	evicted_unlink(st, &d.evicted);
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

/*
 * What a download names besides the file: the link it must have come
 * over (downloadrealmfile) and the group it must have been sent to
 * (downloadgroupfile); both for downloadgrouprealmfile.
 */
struct fetch {
	uint64_t	 id;		/* the file id asked for */
	uint32_t	 realm;		/* link, if by_realm */
	uint32_t	 group;		/* group slot, 0: any */
	bool		 by_realm;
};

#define NO_FILE	"No such file, or its keep time is over"

/* msg_fits - is m a message of file f as the fetch q names it? */
static bool
msg_fits(const struct shm_msg *m, uint32_t f, const struct fetch *q)
{
	return m->file == f && (!q->by_realm || m->realm == q->realm) &&
	    (q->group == 0 || m->group == q->group);
}

/*
 * holds_locked - has user a message of file f that fits q: waiting in
 * the inbox, or shown by an inbox reply less than file_keep ago?
 */
static bool
holds_locked(struct request *rq, uint32_t f, const struct fetch *q)
{
	struct state *st = rq->w->st;
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;
	uint64_t now = now_sec();

	for (uint32_t i = st->users[rq->user].inbox_head; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next)
		if (msg_fits(&st->msgs[i], f, q))
			return true;
	for (uint32_t i = st->hdr->kept_head; i != 0 && i < cap &&
	    steps++ < 2 * cap; i = st->msgs[i].next)
		if (st->msgs[i].to == rq->user && msg_fits(&st->msgs[i], f, q) &&
		    kept_live(&st->msgs[i], now, rq->w->cf->file_keep))
			return true;
	return false;
}

/* in_history_locked - is file f in q->group's history, over q->realm? */
static bool
in_history_locked(struct state *st, uint32_t f, const struct fetch *q)
{
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;

	for (uint32_t i = st->groups[q->group].hist_head; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next)
		if (msg_fits(&st->msgs[i], f, q))
			return true;
	return false;
}

/*
 * may_fetch_locked - may the caller fetch file f as q names it?  A file
 * of a group is for its members (q->group is checked by the caller);
 * any other is for the users it was sent to, while they hold it.
 */
static bool
may_fetch_locked(struct request *rq, uint32_t f, const struct fetch *q)
{
	struct state *st = rq->w->st;
	const struct shm_file *file = &st->files[f];

	if (q->group != 0 && file->group != q->group)
		return false;
	if (q->group != 0 && !q->by_realm)
		return true;
	if (q->group != 0)
		return in_history_locked(st, f, q) || holds_locked(rq, f, q);
	if (!q->by_realm && file->group != 0 &&
	    member_find_locked(st, file->group, rq->user) != 0)
		return true;
	return holds_locked(rq, f, q);
}

/* file_find_locked - the file slot of id, 0 if none */
static uint32_t
file_find_locked(struct state *st, uint64_t id)
{
	for (uint32_t i = 1; i <= st->hdr->files.hwm; i++)
		if (st->files[i].state == SLOT_USED && st->files[i].id == id)
			return i;
	return 0;
}

/* file_id_arg - the word as a file id; false if it is not 16 hex digits */
static bool
file_id_arg(const struct word *w, uint64_t *id)
{
	char text[FILE_ID_LEN + 1], *end;

	if (arg_copy(w, text, sizeof(text)) == -1 ||
	    strlen(text) != FILE_ID_LEN)
		return false;
	*id = strtoull(text, &end, 16);
	return *end == '\0' && text[0] != '-' && text[0] != '+';
}

/*
 * fetch_reply - the body of the file q names, base64 in "message", if
 * the caller may have it.  The body is read outside the lock: if it went
 * meanwhile, it is gone for this caller too.
 */
static void
fetch_reply(struct request *rq, const struct fetch *q)
{
	struct state *st = rq->w->st;
	char idtext[FILE_ID_LEN + 1], *b64 = NULL;
	struct shm_file copy;
	uint32_t f;
	cJSON *o;

	state_lock(st);
	if ((f = file_find_locked(st, q->id)) != 0 && !may_fetch_locked(rq, f, q))
		f = 0;
	if (f != 0)
		copy = st->files[f];
	state_unlock(st);
	if (f == 0 || (b64 = file_body_b64(st, &copy)) == NULL) {
		reply_error(rq->out, E_BAD_FILE, NO_FILE);
		return;
	}
	snprintf(idtext, sizeof(idtext), "%016llx", (unsigned long long)q->id);
	o = reply_ok(NULL);
	cJSON_AddStringToObject(o, "message", b64);
	cJSON_AddStringToObject(o, "file_id", idtext);
	cJSON_AddStringToObject(o, "file_name", copy.name);
	json_add_uint(o, "file_size", copy.size);
	free(b64);
	reply_finish(rq->out, o);
}

/*
 * fetch_by_id - the file the word id names, within what q already says
 * (group, link): its body as fetch_reply() gives it, or BAD_FILE
 */
static void
fetch_by_id(struct request *rq, const struct word *id, struct fetch *q)
{
	if (!file_id_arg(id, &q->id))
		reply_error(rq->out, E_BAD_FILE, NO_FILE);
	else
		fetch_reply(rq, q);
}

/* cmd_downloadfile - downloadfile <file_id> [filename]: the body, base64 */
void
cmd_downloadfile(struct request *rq)
{
	struct fetch q = { 0 };

	fetch_by_id(rq, &rq->args[0], &q);
}

/*
 * fetch_group - the group word g, for a member: its slot in q->group;
 * false after replying NO_GROUP or NOT_MEMBER.
 */
static bool
fetch_group(struct request *rq, const struct word *g, struct fetch *q)
{
	struct state *st = rq->w->st;
	bool member = false;

	state_lock(st);
	q->group = name_valid(g->p, g->len) ?
	    group_find_locked(st, g->p, g->len) : 0;
	if (q->group != 0)
		member = member_find_locked(st, q->group, rq->user) != 0;
	state_unlock(st);
	if (q->group == 0)
		reply_error(rq->out, E_NO_GROUP, NULL);
	else if (!member)
		reply_error(rq->out, E_NOT_MEMBER, NULL);
	return q->group != 0 && member;
}

/* fetch_realm - the link named by word r into q; false after NO_REALM */
static bool
fetch_realm(struct request *rq, const struct word *r, struct fetch *q)
{
	state_lock(rq->w->st);
	q->realm = realm_find_locked(rq->w->st, r->p, r->len);
	state_unlock(rq->w->st);
	q->by_realm = true;
	if (q->realm == 0)
		reply_error(rq->out, E_NO_REALM, NULL);
	return q->realm != 0;
}

/* cmd_downloadgroupfile - downloadgroupfile <group> <file_id> [filename] */
void
cmd_downloadgroupfile(struct request *rq)
{
	struct fetch q = { 0 };

	if (fetch_group(rq, &rq->args[0], &q))
		fetch_by_id(rq, &rq->args[1], &q);
}

/* cmd_downloadrealmfile - downloadrealmfile <realm> <file_id> [filename] */
void
cmd_downloadrealmfile(struct request *rq)
{
	struct fetch q = { 0 };

	if (fetch_realm(rq, &rq->args[0], &q))
		fetch_by_id(rq, &rq->args[1], &q);
}

/*
 * cmd_downloadgrouprealmfile - downloadgrouprealmfile <realm> <group>
 * <file_id> [filename]: a file that came over that link into our group
 */
void
cmd_downloadgrouprealmfile(struct request *rq)
{
	struct fetch q = { 0 };

	if (fetch_realm(rq, &rq->args[0], &q) &&
	    fetch_group(rq, &rq->args[1], &q))
		fetch_by_id(rq, &rq->args[2], &q);
}
