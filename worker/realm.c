/*
 * NAME
 *	realm - a worker's channel to realmd
 * DESCRIPTION
 *	A worker connects to realmd's socket when it first needs it (and
 *	again after realmd restarts).  A request that needs a peer's answer
 *	(addrealm, ackrealm, joingrouprealm, inboxgrouprealm, a realm send
 *	while the link is up) is sent with a request number and its
 *	connection waits (conn.c answers nothing more on it meanwhile) until
 *	realmd's RM_RESULT for that number comes back, or until the wait
 *	runs out.  A send that waits in vain was stored all the same: its
 *	reply says "queued".
 *
 *	The wait: realmd answers every request within realm_wait of taking
 *	it (a waited send with the verdict, or "queued" when realm_wait
 *	runs out; the others with the answer, or REALM_UNREACHABLE), and a
 *	worker waits realm_wait + GRACE_MS for that answer, GRACE_MS being
 *	the slack of realmd's loop on a loaded machine.  An answer that
 *	finds nobody waiting is dropped: turning a refusal into a bounce
 *	notice is realmd's alone (realmd/send.c).
 *
 *	A connection that opens with the realm handshake is not a client:
 *	its descriptor and what was read of it go to realmd (SCM_RIGHTS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/link.h"
#include "lib/log.h"
#include "worker/worker.h"

#define RETRY_MS	500		/* between attempts to reach realmd */
#define GRACE_MS	2000		/* beyond realm_wait, realmd's own limit */

char realm_chan_mark;

static void
chan_interest(struct worker *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &realm_chan_mark };

	if (buf_used(&w->realmd.out) > 0)
		e.events |= EPOLLOUT;
	if (e.events != w->realmd.events &&
	    epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->realmd.fd, &e) == 0)
		w->realmd.events = e.events;
}

static int
chan_write(struct worker *w)
{
	struct realm_chan *rc = &w->realmd;

	while (buf_used(&rc->out) > 0) {
		ssize_t n = send(rc->fd, buf_head(&rc->out), buf_used(&rc->out),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		buf_consume(&rc->out, (size_t)n);
	}
	chan_interest(w);
	return 0;
}

/* chan_open - connected to realmd, or -1 (and not tried again for a while) */
static int
chan_open(struct worker *w)
{
	struct realm_chan *rc = &w->realmd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &realm_chan_mark };
	uint64_t now = now_msec();

	if (rc->fd != -1)
		return 0;
	if (now < rc->retry_at ||
	    rmsg_socket_path(w->cf, sa.sun_path, sizeof(sa.sun_path)) == -1)
		return -1;
	rc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rc->fd == -1 ||
	    connect(rc->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
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

/* realm_forget - a waiting connection closes: its answer goes nowhere */
void
realm_forget(struct conn *c)
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

/* answer - the reply of a waiting connection; body NULL: realmd failed us */
static void
answer(struct conn *c, const cJSON *body)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(body, "ok");
	struct buf reply = { 0 };
	const cJSON *it;

	unlink_waiting(c);
	if (body != NULL && !cJSON_IsTrue(ok)) {
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

/*
 * chan_broken - the channel failed inside a request: shut it down, and
 * realm_event closes it (answering every waiting connection) from the
 * event loop.  Answering them here would run their replies, and the
 * lines behind them, through the scratch buffer that holds this
 * request's replies.
 */
static void
chan_broken(struct worker *w)
{
	shutdown(w->realmd.fd, SHUT_RDWR);
}

/* realm_close - realmd went away: every waiting connection is answered */
void
realm_close(struct worker *w)
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
		answer(w->waiting, NULL);
}

/* realm_event - realmd wrote to us, or can take more */
void
realm_event(struct worker *w, uint32_t events)
{
	struct realm_chan *rc = &w->realmd;
	char data[16 * 1024];
	struct rmsg_hdr h;
	bool gone = false;
	char *body;
	int rc_take;

	if ((events & EPOLLOUT) && chan_write(w) == -1)
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
	while ((rc_take = rmsg_take(&rc->in, &h, &body)) == 1) {
		cJSON *j = cJSON_Parse(body);
		struct conn *c;

		free(body);
		if (h.type != RM_RESULT || j == NULL) {
			cJSON_Delete(j);
			rc_take = -1;
			break;
		}
		for (c = w->waiting; c != NULL && c->wait_req != h.req;
		    c = c->wait_next)
			;
		if (c != NULL)
			answer(c, j);
		cJSON_Delete(j);
	}
	if (rc_take == -1) {
		log_err("realmd sent a bad message; reconnecting");
		gone = true;
	}
	if (gone)
		realm_close(w);
}

/* realm_tick - answer the connections that waited too long */
void
realm_tick(struct worker *w, uint64_t now)
{
	struct conn *c = w->waiting, *next;

	for (; c != NULL; c = next) {
		next = c->wait_next;
		if (c->wait_until <= now)
			answer(c, NULL);
	}
}

/*
 * realm_ask - send a request to realmd; the connection waits for the
 * answer.  -1 if realmd cannot be reached (nothing was sent).
 */
int
realm_ask(struct request *rq, uint32_t type, cJSON *body, enum wait_for why,
    uint64_t msg)
{
	struct worker *w = rq->w;
	struct conn *c = rq->c;
	uint64_t req;

	if (chan_open(w) == -1) {
		cJSON_Delete(body);
		return -1;
	}
	req = ++w->realmd.next_req;
	if (rmsg_put_json(&w->realmd.out, type, req, body) == -1 ||
	    chan_write(w) == -1) {
		chan_broken(w);
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

/* realm_notify - tell realmd that a message waits for a link; no answer */
void
realm_notify(struct worker *w, uint32_t realm, uint64_t msg)
{
	cJSON *o;

	if (chan_open(w) == -1)
		return;		/* realmd looks at every outbox by itself */
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "realm", realm);
	cJSON_AddNumberToObject(o, "id", (double)msg);
	cJSON_AddBoolToObject(o, "wait", false);
	if (rmsg_put_json(&w->realmd.out, RM_SEND, 0, o) == -1 ||
	    chan_write(w) == -1)
		chan_broken(w);
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

/* realm_handoff - give the connection (and what it sent) to realmd */
void
realm_handoff(struct conn *c)
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

	if (chan_open(w) == -1 || chan_write(w) == -1 || buf_used(&rc->out) > 0) {
		refuse_link(c, "realmd is not running");
		return;
	}
	if (rmsg_put(&msg, RM_HANDOFF, 0, NULL, 0) == -1 ||
	    buf_append(&msg, c->handoff, c->handoff_len) == -1 ||
	    buf_append(&msg, "\n", 1) == -1 ||
	    buf_append(&msg, buf_head(&c->in), buf_used(&c->in)) == -1 ||
	    buf_used(&msg) - sizeof(struct rmsg_hdr) > RMSG_MAX) {
		buf_free(&msg);
		refuse_link(c, "handshake too large");
		return;
	}
	((struct rmsg_hdr *)(void *)buf_head(&msg))->len =
	    (uint32_t)(buf_used(&msg) - sizeof(struct rmsg_hdr));
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
		chan_broken(w);
	buf_free(&msg);
	if (rc->fd != -1)
		chan_interest(w);
	/* realmd holds the connection now: forget it here */
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	conn_close(c);
}
