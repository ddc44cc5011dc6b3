/*
 * NAME
 *	realmd - the worker's end of the channel to realmd
 * DESCRIPTION
 *	A worker connects to realmd's socket when it first needs it (and
 *	again after realmd restarts).  A request that needs a peer's answer
 *	(addrealm, ackrealm, joingrouprealm, inboxgrouprealm, a realm send
 *	while the link is up) is sent with a request number and its
 *	connection waits (conn.c answers nothing more on it meanwhile) until
 *	realmd's CHAN_RESULT for that number comes back, or until the wait
 *	runs out.  A send that waits in vain was stored all the same: its
 *	reply says "queued".
 *
 *	The wait: realmd answers every request within realm_wait of taking
 *	it (a waited send with the verdict, or "queued" when realm_wait
 *	runs out; the others with the answer, or REALM_UNREACHABLE), and a
 *	worker waits realm_wait + GRACE_MS for that answer, GRACE_MS being
 *	the slack of realmd's loop on a loaded machine.  A refusal that
 *	finds nobody waiting (the client hung up, or the answer came late)
 *	becomes a bounce notice through refusal_bounce_locked, the one
 *	function that makes them (shm/deliver.c), as realmd's do.
 *
 *	A connection that opens with the realm handshake is not a client:
 *	its descriptor and what was read of it go to realmd (SCM_RIGHTS).
 *
 *	The messages are lib/chan.h's; what realmd sends is checked whole
 *	by chan_take() before anything here reads it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lib/chan.h"
#include "lib/link.h"
#include "lib/log.h"
#include "worker/worker.h"

#define RETRY_MS	500		/* between attempts to reach realmd */
#define GRACE_MS	2000		/* beyond realm_wait, realmd's own limit */

char realmd_mark;

/* realmd_interest - wait to write only while something waits to be written */
static void
realmd_interest(struct worker *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &realmd_mark };

	if (buf_used(&w->realmd.out) > 0)
		e.events |= EPOLLOUT;
	if (e.events != w->realmd.events &&
	    epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->realmd.fd, &e) == 0)
		w->realmd.events = e.events;
}

/* realmd_write - send what realmd takes; -1 if the channel failed */
static int
realmd_write(struct worker *w)
{
	if (buf_send(&w->realmd.out, w->realmd.fd, NULL) == -1)
		return -1;
	realmd_interest(w);
	return 0;
}

/* realmd_open - connected to realmd, or -1 (and not tried again for a while) */
static int
realmd_open(struct worker *w)
{
	struct realm_chan *rc = &w->realmd;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &realmd_mark };
	uint64_t now = now_msec();

	if (rc->fd != -1)
		return 0;
	if (now < rc->retry_at)
		return -1;
	rc->fd = chan_connect(w->cf);
	if (rc->fd == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, rc->fd, &e) == -1) {
		if (rc->fd != -1)
			close(rc->fd);
		rc->fd = -1;
		rc->retry_at = now + RETRY_MS;
		return -1;
	}
	rc->events = EPOLLIN;
	return 0;
}

static void
unlink_waiting(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->w->waiting; *pp != NULL && *pp != c; pp = &(*pp)->wait_next)
		;
	if (*pp != NULL)
		*pp = c->wait_next;
	c->wait_next = NULL;
}

/* realmd_forget - a waiting connection closes: its answer goes nowhere */
void
realmd_forget(struct conn *c)
{
	if (c->wait_for != 0)
		unlink_waiting(c);
	c->wait_for = 0;
}

/*
 * default_message - every OK reply has a message: a peer's history
 * shows its messages there (as inboxgroup does), anything else "OK"
 */
static void
default_message(cJSON *o)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "messages");

	if (cJSON_HasObjectItem(o, "message"))
		return;
	if (list != NULL)
		reply_listing(o, list);
	else
		cJSON_AddStringToObject(o, "message", "OK");
}

/*
 * answer_waiting - the reply of a waiting connection, from a result
 * (its "ok" checked by chan_take); body NULL: realmd failed us
 */
