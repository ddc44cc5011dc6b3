/*
 * NAME
 *	send - a link's outbox: pump it, take the peer's verdicts, bounce
 * DESCRIPTION
 *	Once up, the outbox is sent oldest first, at most LINK_WINDOW
 *	messages unanswered; a new connection starts again from the head
 *	of the outbox, and the receiver's high-water mark drops what it
 *	already has.  A message leaves the outbox in the transaction that
 *	handles its verdict.
 *
 *	A verdict goes to the worker waiting for it (WAIT_VERDICT), if one
 *	does.  A worker may ask only after the verdict came (realmd sends a
 *	message as soon as it is queued): a message queued while the link
 *	was up carries MF_WAIT, and its verdict is kept for realm_wait + 1 s
 *	(the early list) to be that worker's answer.  A refusal that no
 *	worker takes -- none waits, none asks in time, or the worker was
 *	told "queued" when realm_wait ran out -- becomes a bounce notice in
 *	the sender's inbox through refusal_bounce_locked (shm/deliver.c),
 *	the one function in realmchat that makes one; the worker calls it
 *	too, for an answer that comes after its connection stopped waiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/string.h>

#include "lib/ascii.h"
#include "lib/log.h"
#include "realmd/peer.h"
#include "shm/deliver.h"

#define PUMP_HIGH	(4u << 20)	/* unsent bytes before we stop filling */
#define EARLY_KEEP_MS	1000		/* a kept verdict outlives realm_wait so */

/*
 * A verdict that came before the worker said it waits for it: kept for
 * a while, to be the worker's answer; a refusal nobody took becomes a
 * bounce notice.
 */
struct early {
	uint32_t	 realm;
	uint64_t	 id;
	cJSON		*result;	/* what the waiting worker is told */
	uint32_t	 from;		/* the sender, for a bounce */
	int		 code;		/* E_COUNT if stored */
	char		 realm_name[NAME_LEN + 1];
	char		*target;
	char		*why;
	uint64_t	 expires;	/* now_msec() */
	struct early	*next;
};

/* A queued message, copied out of the state. */
struct outgoing {
	uint64_t	 id;
	uint32_t	 seq;
	uint32_t	 kind;
	uint32_t	 flags;
	uint64_t	 time;
	char		 from[REMOTE_NAME_LEN + 1];
	char		 from_name[DISPLAY_LEN + 1];
	char		*blob;		/* "<target>\0<text>" */
	size_t		 len;
	struct shm_file	 file;
};

/* outgoing_copy_locked - message m into o; false if out of memory */
static bool
outgoing_copy_locked(struct state *st, const struct shm_msg *m,
    struct outgoing *o)
{
	o->id = m->id;
	o->seq = m->seq;
	o->kind = m->kind;
	o->flags = m->flags;
	o->time = m->time;
	strlcpy(o->from, st->users[m->from].name, sizeof(o->from));
	strlcpy(o->from_name, st->users[m->from].display, sizeof(o->from_name));
	o->len = m->len;
	if ((o->blob = malloc(m->len + 1)) != NULL) {
		memcpy(o->blob, heap_ptr(st, m->text), m->len);
		o->blob[m->len] = '\0';
	}
	if (m->kind == MSG_FILE)
		o->file = st->files[m->file];
	return o->blob != NULL;
}

/* next_outgoing - the first queued message after id `after`; false if none */
static bool
next_outgoing(uint32_t realm, uint64_t after, struct outgoing *o)
{
	struct state *st = rd.st;
	struct shm_realm *r;
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0;
	bool found = false;

	state_lock(st);
	r = realm_at(st, realm);
	for (uint32_t i = r ? r->out_head : 0; i != 0 && i < cap &&
	    steps++ < cap; i = st->msgs[i].next) {
		if (st->msgs[i].id <= after)
			continue;
		found = outgoing_copy_locked(st, &st->msgs[i], o);
		break;
	}
	state_unlock(st);
	return found;
}

/* msg_file - m's file into frame o; -1 if its body cannot be read */
static int
msg_file(cJSON *o, const struct outgoing *m)
{
	char *b64 = file_body_b64(rd.st, &m->file);
	cJSON *f;

	if (b64 == NULL)
		return -1;
	f = cJSON_AddObjectToObject(o, "file");
	cJSON_AddStringToObject(f, "name", m->file.name);
	cJSON_AddNumberToObject(f, "size", (double)m->file.size);
	cJSON_AddStringToObject(f, "content", b64);
	free(b64);
	return 0;
}

