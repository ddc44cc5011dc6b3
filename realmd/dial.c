/*
 * NAME
 *	dial - how a realm link begins: we dial it, or a worker hands it over
 * DESCRIPTION
 *	A dialer's link starts from an addrealm (peer_addrealm) or from a
 *	stored link that is down (links_tick, after its backoff): its host
 *	is an address, dialled at once, or a name, looked up first.  Each of
 *	a name's addresses is tried in turn until one connects.  An
 *	acceptor's link is a connection a worker read a realm hello on and
 *	handed over (peer_accept); dialed-in handshakes are limited per
 *	address and in all.
 *
 *	Looking host names up: getaddrinfo() may wait seconds for a name
 *	server, and realmd serves every link from one loop; so a host name
 *	is looked up with getaddrinfo_a() (glibc runs the lookup in a
 *	thread of its own), and peer_tick takes the answer (lookups_tick),
 *	within a tick of its coming.  The lookup is bounded by realm_wait
 *	like every other phase.  One that cannot be cancelled when its peer
 *	closes is kept on the abandoned list until it ends: its thread
 *	still writes into it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <bsd/string.h>

#include "lib/ascii.h"
#include "lib/log.h"
#include "realmd/peer.h"

#define HANDSHAKES_MAX	64		/* dialed-in connections not yet up */
#define HANDSHAKES_PER_ADDR 8		/* of them from one address (/64) */

struct lookup {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	char		 host[HOST_LEN + 1];
	char		 port[8];
	struct lookup	*next;		/* on the abandoned list */
};

static struct lookup *abandoned;
static struct ratelog accept_log;

static void
lookup_free(struct lookup *l)
{
	if (l->cb.ar_result != NULL)
		freeaddrinfo(l->cb.ar_result);
	free(l);
}

/* lookup_start - p (a dialer) looks its host up; 0, or -1 with *why */
static int
lookup_start(struct peer *p, const char *port, const char **why)
{
	struct lookup *l = calloc(1, sizeof(*l));
	struct gaicb *list[1];
	int rc;

	if (l == NULL) {
		*why = "out of memory";
		return -1;
	}
	strlcpy(l->host, p->host, sizeof(l->host));
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
	return 0;
}

/* lookup_drop - the peer closes while its lookup runs */
void
lookup_drop(struct lookup *l)
{
	if (gai_cancel(&l->cb) == EAI_NOTCANCELED) {
		l->next = abandoned;
		abandoned = l;
	} else
		lookup_free(l);
}

/*
 * dial_lookup - (LE_DIAL) an address is known at once (LE_RESOLVED); a
 * name is looked up, and lookups_tick says when it is known
 */
enum link_event
dial_lookup(struct peer *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST }, *ai = NULL;
	const char *why = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", p->port);
	rc = getaddrinfo(p->host, port, &hints, &ai);
	if (rc == 0) {
		p->addrs = p->addr_next = ai;
		return LE_RESOLVED;
	}
	if (rc != EAI_NONAME)
		return link_closing(p, gai_strerror(rc));
	if (lookup_start(p, port, &why) == -1)
		return link_closing(p, why);
	return LE_NONE;
}

/*
 * dial_connect - (LE_RESOLVED) the TCP connect of p to the next of its
 * addresses that takes it (a name may have an IPv6 and an IPv4 address,
 * and the peer listen on one); closed when none is left, saying why the
 * last one failed (or p->why, why the one before did)
 */
enum link_event
dial_connect(struct peer *p)
{
	char why[sizeof(p->why)];
	struct addrinfo *ai;

	strlcpy(why, p->why[0] ? p->why : "the name has no address",
	    sizeof(why));
	while ((ai = p->addr_next) != NULL) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);

		p->addr_next = ai->ai_next;
		if (fd == -1 || (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS)) {
			strlcpy(why, strerror(errno), sizeof(why));
			if (fd != -1)
				close(fd);
			continue;
		}
		p->fd = fd;
		p->events = EPOLLOUT;
		if (peer_watch(p) == 0)
			return LE_NONE;
		strlcpy(why, strerror(errno), sizeof(why));
		close(fd);
		p->fd = -1;
	}
	return link_closing(p, why);
}

