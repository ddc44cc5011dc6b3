/*
 * NAME
 *	control - the master's control socket, for realmctl
 * DESCRIPTION
 *	Two UNIX sockets: "control" (mode 0600, owned by the user the daemon
 *	runs as) takes every request; "control_ro" (mode 0666), if set,
 *	takes only those that change nothing.  A peer on the first socket
 *	that is neither root nor our user is treated as read-only too.
 *
 *	The protocol is lib/ctl.h: one JSON request on one line, one JSON
 *	reply on one line, then the connection is closed.  Everything is
 *	non-blocking and bounded, because this runs inside the master's
 *	loop: at most CTL_CONNS clients, a request of at most
 *	CTL_REQUEST_MAX bytes, and CTL_TIMEOUT_MS for a client to send its
 *	request and take its reply, after which it is dropped.  A slow
 *	client costs a slot, never the master's time.
 *
 *	The client of "stop" is held open until the master exits, so that
 *	realmctl can tell when the daemon is gone.
 *
 *	"add_realm" needs the peer, which may take its time: the request
 *	goes to realmd over its socket (lib/chan.h, CHAN_ADDREALM, numbered
 *	as any asker numbers its requests) and the client waits, without
 *	holding up the loop, until realmd's CHAN_RESULT for that number
 *	comes back or CTL_TIMEOUT_MS runs out; then it has CTL_TIMEOUT_MS
 *	again to take its reply.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lib/ascii.h"
#include "lib/chan.h"
#include "lib/ctl.h"
#include "lib/link.h"
#include "lib/log.h"
#include "lib/reply.h"
#include "master/master.h"

#define CTL_CONNS	16		/* clients at once; more wait */
#define CTL_TIMEOUT_MS	5000		/* to send a request, take a reply */
#define CTL_BACKLOG	16

_Static_assert(2 + 2 * CTL_CONNS <= CONTROL_POLLFDS,
    "CONTROL_POLLFDS too small");
_Static_assert(CTL_HOST_LEN == HOST_LEN, "CTL_HOST_LEN is not HOST_LEN");

#define ASK_IN_MAX	(64 << 10)	/* bytes of realmd's answer */

enum { SOCK_RW, SOCK_RO, SOCK_COUNT };

/* A request of a client that waits on realmd. */
struct ctl_ask {
	int		 fd;		/* to realmd's socket */
	uint64_t	 req;		/* our number for the request */
	char		 id[NAME_LEN + 1];	/* the link asked for */
	struct buf	 out;		/* what realmd has not taken yet */
	struct buf	 in;		/* what realmd said, until whole */
};

struct ctl_conn {
	int		 fd;		/* -1: entry free */
	bool		 readonly;	/* may only look */
	bool		 held;		/* asked to stop: open until we exit */
	uid_t		 uid;		/* of the peer */
	size_t		 inlen;		/* bytes of in */
	char		 in[CTL_REQUEST_MAX];
	struct buf	 out;		/* the reply and its LF, once made */
	uint64_t	 deadline;	/* now_msec() by which it is done */
	struct ctl_ask	*ask;		/* waiting on realmd, or NULL */
};

static struct {
	bool		 ready;			/* control_open() ran */
	int		 fd[SOCK_COUNT];	/* listening, -1 if none */
	char		 path[SOCK_COUNT][PATH_MAX];
	struct ctl_conn	 conns[CTL_CONNS];
	uint64_t	 next_req;		/* numbers requests to realmd */
} ctl;

typedef cJSON *ctl_handler(struct ctl_conn *, const cJSON *req);
static ctl_handler do_status, do_users, do_sessions, do_groups, do_realms;
static ctl_handler do_stats, do_kick, do_reload, do_stop, do_addrealm;
static ctl_handler do_delrealm;

