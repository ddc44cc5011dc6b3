/*
 * NAME
 *	link - a realm link's life: its phases, its socket, its timers
 * DESCRIPTION
 *	A link's life: the dialer looks a host name up (PH_RESOLVING; an
 *	address needs no lookup), connects (PH_CONNECTING), says hello and
 *	runs TLS (PH_TLS), waits for the acceptor's challenge (PH_CHALLENGE),
 *	proves the secret and waits for the welcome (PH_WELCOME).  The
 *	acceptor (a connection a worker handed over) waits for the hello
 *	(PH_HELLO), runs TLS, then waits for the proof (PH_PROOF).  Both end
 *	in PH_UP, or closed; a dialer's link that closes is dialled again
 *	after a backoff that doubles up to realm_backoff_max.  Each phase but
 *	PH_UP must end within realm_wait.
 *
 *	Every change of phase is a row of link_table, run by link_fsm(): a
 *	row names the phase and event it takes, the phase it enters, and
 *	the action that then runs; an action's result is the next event
 *	(a refusal or a close overrides the row's phase).  A closed link
 *	stays in the list as PH_CLOSED, with its socket closed and its
 *	buffers freed, until peer_tick frees it: whoever holds a struct
 *	peer may look at its phase after any call, never at freed memory.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <bsd/string.h>

#include "lib/log.h"
#include "realmd/peer.h"

#define KEEPALIVE_MS	10000		/* ping a link quiet this long */
#define SILENT_MS	(3 * KEEPALIVE_MS)	/* then give it up */
#define OUT_MAX		(64u << 20)	/* unsent bytes of a peer that does not read */
#define HANDSHAKE_LINE_MAX (64u << 10)	/* a line before the link is up */
#define BACKOFF_MIN_MS	250

/*
 * Lines a peer can cause, at will and at any rate (a refused handshake,
 * a message out of sequence), are logged at most LOG_BURST times per
 * LOG_PERIOD_MS each; then one line says how many were left out.
 */
#define LOG_BURST	10
#define LOG_PERIOD_MS	10000

struct ratelog refusal_log;

static enum link_event up_frame_take(struct peer *);
static enum link_event ping_send(struct peer *);
static enum link_event went_silent(struct peer *);
static enum link_event lookup_slow(struct peer *);
static enum link_event handshake_slow(struct peer *);
static enum link_event peer_error(struct peer *);
static enum link_event refusal_send(struct peer *);
static enum link_event written_close(struct peer *);
static enum link_event link_closed(struct peer *);

enum role { R_ANY, R_DIAL, R_ACCEPT };

#define PH_ANY	((enum phase)-1)	/* from: any phase but PH_CLOSED */
#define PH_SAME	((enum phase)-2)	/* to: the phase does not change */

/*
 * The state machine, read top to bottom: the first row that fits the
 * link's phase, its role and the event is taken.  A frame event no row
 * takes is refused ("frame out of order"); any other is ignored.
 */
