/*
 * NAME
 *	conn - the client's connection: frames, requests, session, reconnect
 * DESCRIPTION
 *	Every reply and every pushed event is one JSON object followed by
 *	"\r\n\r\n"; JSON text never holds a raw CR or LF, so the separator
 *	alone splits frames.  An object with an "event" key is a push and is
 *	shown at once; any other frame is the reply to the oldest request,
 *	and requests are answered in order, so one outstanding request at a
 *	time is all the bookkeeping needed.
 *
 *	A lost connection is dialled again and the session restored: the
 *	token is kept when the server still knows it (then sent as the
 *	first argument of every command that needs a session, since the new
 *	connection is not bound to it), else the user logs in again.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/realmchat.h"
#include "lib/request.h"
#include "lib/util.h"

#define FRAME_END	"\r\n\r\n"
#define READ_CHUNK	65536

/* conn_drop - drop the connection; the session token stays */
void
conn_drop(struct rc *rc)
{
	if (rc->fd != -1)
		close(rc->fd);
	rc->fd = -1;
	buf_reset(&rc->in);
	rc->scan = 0;
	rc->bound = false;
	rc->watching = false;
}

/* tcp_connect - a connected socket to host:port, or -1 with errno set */
static int
tcp_connect(const char *host, const char *port, int *gai)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, err = ECONNREFUSED;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if ((*gai = getaddrinfo(host, port, &hints, &res)) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = err;
	return fd;
}

/* conn_open - connect to the server; report why not unless quiet */
int
conn_open(struct rc *rc, bool quiet)
{
	int gai;

	conn_drop(rc);
	if ((rc->fd = tcp_connect(rc->host, rc->port, &gai)) != -1)
		return 0;
	if (quiet)
		return -1;
	if (gai != 0)
		show_error(rc, "cannot find %s: %s", rc->host, gai_strerror(gai));
	else if (errno == ECONNREFUSED)
		show_error(rc, "connection refused by %s port %s: is the "
		    "server running?", rc->host, rc->port);
	else
		show_error(rc, "cannot connect to %s port %s: %s", rc->host,
		    rc->port, strerror(errno));
	return -1;
}