/* msg_frame - the frame of a queued message; NULL if it cannot be built */
static cJSON *
msg_frame(struct outgoing *m)
{
	cJSON *o = cJSON_CreateObject();
	size_t tlen = strlen(m->blob);

	cJSON_AddStringToObject(o, "t", "msg");
	cJSON_AddNumberToObject(o, "id", (double)m->id);
	cJSON_AddNumberToObject(o, "seq", m->seq);
	cJSON_AddStringToObject(o, "kind",
	    m->flags & MF_GROUP_SEND ? "group" : "private");
	cJSON_AddStringToObject(o, "from", m->from);
	cJSON_AddStringToObject(o, "from_name", m->from_name);
	json_add_text(o, "to", m->blob, tlen);	/* typed by the sender */
	if (m->flags & MF_VOUCHED)
		cJSON_AddBoolToObject(o, "member", true);
	cJSON_AddNumberToObject(o, "time", (double)m->time);
	if (m->kind != MSG_FILE)
		json_add_text(o, "text", m->blob + tlen + 1, m->len - tlen - 1);
	else if (msg_file(o, m) == -1) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* pump - write queued messages to the link, as far as the window allows */
void
pump(uint32_t realm)
{
	struct peer *p = rd.links[realm].conn;
	struct outgoing m;

	while (p != NULL && p->phase == PH_UP && p->inflight < LINK_WINDOW &&
	    unsent(p) < PUMP_HIGH &&
	    next_outgoing(realm, p->sent_upto, &m)) {
		cJSON *o = msg_frame(&m);
		free(m.blob);
		p->sent_upto = m.id;
		if (o == NULL) {
			log_err("realm %s: cannot read the body of message %llu",
			    rd.st->realms[realm].name, (unsigned long long)m.id);
			continue;	/* stays queued; sent again on reconnect */
		}
		p->inflight++;
		if (link_send(&p->text, o) == -1) {
			/* a frame may be left half-written: the link cannot go on */
			link_fail(p, "out of memory");
			return;
		}
	}
	if (p != NULL && !p->batching)
		peer_flush(p);
}

static void
early_free(struct early *e)
{
	cJSON_Delete(e->result);
	free(e->target);
	free(e->why);
	free(e);
}

/* early_take - the kept verdict of message id of link realm, or NULL */
static struct early *
early_take(uint32_t realm, uint64_t id)
{
	for (struct early **ep = &rd.early; *ep != NULL; ep = &(*ep)->next)
		if ((*ep)->realm == realm && (*ep)->id == id) {
			struct early *e = *ep;
			*ep = e->next;
			return e;
		}
	return NULL;
}

/* peer_send - a worker queued message id for a link */
void
peer_send(struct chan *c, uint64_t req, cJSON *j)
{
	uint64_t realm = 0, id = 0;
	const cJSON *wait = cJSON_GetObjectItemCaseSensitive(j, "wait");
	struct peer *p;

	if (!link_uint(j, "realm", &realm) || realm == 0 || realm > REALMS_MAX ||
	    !link_uint(j, "id", &id))
		return;
	p = rd.links[realm].conn;
	if (cJSON_IsTrue(wait)) {
		struct early *e = early_take((uint32_t)realm, id);
		if (e != NULL) {	/* answered already */
			realmd_result(c, req, e->result);
			e->result = NULL;
			early_free(e);
			return;
		}
		if (p == NULL || p->phase != PH_UP) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddBoolToObject(o, "ok", true);
			cJSON_AddBoolToObject(o, "queued", true);
			realmd_result(c, req, o);
			return;
		}
		waiter_add(WAIT_VERDICT, c, req, (uint32_t)realm, id);
	}
	pump((uint32_t)realm);
}

/* answer_fields - the fields of a peer's answer a worker puts in its reply */
void
answer_fields(cJSON *to, const cJSON *from)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, from) {
		if (strcmp(it->string, "t") == 0 || strcmp(it->string, "q") == 0 ||
		    strcmp(it->string, "id") == 0)
			continue;
		cJSON_AddItemToObject(to, it->string, cJSON_Duplicate(it, true));
	}
}