static const struct transition {
	enum phase	 from;
	enum role	 role;
	enum link_event	 ev;
	enum phase	 to;		/* entered before act runs */
	enum link_event	(*act)(struct peer *);
} link_table[] = {
	/* the dialer: find the peer, connect, hello, TLS, prove */
	{ PH_NEW,        R_DIAL,   LE_DIAL,           PH_RESOLVING,  dial_lookup },
	{ PH_RESOLVING,  R_DIAL,   LE_RESOLVED,       PH_CONNECTING, dial_connect },
	{ PH_CONNECTING, R_DIAL,   LE_CONNECT_FAILED, PH_CONNECTING, dial_retry },
	{ PH_CONNECTING, R_DIAL,   LE_CONNECTED,      PH_TLS,        hello_send },
	{ PH_TLS,        R_DIAL,   LE_TLS_UP,         PH_CHALLENGE,  NULL },
	{ PH_CHALLENGE,  R_DIAL,   LE_CHALLENGE,      PH_WELCOME,    challenge_take },
	{ PH_WELCOME,    R_DIAL,   LE_WELCOME,        PH_UP,         welcome_take },
	{ PH_RESOLVING,  R_DIAL,   LE_DEADLINE,       PH_SAME,       lookup_slow },
	/* the acceptor: hello, TLS, challenge, check the proof */
	{ PH_NEW,        R_ACCEPT, LE_HANDOFF,        PH_HELLO,      NULL },
	{ PH_HELLO,      R_ACCEPT, LE_HELLO,          PH_TLS,        hello_take },
	{ PH_TLS,        R_ACCEPT, LE_TLS_UP,         PH_PROOF,      challenge_send },
	{ PH_PROOF,      R_ACCEPT, LE_PROOF,          PH_UP,         proof_take },
	/* both, once up */
	{ PH_UP,         R_ANY,    LE_FRAME,          PH_SAME,       up_frame_take },
	{ PH_UP,         R_ANY,    LE_QUIET,          PH_SAME,       ping_send },
	{ PH_UP,         R_ANY,    LE_SILENT,         PH_SAME,       went_silent },
	/* the end, from any phase */
	{ PH_ANY,        R_ANY,    LE_DEADLINE,       PH_SAME,       handshake_slow },
	{ PH_ANY,        R_ANY,    LE_PEER_ERROR,     PH_SAME,       peer_error },
	{ PH_CLOSING,    R_ANY,    LE_REFUSE,         PH_SAME,       NULL },
	{ PH_ANY,        R_ANY,    LE_REFUSE,         PH_CLOSING,    refusal_send },
	{ PH_CLOSING,    R_ANY,    LE_WRITTEN,        PH_CLOSED,     written_close },
	{ PH_ANY,        R_ANY,    LE_CLOSE,          PH_CLOSED,     link_closed },
};

/* transition_find - the row for p and ev, or NULL */
static const struct transition *
transition_find(const struct peer *p, enum link_event ev)
{
	enum role r = p->dialer ? R_DIAL : R_ACCEPT;

	for (size_t i = 0; i < ARRAY_LEN(link_table); i++) {
		const struct transition *t = &link_table[i];
		if (t->ev == ev && (t->from == PH_ANY || t->from == p->phase) &&
		    (t->role == R_ANY || t->role == r))
			return t;
	}
	return NULL;
}

/* link_fsm - p takes event ev, and whatever events its actions lead to */
void
link_fsm(struct peer *p, enum link_event ev)
{
	while (ev != LE_NONE && p->phase != PH_CLOSED) {
		const struct transition *t = transition_find(p, ev);

		if (t == NULL) {
			ev = ev >= LE_CHALLENGE && ev <= LE_FRAME ?
			    link_refusal(p, "frame out of order") : LE_NONE;
			continue;
		}
		if (t->to != PH_SAME)
			p->phase = t->to;
		ev = t->act != NULL ? t->act(p) : LE_NONE;
	}
}

/* link_refusal - LE_REFUSE, saying why */
enum link_event
link_refusal(struct peer *p, const char *why)
{
	strlcpy(p->why, why, sizeof(p->why));
	return LE_REFUSE;
}

/* link_closing - LE_CLOSE, saying why (NULL: no reason to give) */
enum link_event
link_closing(struct peer *p, const char *why)
{
	strlcpy(p->why, why != NULL ? why : "", sizeof(p->why));
	return LE_CLOSE;
}

/* link_fail - close p now (nothing if it is closed already) */
void
link_fail(struct peer *p, const char *why)
{
	if (p->phase != PH_CLOSED)
		link_fsm(p, link_closing(p, why));
}

/* log_limited - log a line unless this kind came too often lately */
void
log_limited(struct ratelog *r, int prio, const char *fmt, ...)
{
	uint64_t now = now_msec();
	char line[512];
	va_list ap;

	if (now - r->start >= LOG_PERIOD_MS) {
		if (r->dropped > 0)
			log_msg(prio, "(%u more lines like the last were not "
			    "logged)", r->dropped);
		r->start = now;
		r->n = 0;
		r->dropped = 0;
	}
	if (r->n >= LOG_BURST) {
		r->dropped++;
		return;
	}
	r->n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(prio, "%s", line);
}