static ctl_handler *const handlers[CTL_COUNT] = {
	[CTL_STATUS] = do_status,
	[CTL_SHOW_USERS] = do_users,
	[CTL_SHOW_SESSIONS] = do_sessions,
	[CTL_SHOW_GROUPS] = do_groups,
	[CTL_SHOW_REALMS] = do_realms,
	[CTL_STATS] = do_stats,
	[CTL_KICK] = do_kick,
	[CTL_RELOAD] = do_reload,
	[CTL_STOP] = do_stop,
	[CTL_ADD_REALM] = do_addrealm,
	[CTL_DEL_REALM] = do_delrealm,
};

/* ---------------------------------------------------------------- */
/* The sockets                                                      */
/* ---------------------------------------------------------------- */

static void
init(void)
{
	if (ctl.ready)
		return;
	ctl.ready = true;
	for (int i = 0; i < SOCK_COUNT; i++)
		ctl.fd[i] = -1;
	for (int i = 0; i < CTL_CONNS; i++)
		ctl.conns[i].fd = -1;
}

/* sock_open - the listening socket at path, given to the daemon's user */
static int
sock_open(int which, const char *path, mode_t mode, const struct priv *p,
    char *err, size_t errlen)
{
	if (path[0] == '\0')
		return 0;
	ctl.fd[which] = listen_unix(path, mode, CTL_BACKLOG, p, err, errlen);
	if (ctl.fd[which] == -1)
		return -1;
	snprintf(ctl.path[which], sizeof(ctl.path[which]), "%s", path);
	return priv_own(p, path, err, errlen);
}

/* control_open - the control sockets of cf, if any are configured */
int
control_open(const struct config *cf, const struct priv *p, char *err,
    size_t errlen)
{
	init();
	if (sock_open(SOCK_RW, cf->control, 0600, p, err, errlen) == -1 ||
	    sock_open(SOCK_RO, cf->control_ro, 0666, p, err, errlen) == -1)
		return -1;
	return 0;
}

/* ask_end - stop waiting on realmd */
static void
ask_end(struct ctl_conn *c)
{
	if (c->ask == NULL)
		return;
	if (c->ask->fd != -1)
		close(c->ask->fd);
	buf_free(&c->ask->out);
	buf_free(&c->ask->in);
	free(c->ask);
	c->ask = NULL;
}

static void
conn_close(struct ctl_conn *c)
{
	ask_end(c);
	close(c->fd);
	buf_free(&c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* control_close - at exit: clients see EOF, the socket files go */
void
control_close(void)
{
	if (!ctl.ready)
		return;
	for (int i = 0; i < CTL_CONNS; i++)
		if (ctl.conns[i].fd != -1)
			conn_close(&ctl.conns[i]);
	for (int i = 0; i < SOCK_COUNT; i++)
		if (ctl.fd[i] != -1) {
			close(ctl.fd[i]);
			ctl.fd[i] = -1;
			if (unlink(ctl.path[i]) == -1)
				log_info("control socket %s left behind: %m",
				    ctl.path[i]);
		}
}

/* control_forget - in a child: close the master's descriptors, nothing more */
void
control_forget(void)
{
	if (!ctl.ready)
		return;
	for (int i = 0; i < CTL_CONNS; i++) {
		if (ctl.conns[i].fd != -1)
			close(ctl.conns[i].fd);
		if (ctl.conns[i].ask != NULL && ctl.conns[i].ask->fd != -1)
			close(ctl.conns[i].ask->fd);
	}
	for (int i = 0; i < SOCK_COUNT; i++)
		if (ctl.fd[i] != -1)
			close(ctl.fd[i]);
}

/* ---------------------------------------------------------------- */
/* The loop's side                                                  */
/* ---------------------------------------------------------------- */

static struct ctl_conn *
free_conn(void)
{
	for (int i = 0; i < CTL_CONNS; i++)
		if (ctl.conns[i].fd == -1)
			return &ctl.conns[i];
	return NULL;
}

/* control_pollfds - what the loop should wait for; how many entries */
int
control_pollfds(struct pollfd *pfd, int max)
{
	int n = 0;

	if (!ctl.ready)
		return 0;
	for (int i = 0; i < SOCK_COUNT && n < max; i++)
		if (ctl.fd[i] != -1 && free_conn() != NULL)
			pfd[n++] = (struct pollfd){ ctl.fd[i], POLLIN, 0 };
	for (int i = 0; i < CTL_CONNS && n < max; i++) {
		const struct ctl_conn *c = &ctl.conns[i];
		if (c->fd == -1)
			continue;
		/* while realmd answers, the client is watched for a hang-up */
		pfd[n++] = (struct pollfd){ c->fd, c->ask != NULL ? 0 :
		    buf_used(&c->out) > 0 ? POLLOUT : POLLIN, 0 };
		if (c->ask != NULL && n < max)
			pfd[n++] = (struct pollfd){ c->ask->fd,
			    buf_used(&c->ask->out) > 0 ? POLLOUT : POLLIN, 0 };
	}
	return n;
}

/* control_wait_ms - time until the next client must be dropped */
int
control_wait_ms(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < CTL_CONNS; i++) {
		const struct ctl_conn *c = &ctl.conns[i];
		if (c->fd != -1 && !c->held && c->deadline < next)
			next = c->deadline;
	}
	if (next == UINT64_MAX)
		return CTL_TIMEOUT_MS;
	return next <= now ? 0 : (int)(next - now);
}

/* peer_uid - who is at the other end; -1 (no one we trust) if unknown */
static uid_t
peer_uid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return (uid_t)-1;
	return cr.uid;
}

