/*
 * NAME
 *	peer - realm links: dialing, the handshake, and the frames they carry
 * DESCRIPTION
 *	A link's life: the dialer looks a host name up (PH_RESOLVING; an
 *	address needs no lookup), connects (PH_CONNECTING), says hello and
 *	waits for the acceptor's challenge (PH_CHALLENGE), proves the secret
 *	and waits for the welcome (PH_WELCOME).  The acceptor (a connection
 *	a worker handed over) waits for the hello (PH_HELLO), then for the
 *	proof (PH_PROOF).  Both end in PH_UP, or closed; a dialer's link
 *	that closes is dialled again after a backoff that doubles up to
 *	realm_backoff_max.  Each phase but PH_UP must end within realm_wait.
 *
 *	Once up, the outbox is sent oldest first, at most LINK_WINDOW
 *	messages unanswered; a new connection starts again from the head
 *	of the outbox, and the receiver's high-water mark drops what it
 *	already has.  A message leaves the outbox in the transaction that
 *	handles its verdict.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <bsd/string.h>

#include "lib/ascii.h"
#include "lib/filedata.h"
#include "lib/log.h"
#include "lib/password.h"
#include "realmd/realmd.h"
#include "shm/deliver.h"

#define LABEL_ACCEPT	"realmchat-link-2 accept"
#define LABEL_DIAL	"realmchat-link-2 dial"
#define BACKOFF_MIN_MS	250
#define KEEPALIVE_MS	10000		/* ping a link quiet this long */
#define SILENT_MS	(3 * KEEPALIVE_MS)	/* then give it up */
#define PUMP_HIGH	(4u << 20)	/* unsent bytes before we stop filling */
#define OUT_MAX		(64u << 20)	/* unsent bytes of a peer that does not read */
#define HANDSHAKES_MAX	64		/* dialed-in connections not yet up */
#define HANDSHAKES_PER_ADDR 8		/* of them from one address (/64) */
#define HANDSHAKE_LINE_MAX (64u << 10)	/* a line before the link is up */

/*
 * Lines a peer can cause, at will and at any rate (a refused handshake,
 * a message out of sequence), are logged at most LOG_BURST times per
 * LOG_PERIOD_MS each; then one line says how many were left out.
 */
#define LOG_BURST	10
#define LOG_PERIOD_MS	10000

struct ratelog {
	uint64_t	 start;		/* now_msec() the period began */
	unsigned	 n;		/* lines logged in it */
	unsigned	 dropped;	/* lines left out */
};

static struct ratelog refuse_log, accept_log, seq_log;

static void log_limited(struct ratelog *, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void peer_close(struct peer *, const char *why);
static bool still(const struct peer *);
static void tls_start(struct peer *);
static void tls_in(struct peer *, const char *data, size_t n);
static void send_challenge(struct peer *);
static int tls_out(struct peer *);
static void take_lines_batched(struct peer *);
static void pump(uint32_t realm);
static struct early *early_take(uint32_t realm, uint64_t id);
static void early_free(struct early *);

/* log_limited - log a line unless this kind came too often lately */
static void
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

static void
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

static void
inst_hex(uint64_t v, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)v);
}

static void
peer_flush(struct peer *p)
{
	/* closing, nothing more is read: input left waiting must not wake us */
	struct epoll_event e = { .events = p->phase == PH_CLOSING ? 0 :
	    EPOLLIN | EPOLLRDHUP, .data.ptr = p };

	if (p->phase == PH_RESOLVING || p->phase == PH_CONNECTING)
		return;
	if (tls_out(p) == -1)
		return;
	while (buf_used(&p->out) > 0) {
		ssize_t n = send(p->fd, buf_head(&p->out), buf_used(&p->out),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				peer_close(p, strerror(errno));
				return;
			}
			break;
		}
		buf_consume(&p->out, (size_t)n);
	}
	if (buf_used(&p->out) > 0)
		e.events |= EPOLLOUT;
	else {
		buf_free(&p->out);
		if (p->phase == PH_CLOSING) {
			peer_close(p, NULL);
			return;
		}
	}
	if (e.events != p->events &&
	    epoll_ctl(rd.epfd, EPOLL_CTL_MOD, p->fd, &e) == 0)
		p->events = e.events;
}

/* unsent - bytes waiting for the peer, encrypted or not yet */
static size_t
unsent(const struct peer *p)
{
	return buf_used(&p->out) + buf_used(&p->text);
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
		peer_close(p, "TLS: cannot encrypt");
		return -1;
	}
	return 0;
}

static void
send_frame(struct peer *p, cJSON *o)
{
	if (unsent(p) > OUT_MAX) {
		cJSON_Delete(o);
		peer_close(p, "the peer does not read");
		return;
	}
	if (link_send(p->ssl != NULL ? &p->text : &p->out, o) == -1) {
		peer_close(p, "out of memory");
		return;
	}
	if (!p->batching)
		peer_flush(p);
}

/* refuse - tell the peer why, then hang up once that is written */
static void
refuse(struct peer *p, const char *why)
{
	cJSON *o = cJSON_CreateObject();

	log_limited(&refuse_log, LOG_WARNING, "realm link %s%s: %s",
	    p->peer_name[0] ? "with " : "", p->peer_name, why);
	cJSON_AddStringToObject(o, "t", "error");
	cJSON_AddStringToObject(o, "code", code_name(E_REALM_UNREACHABLE));
	cJSON_AddStringToObject(o, "message", why);
	if (p->ask != NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Realm Unreachable: %s", why);
		realmd_error(p->ask, p->ask_req, E_REALM_UNREACHABLE, msg);
		p->ask = NULL;
	}
	p->phase = PH_CLOSING;
	send_frame(p, o);
}

/* peer_watch - p->fd into the epoll set, for p->events */
static int
peer_watch(struct peer *p)
{
	int one = 1;

	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return watch_fd(p->fd, p->events, p);
}

/* peer_new - a peer on fd (an acceptor's), or on none yet (a dialer's) */
static struct peer *
peer_new(int fd, bool dialer)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->tag = TAG_PEER;
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

/*
 * Looking host names up.  getaddrinfo() may wait seconds for a name
 * server, and realmd serves every link from one loop; so a host name is
 * looked up with getaddrinfo_a() (glibc runs the lookup in a thread of
 * its own), and peer_tick() takes the answer, within TICK_MS of its
 * coming.  The lookup is bounded by realm_wait like every other phase.
 * One that cannot be cancelled when its peer closes is kept on the
 * abandoned list until it ends: its thread still writes into it.
 */