static void
answer_waiting(struct conn *c, const cJSON *body)
{
	struct buf reply = { 0 };
	const cJSON *it;

	unlink_waiting(c);
	if (body != NULL && !chan_bool(body, "ok")) {
		enum rc_code code = code_parse(cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(body, "code")));
		reply_error(&reply, code == E_COUNT ? E_INTERNAL : code,
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body,
		    "message")));
	} else if (c->wait_for == WAIT_SEND) {
		cJSON *o = reply_ok("Message Sent");
		cJSON_AddNumberToObject(o, "id", (double)c->wait_msg);
		cJSON_AddStringToObject(o, "realm", c->wait_realm);
		cJSON_ArrayForEach(it, body)
			if (strcmp(it->string, "group") == 0 ||
			    strcmp(it->string, "recipients") == 0 ||
			    strcmp(it->string, "unknown") == 0 ||
			    strcmp(it->string, "full") == 0)
				cJSON_AddItemToObject(o, it->string,
				    cJSON_Duplicate(it, true));
		if (body == NULL || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    body, "queued")))
			cJSON_AddBoolToObject(o, "queued", true);
		reply_finish(&reply, o);
	} else if (body == NULL)
		reply_error(&reply, E_REALM_UNREACHABLE,
		    "Realm Unreachable: realmd did not answer");
	else {
		cJSON *o = reply_ok(cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(body, "message")));
		cJSON_ArrayForEach(it, body)
			if (strcmp(it->string, "ok") != 0 &&
			    strcmp(it->string, "message") != 0)
				cJSON_AddItemToObject(o, it->string,
				    cJSON_Duplicate(it, true));
		default_message(o);
		reply_finish(&reply, o);
	}
	conn_late_reply(c, &reply);
	buf_free(&reply);
}

/* bounce_unwaited - a refusal whose connection stopped waiting: a bounce */
static void
bounce_unwaited(struct worker *w, const cJSON *body)
{
	const char *realm = chan_str(body, "realm");
	const char *target = chan_str(body, "target");
	const char *why = chan_str(body, "message");
	enum rc_code code = code_parse(chan_str(body, "code"));
	uint64_t from, id;

	if (chan_bool(body, "ok") || realm == NULL || target == NULL ||
	    !link_uint(body, "from", &from) || !link_uint(body, "id", &id) ||
	    from == 0 || from > UINT32_MAX)
		return;
	txn_begin(w->st);
	if (refusal_bounce_locked(w->st, (uint32_t)from, realm,
	    code == E_COUNT ? E_INTERNAL : code, target, why ? why : "",
	    id) == -1)
		txn_abort(w->st);
	else
		txn_commit(w->st);
}

/*
 * realmd_broken - the channel failed inside a request: shut it down, and
 * realmd_event closes it (answering every waiting connection) from the
 * event loop.  Answering them here would run their replies, and the
 * lines behind them, through the scratch buffer that holds this
 * request's replies.
 */
static void
realmd_broken(struct worker *w)
{
	shutdown(w->realmd.fd, SHUT_RDWR);
}

/* realmd_close - realmd went away: every waiting connection is answered */
void
realmd_close(struct worker *w)
{
	struct realm_chan *rc = &w->realmd;

	if (rc->fd != -1) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, rc->fd, NULL);
		close(rc->fd);
	}
	rc->fd = -1;
	rc->retry_at = now_msec() + RETRY_MS;
	buf_free(&rc->in);
	buf_free(&rc->out);
	while (w->waiting != NULL)
		answer_waiting(w->waiting, NULL);
}

/* realmd_event - realmd wrote to us, or can take more */
void
realmd_event(struct worker *w, uint32_t events)
{
	struct realm_chan *rc = &w->realmd;
	char data[16 * 1024];
	struct chan_msg m;
	bool gone = false;
	const char *why;
	int rc_take;

	if ((events & EPOLLOUT) && realmd_write(w) == -1)
		gone = true;
	while (!gone && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = recv(rc->fd, data, sizeof(data), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0 || buf_append(&rc->in, data, (size_t)n) == -1)
			gone = true;
	}
	while ((rc_take = chan_take(&rc->in, CHAN_AT_ASKER, &m, &why)) == 1) {
		struct conn *c;

		for (c = w->waiting; c != NULL && c->wait_req != m.h.req;
		    c = c->wait_next)
			;
		if (c != NULL)
			answer_waiting(c, m.json);
		else
			bounce_unwaited(w, m.json);
		chan_msg_free(&m);
	}
	if (rc_take == -1) {
		log_err("realmd sent a bad message (%s); reconnecting", why);
		gone = true;
	}
	if (gone)
		realmd_close(w);
}