/* frame_take - the next complete frame from the input, malloc'd, or NULL */
static char *
frame_take(struct rc *rc)
{
	char *head = buf_head(&rc->in), *end, *f;
	size_t used = buf_used(&rc->in), from, len;

	if (used < 4)
		return NULL;
	from = rc->scan > 3 ? rc->scan - 3 : 0;
	end = memmem(head + from, used - from, FRAME_END, 4);
	if (end == NULL) {
		rc->scan = used;
		return NULL;
	}
	len = (size_t)(end - head);
	if ((f = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(f, head, len);
	f[len] = '\0';
	buf_consume(&rc->in, len + 4);
	rc->scan = 0;
	return f;
}

/* fill - read what the socket has, waiting up to timeout_ms; -1 if lost */
static int
fill(struct rc *rc, int timeout_ms)
{
	struct pollfd p = { rc->fd, POLLIN, 0 };
	ssize_t n;
	int r;

	if ((r = poll(&p, 1, timeout_ms)) <= 0)
		return r == 0 || errno == EINTR ? 0 : -1;
	if (buf_reserve(&rc->in, READ_CHUNK) == -1)
		return -1;
	n = read(rc->fd, rc->in.data + rc->in.len, READ_CHUNK);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return -1;
	rc->in.len += (size_t)n;
	return 1;
}

/*
 * next_frame - the next frame that is not a push, showing pushes on the
 * way; 1 with *out (parsed) and *raw, 0 on timeout, -1 if the connection
 * is lost.  A frame that is not JSON is handed on as a NULL reply.
 */
static int
next_frame(struct rc *rc, int timeout_ms, cJSON **out, char **raw)
{
	uint64_t until = now_msec() + (uint64_t)timeout_ms, now;
	bool tried = false;
	char *f;
	cJSON *o;

	for (;;) {
		while ((f = frame_take(rc)) != NULL) {
			o = cJSON_Parse(f);
			if (o != NULL && cJSON_GetObjectItem(o, "event") != NULL) {
				show_event(rc, o, f);
				cJSON_Delete(o);
				free(f);
				continue;
			}
			*out = o;
			*raw = f;
			return 1;
		}
		/* read at least once, even with no time to wait */
		if ((now = now_msec()) >= until && tried)
			return 0;
		if (fill(rc, now >= until ? 0 : (int)(until - now)) == -1)
			return -1;
		tried = true;
	}
}

/* conn_pump - show what the server pushed, waiting up to timeout_ms */
int
conn_pump(struct rc *rc, int timeout_ms)
{
	cJSON *o = NULL;
	char *raw = NULL;
	int r;

	if (rc->fd == -1)
		return -1;
	r = next_frame(rc, timeout_ms, &o, &raw);
	if (r == 1) {
		/* a reply nobody asked for: show it rather than lose it */
		show_reply(rc, "", o, raw);
		cJSON_Delete(o);
		free(raw);
		return 0;
	}
	return r == -1 ? -1 : 0;
}

/* token_slot - where the token goes in line, or -1 if it needs none */
static int
token_slot(const char *line, size_t len)
{
	static const char *const free_cmds[] = {
		"auth", "register", "realmlink", "help", NULL
	};
	struct request_line rl;

	request_split(line, len, &rl);
	if (rl.nwords == 0)
		return -1;
	for (int i = 0; free_cmds[i] != NULL; i++)
		if (word_is(&rl.w[0], free_cmds[i]))
			return -1;
	if (word_is(&rl.w[0], "group") && rl.nwords >= 2)
		return rl.nwords >= 3 && token_shaped(rl.w[2].p, rl.w[2].len) ?
		    -1 : (int)(rl.w[1].p + rl.w[1].len - line);
	if (rl.nwords >= 2 && token_shaped(rl.w[1].p, rl.w[1].len))
		return -1;
	return (int)(rl.w[0].p + rl.w[0].len - line);
}

/*
 * send_line - write one request, with the token put in when unbound, in
 * one write: a line end sent apart would wait for the server's delayed
 * acknowledgement of the line (Nagle), some 40 ms a command.
 */
static int
send_line(struct rc *rc, const char *line, size_t len)
{
	size_t tlen = strlen(rc->token), n = 0;
	int slot = -1, r;
	char *out;

	if (!rc->bound && tlen > 0)
		slot = token_slot(line, len);
	if ((out = malloc(len + tlen + 4)) == NULL)
		return -1;
	if (slot >= 0) {
		memcpy(out, line, (size_t)slot);
		out[slot] = ' ';
		memcpy(out + slot + 1, rc->token, tlen);
		n = (size_t)slot + 1 + tlen;
		memcpy(out + n, line + slot, len - (size_t)slot);
		n += len - (size_t)slot;
	} else {
		memcpy(out, line, len);
		n = len;
	}
	memcpy(out + n, "\r\n", 2);
	r = write_full(rc->fd, out, n + 2);
	free(out);
	return r;
}

/*
 * session_ended - a NO_SESSION reply to a request made with a session
 * that the client can open again (it has the password): the session was
 * ended under it (kicked, timed out), and the request did not run.
 */
static bool
session_ended(struct rc *rc, const cJSON *r)
{
	const char *code = reply_str(r, "code");

	return code != NULL && strcmp(code, "NO_SESSION") == 0 &&
	    rc->token[0] != '\0' && rc->user != NULL &&
	    rc->password != NULL && !rc->reconnecting;
}

/* exchange - send one line, read its reply: 1, 0 on timeout, -1 if lost */
static int
exchange(struct rc *rc, const char *line, size_t len, cJSON **reply,
    char **raw)
{
	*reply = NULL;
	*raw = NULL;
	if (send_line(rc, line, len) == -1)
		return -1;
	return next_frame(rc, rc->reply_ms, reply, raw);
}

/* login_again - after session_ended(): log in, then send the line again */
static int
login_again(struct rc *rc, const char *line, size_t len, cJSON **reply,
    char **raw)
{
	bool was_watching = rc->watching;

	rc->token[0] = '\0';
	rc->reconnecting = true;	/* a failure here ends it */
	if (conn_login(rc, rc->user, rc->password) == -1) {
		rc->reconnecting = false;
		if (rc->fd != -1)
			return 1;	/* refused: the NO_SESSION reply stands */
		cJSON_Delete(*reply);
		free(*raw);
		*reply = NULL;
		*raw = NULL;
		return -1;
	}
	rc->reconnecting = false;
	show_note(rc, "the session had ended; logged in again as %s",
	    rc->user);
	if (was_watching)
		conn_watch(rc);
	cJSON_Delete(*reply);
	free(*raw);
	return exchange(rc, line, len, reply, raw);
}

/*
 * conn_request_raw - send one line and wait for its reply: 0 with *reply
 * (NULL if the reply was not JSON) and *raw, -1 if the connection was
 * lost or the reply did not come (the connection is then restored, if
 * it can be, but the request is not sent again: it may have run).  A
 * request refused for want of a session is sent again after a login.
 */
int
conn_request_raw(struct rc *rc, const char *line, size_t len, cJSON **reply,
    char **raw)
{
	int r;

	*reply = NULL;
	*raw = NULL;
	if (rc->fd == -1 && conn_reconnect(rc) == -1)
		return -1;
	r = exchange(rc, line, len, reply, raw);
	if (r == 1 && session_ended(rc, *reply))
		r = login_again(rc, line, len, reply, raw);
	if (r == 1)
		return 0;
	if (rc->reconnecting) {
		conn_drop(rc);
		return -1;
	}
	if (r == 0)
		show_error(rc, "no reply from the server in %d s",
		    rc->reply_ms / 1000);
	else
		show_error(rc, "connection to %s port %s lost", rc->host,
		    rc->port);
	if (conn_reconnect(rc) == 0)
		show_note(rc, "the last command may not have run; check before "
		    "repeating it");
	return -1;
}

/* conn_request - conn_request_raw without the raw text */
int
conn_request(struct rc *rc, const char *line, size_t len, cJSON **reply)
{
	char *raw;
	int r = conn_request_raw(rc, line, len, reply, &raw);

	free(raw);
	return r;
}

/* reply_ok - the reply says "status": "OK" */
bool
reply_ok(const cJSON *r)
{
	const char *s = reply_str(r, "status");

	return s != NULL && strcasecmp(s, "OK") == 0;
}

/* reply_str - a string member of a reply, or NULL */
const char *
reply_str(const cJSON *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* remember_session - keep the token of a successful auth or register */
static void
remember_session(struct rc *rc, const cJSON *r)
{
	const char *tok = reply_str(r, "tokenid");

	if (tok == NULL)
		tok = reply_str(r, "tokenId");
	if (tok == NULL || strlen(tok) >= sizeof(rc->token))
		return;
	strcpy(rc->token, tok);
	rc->bound = true;
}

/*
 * conn_login - "auth user password" on this connection: 0 if it was
 * accepted, -1 (reported) if not.  The password is kept for reconnects.
 */
int
conn_login(struct rc *rc, const char *user, const char *password)
{
	char line[512];
	cJSON *r;
	int n;

	n = snprintf(line, sizeof(line), "auth %s %s", user, password);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		show_error(rc, "user name or password too long");
		return -1;
	}
	if (conn_request(rc, line, (size_t)n, &r) == -1)
		return -1;
	if (!reply_ok(r)) {
		const char *m = reply_str(r, "message");
		show_error(rc, "login as %s refused: %s", user,
		    m != NULL ? m : "no reason given");
		cJSON_Delete(r);
		return -1;
	}
	remember_session(rc, r);
	cJSON_Delete(r);
	return 0;
}

/* conn_note_login - a typed auth or register: keep what a reconnect needs */
void
conn_note_login(struct rc *rc, const char *user, const char *password,
    const cJSON *r)
{
	static char userbuf[64];

	if (!reply_ok(r))
		return;
	remember_session(rc, r);
	snprintf(userbuf, sizeof(userbuf), "%s", user);
	rc->user = userbuf;
	free(rc->password);
	rc->password = strdup(password);
}

/* token_known - the server still has our session: 1, 0, or -1 if no answer */
static int
token_known(struct rc *rc)
{
	char line[128];
	cJSON *r = NULL;
	char *raw = NULL;
	int n, known;

	n = snprintf(line, sizeof(line), "whoami %s", rc->token);
	if (send_line(rc, line, (size_t)n) == -1 ||
	    next_frame(rc, rc->reply_ms, &r, &raw) != 1)
		return -1;
	known = reply_ok(r);
	cJSON_Delete(r);
	free(raw);
	return known;
}

/*
 * restore_session - after a reconnect: keep the token, or log in again.
 * 0 when done, -1 if the login was refused, -2 if the new connection
 * failed too (a server still going down may accept and never answer).
 */
static int
restore_session(struct rc *rc)
{
	bool was_watching = rc->watching;
	int known = rc->token[0] != '\0' ? token_known(rc) : 0;

	if (known == -1)
		return -2;
	if (known == 1) {
		show_note(rc, "reconnected; session kept");
	} else if (rc->user != NULL && rc->password != NULL) {
		rc->token[0] = '\0';
		if (conn_login(rc, rc->user, rc->password) == -1)
			return rc->fd == -1 ? -2 : -1;
		show_note(rc, "reconnected; logged in again as %s", rc->user);
	} else {
		rc->token[0] = '\0';
		show_note(rc, "reconnected");
	}
	if (was_watching || (rc->interactive && rc->token[0] != '\0'))
		conn_watch(rc);
	return 0;
}

/* reconnect_until - connect again until the deadline; -1 if it passed */
static int
reconnect_until(struct rc *rc, uint64_t until, int *wait)
{
	while (conn_open(rc, true) == -1) {
		if (now_msec() >= until)
			return -1;
		usleep((useconds_t)*wait * 1000);
		if (*wait < 2000)
			*wait *= 2;
	}
	return 0;
}

/*
 * conn_reconnect - dial again for up to retry_ms, then restore the
 * session; -1 (reported) if the server stays away.  Answers are awaited
 * for 5 s at most meanwhile, so a dying server cannot hold us.
 */
int
conn_reconnect(struct rc *rc)
{
	uint64_t until = now_msec() + (uint64_t)rc->retry_ms;
	int wait = 200, r = -2, saved = rc->reply_ms;

	conn_drop(rc);
	show_note(rc, "reconnecting to %s port %s ...", rc->host, rc->port);
	/* a failure while restoring must not start another reconnect */
	rc->reconnecting = true;
	rc->reply_ms = saved < 5000 ? saved : 5000;
	/* a server that takes connections but never answers: give up too */
	while (r == -2 && now_msec() < until &&
	    reconnect_until(rc, until, &wait) == 0) {
		if ((r = restore_session(rc)) == -2)
			conn_drop(rc);
	}
	rc->reply_ms = saved;
	rc->reconnecting = false;
	if (r == -2)
		conn_open(rc, false);	/* says why */
	return r == 0 ? 0 : -1;
}

/*
 * conn_watch - ask the server to push messages; without push (an older
 * server, or a classroom one) the client polls inbox instead.
 */
int
conn_watch(struct rc *rc)
{
	cJSON *r = NULL;
	char *raw = NULL;

	rc->watching = false;
	if (rc->no_watch || rc->token[0] == '\0' || rc->fd == -1)
		return -1;
	if (send_line(rc, "watch", 5) == -1)
		return -1;
	if (next_frame(rc, rc->reply_ms, &r, &raw) != 1) {
		conn_drop(rc);		/* a late reply would answer the next request */
		return -1;
	}
	if (reply_ok(r))
		rc->watching = true;
	else if (r == NULL || reply_str(r, "code") == NULL ||
	    strcmp(reply_str(r, "code"), "BAD_COMMAND") == 0)
		rc->no_watch = true;	/* an unknown command: poll */
	cJSON_Delete(r);
	free(raw);
	return rc->watching ? 0 : -1;
}