struct lookup {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	char		 host[HOST_LEN + 1];
	char		 port[8];
	struct lookup	*next;		/* on the abandoned list */
};

static struct lookup *abandoned;

static void
lookup_free(struct lookup *l)
{
	if (l->cb.ar_result != NULL)
		freeaddrinfo(l->cb.ar_result);
	free(l);
}

/* lookup_start - p (a dialer) looks host up; 0, or -1 with *why */
static int
lookup_start(struct peer *p, const char *host, const char *port,
    const char **why)
{
	struct lookup *l = calloc(1, sizeof(*l));
	struct gaicb *list[1];
	int rc;

	if (l == NULL) {
		*why = "out of memory";
		return -1;
	}
	strlcpy(l->host, host, sizeof(l->host));
	strlcpy(l->port, port, sizeof(l->port));
	l->hints.ai_socktype = SOCK_STREAM;
	l->hints.ai_flags = AI_NUMERICSERV;
	l->cb.ar_name = l->host;
	l->cb.ar_service = l->port;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
		*why = gai_strerror(rc);
		free(l);
		return -1;
	}
	p->lookup = l;
	p->phase = PH_RESOLVING;
	return 0;
}

/* lookup_drop - the peer closes while its lookup runs */
static void
lookup_drop(struct lookup *l)
{
	if (gai_cancel(&l->cb) == EAI_NOTCANCELED) {
		l->next = abandoned;
		abandoned = l;
	} else
		lookup_free(l);
}

/* link_down - a dialer's link is dialled again later, an acceptor's waits */
static void
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

static void
peer_close(struct peer *p, const char *why)
{
	struct peer **pp;

	for (pp = &rd.peers; *pp != NULL && *pp != p; pp = &(*pp)->next)
		;
	if (*pp == NULL)
		return;
	*pp = p->next;
	if (p->ask != NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Realm Unreachable: %s",
		    why ? why : "connection closed");
		realmd_error(p->ask, p->ask_req, E_REALM_UNREACHABLE, msg);
	}
	if (p->realm != 0 && rd.links[p->realm].conn == p)
		link_down(p->realm, why);
	if (p->lookup != NULL)
		lookup_drop(p->lookup);
	if (p->fd != -1) {
		/*
		 * A handed-over socket may still be open in the worker that
		 * passed it: close() alone would leave it in our epoll set,
		 * pointing at p after it is freed.
		 */
		epoll_ctl(rd.epfd, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
	}
	if (p->addrs != NULL)
		freeaddrinfo(p->addrs);
	if (p->ssl != NULL)
		tls_free(p->ssl);
	buf_free(&p->in);
	buf_free(&p->text);
	buf_free(&p->out);
	free(p);
}

static void
send_hello(struct peer *p)
{
	char line[512], inst[17];
	cJSON *o = cJSON_CreateObject();
	char *text;

	link_nonce(p->nonce);
	inst_hex(rd.st->hdr->instance, inst);
	cJSON_AddNumberToObject(o, "v", LINK_VERSION);
	cJSON_AddStringToObject(o, "realm", rd.cf->realm_name);
	cJSON_AddStringToObject(o, "nonce", p->nonce);
	cJSON_AddStringToObject(o, "inst", inst);
	text = json_print_ascii(o);
	cJSON_Delete(o);
	if (text == NULL) {
		peer_close(p, "out of memory");
		return;
	}
	snprintf(line, sizeof(line), "%s %s\n", LINK_COMMAND, text);
	cJSON_free(text);
	set_link(p->realm, LINK_AUTH);
	if (buf_append(&p->out, line, strlen(line)) == -1) {
		peer_close(p, "out of memory");
		return;
	}
	tls_start(p);		/* its first record goes right after the line */
}

/* tls_start - TLS from here on; the handshake's first step */
static void
tls_start(struct peer *p)
{
	if ((p->ssl = tls_new(p->dialer)) == NULL) {
		peer_close(p, "TLS: cannot start");
		return;
	}
	p->phase = PH_TLS;
	tls_in(p, NULL, 0);
	if (still(p) && !p->batching)
		peer_flush(p);
}

/*
 * tls_in - n bytes read from the socket go to TLS; whatever it decrypts
 * lands in p->in.  When the handshake ends, the peer's certificate is
 * checked against what the operator asked for, the channel's binding
 * is taken, and the realm handshake starts inside TLS.
 */
static void
tls_in(struct peer *p, const char *data, size_t n)
{
	const char *why = "TLS: out of memory";
	int rc;

	if (tls_feed(p->ssl, data, n) == -1 ||
	    (rc = tls_step(p->ssl, &p->in, &why)) == -1) {
		peer_close(p, why);
		return;
	}
	if (rc == 1 && (tls_check_peer(p->ssl, &why) == -1 ||
	    tls_binding(p->ssl, p->binding) == -1)) {
		log_limited(&refuse_log, LOG_WARNING, "realm link %s%s: %s",
		    p->peer_name[0] ? "with " : "", p->peer_name, why);
		peer_close(p, why);
		return;
	}
	if (rc == 1 && p->dialer)
		p->phase = PH_CHALLENGE;
	else if (rc == 1)
		send_challenge(p);
}

/*
 * dial_next - the TCP connect of dialer p to the next of its addresses
 * that takes it (a name may have an IPv6 and an IPv4 address, and the
 * peer listen on one); 0, or -1 with *why when none is left
 */
static int
dial_next(struct peer *p, const char **why)
{
	struct addrinfo *ai;

	while ((ai = p->addr_next) != NULL) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);

		p->addr_next = ai->ai_next;
		if (fd == -1 || (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS)) {
			*why = strerror(errno);
			if (fd != -1)
				close(fd);
			continue;
		}
		p->fd = fd;
		p->phase = PH_CONNECTING;
		p->events = EPOLLOUT;
		if (peer_watch(p) == 0)
			return 0;
		*why = strerror(errno);
		close(fd);
		p->fd = -1;
	}
	return -1;
}

/*
 * dial - connect to host:port for link realm, or for an addrealm (realm
 * 0): at once to an address, after a lookup (lookups_tick) to a name
 */
static struct peer *
dial(uint32_t realm, const char *host, uint16_t port, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST }, *ai = NULL;
	char portstr[8];
	struct peer *p;
	int rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((p = peer_new(-1, true)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	p->realm = realm;
	strlcpy(p->host, host, sizeof(p->host));
	p->port = port;
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc == 0) {
		p->addrs = p->addr_next = ai;
		rc = dial_next(p, why);
	} else if (rc == EAI_NONAME)
		rc = lookup_start(p, host, portstr, why);
	else
		*why = gai_strerror(rc);
	if (rc != 0) {
		p->realm = 0;		/* the caller takes the link down */
		peer_close(p, NULL);
		return NULL;
	}
	return p;
}