/* accept_conns - take the waiting clients of a socket, while room lasts */
static void
accept_conns(int which)
{
	struct ctl_conn *c;
	int fd;

	while ((c = free_conn()) != NULL) {
		fd = accept4(ctl.fd[which], NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("control accept: %m");
			return;
		}
		c->fd = fd;
		c->uid = peer_uid(fd);
		c->readonly = which == SOCK_RO ||
		    (c->uid != 0 && c->uid != geteuid());
		c->deadline = now_msec() + CTL_TIMEOUT_MS;
	}
}

static cJSON *
error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* error - an ERROR reply with a message */
static cJSON *
error(const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject();
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(o, "status", "ERROR");
	json_add_text(o, "message", msg, strlen(msg));
	return o;
}

/* request_reply - the reply to one request line */
static cJSON *
request_reply(struct ctl_conn *c, const char *line, size_t len)
{
	cJSON *req = cJSON_ParseWithLength(line, len), *reply;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(req, "type");
	int t;

	if (!cJSON_IsObject(req) || !cJSON_IsString(type)) {
		cJSON_Delete(req);
		return error("a request is a JSON object with a \"type\"");
	}
	if ((t = ctl_type_find(type->valuestring)) == -1)
		reply = error("unknown request type \"%.64s\"", type->valuestring);
	else if (c->readonly && ctl_type_writes(t))
		reply = error("%s is not allowed on a read-only control socket",
		    ctl_type_name(t));
	else {
		log_msg(ctl_type_writes(t) ? LOG_INFO : LOG_DEBUG,
		    "control: %s from uid %d", ctl_type_name(t), (int)c->uid);
		reply = handlers[t](c, req);
	}
	cJSON_Delete(req);
	return reply;
}

/* set_reply - print reply as the connection's output line */
static void
set_reply(struct ctl_conn *c, cJSON *reply)
{
	char *text = json_print_ascii(reply);	/* names may be any UTF-8 */
	size_t len = text ? strlen(text) : 0;

	cJSON_Delete(reply);
	if (text == NULL || len + 1 > CTL_REPLY_MAX) {
		cJSON_free(text);
		text = strdup("{\"status\":\"ERROR\",\"message\":"
		    "\"reply too large or out of memory\"}");
		len = text ? strlen(text) : 0;
	}
	buf_reset(&c->out);
	if (text == NULL || buf_append(&c->out, text, len) == -1 ||
	    buf_append(&c->out, "\n", 1) == -1) {
		cJSON_free(text);
		conn_close(c);
		return;
	}
	cJSON_free(text);
}