/* early_keep - a verdict whose worker has not asked for it yet */
static void
early_keep(uint32_t realm, uint64_t id, cJSON *result, uint32_t from,
    int code, const char *target, const char *why)
{
	struct early *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->target = strdup(target)) == NULL ||
	    (e->why = strdup(why)) == NULL) {
		if (e != NULL)
			free(e->target);
		free(e);
		cJSON_Delete(result);
		return;
	}
	e->realm = realm;
	e->id = id;
	e->result = result;
	e->from = from;
	e->code = code;
	strlcpy(e->realm_name, rd.st->realms[realm].name, sizeof(e->realm_name));
	e->expires = now_msec() + rd.cf->realm_wait * 1000 + EARLY_KEEP_MS;
	e->next = rd.early;
	rd.early = e;
}

/* early_tick - verdicts nobody came for: a refusal becomes a bounce */
void
early_tick(uint64_t now)
{
	for (struct early **ep = &rd.early; *ep != NULL;) {
		struct early *e = *ep;
		if (e->expires > now) {
			ep = &e->next;
			continue;
		}
		*ep = e->next;
		if (e->code != E_COUNT) {
			txn_begin(rd.st);
			if (refusal_bounce_locked(rd.st, e->from, e->realm_name, e->code,
			    e->target, e->why, e->id) == -1)
				txn_abort(rd.st);
			else
				txn_commit(rd.st);
		}
		early_free(e);
	}
}

/* A verdict, as on_verdict's steps see it. */
struct verdict {
	uint32_t	 realm;
	uint64_t	 id;
	enum rc_code	 code;		/* E_COUNT: stored */
	const char	*why;
	char		 target[REMOTE_NAME_LEN * 4 + 1];
	uint32_t	 from;		/* the sender */
	bool		 later;		/* a worker will ask (MF_WAIT) */
};

/*
 * verdict_settle - message v->id leaves the outbox, in one transaction
 * with its bounce when the peer refused it and no worker will tell the
 * sender (waited: one waits now).  A failure leaves it queued: a resend
 * brings the same verdict.
 */
static void
verdict_settle(struct verdict *v, bool waited)
{
	struct shm_realm *r = &rd.st->realms[v->realm];
	uint64_t gone = 0;
	uint32_t msg;

	txn_begin(rd.st);
	if ((msg = outbox_find_locked(rd.st, v->realm, v->id)) != 0) {
		v->from = rd.st->msgs[msg].from;
		v->later = !waited && (rd.st->msgs[msg].flags & MF_WAIT);
		strlcpy(v->target, heap_ptr(rd.st, rd.st->msgs[msg].text),
		    sizeof(v->target));
		if ((v->code != E_COUNT && !waited && !v->later &&
		    refusal_bounce_locked(rd.st, v->from, r->name, v->code, v->target,
		    v->why, v->id) == -1) ||
		    outbox_remove(rd.st, v->realm, msg, &gone) == -1) {
			log_err("realm %s: message %llu stays queued: %m",
			    r->name, (unsigned long long)v->id);
			msg = 0;
		}
	}
	if (msg == 0) {
		txn_abort(rd.st);
		return;
	}
	txn_commit(rd.st);
	spool_unlink(rd.st, gone);
	r->sent++;
	__atomic_fetch_add(&rd.me->delivered, 1, __ATOMIC_RELAXED);
}

/*
 * verdict_take - the peer answered a message: it leaves the outbox, and
 * its answer goes to the worker waiting for it (or will, or becomes a
 * bounce notice if it says no and nobody asks).
 */
void
verdict_take(struct peer *p, const struct link_frame *f)
{
	struct verdict v = { .realm = p->realm, .id = f->id, .code = f->ok ?
	    E_COUNT : code_parse(link_str(f->json, "code")),
	    .why = link_str(f->json, "message") };
	struct waiter *w = waiter_take(WAIT_VERDICT, v.realm, f->id);
	cJSON *o;

	if (!f->ok && v.code == E_COUNT)
		v.code = E_INTERNAL;
	if (v.why == NULL)
		v.why = f->ok ? "" : code_text(v.code);
	verdict_settle(&v, w != NULL);
	if (p->inflight > 0)
		p->inflight--;
	if (w != NULL || v.later) {
		o = cJSON_CreateObject();
		answer_fields(o, f->json);
		cJSON_AddStringToObject(o, "realm", rd.st->realms[v.realm].name);
		cJSON_AddNumberToObject(o, "id", (double)f->id);
		cJSON_AddNumberToObject(o, "from", v.from);
		cJSON_AddStringToObject(o, "target", v.target);
		if (w != NULL) {
			realmd_result(w->chan, w->req, o);
			free(w);
		} else
			early_keep(v.realm, f->id, o, v.from, v.code, v.target,
			    v.why);
	}
	pump(v.realm);
}