/* lookups_tick - dial the names looked up; free abandoned lookups that ended */
static void
lookups_tick(void)
{
	struct lookup **lp = &abandoned, *l;
	struct peer *p, *next;

	while ((l = *lp) != NULL) {
		if (gai_error(&l->cb) == EAI_INPROGRESS) {
			lp = &l->next;
			continue;
		}
		*lp = l->next;
		lookup_free(l);
	}
	for (p = rd.peers; p != NULL; p = next) {
		const char *why = "the name has no address";
		int rc;

		next = p->next;
		if (p->phase != PH_RESOLVING ||
		    (rc = gai_error(&p->lookup->cb)) == EAI_INPROGRESS)
			continue;
		l = p->lookup;
		p->lookup = NULL;
		p->addrs = p->addr_next = l->cb.ar_result;
		l->cb.ar_result = NULL;
		if (rc != 0)
			why = gai_strerror(rc);
		if (rc != 0 || dial_next(p, &why) == -1) {
			log_info("realm link to %s:%u: %s", p->host, p->port, why);
			peer_close(p, why);
		}
		lookup_free(l);
	}
}

static void
redial(uint32_t realm)
{
	struct shm_realm *r = &rd.st->realms[realm];
	const char *why = NULL;
	struct peer *p;

	set_link(realm, LINK_CONNECTING);
	if ((p = dial(realm, r->host, r->port, &why)) == NULL) {
		log_info("realm %s: cannot dial %s:%u: %s", r->name, r->host,
		    r->port, why);
		link_down(realm, why);
		return;
	}
	rd.links[realm].conn = p;
	rd.links[realm].created = r->created;
}

/*
 * peer_addrealm - a worker's addrealm: dial, and store the link if it
 * works (names.c answers what needs no new link)
 */
void
peer_addrealm(struct chan *c, uint64_t req, cJSON *j)
{
	const char *id = link_str(j, "id"), *host = link_str(j, "host"), *why;
	uint64_t port;
	struct peer *p;

	if (id == NULL || host == NULL || !link_uint(j, "port", &port) ||
	    port == 0 || port > 65535 || !name_valid(id, strlen(id))) {
		realmd_error(c, req, E_BAD_ARGS, NULL);
		return;
	}
	if (rd.cf->realm_secret[0] == '\0') {
		realmd_error(c, req, E_REALM_UNREACHABLE,
		    "Realm Unreachable: realm_secret is not set here");
		return;
	}
	if (names_addrealm_answered(c, req, id, host, (uint16_t)port))
		return;
	if ((p = dial(0, host, (uint16_t)port, &why)) == NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Realm Unreachable: %s", why);
		realmd_error(c, req, E_REALM_UNREACHABLE, msg);
		return;
	}
	p->ask = c;
	p->ask_req = req;
	p->ask_user = !chan_operator(c);
	strlcpy(p->ask_id, id, sizeof(p->ask_id));
}

/* peer_from - the address a dialer came from: IPv4 whole, IPv6 by /64 */
static void
peer_from(int fd, uint8_t out[8])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const uint8_t *a;

	memset(out, 0, 8);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return;
	if (ss.ss_family == AF_INET)
		memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (ss.ss_family == AF_INET6) {
		a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0)
			memcpy(out, a + 12, 4);
		else
			memcpy(out, a, 8);
	}
}

/*
 * admit - room for one more dialed-in handshake from address from?  One
 * address may hold HANDSHAKES_PER_ADDR; when HANDSHAKES_MAX are open
 * in all, the oldest gives way, so that handshakes left hanging (which
 * cost an attacker nothing) cannot keep a real peer out: a real one
 * ends in a few round trips.
 */
static bool
admit(const uint8_t from[8])
{
	struct peer *p, *oldest = NULL;
	int n = 0, same = 0;

	for (p = rd.peers; p != NULL; p = p->next) {
		if (p->dialer || p->phase == PH_UP || p->phase == PH_CLOSING)
			continue;
		n++;
		if (memcmp(p->from, from, sizeof(p->from)) == 0)
			same++;
		if (oldest == NULL || p->deadline < oldest->deadline)
			oldest = p;
	}
	if (same >= HANDSHAKES_PER_ADDR) {
		log_limited(&accept_log, LOG_WARNING, "realm link refused: %d "
		    "handshakes from that address in progress", same);
		return false;
	}
	if (n >= HANDSHAKES_MAX && oldest != NULL) {
		log_limited(&accept_log, LOG_WARNING, "realm link: %d "
		    "handshakes in progress, the oldest is dropped", n);
		peer_close(oldest, "too many handshakes");
	}
	return true;
}

/* peer_accept - a connection a worker handed over, with what it read */
void
peer_accept(int fd, const char *bytes, size_t len)
{
	uint8_t from[8];
	struct peer *p;

	peer_from(fd, from);
	if (!admit(from)) {
		close(fd);
		return;
	}
	if ((p = peer_new(fd, false)) == NULL) {
		close(fd);
		return;
	}
	memcpy(p->from, from, sizeof(p->from));
	p->phase = PH_HELLO;
	if (buf_append(&p->in, bytes, len) == -1) {
		peer_close(p, "out of memory");
		return;
	}
	peer_event(p, 0);
}

/* check_instance - record the peer's instance; a new one starts afresh */
static int
check_instance(uint32_t realm, uint64_t inst)
{
	struct shm_realm *r = &rd.st->realms[realm];

	if (r->peer_inst == inst)
		return 0;
	if (r->peer_inst != 0)
		log_warn("realm %s has a new state; its message ids start over",
		    r->name);
	if (txn_log(rd.st, &r->peer_inst, sizeof(r->peer_inst)) == -1 ||
	    txn_log(rd.st, &r->recv_hwm, sizeof(r->recv_hwm)) == -1 ||
	    txn_log(rd.st, r->reject_id, sizeof(r->reject_id)) == -1)
		return -1;
	r->peer_inst = inst;
	r->recv_hwm = 0;
	memset(r->reject_id, 0, sizeof(r->reject_id));
	return 0;
}