/* conn_write - send what the socket takes; done: close, or hold for stop */
static void
conn_write(struct ctl_conn *c)
{
	if (buf_send(&c->out, c->fd, NULL) == -1) {
		conn_close(c);
		return;
	}
	if (buf_used(&c->out) > 0)
		return;			/* the rest when the socket takes it */
	if (!c->held) {
		conn_close(c);
		return;
	}
	buf_free(&c->out);
}

/* conn_read - gather the request line; answer it once it is whole */
static void
conn_read(struct ctl_conn *c)
{
	char *lf;
	ssize_t n;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || c->held) {	/* a held client only hangs up */
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	if ((lf = memchr(c->in, '\n', c->inlen)) != NULL) {
		cJSON *reply = request_reply(c, c->in, (size_t)(lf - c->in));
		if (c->ask == NULL)		/* else realmd answers later */
			set_reply(c, reply);
	} else if (c->inlen == sizeof(c->in))
		set_reply(c, error("request longer than %d bytes",
		    CTL_REQUEST_MAX));
	if (c->fd != -1 && buf_used(&c->out) > 0)
		conn_write(c);
}

static struct ctl_conn *
conn_of(int fd)
{
	for (int i = 0; i < CTL_CONNS; i++)
		if (ctl.conns[i].fd == fd)
			return &ctl.conns[i];
	return NULL;
}