/*
 * line_max - the longest line p may send: a frame of a link that is up
 * carries up to a file; a handshake line is small, and is all an
 * unauthenticated peer can make realmd hold
 */
static uint64_t
line_max(const struct peer *p)
{
	return p->phase == PH_UP ? rd.cf->max_line + 4096 : HANDSHAKE_LINE_MAX;
}

/* set_link - the state of link realm the others see */
void
set_link(uint32_t realm, enum link_state s)
{
	struct shm_realm *r;

	if (realm == 0 || realm > REALMS_MAX)
		return;
	r = &rd.st->realms[realm];
	if (r->link != (uint32_t)s)
		r->since = now_sec();
	r->link = (uint32_t)s;
}

/*
 * tls_out - what waits to be sent, encrypted into p->out once TLS is up
 * (until then nothing but the hello line and TLS's own records go out);
 * 0, or -1 when p was closed
 */
static int
tls_out(struct peer *p)
{
	if (p->ssl == NULL)
		return 0;
	if ((tls_ready(p->ssl) && buf_used(&p->text) > 0 &&
	    tls_seal(p->ssl, &p->text) == -1) ||
	    tls_drain(p->ssl, &p->out) == -1) {
		link_fail(p, "TLS: cannot encrypt");
		return -1;
	}
	return 0;
}

void
peer_flush(struct peer *p)
{
	/* closing, nothing more is read: input left waiting must not wake us */
	struct epoll_event e = { .events = p->phase == PH_CLOSING ? 0 :
	    EPOLLIN | EPOLLRDHUP, .data.ptr = p };

	if (p->phase == PH_RESOLVING || p->phase == PH_CONNECTING ||
	    p->phase == PH_CLOSED)
		return;
	if (tls_out(p) == -1)
		return;
	if (buf_send(&p->out, p->fd, NULL) == -1) {
		link_fail(p, strerror(errno));
		return;
	}
	if (buf_used(&p->out) > 0)
		e.events |= EPOLLOUT;
	else {
		buf_free(&p->out);
		if (p->phase == PH_CLOSING) {
			link_fsm(p, LE_WRITTEN);
			return;
		}
	}
	if (e.events != p->events &&
	    epoll_ctl(rd.epfd, EPOLL_CTL_MOD, p->fd, &e) == 0)
		p->events = e.events;
}

/* unsent - bytes waiting for the peer, encrypted or not yet */
size_t
unsent(const struct peer *p)
{
	return buf_used(&p->out) + buf_used(&p->text);
}

/*
 * send_frame - o (freed) to the peer; written now unless p is batching.
 * A closed link takes nothing: its buffers are gone.
 */
void
send_frame(struct peer *p, cJSON *o)
{
	if (p->phase == PH_CLOSED) {
		cJSON_Delete(o);
		return;
	}
	if (unsent(p) > OUT_MAX) {
		cJSON_Delete(o);
		link_fail(p, "the peer does not read");
		return;
	}
	if (link_send(p->ssl != NULL ? &p->text : &p->out, o) == -1) {
		link_fail(p, "out of memory");
		return;
	}
	if (!p->batching)
		peer_flush(p);
}

/* refusal_send - tell the peer why (p->why), then hang up once written */
static enum link_event
refusal_send(struct peer *p)
{
	cJSON *o = cJSON_CreateObject();

	log_limited(&refusal_log, LOG_WARNING, "realm link %s%s: %s",
	    p->peer_name[0] ? "with " : "", p->peer_name, p->why);
	cJSON_AddStringToObject(o, "t", "error");
	cJSON_AddStringToObject(o, "code", code_name(E_REALM_UNREACHABLE));
	cJSON_AddStringToObject(o, "message", p->why);
	if (p->ask != NULL) {
		char msg[sizeof(p->why) + 32];
		snprintf(msg, sizeof(msg), "Realm Unreachable: %s", p->why);
		realmd_error(p->ask, p->ask_req, E_REALM_UNREACHABLE, msg);
		p->ask = NULL;
	}
	send_frame(p, o);
	return LE_NONE;
}