static void
link_up(struct peer *p, uint32_t realm)
{
	struct link_rt *l = &rd.links[realm];
	struct shm_realm *r = &rd.st->realms[realm];

	if (l->conn != NULL && l->conn != p) {
		struct peer *old = l->conn;
		old->realm = 0;		/* its close must not take the link down */
		l->conn = NULL;
		peer_close(old, "replaced by a new connection");
		waiters_fail_link(realm);
	}
	l->conn = p;
	l->created = r->created;
	l->backoff_ms = 0;
	p->realm = realm;
	p->phase = PH_UP;
	p->sent_upto = 0;
	p->inflight = 0;
	set_link(realm, LINK_UP);
	log_notice("realm %s up (%s, %s)", r->name, r->peer,
	    p->dialer ? "we dialled" : "it dialled");
	pump(realm);
}

static bool
parse_inst(const char *hex, uint64_t *out)
{
	char *end;

	if (hex == NULL || strlen(hex) != 16)
		return false;
	*out = strtoull(hex, &end, 16);
	return *end == '\0';
}

/* on_hello - the acceptor reads the dialer's first line */
static void
on_hello(struct peer *p, const char *line, size_t len)
{
	const char *why, *name, *nonce;
	cJSON *hello;

	if (link_hello_parse(line, len, &hello, &why) == -1) {
		refuse(p, why);
		return;
	}
	name = link_str(hello, "realm");
	nonce = link_str(hello, "nonce");
	if (!name_valid(name, strlen(name)) || strlen(nonce) != 2 * NONCE_LEN ||
	    !parse_inst(link_str(hello, "inst"), &p->peer_inst)) {
		cJSON_Delete(hello);
		refuse(p, "bad realm handshake");
		return;
	}
	strlcpy(p->peer_name, name, sizeof(p->peer_name));
	strlcpy(p->peer_nonce, nonce, sizeof(p->peer_nonce));
	cJSON_Delete(hello);
	if (rd.cf->realm_secret[0] == '\0') {
		refuse(p, "this realm takes no links (no realm_secret)");
		return;
	}
	if (strcmp(p->peer_name, rd.cf->realm_name) == 0) {
		refuse(p, "a realm cannot link to itself");
		return;
	}
	/* what the dialer sent after its line is already TLS */
	tls_start(p);
	if (still(p) && p->ssl != NULL && buf_used(&p->in) > 0) {
		struct buf rest = p->in;
		memset(&p->in, 0, sizeof(p->in));
		p->scanned = 0;
		tls_in(p, buf_head(&rest), buf_used(&rest));
		buf_free(&rest);
	}
}

/* send_challenge - the acceptor, TLS up, proves the secret on this channel */
static void
send_challenge(struct peer *p)
{
	char proof[PROOF_HEX + 1], inst[17];
	cJSON *o;

	link_nonce(p->nonce);
	link_proof(rd.cf->realm_secret, LABEL_ACCEPT, p->peer_nonce, p->nonce,
	    p->peer_name, rd.cf->realm_name, p->binding, proof);
	inst_hex(rd.st->hdr->instance, inst);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "challenge");
	cJSON_AddNumberToObject(o, "v", LINK_VERSION);
	cJSON_AddStringToObject(o, "realm", rd.cf->realm_name);
	cJSON_AddStringToObject(o, "nonce", p->nonce);
	cJSON_AddStringToObject(o, "inst", inst);
	cJSON_AddStringToObject(o, "proof", proof);
	p->phase = PH_PROOF;
	send_frame(p, o);
}

/* on_challenge - the dialer checks the acceptor's proof and gives its own */
static void
on_challenge(struct peer *p, const struct link_frame *f)
{
	const char *name = link_str(f->json, "realm");
	const char *nonce = link_str(f->json, "nonce");
	char proof[PROOF_HEX + 1];
	cJSON *o;

	if (f->id != LINK_VERSION) {
		refuse(p, "unsupported link version");
		return;
	}
	if (!name_valid(name, strlen(name)) || strlen(nonce) != 2 * NONCE_LEN ||
	    !parse_inst(link_str(f->json, "inst"), &p->peer_inst)) {
		refuse(p, "bad challenge");
		return;
	}
	strlcpy(p->peer_name, name, sizeof(p->peer_name));
	strlcpy(p->peer_nonce, nonce, sizeof(p->peer_nonce));
	if (!link_proof_ok(rd.cf->realm_secret, LABEL_ACCEPT, p->nonce,
	    p->peer_nonce, rd.cf->realm_name, p->peer_name, p->binding,
	    link_str(f->json, "proof"))) {
		refuse(p, "the peer did not prove the realm secret");
		return;
	}
	if (p->realm == 0 && names_known_peer(p)) {
		peer_close(p, NULL);	/* unproven, it is nothing to the peer */
		return;
	}
	link_proof(rd.cf->realm_secret, LABEL_DIAL, p->peer_nonce, p->nonce,
	    rd.cf->realm_name, p->peer_name, p->binding, proof);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "proof");
	cJSON_AddStringToObject(o, "proof", proof);
	cJSON_AddStringToObject(o, "id", p->realm != 0 ?
	    rd.st->realms[p->realm].name : p->ask_id);	/* what we call it */
	p->phase = PH_WELCOME;
	send_frame(p, o);
}

/* on_proof - the acceptor checks the dialer's proof and learns the link */
static void
on_proof(struct peer *p, const struct link_frame *f)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[HOST_LEN + 1] = "?";
	uint32_t realm;
	const char *why = NULL;
	cJSON *o;

	if (!link_proof_ok(rd.cf->realm_secret, LABEL_DIAL, p->nonce,
	    p->peer_nonce, p->peer_name, rd.cf->realm_name, p->binding,
	    link_str(f->json, "proof"))) {
		refuse(p, "the peer did not prove the realm secret");
		return;
	}
	if (getpeername(p->fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL,
		    0, NI_NUMERICHOST);
	txn_begin(rd.st);
	realm = realm_find_peer_locked(rd.st, p->peer_name);
	if (realm == 0 && realm_insert(rd.st, p->peer_name, p->peer_name,
	    host, 0, 0, &realm) == -1)
		why = errno == EEXIST ?
		    "a link of that name exists here for another realm" :
		    errno == ENOSPC ? "no room for another link here" :
		    "cannot store the link";
	if (why == NULL && check_instance(realm, p->peer_inst) == -1)
		why = "cannot store the link";
	if (why != NULL) {
		txn_abort(rd.st);
		refuse(p, why);
		return;
	}
	txn_commit(rd.st);
	names_peer_id(realm, link_str(f->json, "id"));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "welcome");
	if (link_send(&p->text, o) == -1) {	/* flushed by link_up */
		peer_close(p, "out of memory");
		return;
	}
	link_up(p, realm);
}