/* dial_retry - (LE_CONNECT_FAILED) that address failed: the next */
enum link_event
dial_retry(struct peer *p)
{
	close(p->fd);		/* out of the epoll set too */
	p->fd = -1;
	return dial_connect(p);
}

/*
 * dial_begin - a dialer for host:port, for link realm or for an addrealm
 * (realm 0); NULL with *why (valid until the next tick) if it failed
 * at once
 */
static struct peer *
dial_begin(uint32_t realm, const char *host, uint16_t port, const char **why)
{
	struct peer *p;

	if ((p = peer_new(-1, true)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	p->realm = realm;
	strlcpy(p->host, host, sizeof(p->host));
	p->port = port;
	link_fsm(p, LE_DIAL);
	if (p->phase == PH_CLOSED) {
		*why = p->why;	/* the caller takes the link down */
		return NULL;
	}
	return p;
}

/* lookups_tick - dial the names looked up; free abandoned lookups that ended */
void
lookups_tick(void)
{
	struct lookup **lp = &abandoned, *l;

	while ((l = *lp) != NULL) {
		if (gai_error(&l->cb) == EAI_INPROGRESS) {
			lp = &l->next;
			continue;
		}
		*lp = l->next;
		lookup_free(l);
	}
	for (struct peer *p = rd.peers; p != NULL; p = p->next) {
		int rc;

		if (p->phase != PH_RESOLVING ||
		    (rc = gai_error(&p->lookup->cb)) == EAI_INPROGRESS)
			continue;
		l = p->lookup;
		p->lookup = NULL;
		p->addrs = p->addr_next = l->cb.ar_result;
		l->cb.ar_result = NULL;
		lookup_free(l);
		link_fsm(p, rc != 0 ? link_closing(p, gai_strerror(rc)) :
		    LE_RESOLVED);
		if (p->phase == PH_CLOSED)
			log_info("realm link to %s:%u: %s", p->host, p->port,
			    p->why);
	}
}

/* dial_stored - dial stored link realm again */
static void
dial_stored(uint32_t realm)
{
	struct shm_realm *r = &rd.st->realms[realm];
	const char *why = NULL;
	struct peer *p;

	set_link(realm, LINK_CONNECTING);
	if ((p = dial_begin(realm, r->host, r->port, &why)) == NULL) {
		log_info("realm %s: cannot dial %s:%u: %s", r->name, r->host,
		    r->port, why);
		link_down(realm, why);
		return;
	}
	rd.links[realm].conn = p;
	rd.links[realm].created = r->created;
}

/* links_tick - links deleted are closed, links down dialled again */
void
links_tick(uint64_t now)
{
	for (uint32_t i = 1; i <= REALMS_MAX; i++) {
		struct shm_realm *r = realm_at(rd.st, i);
		struct link_rt *l = &rd.links[i];
		if (r == NULL || (l->conn != NULL && l->created != r->created)) {
			/* deleted (and perhaps its slot taken by a new link) */
			if (l->conn != NULL) {
				l->conn->realm = 0;
				link_fail(l->conn, "link deleted");
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
			dial_stored(i);
	}
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
	if ((p = dial_begin(0, host, (uint16_t)port, &why)) == NULL) {
		char msg[300];
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
		if (p->dialer || p->phase == PH_UP || p->phase >= PH_CLOSING)
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
		link_fail(oldest, "too many handshakes");
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
	link_fsm(p, LE_HANDOFF);
	if (buf_append(&p->in, bytes, len) == -1) {
		link_fail(p, "out of memory");
		return;
	}
	peer_event(p, 0);
}