/* peer_error - the peer hung up and said why: close */
static enum link_event
peer_error(struct peer *p)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "refused by the peer: %s",
	    link_str(p->frame->json, "message"));
	log_warn("realm link to %s: %s", p->peer_name[0] ? p->peer_name :
	    p->host, msg);
	return link_closing(p, msg);
}

static enum link_event
lookup_slow(struct peer *p)
{
	return link_closing(p, "looking the host name up took too long");
}

static enum link_event
handshake_slow(struct peer *p)
{
	return link_closing(p, "the handshake took too long");
}

static enum link_event
went_silent(struct peer *p)
{
	return link_closing(p, "the peer went silent");
}

/* ping_send - a keepalive (q 0: no answer is waited for) */
static enum link_event
ping_send(struct peer *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "t", "ping");
	cJSON_AddNumberToObject(o, "q", 0);
	send_frame(p, o);
	return LE_NONE;
}

/* peer_watch - p->fd into the epoll set, for p->events */
int
peer_watch(struct peer *p)
{
	int one = 1;

	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return watch_fd(p->fd, p->events, p);
}

/* peer_new - a peer on fd (an acceptor's), or on none yet (a dialer's) */
struct peer *
peer_new(int fd, bool dialer)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->tag = TAG_PEER;
	p->phase = PH_NEW;
	p->fd = fd;
	p->dialer = dialer;
	p->events = EPOLLIN | EPOLLRDHUP;
	p->last_in = now_msec();
	p->deadline = p->last_in + rd.cf->realm_wait * 1000;
	if (fd != -1 && peer_watch(p) == -1) {
		free(p);
		return NULL;
	}
	p->next = rd.peers;
	rd.peers = p;
	return p;
}

/* link_down - a dialer's link is dialled again later, an acceptor's waits */
void
link_down(uint32_t realm, const char *why)
{
	struct link_rt *l = &rd.links[realm];
	struct shm_realm *r = realm_at(rd.st, realm);

	l->conn = NULL;
	waiters_fail_link(realm);
	if (r == NULL)
		return;
	if (r->link == LINK_UP)
		log_notice("realm %s down: %s", r->name, why ? why : "closed");
	if (r->flags & RF_DIALER) {
		uint64_t max = rd.cf->realm_backoff_max * 1000;
		l->backoff_ms = l->backoff_ms == 0 ? BACKOFF_MIN_MS :
		    l->backoff_ms * 2 > max ? max : l->backoff_ms * 2;
		l->retry_at = now_msec() + l->backoff_ms;
		set_link(realm, LINK_BACKOFF);
	} else
		set_link(realm, LINK_DOWN);
}

/* written_close - the refusal is out: close, with nothing more to say */
static enum link_event
written_close(struct peer *p)
{
	p->why[0] = '\0';
	return link_closed(p);
}

/*
 * link_closed - p is done (p->why says why): whoever waits on it is
 * answered, its link goes down, its socket and buffers go; the struct
 * itself stays, PH_CLOSED, until peers_reap frees it
 */