/* on_welcome - the dialer is in: a reconnect, or an addrealm to store */
static void
on_welcome(struct peer *p)
{
	uint32_t realm = p->realm;
	const char *why = NULL;

	txn_begin(rd.st);
	if (realm == 0)
		why = names_new_link(p, &realm);
	else if (strcmp(rd.st->realms[realm].peer, p->peer_name) != 0) {
		log_warn("realm %s now answers as %s", rd.st->realms[realm].name,
		    p->peer_name);
		if (realm_set_peer(rd.st, realm, p->peer_name) == -1)
			why = errno == EEXIST ? "exists" : "full";
	}
	if (why == NULL && check_instance(realm, p->peer_inst) == -1)
		why = "full";
	if (why != NULL) {
		txn_abort(rd.st);
		if (p->ask != NULL)
			realmd_error(p->ask, p->ask_req, strcmp(why, "exists") == 0 ?
			    E_REALM_EXISTS : E_QUOTA, strcmp(why, "exists") == 0 ?
			    NULL : "No room for another realm link");
		p->ask = NULL;
		peer_close(p, "not stored");
		return;
	}
	txn_commit(rd.st);
	if (p->ask != NULL) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", true);
		cJSON_AddStringToObject(o, "message", "Connect realm berhasil");
		cJSON_AddStringToObject(o, "realm", p->ask_id);
		cJSON_AddStringToObject(o, "peer", p->peer_name);
		realmd_result(p->ask, p->ask_req, o);
		p->ask = NULL;
		log_notice("realm %s added (%s at %s:%u)", p->ask_id, p->peer_name,
		    p->host, p->port);
	}
	link_up(p, realm);
}

/* ---- messages over an up link ------------------------------------------ */

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
		struct shm_msg *m = &st->msgs[i];
		if (m->id <= after)
			continue;
		o->id = m->id;
		o->seq = m->seq;
		o->kind = m->kind;
		o->flags = m->flags;
		o->time = m->time;
		strlcpy(o->from, st->users[m->from].name, sizeof(o->from));
		strlcpy(o->from_name, st->users[m->from].display,
		    sizeof(o->from_name));
		o->len = m->len;
		if ((o->blob = malloc(m->len + 1)) != NULL) {
			memcpy(o->blob, heap_ptr(st, m->text), m->len);
			o->blob[m->len] = '\0';
		}
		if (m->kind == MSG_FILE)
			o->file = st->files[m->file];
		found = o->blob != NULL;
		break;
	}
	state_unlock(st);
	return found;
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
	if (m->kind == MSG_FILE) {
		char *b64 = file_body_b64(rd.st, &m->file);
		cJSON *f;
		if (b64 == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		f = cJSON_AddObjectToObject(o, "file");
		cJSON_AddStringToObject(f, "name", m->file.name);
		cJSON_AddNumberToObject(f, "size", (double)m->file.size);
		cJSON_AddStringToObject(f, "content", b64);
		free(b64);
	} else
		json_add_text(o, "text", m->blob + tlen + 1, m->len - tlen - 1);
	return o;
}

/* pump - write queued messages to the link, as far as the window allows */
static void
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
			peer_close(p, "out of memory");
			return;
		}
	}
	if (p != NULL && !p->batching)
		peer_flush(p);
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

static void
send_verdict(struct peer *p, uint64_t id, enum rc_code code, const char *msg,
    cJSON *extra)
{
	cJSON *o = extra != NULL ? extra : cJSON_CreateObject();

	cJSON_AddStringToObject(o, "t", "verdict");
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddBoolToObject(o, "ok", code == E_COUNT);
	if (code != E_COUNT) {
		cJSON_AddStringToObject(o, "code", code_name(code));
		cJSON_AddStringToObject(o, "message", msg ? msg : code_text(code));
	}
	send_frame(p, o);
}

/* incoming_text - the text of a msg frame as we store it; E_COUNT if fine */
static enum rc_code
incoming_text(const char *text, char **out, size_t *len)
{
	size_t n = strlen(text);

	*out = NULL;
	*len = n;
	if (n > rd.cf->max_message)
		return E_TOO_LARGE;
	if (n == 0)
		return E_BAD_ARGS;
	if ((*out = malloc(3 * n + 1)) == NULL)
		return E_INTERNAL;
	*len = utf8_sanitize(text, n, *out);
	return *len > rd.cf->max_message ? E_TOO_LARGE : E_COUNT;
}

/* incoming_file - decode and spool a msg frame's file */
static enum rc_code
incoming_file(const cJSON *file, uint64_t *spool, uint64_t *size, char *name)
{
	const char *b64 = link_str(file, "content");
	const char *fname = link_str(file, "name");
	size_t len = strlen(b64);
	unsigned char *body;
	ssize_t n;

	file_name_clean(fname, strlen(fname), name, FILE_NAME_LEN + 1);
	if (b64_decoded_max(len) > rd.cf->max_file + 3)
		return E_TOO_LARGE;
	if ((body = malloc(b64_decoded_max(len) + 1)) == NULL)
		return E_INTERNAL;
	if ((n = b64_decode(b64, len, body)) == -1) {
		free(body);
		return E_BAD_FILE;
	}
	*size = (uint64_t)n;
	if (*size > rd.cf->max_file) {
		free(body);
		return E_TOO_LARGE;
	}
	if (spool_store(rd.st, body, *size, spool) == -1) {
		int saved = errno;
		log_err("realmd: spool: %m");
		free(body);
		return saved == EDQUOT ? E_QUOTA : E_INTERNAL;
	}
	free(body);
	return E_COUNT;
}

/* deliver_locked - store one message from the peer, inside a transaction */
static enum rc_code
deliver_locked(uint32_t realm, const cJSON *j, struct msg_new *m,
    uint64_t spool, uint64_t size, const char *fname, struct delivery *d,
    struct target *t)
{
	const char *to = link_str(j, "to");
	struct sender s = { rd.st, rd.cf, 0, cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(j, "member")) };
	struct word w = { to, strlen(to) };
	enum rc_code why = E_COUNT;
	uint32_t f;

	if (remote_user(rd.st, realm, link_str(j, "from"),
	    link_str(j, "from_name"), &s.user) == -1)
		return errno == ENOENT ? E_BAD_NAME : E_QUOTA;
	m->from = s.user;
	memset(t, 0, sizeof(*t));
	why = strcmp(link_str(j, "kind"), "private") == 0 ?
	    target_user_locked(&s, &w, t) : target_resolve_locked(&s, &w, t);
	if (why != E_COUNT)
		return why;
	if (m->kind == MSG_FILE) {
		if (file_create_room(rd.st, spool, size, fname, t->group,
		    rd.cf->spool_max, &f, &d->evicted) == -1)
			return E_QUOTA;
		m->file = f;
	}
	return target_deliver(&s, t, m, d);
}