/* ask_of - the client whose request to realmd goes over fd */
static struct ctl_conn *
ask_of(int fd)
{
	for (int i = 0; i < CTL_CONNS; i++)
		if (ctl.conns[i].ask != NULL && ctl.conns[i].ask->fd == fd)
			return &ctl.conns[i];
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Requests that wait on realmd                                     */
/* ---------------------------------------------------------------- */

/* ask_start - send CHAN_ADDREALM to realmd; NULL: the client waits */
static cJSON *
ask_start(struct ctl_conn *c, const char *id, const char *host, uint64_t port)
{
	struct ctl_ask *a;
	cJSON *o;
	int e;

	if ((c->ask = a = calloc(1, sizeof(*a))) == NULL)
		return error("out of memory");
	a->fd = -1;
	a->req = ++ctl.next_req;
	snprintf(a->id, sizeof(a->id), "%s", id);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddNumberToObject(o, "port", (double)port);
	if (chan_put_json(&a->out, CHAN_ADDREALM, a->req, o) == -1 ||
	    (a->fd = chan_connect(master_config())) == -1) {
		e = errno;
		ask_end(c);
		if (e == ENAMETOOLONG)
			return error("the path of realmd's socket is too long");
		if (e == ENOENT || e == ECONNREFUSED)
			return error("realmd is not running: cannot add realm %s",
			    id);
		return error("cannot reach realmd: %s", strerror(e));
	}
	c->deadline = now_msec() + CTL_TIMEOUT_MS;
	return NULL;
}

/* ask_result - the reply to add_realm, from realmd's CHAN_RESULT */
static cJSON *
ask_result(const struct ctl_ask *a, const cJSON *j)
{
	const char *msg = chan_str(j, "message"), *peer = chan_str(j, "peer");
	const char *code = chan_str(j, "code");
	cJSON *o;

	if (chan_bool(j, "ok")) {
		o = reply_ok(msg != NULL ? msg : "added");
		cJSON_AddStringToObject(o, "realm", a->id);
		cJSON_AddStringToObject(o, "peer", peer != NULL ? peer : "");
	} else {
		o = error("cannot add realm %s: %s", a->id,
		    msg != NULL ? msg : "refused");
		cJSON_AddStringToObject(o, "code", code != NULL ? code :
		    "INTERNAL");
	}
	return o;
}

/* ask_finish - the wait is over: reply to the client, who may now take it */
static void
ask_finish(struct ctl_conn *c, cJSON *reply)
{
	ask_end(c);
	c->deadline = now_msec() + CTL_TIMEOUT_MS;
	set_reply(c, reply);
	if (c->fd != -1 && buf_used(&c->out) > 0)
		conn_write(c);
}

/* ask_flush - send what realmd takes of the request; -1 if it is gone */
static int
ask_flush(struct ctl_ask *a)
{
	return buf_send(&a->out, a->fd, NULL);
}

/* ask_read - take what realmd wrote; -1 if it hung up or says too much */
static int
ask_read(struct ctl_ask *a)
{
	char data[4096];

	for (;;) {
		ssize_t n = recv(a->fd, data, sizeof(data), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0 || buf_used(&a->in) + (size_t)n > ASK_IN_MAX ||
		    buf_append(&a->in, data, (size_t)n) == -1)
			return -1;
	}
}

/* ask_event - realmd can take the request, or has answered it */
static void
ask_event(struct ctl_conn *c)
{
	struct ctl_ask *a = c->ask;
	struct chan_msg m;
	const char *why;
	bool gone;
	int rc;

	/* an answer that came whole before the hang-up still counts */
	gone = ask_flush(a) == -1 || ask_read(a) == -1;
	while ((rc = chan_take(&a->in, CHAN_AT_ASKER, &m, &why)) == 1) {
		if (m.h.req == a->req) {
			cJSON *reply = ask_result(a, m.json);
			chan_msg_free(&m);
			ask_finish(c, reply);
			return;
		}
		chan_msg_free(&m);
	}
	if (rc == -1)
		ask_finish(c, error("realmd sent a malformed answer"));
	else if (gone)
		ask_finish(c, error("realmd closed the connection without an "
		    "answer"));
}

/* expire - drop the clients that did not finish in time */
static void
expire(uint64_t now)
{
	for (int i = 0; i < CTL_CONNS; i++) {
		struct ctl_conn *c = &ctl.conns[i];
		if (c->fd != -1 && c->ask != NULL && now >= c->deadline)
			ask_finish(c, error("no answer from realmd within %d s; "
			    "the link may still come up (see show realms)",
			    CTL_TIMEOUT_MS / 1000));
		else if (c->fd != -1 && !c->held && now >= c->deadline) {
			log_info("control: dropped a client (uid %d) too slow "
			    "to finish", (int)c->uid);
			conn_close(c);
		}
	}
}

/*
 * control_dispatch - act on what poll() reported.  Clients first, then
 * the listening sockets: a descriptor closed in the first pass may be
 * reused by an accept, and the second pass looks at no client entry.
 */
void
control_dispatch(const struct pollfd *pfd, int n)
{
	if (!ctl.ready)
		return;
	for (int i = 0; i < n; i++) {
		struct ctl_conn *c;
		if (pfd[i].revents == 0)
			continue;
		if ((c = conn_of(pfd[i].fd)) == NULL) {
			if ((c = ask_of(pfd[i].fd)) != NULL)
				ask_event(c);
		} else if (c->ask != NULL)
			conn_close(c);		/* hung up while realmd works */
		else if (buf_used(&c->out) > 0)
			conn_write(c);
		else
			conn_read(c);
	}
	for (int i = 0; i < n; i++)
		for (int s = 0; s < SOCK_COUNT; s++)
			if (pfd[i].revents != 0 && pfd[i].fd == ctl.fd[s])
				accept_conns(s);
	expire(now_msec());
}

/* ---------------------------------------------------------------- */
/* The requests                                                     */
/* ---------------------------------------------------------------- */

static cJSON *
do_status(struct ctl_conn *c, const cJSON *req)
{
	return admin_status();
}

static cJSON *
do_users(struct ctl_conn *c, const cJSON *req)
{
	return admin_users();
}

static cJSON *
do_sessions(struct ctl_conn *c, const cJSON *req)
{
	return admin_sessions();
}

static cJSON *
do_groups(struct ctl_conn *c, const cJSON *req)
{
	return admin_groups();
}

static cJSON *
do_stats(struct ctl_conn *c, const cJSON *req)
{
	return admin_stats();
}

/* do_kick - {"user": name}: end every session of that user */
static cJSON *
do_kick(struct ctl_conn *c, const cJSON *req)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(req, "user");
	unsigned ended;
	cJSON *o;

	if (!cJSON_IsString(user) ||
	    !name_valid(user->valuestring, strlen(user->valuestring)))
		return error("kick needs a user name");
	if (admin_kick(user->valuestring, &ended) == -1)
		return errno == ENOENT ?
		    error("no such user: %s", user->valuestring) :
		    error("kick %s: %s", user->valuestring, strerror(errno));
	log_notice("kicked %s: %u sessions ended (uid %d)",
	    user->valuestring, ended, (int)c->uid);
	o = reply_ok(NULL);
	cJSON_AddStringToObject(o, "user", user->valuestring);
	cJSON_AddNumberToObject(o, "sessions", ended);
	return o;
}