static enum link_event
link_closed(struct peer *p)
{
	const char *why = p->why[0] != '\0' ? p->why : NULL;

	if (p->ask != NULL) {
		char msg[sizeof(p->why) + 32];
		snprintf(msg, sizeof(msg), "Realm Unreachable: %s",
		    why ? why : "connection closed");
		realmd_error(p->ask, p->ask_req, E_REALM_UNREACHABLE, msg);
		p->ask = NULL;
	}
	if (p->realm != 0 && rd.links[p->realm].conn == p)
		link_down(p->realm, why);
	if (p->lookup != NULL)
		lookup_drop(p->lookup);
	p->lookup = NULL;
	if (p->fd != -1) {
		/*
		 * A handed-over socket may still be open in the worker that
		 * passed it: close() alone would leave it in our epoll set.
		 */
		epoll_ctl(rd.epfd, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
	}
	p->fd = -1;
	if (p->addrs != NULL)
		freeaddrinfo(p->addrs);
	p->addrs = p->addr_next = NULL;
	if (p->ssl != NULL)
		tls_free(p->ssl);
	p->ssl = NULL;
	buf_free(&p->in);
	buf_free(&p->text);
	buf_free(&p->out);
	return LE_NONE;
}

/* peers_reap - free the links that closed (no call holds them now) */
static void
peers_reap(void)
{
	for (struct peer **pp = &rd.peers; *pp != NULL;) {
		struct peer *p = *pp;

		if (p->phase != PH_CLOSED) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
}

/* up_frame_take - a frame of a link that is up */
static enum link_event
up_frame_take(struct peer *p)
{
	const struct link_frame *f = p->frame;

	switch (f->type) {
	case LT_MSG:
		msg_take(p, f);
		break;
	case LT_VERDICT:
		verdict_take(p, f);
		break;
	case LT_PING:
		send_reply(p, f->q, E_COUNT, f->q != 0 ?
		    "Connect realm berhasil" : NULL, NULL);
		break;
	case LT_JOIN:
		join_start(p, f);
		break;
	case LT_HISTORY:
		history_serve(p, f);
		break;
	case LT_REPLY:
		reply_take(p, f);
		break;
	default:
		return link_refusal(p, "frame out of order");
	}
	return LE_NONE;
}

/* frame_event - the event a frame of type t is */
static enum link_event
frame_event(enum link_type t)
{
	switch (t) {
	case LT_ERROR:
		return LE_PEER_ERROR;
	case LT_CHALLENGE:
		return LE_CHALLENGE;
	case LT_PROOF:
		return LE_PROOF;
	case LT_WELCOME:
		return LE_WELCOME;
	default:
		return LE_FRAME;
	}
}

/* line_take - one line from the peer: the hello, or a frame */
static void
line_take(struct peer *p, const char *line, size_t len)
{
	struct link_frame f;
	const char *why;

	if (p->phase == PH_HELLO) {
		p->line = line;
		p->line_len = len;
		link_fsm(p, LE_HELLO);
		p->line = NULL;
		return;
	}
	if (link_parse(line, len, &f, &why) == -1) {
		link_fsm(p, link_refusal(p, why));
		return;
	}
	p->frame = &f;
	link_fsm(p, frame_event(f.type));
	p->frame = NULL;
	link_frame_free(&f);
}

/* take_line - handle the first whole line of p->in; false if none is */
static bool
take_line(struct peer *p)
{
	char *head = buf_head(&p->in), *nl, *line;
	size_t used = buf_used(&p->in), n;

	if ((nl = memchr(head + p->scanned, '\n', used - p->scanned)) == NULL) {
		p->scanned = used;
		if (used > line_max(p))
			link_fsm(p, link_refusal(p, "frame too large"));
		return false;
	}
	n = (size_t)(nl - head);
	p->scanned = 0;
	/* the frame is handled from a copy: handling may grow p->in */
	if ((line = malloc(n + 1)) == NULL) {
		link_fail(p, "out of memory");
		return false;
	}
	memcpy(line, head, n);
	line[n] = '\0';
	buf_consume(&p->in, n + 1);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > 0)
		line_take(p, line, n);
	free(line);
	return true;
}

/*
 * take_lines - handle every whole line in p->in; what they answer is
 * written once, after the last of them
 */
static void
take_lines(struct peer *p)
{
	p->batching = true;
	while (p->phase < PH_CLOSING && buf_used(&p->in) > 0 && take_line(p))
		;
	p->batching = false;
	peer_flush(p);
}

/*
 * take_bytes - n bytes from the socket: plain text before TLS starts (the
 * acceptor's hello), else TLS records.  A dialer whose hello was refused
 * gets the refusal as a plain line instead of TLS: it starts with '{',
 * which no TLS record does.  0, or -1 when p was closed.
 */
static int
take_bytes(struct peer *p, const char *data, size_t n)
{
	if (p->ssl != NULL && !(p->dialer && !p->tls_seen &&
	    (data[0] == '{' || buf_used(&p->in) > 0))) {
		p->tls_seen = true;
		link_fsm(p, tls_take(p, data, n));
		return p->phase == PH_CLOSED ? -1 : 0;
	}
	if (buf_append(&p->in, data, n) == -1) {
		link_fail(p, "out of memory");
		return -1;
	}
	return 0;
}

/* peer_read - what the socket holds, into p; false when p is done reading */
static bool
peer_read(struct peer *p)
{
	char data[64 * 1024];

	for (;;) {
		ssize_t n;
		if (p->phase >= PH_CLOSING)
			return false;
		n = recv(p->fd, data, sizeof(data), MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			link_fail(p, strerror(errno));
			return false;
		}
		if (n == 0) {
			take_lines(p);
			link_fail(p, "the peer closed the link");
			return false;
		}
		p->last_in = now_msec();
		if (take_bytes(p, data, (size_t)n) == -1)
			return false;
		if (buf_used(&p->in) > line_max(p) + sizeof(data))
			return true;	/* handle what we have first */
	}
}

/* connect_event - how the TCP connect of p ended */
static enum link_event
connect_event(struct peer *p, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err == 0 && !(events & (EPOLLERR | EPOLLHUP)))
		return LE_CONNECTED;
	strlcpy(p->why, strerror(err ? err : ECONNREFUSED), sizeof(p->why));
	return LE_CONNECT_FAILED;
}