/*
 * seq_answered - a message whose sequence number is not one of the next
 * ones: a resend (at or below the mark) gets its first answer again; one
 * outside the window is refused and changes nothing.  The window: a
 * sender has at most LINK_WINDOW messages unanswered, and it sends its
 * queue in order, so a new message is at most LINK_WINDOW above the mark
 * and a resend (its verdict was lost with the connection) less than
 * LINK_WINDOW below it.  true if it was answered here.
 */
static bool
seq_answered(struct peer *p, const struct link_frame *f)
{
	uint64_t hwm;
	int old;

	state_lock(rd.st);
	hwm = rd.st->realms[p->realm].recv_hwm;
	old = realm_rejected_locked(rd.st, p->realm, f->id);
	state_unlock(rd.st);
	if (hwm == 0)		/* nothing taken from this instance yet */
		return false;
	if (!seq_after(f->seq, hwm) &&
	    (uint32_t)(hwm - f->seq) < LINK_WINDOW) {
		/* a resend: same answer, nothing stored */
		send_verdict(p, f->id, old < 0 ? E_COUNT : (enum rc_code)old,
		    NULL, NULL);
		return true;
	}
	if (!seq_after(f->seq, hwm) ||
	    (uint32_t)(f->seq - hwm) > LINK_WINDOW) {
		log_limited(&seq_log, LOG_WARNING, "realm %s: message %llu "
		    "numbered %llu, beyond %llu + %d: refused",
		    rd.st->realms[p->realm].name, (unsigned long long)f->id,
		    (unsigned long long)f->seq, (unsigned long long)hwm,
		    LINK_WINDOW);
		send_verdict(p, f->id, E_BAD_ARGS, "message out of sequence",
		    NULL);
		return true;
	}
	return false;
}

/* on_msg - a message from the peer: store it once, answer every time */
static void
on_msg(struct peer *p, const struct link_frame *f)
{
	uint32_t realm = p->realm;
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(f->json, "file");
	struct msg_new m = { .kind = file ? MSG_FILE : MSG_TEXT, .realm = realm };
	char fname[FILE_NAME_LEN + 1] = "", *text = NULL;
	uint64_t spool = 0, size = 0;
	struct delivery d = { 0 };
	enum rc_code why = E_COUNT;
	struct target t;
	cJSON *extra;

	if (seq_answered(p, f))
		return;
	link_uint(f->json, "time", &m.time);
	if (file != NULL)
		why = incoming_file(file, &spool, &size, fname);
	else if ((why = incoming_text(link_str(f->json, "text"), &text,
	    &m.len)) == E_COUNT)
		m.text = text;
	txn_begin(rd.st);
	if (why == E_COUNT)
		why = deliver_locked(realm, f->json, &m, spool, size, fname, &d, &t);
	if (why == E_COUNT &&
	    realm_received(rd.st, realm, f->seq, f->id, -1) == -1)
		why = E_INTERNAL;
	if (why != E_COUNT) {
		txn_abort(rd.st);
		if (spool != 0)
			spool_unlink(rd.st, spool);
		txn_begin(rd.st);
		if (realm_received(rd.st, realm, f->seq, f->id, why) == -1)
			txn_abort(rd.st);
		else
			txn_commit(rd.st);
		cJSON_Delete(d.unknown);
		cJSON_Delete(d.full);
		free(text);
		send_verdict(p, f->id, why, why == E_QUOTA && d.delivered == 0 ?
		    "No recipient could take the message" : NULL, NULL);
		return;
	}
	txn_commit(rd.st);
	free(text);
	spool_unlink(rd.st, d.gone);
	evicted_unlink(rd.st, &d.evicted);
	rd.st->realms[realm].received++;
	__atomic_fetch_add(&rd.me->stored, d.delivered, __ATOMIC_RELAXED);
	extra = cJSON_CreateObject();
	if (t.group != 0)
		cJSON_AddStringToObject(extra, "group", t.name);
	cJSON_AddNumberToObject(extra, "recipients", d.delivered);
	if (d.unknown != NULL)
		cJSON_AddItemToObject(extra, "unknown", d.unknown);
	if (d.full != NULL)
		cJSON_AddItemToObject(extra, "full", d.full);
	send_verdict(p, f->id, E_COUNT, NULL, extra);
}

/* copy_fields - the fields of a peer's answer a worker puts in its reply */
static void
copy_fields(cJSON *to, const cJSON *from)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, from) {
		if (strcmp(it->string, "t") == 0 || strcmp(it->string, "q") == 0 ||
		    strcmp(it->string, "id") == 0)
			continue;
		cJSON_AddItemToObject(to, it->string, cJSON_Duplicate(it, true));
	}
}

/*
 * bounce - tell from (inside a transaction) that the peer refused id.
 * A full inbox still takes it (bounce_enqueue); a failure (a full
 * message table) may have changed the state half-way: logged, -1, and
 * the caller aborts.
 */
static int
bounce(uint32_t from, const char *realm, int code, const char *target,
    const char *why, uint64_t id)
{
	if (bounce_enqueue(rd.st, from, realm, code, target, why, id) == 0)
		return 0;
	log_warn("realm %s: could not tell %s that message %llu was refused: %m",
	    realm, rd.st->users[from].name, (unsigned long long)id);
	return -1;
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
	e->expires = now_msec() + rd.cf->realm_wait * 1000 + 1000;
	e->next = rd.early;
	rd.early = e;
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

/* early_tick - verdicts nobody came for: a refusal becomes a bounce */
static void
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
			if (user_at(rd.st, e->from) != NULL &&
			    bounce(e->from, e->realm_name, e->code, e->target,
			    e->why, e->id) == -1)
				txn_abort(rd.st);
			else
				txn_commit(rd.st);
		}
		early_free(e);
	}
}

/*
 * on_verdict - the peer answered a message: it leaves the outbox, and
 * its answer goes to the worker waiting for it (or will, or becomes a
 * bounce notice if it says no and nobody asks).
 */