/* realmd_tick - answer the connections that waited too long */
void
realmd_tick(struct worker *w, uint64_t now)
{
	struct conn *c = w->waiting, *next;

	for (; c != NULL; c = next) {
		next = c->wait_next;
		if (c->wait_until <= now)
			answer_waiting(c, NULL);
	}
}

/*
 * realmd_ask - send a request to realmd; the connection waits for the
 * answer.  -1 if realmd cannot be reached (nothing was sent).
 */
int
realmd_ask(struct request *rq, uint32_t type, cJSON *body, enum wait_for why,
    uint64_t msg)
{
	struct worker *w = rq->w;
	struct conn *c = rq->c;
	uint64_t req;

	if (realmd_open(w) == -1) {
		cJSON_Delete(body);
		return -1;
	}
	req = ++w->realmd.next_req;
	if (chan_put_json(&w->realmd.out, type, req, body) == -1 ||
	    realmd_write(w) == -1) {
		realmd_broken(w);
		return -1;
	}
	c->wait_for = (uint8_t)why;
	c->wait_req = req;
	c->wait_msg = msg;
	c->wait_until = now_msec() + w->cf->realm_wait * 1000 + GRACE_MS;
	c->wait_next = w->waiting;
	w->waiting = c;
	return 0;
}

/* realmd_notify - tell realmd that a message waits for a link; no answer */
void
realmd_notify(struct worker *w, uint32_t realm, uint64_t msg)
{
	cJSON *o;

	if (realmd_open(w) == -1)
		return;		/* realmd looks at every outbox by itself */
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "realm", realm);
	cJSON_AddNumberToObject(o, "id", (double)msg);
	cJSON_AddBoolToObject(o, "wait", false);
	if (chan_put_json(&w->realmd.out, CHAN_SEND, 0, o) == -1 ||
	    realmd_write(w) == -1)
		realmd_broken(w);
}

/* refuse_link - we cannot hand a realm link over: say so and hang up */
static void
refuse_link(struct conn *c, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	struct buf line = { 0 };

	log_warn("realm link refused: %s", why);
	cJSON_AddStringToObject(o, "t", "error");
	cJSON_AddStringToObject(o, "code", code_name(E_REALM_UNREACHABLE));
	cJSON_AddStringToObject(o, "message", why);
	if (link_send(&line, o) == 0)
		(void)send(c->fd, buf_head(&line), buf_used(&line),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	buf_free(&line);
	conn_close(c);
}

/* realmd_handoff - give the connection (and what it sent) to realmd */
void
realmd_handoff(struct conn *c)
{
	struct worker *w = c->w;
	struct realm_chan *rc = &w->realmd;
	struct buf msg = { 0 };
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	if (realmd_open(w) == -1 || realmd_write(w) == -1 || buf_used(&rc->out) > 0) {
		refuse_link(c, "realmd is not running");
		return;
	}
	if (chan_put(&msg, CHAN_HANDOFF, 0, NULL, 0) == -1 ||
	    buf_append(&msg, c->handoff, c->handoff_len) == -1 ||
	    buf_append(&msg, "\n", 1) == -1 ||
	    buf_append(&msg, buf_head(&c->in), buf_used(&c->in)) == -1 ||
	    buf_used(&msg) - sizeof(struct chan_hdr) > CHAN_MAX) {
		buf_free(&msg);
		refuse_link(c, "handshake too large");
		return;
	}
	((struct chan_hdr *)(void *)buf_head(&msg))->len =
	    (uint32_t)(buf_used(&msg) - sizeof(struct chan_hdr));
	iov.iov_base = buf_head(&msg);
	iov.iov_len = buf_used(&msg);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
	do
		n = sendmsg(rc->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		buf_free(&msg);
		refuse_link(c, "realmd is busy");
		return;
	}
	/* the descriptor went with the first byte; the rest follows in order */
	if ((size_t)n < buf_used(&msg) &&
	    buf_append(&rc->out, buf_head(&msg) + n, buf_used(&msg) - (size_t)n) == -1)
		realmd_broken(w);
	buf_free(&msg);
	if (rc->fd != -1)
		realmd_interest(w);
	/* realmd holds the connection now: forget it here */
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	conn_close(c);
}