/* do_reload - reload; refused with the reason, or what needs a restart */
static cJSON *
do_reload(struct ctl_conn *c, const cJSON *req)
{
	struct reload_report r;
	cJSON *o, *keys;

	if (master_reload(&r) == -1)
		return error("reload refused: %s", r.why);
	o = reply_ok("reloaded");
	cJSON_AddNumberToObject(o, "workers", r.workers);
	keys = cJSON_AddArrayToObject(o, "restart_needed");
	for (int i = 0; i < r.nrestart; i++)
		cJSON_AddItemToArray(keys, cJSON_CreateString(r.restart[i]));
	cJSON_AddBoolToObject(o, "capacities_changed", r.capacities);
	return o;
}

/* do_stop - begin a graceful stop; the client stays until we are gone */
static cJSON *
do_stop(struct ctl_conn *c, const cJSON *req)
{
	char why[64];

	snprintf(why, sizeof(why), "realmctl stop, uid %d", (int)c->uid);
	c->held = true;
	master_stop(why);
	return reply_ok("stopping");
}

static cJSON *
do_realms(struct ctl_conn *c, const cJSON *req)
{
	return admin_realms();
}

/* realm_id - the "id" of req if it can name a link, else NULL */
static const char *
realm_id(const cJSON *req)
{
	const char *id = link_str(req, "id");

	if (id == NULL || !name_valid(id, strlen(id)) ||
	    token_shaped(id, strlen(id)))
		return NULL;
	return id;
}

/* do_addrealm - {"id", "host", "port"}: realmd dials; the reply waits */
static cJSON *
do_addrealm(struct ctl_conn *c, const cJSON *req)
{
	const char *id = realm_id(req), *host = link_str(req, "host");
	uint64_t port;

	if (id == NULL)
		return error("add realm needs an id: 1-%d of A-Za-z0-9_.-",
		    NAME_LEN);
	if (host == NULL || host[0] == '\0' || strlen(host) > HOST_LEN)
		return error("add realm needs a host of 1-%d bytes", HOST_LEN);
	if (!link_uint(req, "port", &port) || port < 1 || port > 65535)
		return error("add realm needs a port from 1 to 65535");
	return ask_start(c, id, host, port);
}

/* do_delrealm - {"id"}: drop a link; what arrived over it stays */
static cJSON *
do_delrealm(struct ctl_conn *c, const cJSON *req)
{
	const char *id = realm_id(req);
	struct realm_del d;
	cJSON *o;

	if (id == NULL)
		return error("del realm needs an id: 1-%d of A-Za-z0-9_.-",
		    NAME_LEN);
	if (admin_delrealm(id, &d) == -1)
		return errno == ENOENT ? error("no such realm: %s", id) :
		    error("del realm %s: %s", id, strerror(errno));
	log_notice("realm %s deleted: %u queued messages dropped, %u moved "
	    "to personal inboxes (uid %d)", id, d.dropped, d.moved,
	    (int)c->uid);
	o = reply_ok("deleted");
	cJSON_AddStringToObject(o, "realm", id);
	cJSON_AddNumberToObject(o, "dropped", d.dropped);
	cJSON_AddNumberToObject(o, "moved", d.moved);
	return o;
}