static void
on_verdict(struct peer *p, const struct link_frame *f)
{
	uint32_t realm = p->realm, msg;
	struct shm_realm *r = &rd.st->realms[realm];
	struct waiter *w = waiter_take(WAIT_VERDICT, realm, f->id);
	enum rc_code code = f->ok ? E_COUNT :
	    code_parse(link_str(f->json, "code"));
	const char *why = link_str(f->json, "message");
	char target[REMOTE_NAME_LEN * 4 + 1] = "";
	bool later = false;
	uint64_t gone = 0;
	uint32_t from = 0;
	cJSON *o;

	if (!f->ok && code == E_COUNT)
		code = E_INTERNAL;
	if (why == NULL)
		why = f->ok ? "" : code_text(code);
	txn_begin(rd.st);
	if ((msg = outbox_find_locked(rd.st, realm, f->id)) != 0) {
		from = rd.st->msgs[msg].from;
		later = w == NULL && (rd.st->msgs[msg].flags & MF_WAIT);
		strlcpy(target, heap_ptr(rd.st, rd.st->msgs[msg].text),
		    sizeof(target));
		if ((!f->ok && w == NULL && !later &&
		    bounce(from, r->name, code, target, why, f->id) == -1) ||
		    outbox_remove(rd.st, realm, msg, &gone) == -1) {
			/* stays queued: a resend brings the same verdict */
			log_err("realm %s: message %llu stays queued: %m",
			    r->name, (unsigned long long)f->id);
			msg = 0;
		}
	}
	if (msg != 0) {
		txn_commit(rd.st);
		spool_unlink(rd.st, gone);
		r->sent++;
		__atomic_fetch_add(&rd.me->delivered, 1, __ATOMIC_RELAXED);
	} else
		txn_abort(rd.st);
	if (p->inflight > 0)
		p->inflight--;
	if (w != NULL || later) {
		o = cJSON_CreateObject();
		copy_fields(o, f->json);
		cJSON_AddStringToObject(o, "realm", r->name);
		cJSON_AddNumberToObject(o, "id", (double)f->id);
		cJSON_AddNumberToObject(o, "from", from);
		cJSON_AddStringToObject(o, "target", target);
		if (w != NULL) {
			realmd_result(w->chan, w->req, o);
			free(w);
		} else
			early_keep(realm, f->id, o, from, code, target, why);
	}
	pump(realm);
}

/* ---- round trips --------------------------------------------------------- */

/* send_reply - answer the peer's request q (also join.c) */
void
send_reply(struct peer *p, uint64_t q, enum rc_code code, const char *msg,
    cJSON *o)
{
	if (o == NULL)
		o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", "reply");
	cJSON_AddNumberToObject(o, "q", (double)q);
	cJSON_AddBoolToObject(o, "ok", code == E_COUNT);
	if (code != E_COUNT) {
		cJSON_AddStringToObject(o, "code", code_name(code));
		cJSON_AddStringToObject(o, "message", msg ? msg : code_text(code));
	} else if (msg != NULL)
		cJSON_AddStringToObject(o, "message", msg);
	send_frame(p, o);
}

/* serve_history - a remote member reads one of our groups */
static void
serve_history(struct peer *p, const struct link_frame *f)
{
	struct state *st = rd.st;
	const char *gname = link_str(f->json, "group");
	char name[REMOTE_NAME_LEN + 1];
	uint32_t cap = st->hdr->region[RG_MSGS].count, steps = 0, g, u;
	enum rc_code why = E_COUNT;
	cJSON *o = NULL, *list;
	const char *member = link_str(f->json, "member");
	bool vouched = member != NULL && strcmp(member, "yes") == 0;

	snprintf(name, sizeof(name), "%s@%s", link_str(f->json, "from"),
	    st->realms[p->realm].name);
	state_lock(st);
	g = name_valid(gname, strlen(gname)) ?
	    group_find_locked(st, gname, strlen(gname)) : 0;
	u = user_find_locked(st, name, strlen(name));
	if (g == 0)
		why = E_NO_GROUP;
	else if (st->groups[g].pwhash[0] != '\0' && !vouched &&
	    (u == 0 || member_find_locked(st, g, u) == 0))
		why = E_NOT_MEMBER;	/* open groups and vouched members read */
	else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "group", st->groups[g].name);
		list = cJSON_AddArrayToObject(o, "messages");
		for (uint32_t i = st->groups[g].hist_head; i != 0 && i < cap &&
		    steps++ < cap; i = st->msgs[i].next)
			cJSON_AddItemToArray(list, message_json(st, &st->msgs[i],
			    false));
	}
	state_unlock(st);
	send_reply(p, f->q, why, NULL, o);
}

/* on_reply - the peer answered one of our round trips */
static void
on_reply(struct peer *p, const struct link_frame *f)
{
	struct waiter *w;
	cJSON *o;

	if (f->q == 0 || (w = waiter_take(WAIT_REPLY, p->realm, f->q)) == NULL)
		return;			/* a keepalive, or too late */
	o = cJSON_CreateObject();
	copy_fields(o, f->json);
	cJSON_AddNumberToObject(o, "rtt_ms", (double)(now_msec() - w->started));
	realmd_result(w->chan, w->req, o);
	free(w);
}

/* peer_request - a worker's round trip: ping, join or history */
void
peer_request(struct chan *c, uint64_t req, uint32_t type, cJSON *j)
{
	static const char *const names[] = {
		[RM_PING] = "ping", [RM_JOIN] = "join", [RM_HISTORY] = "history",
	};
	static const char *const fields[] = { "from", "from_name", "group",
	    "password", "member" };
	uint64_t realm = 0;
	struct peer *p;
	cJSON *o;

	if (type != RM_PING && type != RM_JOIN && type != RM_HISTORY)
		return;
	if (!link_uint(j, "realm", &realm) || realm == 0 || realm > REALMS_MAX ||
	    realm_at(rd.st, (uint32_t)realm) == NULL) {
		realmd_error(c, req, E_NO_REALM, NULL);
		return;
	}
	p = rd.links[realm].conn;
	if (p == NULL || p->phase != PH_UP) {
		realmd_error(c, req, E_REALM_UNREACHABLE,
		    "Realm Unreachable: the link is down");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "t", names[type]);
	cJSON_AddNumberToObject(o, "q", (double)++rd.next_q);
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		const char *v = link_str(j, fields[i]);
		if (v != NULL)
			cJSON_AddStringToObject(o, fields[i], v);
	}
	waiter_add(WAIT_REPLY, c, req, (uint32_t)realm, rd.next_q);
	send_frame(p, o);
}

/* ---- input --------------------------------------------------------------- */