/* peer_event - epoll says the link's socket is ready (events 0: input waits) */
void
peer_event(struct peer *p, uint32_t events)
{
	if (p->phase == PH_CLOSED)	/* closed earlier in this round */
		return;
	if (p->phase == PH_CONNECTING && (events & (EPOLLOUT | EPOLLERR |
	    EPOLLHUP))) {
		link_fsm(p, connect_event(p, events));
		return;
	}
	if (events & EPOLLOUT)
		peer_flush(p);
	if (peer_read(p))
		take_lines(p);
}

/* peer_tick - timers: handshakes, keepalives, links to dial, verdicts */
void
peer_tick(uint64_t now)
{
	peers_reap();
	early_tick(now);
	lookups_tick();
	for (struct peer *p = rd.peers; p != NULL; p = p->next) {
		if (p->phase == PH_CLOSED)
			continue;
		if (p->phase != PH_UP && p->deadline <= now)
			link_fsm(p, LE_DEADLINE);
		else if (p->phase == PH_UP && now - p->last_in > SILENT_MS)
			link_fsm(p, LE_SILENT);
		else if (p->phase == PH_UP && now - p->last_in > KEEPALIVE_MS &&
		    now - p->last_ping > KEEPALIVE_MS) {
			p->last_ping = now;
			link_fsm(p, LE_QUIET);
		}
	}
	links_tick(now);
}

/* peer_chan_gone - a worker went away: nobody to answer for it */
void
peer_chan_gone(struct chan *c)
{
	for (struct peer *p = rd.peers; p != NULL; p = p->next)
		if (p->ask == c)
			p->ask = NULL;
}

/* peer_close_all - realmd starts or stops: no link is up */
void
peer_close_all(void)
{
	for (struct peer *p = rd.peers; p != NULL; p = p->next)
		link_fail(p, "realmd stopping");
	peers_reap();
	for (uint32_t i = 1; i <= REALMS_MAX; i++)
		if (realm_at(rd.st, i) != NULL)
			set_link(i, LINK_DOWN);
}