static void
on_frame(struct peer *p, const char *line, size_t len)
{
	struct link_frame f;
	const char *why;

	if (p->phase == PH_HELLO) {
		on_hello(p, line, len);
		return;
	}
	if (link_parse(line, len, &f, &why) == -1) {
		refuse(p, why);
		return;
	}
	if (f.type == LT_ERROR) {
		char msg[256];
		snprintf(msg, sizeof(msg), "refused by the peer: %s",
		    link_str(f.json, "message"));
		log_warn("realm link to %s: %s", p->peer_name[0] ? p->peer_name :
		    p->host, msg);
		peer_close(p, msg);
	} else if (p->phase == PH_CHALLENGE && f.type == LT_CHALLENGE)
		on_challenge(p, &f);
	else if (p->phase == PH_PROOF && f.type == LT_PROOF)
		on_proof(p, &f);
	else if (p->phase == PH_WELCOME && f.type == LT_WELCOME)
		on_welcome(p);
	else if (p->phase != PH_UP)
		refuse(p, "frame out of order");
	else switch (f.type) {
	case LT_MSG:
		on_msg(p, &f);
		break;
	case LT_VERDICT:
		on_verdict(p, &f);
		break;
	case LT_PING:
		send_reply(p, f.q, E_COUNT, f.q != 0 ?
		    "Connect realm berhasil" : NULL, NULL);
		break;
	case LT_JOIN:
		join_start(p, &f);
		break;
	case LT_HISTORY:
		serve_history(p, &f);
		break;
	case LT_REPLY:
		on_reply(p, &f);
		break;
	default:
		refuse(p, "frame out of order");
	}
	link_frame_free(&f);
}

/* still - p is still open (a frame may have closed it) */
static bool
still(const struct peer *p)
{
	for (const struct peer *q = rd.peers; q != NULL; q = q->next)
		if (q == p)
			return true;
	return false;
}

/*
 * take_lines - handle every whole line in p->in; what they answer is
 * written once, after the last of them
 */
static void
take_lines(struct peer *p)
{
	p->batching = true;
	take_lines_batched(p);
	if (still(p)) {
		p->batching = false;
		peer_flush(p);
	}
}

static void
take_lines_batched(struct peer *p)
{
	while (still(p) && p->phase != PH_CLOSING && buf_used(&p->in) > 0) {
		char *head = buf_head(&p->in);
		size_t used = buf_used(&p->in);
		char *nl = memchr(head + p->scanned, '\n', used - p->scanned);
		size_t n;

		if (nl == NULL) {
			p->scanned = used;
			if (used > line_max(p))
				refuse(p, "frame too large");
			return;
		}
		n = (size_t)(nl - head);
		p->scanned = 0;
		/* the frame is handled from a copy: handling may grow p->in */
		char *line = malloc(n + 1);
		if (line == NULL) {
			peer_close(p, "out of memory");
			return;
		}
		memcpy(line, head, n);
		line[n] = '\0';
		buf_consume(&p->in, n + 1);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > 0)
			on_frame(p, line, n);
		free(line);
	}
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
		tls_in(p, data, n);
		return still(p) ? 0 : -1;
	}
	if (buf_append(&p->in, data, n) == -1) {
		peer_close(p, "out of memory");
		return -1;
	}
	return 0;
}

/* peer_event - epoll says the link's socket is ready (events 0: input waits) */
void
peer_event(struct peer *p, uint32_t events)
{
	char data[64 * 1024];

	if (p->phase == PH_CONNECTING && (events & (EPOLLOUT | EPOLLERR |
	    EPOLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			const char *why = strerror(err ? err : ECONNREFUSED);

			close(p->fd);		/* out of the epoll set too */
			p->fd = -1;
			if (dial_next(p, &why) == -1)
				peer_close(p, why);
			return;
		}
		send_hello(p);
		return;
	}
	if (events & EPOLLOUT) {
		peer_flush(p);
		if (!still(p))
			return;
	}
	for (;;) {
		ssize_t n;
		if (p->phase == PH_CLOSING)
			return;
		n = recv(p->fd, data, sizeof(data), MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				peer_close(p, strerror(errno));
				return;
			}
			break;
		}
		if (n == 0) {
			take_lines(p);
			if (still(p))
				peer_close(p, "the peer closed the link");
			return;
		}
		p->last_in = now_msec();
		if (take_bytes(p, data, (size_t)n) == -1)
			return;
		if (buf_used(&p->in) > line_max(p) + sizeof(data))
			break;		/* handle what we have first */
	}
	take_lines(p);
}

/* peer_tick - timers: handshakes, keepalives, links to dial, verdicts */
void
peer_tick(uint64_t now)
{
	struct peer *p, *next;

	early_tick(now);
	lookups_tick();
	for (p = rd.peers; p != NULL; p = next) {
		next = p->next;
		if (p->phase == PH_RESOLVING && p->deadline <= now)
			peer_close(p, "looking the host name up took too long");
		else if (p->phase != PH_UP && p->deadline <= now)
			peer_close(p, "the handshake took too long");
		else if (p->phase == PH_UP && now - p->last_in > SILENT_MS)
			peer_close(p, "the peer went silent");
		else if (p->phase == PH_UP && now - p->last_in > KEEPALIVE_MS &&
		    now - p->last_ping > KEEPALIVE_MS) {
			cJSON *o = cJSON_CreateObject();
			p->last_ping = now;
			cJSON_AddStringToObject(o, "t", "ping");
			cJSON_AddNumberToObject(o, "q", 0);
			send_frame(p, o);
		}
	}
	for (uint32_t i = 1; i <= REALMS_MAX; i++) {
		struct shm_realm *r = realm_at(rd.st, i);
		struct link_rt *l = &rd.links[i];
		if (r == NULL || (l->conn != NULL && l->created != r->created)) {
			/* deleted (and perhaps its slot taken by a new link) */
			if (l->conn != NULL) {
				l->conn->realm = 0;
				peer_close(l->conn, "link deleted");
			}
			memset(l, 0, sizeof(*l));
			if (r == NULL)
				continue;
		}
		if (l->conn != NULL) {
			pump(i);	/* anything queued while nobody told us */
			continue;
		}
		if (!(r->flags & RF_DIALER)) {
			set_link(i, LINK_DOWN);
			continue;
		}
		if (l->retry_at <= now)
			redial(i);
	}
}

/* peer_chan_gone - a worker went away: nobody to answer for it */
void
peer_chan_gone(struct chan *c)
{
	for (struct peer *p = rd.peers; p != NULL; p = p->next)
		if (p->ask == c)
			p->ask = NULL;
}

void
peer_close_all(void)
{
	while (rd.peers != NULL)
		peer_close(rd.peers, "realmd stopping");
	for (uint32_t i = 1; i <= REALMS_MAX; i++)
		if (realm_at(rd.st, i) != NULL)
			set_link(i, LINK_DOWN);
}
