/*
 * NAME
 *	load - closed-loop load generator for realmchat, redis and echo
 * SYNOPSIS
 *	load -m realmchat|echo|redis -p port [-c conns] [-d secs] [-w secs]
 *	     [-s bytes] [-t] [-j threads] [-i idle] [-u prefix] [-o first]
 *	     [-P password] [-S pid,pid,...] [-X mapping] [-g ms]
 *	load -m fill -p port -n messages -a first -r count [-c conns] [-D depth]
 *	load -m file -p port [-F bytes] [-c small-clients] [-o first]
 *	load -m startup -p port [-L log] -- command [arg ...]
 *	load -m realm -p port -q far-port -R link -x far-link [-c conns] [-d secs]
 *	     [-w secs] [-s bytes] [-T secs]
 *	load -m drain -p port -q far-port -R link -x far-link -n messages
 *	     [-a first -r count] [-c conns] [-D depth] [-T secs] [-L log]
 *	     [-- command [arg ...]]
 *	load -m say -p port [-u prefix] [-o first] -- word ...
 *	load -m irc|push|poll -p port [-c pairs] [-d secs] [-w secs] [-s bytes]
 *	     [-k think-ms] [-I poll-ms] [-o first] [-S pid,...]
 *	load -m freeport
 * DESCRIPTION
 *	realmchat: each of the conns connections logs its own user in (user
 *	prefix<first+i>), then alternates "send <peer> <text>" (the peer is
 *	the next connection's user) and "inbox", keeping exactly one request
 *	outstanding (closed loop).  -t sends the token as the first argument
 *	(send <tokenid> peer text, inbox <tokenid>).  echo sends the same
 *	lines, without logging in, to bench/echo.  redis does the same work
 *	in RESP: LPUSH <peer-list> <text> and LPOP <own-list> 100.
 *
 *	After every connection is ready the load runs -w seconds of warm-up,
 *	then -d measured seconds: operations completed in that window, and
 *	the latency of each (request written to reply read in full) in a
 *	log-linear histogram (1.6% resolution, no allocation per request).
 *
 *	The connections are opened at once, as a client pool would; -g
 *	opens one every that many milliseconds instead, the earlier ones
 *	already running (to see how the server spreads them over workers).
 *
 *	-i opens that many idle connections before the load and holds them
 *	to the end; with -S the load starts only once the server holds them
 *	all (idle_accept_ms: how long that took after the last connect), and
 *	-S then reads, while they are still held, the memory of
 *	the given processes (Private_Clean + Private_Dirty of every mapping
 *	except the one whose path contains -X, and the same from
 *	smaps_rollup) and counts their sockets.
 *
 *	fill queues -n messages, pipelined -D deep, round-robin into the
 *	users first .. first+count-1 of -a and -r.  file sends a file of -F
 *	bytes (sendfile) from one user to the next, whose connection polls
 *	inbox until it has arrived, while -c small clients run the closed
 *	loop above; it reports the transfer time and the longest a small
 *	request waited meanwhile.  startup runs the command and reports the
 *	time from exec to the first reply on port.  freeport prints a free
 *	TCP port of 127.0.0.1.
 *
 *	realm: the closed loop above with "sendrealm <link> <peer> <text>"
 *	only, on the realm of -p; -R is the link's id there.  Each reply waits
 *	for the far realm's verdict while the link is up; replies that say
 *	"queued" are counted.  Every text is unique (run, connection and
 *	sequence number in its first bytes).  After the window, and after
 *	every outstanding reply, the users' "inboxrealm <far-link>" is
 *	drained on the realm of -q (-x: the same link's id there) until every
 *	message that got an OK has arrived or -T seconds have passed:
 *	delivered, lost (never arrived), doubled (arrived more than once) and
 *	stray (arrived, but never sent with an OK).
 *
 *	drain: with the link down (it waits until listrealm says so and the
 *	link's queue is empty), queues -n messages over it from -c
 *	connections, pipelined -D deep, to users first .. first+count-1
 *	(-a, -r; default the senders themselves); then runs the command, if
 *	one is given (the far realm's daemon; pid= in the result), and polls
 *	listrealm every 2 ms: from the first "up" to "queued":0 is the drain.
 *	Then verifies at the far side as realm does.
 *
 *	say: logs user prefix<first> in, sends the words as one request line
 *	and prints the reply; exits 1 unless it is OK.
 *
 *	irc, push, poll: pairs of a sender and its partner, closed loop; see
 *	mode_pairs().  irc against an IRC server (PRIVMSG), push against
 *	realmchat with the partner watching, poll with the partner asking
 *	inbox every -I ms (100).  The latency is from writing the message to
 *	its arrival at the partner.
 *
 *	Results go to stdout as one line of key=value pairs.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define IN_SIZE		(16 * 1024)	/* reply buffer of a connection */
#define TOKEN_LEN	36
#define CONNECTS_IN_FLIGHT 512		/* idle connections being opened */
#define SETUP_LIMIT_NS	(60 * NS)	/* connecting and logging in */
#define GRACE_NS	(2 * NS)	/* for the last replies after the window */
#define REALM_GRACE_NS	(30 * NS)	/* the same, for sendrealm's replies */
#define NS		1000000000ULL
#define MAX_THREADS	16
#define REPLY_END	"\r\n\r\n"

/* ---- time and the latency histogram ---- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/*
 * Log-linear buckets: values below 128 ns exactly, above that 64 buckets
 * per power of two, so a bucket is at most 1/64 of its value wide.
 */
#define SUB_BITS	6
#define SUB		(1u << SUB_BITS)
#define HBUCKETS	(SUB * (64 - SUB_BITS) + SUB)

struct hist {
	uint64_t	n;
	uint64_t	max;
	uint64_t	b[HBUCKETS];
};

static unsigned
hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS;
	return SUB * shift + (unsigned)(v >> shift);
}

static uint64_t
hist_value(unsigned i)
{
	unsigned shift;
	uint64_t top;

	if (i < 2 * SUB)
		return i;
	shift = i / SUB - 1;
	top = i - SUB * shift;
	return (top << shift) + ((1ULL << shift) >> 1);	/* middle of the bucket */
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void
hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HBUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	if (h->max > into->max)
		into->max = h->max;
}

/* hist_quantile - the value at quantile q (0..1), in ns */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;

	if (h->n == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HBUCKETS; i++)
		if ((seen += h->b[i]) >= rank)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	return h->max;
}

/* ---- options ---- */

enum mode { M_REALMCHAT, M_ECHO, M_REDIS, M_FILL, M_FILE, M_STARTUP, M_FREEPORT,
    M_REALM, M_DRAIN, M_SAY, M_IRC, M_PUSH, M_POLL };

static struct {
	enum mode	 mode;
	const char	*host;
	int		 port;
	unsigned	 conns;
	double		 duration, warmup;
	size_t		 msg_size;
	bool		 token_form;
	unsigned	 threads;
	unsigned	 idle;
	const char	*prefix;
	unsigned	 first;
	const char	*password;
	const char	*sample_pids;
	const char	*exclude;
	uint64_t	 fill_total;
	unsigned	 fill_first, fill_count, depth;
	size_t		 file_size;
	const char	*log;
	uint64_t	 gap_ns;	/* between dialling load connections */
	int		 far_port;	/* realm, drain: the receiving realm */
	const char	*link;		/* the link's id on the sending realm */
	const char	*far_link;	/* the same link's id on the receiving one */
	double		 verify_secs;	/* how long deliveries are waited for */
} o = {
	.mode = M_REALMCHAT, .host = "127.0.0.1", .conns = 50, .duration = 5,
	.warmup = 1, .msg_size = 32, .threads = 1, .prefix = "b",
	.password = "benchpass", .exclude = "realmchat.state", .depth = 256,
	.file_size = 10 << 20, .verify_secs = 60,
};

static struct sockaddr_in target, far_target;
static const struct sockaddr_in *dial_to = &target;	/* of conn_init() */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- connections ---- */

enum role { R_LOAD, R_FILL, R_SENDER, R_RECIPIENT, R_SMALL, R_DRAINER };
enum phase { P_AUTH, P_READY, P_BUSY, P_DONE };

struct thread;

struct conn {
	int		 fd;
	enum role	 role;
	enum phase	 phase;
	unsigned	 user;		/* user number of this connection */
	unsigned	 peer;		/* user number it sends to */
	struct thread	*t;
	bool		 want_out;	/* EPOLLOUT registered */
	bool		 keep;		/* keep whole replies (grow, never skip) */

	const char	*out;		/* request being written */
	size_t		 outlen, outoff;
	char		*req[2];	/* prepared requests: send, inbox */
	size_t		 reqlen[2];
	uint64_t	 op;		/* requests issued */
	uint64_t	 sent_at;	/* ns, of the outstanding request */

	char		*in;		/* reply bytes */
	size_t		 incap, inlen, scan;
	uint64_t	 skipped;	/* bytes of this reply already dropped */
	int		 status;	/* of this reply: -1 unknown, 0 error, 1 OK */

	uint32_t	 expect;	/* replies owed to a pipelined batch */
	uint64_t	 todo;		/* fill: messages still to queue */
	uint64_t	 next_msg;	/* fill: number of the next one */
	uint64_t	 batch_first;	/* drain: number of the batch's first */
	uint32_t	 batch_n;	/* drain: messages in the batch */
	char		 token[TOKEN_LEN + 1];
};

struct thread {
	pthread_t	 tid;
	int		 epfd;
	struct conn	*conns;
	unsigned	 nconns;
	unsigned	 base;		/* index of its first connection */
	unsigned	 active;	/* connections not yet done */
	struct hist	 hist;
	uint64_t	 ops, errors;
	uint64_t	 all_ops, all_errors, queued;	/* realm: window or not */
};

/* Shared by the threads: when the window opens and closes. */
static struct {
	unsigned	 ready;		/* connections logged in */
	unsigned	 total;
	uint64_t	 t_measure;	/* ns; UINT64_MAX until everyone is ready */
	uint64_t	 t_end;
} run = { .t_measure = UINT64_MAX, .t_end = UINT64_MAX };

static uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int
dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)dial_to, sizeof(*dial_to)) == -1)
		die("connect %s:%d: %s", o.host, ntohs(dial_to->sin_port),
		    strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* hang_up - close with a reset, so that no TIME_WAIT piles up */
static void
hang_up(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void
want_out(struct conn *c, bool on)
{
	struct epoll_event e = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (c->want_out == on)
		return;
	if (epoll_ctl(c->t->epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->want_out = on;
}

/* write_out - write what the socket takes of the current request */
static void
write_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				want_out(c, true);
				return;
			}
			die("send: %s", strerror(errno));
		}
		c->outoff += (size_t)n;
	}
	want_out(c, false);
}

static void
start_request(struct conn *c, const char *req, size_t len)
{
	c->out = req;
	c->outlen = len;
	c->outoff = 0;
	c->sent_at = now_ns();
	write_out(c);
}

/* ---- framing of replies ---- */

/* line_frame - end of the first complete "...\r\n\r\n" reply, or 0 */
static size_t
line_frame(struct conn *c)
{
	const char *p;

	if (c->inlen < c->scan + 4) {
		return 0;
	}
	p = memmem(c->in + c->scan, c->inlen - c->scan, REPLY_END, 4);
	if (p == NULL) {
		c->scan = c->inlen - 3;
		return 0;
	}
	return (size_t)(p - c->in) + 4;
}

/* resp_value - end of the RESP value at pos, 0 if incomplete, -1 if bad */
static long
resp_value(const char *b, size_t len, size_t pos, int depth, bool *err)
{
	const char *crlf;
	size_t eol;
	long n;

	if (pos >= len || depth > 4)
		return pos >= len ? 0 : -1;
	if ((crlf = memmem(b + pos, len - pos, "\r\n", 2)) == NULL)
		return 0;
	eol = (size_t)(crlf - b) + 2;
	switch (b[pos]) {
	case '+':
	case ':':
		return (long)eol;
	case '-':
		*err = true;
		return (long)eol;
	case '$':
		n = strtol(b + pos + 1, NULL, 10);
		if (n < 0)
			return (long)eol;
		return eol + (size_t)n + 2 > len ? 0 : (long)(eol + (size_t)n + 2);
	case '*':
		n = strtol(b + pos + 1, NULL, 10);
		for (long i = 0; i < n; i++) {
			long r = resp_value(b, len, eol, depth + 1, err);
			if (r <= 0)
				return r;
			eol = (size_t)r;
		}
		return (long)eol;
	default:
		return -1;
	}
}

static bool
reply_ok_prefix(const char *p, size_t len)
{
	static const char ok[] = "{\"status\":\"OK\"";

	return len >= sizeof(ok) - 1 && memcmp(p, ok, sizeof(ok) - 1) == 0;
}

/* ---- what each role does with a reply ---- */

static void on_reply(struct conn *, bool ok, size_t len);

/* take_replies - frame what is in c->in; make room for more */
static void
take_replies(struct conn *c)
{
	for (;;) {
		size_t end;
		bool ok;

		if (o.mode == M_REDIS) {
			bool err = false;
			long r = resp_value(c->in, c->inlen, 0, 0, &err);
			if (r == -1)
				die("malformed RESP reply");
			end = (size_t)r;
			ok = !err;
		} else {
			end = line_frame(c);
			ok = c->skipped > 0 ? c->status == 1 :
			    reply_ok_prefix(c->in, end);
		}
		if (end == 0)
			break;
		on_reply(c, ok, c->skipped + end);
		memmove(c->in, c->in + end, c->inlen - end);
		c->inlen -= end;
		c->scan = 0;
		c->skipped = 0;
		c->status = -1;
	}
	if (c->inlen < c->incap)
		return;
	if (c->keep || o.mode == M_REDIS) {
		char *p = realloc(c->in, c->incap * 2);
		if (p == NULL)
			die("out of memory");
		c->in = p;
		c->incap *= 2;
		return;
	}
	/* a long reply: only its status and its end matter */
	if (c->skipped == 0)
		c->status = reply_ok_prefix(c->in, c->inlen);
	c->skipped += c->inlen - 3;
	memmove(c->in, c->in + c->inlen - 3, 3);
	c->inlen = 3;
	c->scan = 0;
}

static void
read_in(struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);

	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		die("read: %s", strerror(errno));
	}
	if (n == 0)
		die("the server closed a connection (user %s%u)", o.prefix, c->user);
	c->inlen += (size_t)n;
	take_replies(c);
}

/* ---- preparing requests ---- */

static char *
xmalloc(size_t n)
{
	char *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* fill_text - msg_size bytes of printable text */
static void
fill_text(char *p, size_t n)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < n; i++)
		p[i] = abc[i % (sizeof(abc) - 1)];
}

/* ---- realm: which messages were sent, which arrived ---- */

/*
 * Every realm text starts "<kind><run>.<source>.<seq>." (kind 'L' for the
 * closed loop, whose sources are its connections, 'Q' for drain, one
 * source): unique over runs, so the far side can tell each one apart.
 */
struct track {
	uint64_t	 n, cap;
	uint8_t		*sent;		/* the sender's OK came */
	uint8_t		*got;		/* times it arrived at the far side */
};

static struct track *tracks;
static unsigned ntracks;
static unsigned run_tag;
static char text_kind;

static struct {
	uint64_t	 expected;	/* sent with an OK */
	uint64_t	 unique;	/* of those, arrived */
	uint64_t	 delivered;	/* arrivals, doubles included */
	uint64_t	 doubled, stray, errors;
} vf;

static void
tracks_init(unsigned n)
{
	ntracks = n;
	if ((tracks = calloc(n, sizeof(*tracks))) == NULL)
		die("out of memory");
	run_tag = (unsigned)getpid();
}

/* track_sent - message seq of source src got its OK */
static void
track_sent(unsigned src, uint64_t seq)
{
	struct track *t = &tracks[src];

	if (seq >= t->cap) {
		uint64_t cap = t->cap ? t->cap : 1024;
		while (cap <= seq)
			cap *= 2;
		if ((t->sent = realloc(t->sent, cap)) == NULL ||
		    (t->got = realloc(t->got, cap)) == NULL)
			die("out of memory");
		memset(t->sent + t->cap, 0, cap - t->cap);
		memset(t->got + t->cap, 0, cap - t->cap);
		t->cap = cap;
	}
	if (seq >= t->n)
		t->n = seq + 1;
	if (!t->sent[seq])
		vf.expected++;
	t->sent[seq] = 1;
}

/* realm_text - the text of message seq of source src, o.msg_size long or more */
static int
realm_text(char *p, size_t room, unsigned src, uint64_t seq)
{
	int n = snprintf(p, room, "%c%u.%u.%llu.", text_kind, run_tag, src,
	    (unsigned long long)seq);

	if ((size_t)n < o.msg_size && o.msg_size < room) {
		fill_text(p + n, o.msg_size - (size_t)n);
		n = (int)o.msg_size;
		p[n] = '\0';
	}
	return n;
}

/* arrived - one text that arrived at the far side (as JSON, unescaped) */
static void
arrived(const char *p, size_t len)
{
	char buf[64], *e;
	unsigned long tag, src;
	unsigned long long seq;

	vf.delivered++;
	if (len < 2 || p[0] != text_kind)
		goto stray;
	memcpy(buf, p + 1, len - 1 < sizeof(buf) - 1 ? len - 1 : sizeof(buf) - 1);
	buf[len - 1 < sizeof(buf) - 1 ? len - 1 : sizeof(buf) - 1] = '\0';
	tag = strtoul(buf, &e, 10);
	if (*e != '.' || tag != run_tag)
		goto stray;
	src = strtoul(e + 1, &e, 10);
	if (*e != '.' || src >= ntracks)
		goto stray;
	seq = strtoull(e + 1, &e, 10);
	if (*e != '.' || seq >= tracks[src].n || !tracks[src].sent[seq])
		goto stray;
	if (tracks[src].got[seq] < 255)
		tracks[src].got[seq]++;
	if (tracks[src].got[seq] == 1)
		vf.unique++;
	else
		vf.doubled++;
	return;
stray:
	vf.stray++;
}

/* arrivals - every "msg" of an inboxrealm reply; true if it says "more" */
static bool
arrivals(const char *b, size_t len)
{
	static const char key[] = "\"msg\":\"";
	const char *p = b, *end = b + len, *q;

	while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		p += sizeof(key) - 1;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			break;
		arrived(p, (size_t)(q - p));
		p = q;
	}
	return memmem(b, len, "\"more\":true", 11) != NULL;
}

/* prepare - the two requests of the closed loop for connection c */
static void
prepare(struct conn *c)
{
	size_t room = o.msg_size + 256;
	char *text = xmalloc(o.msg_size + 1);
	int n0, n1;

	fill_text(text, o.msg_size);
	text[o.msg_size] = '\0';
	c->req[0] = xmalloc(room);
	c->req[1] = xmalloc(256);
	if (o.mode == M_REDIS) {
		char peer[64], own[64];
		int pl = snprintf(peer, sizeof(peer), "rc:%s%u", o.prefix, c->peer);
		int ol = snprintf(own, sizeof(own), "rc:%s%u", o.prefix, c->user);

		n0 = snprintf(c->req[0], room,
		    "*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n",
		    pl, peer, o.msg_size, text);
		n1 = snprintf(c->req[1], 256,
		    "*3\r\n$4\r\nLPOP\r\n$%d\r\n%s\r\n$3\r\n100\r\n", ol, own);
	} else if (c->role == R_DRAINER) {
		n0 = 0;
		n1 = snprintf(c->req[1], 256, "inboxrealm %s\r\n", o.far_link);
	} else if (o.mode == M_REALM || o.mode == M_DRAIN) {
		n0 = 0;		/* built for each message */
		n1 = 0;
	} else if (o.token_form && o.mode == M_REALMCHAT) {
		n0 = snprintf(c->req[0], room, "send %s %s%u %s\r\n", c->token,
		    o.prefix, c->peer, text);
		n1 = snprintf(c->req[1], 256, "inbox %s\r\n", c->token);
	} else {
		n0 = snprintf(c->req[0], room, "send %s%u %s\r\n", o.prefix,
		    c->peer, text);
		n1 = snprintf(c->req[1], 256, "inbox\r\n");
	}
	c->reqlen[0] = (size_t)n0;
	c->reqlen[1] = (size_t)n1;
	free(text);
}

static void
send_auth(struct conn *c)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "auth %s%u %s\r\n", o.prefix,
	    c->user, o.password);

	c->req[1] = xmalloc((size_t)n + 1);	/* held until prepare() */
	memcpy(c->req[1], line, (size_t)n + 1);
	c->phase = P_AUTH;
	start_request(c, c->req[1], (size_t)n);
}

/* take_token - the tokenid of an auth reply in c->in */
static void
take_token(struct conn *c, size_t len)
{
	static const char key[] = "\"tokenid\":\"";
	const char *p = memmem(c->in, len, key, sizeof(key) - 1);

	if (p == NULL || (size_t)(p - c->in) + sizeof(key) - 1 + TOKEN_LEN > len)
		die("auth of %s%u failed: %.*s", o.prefix, c->user,
		    (int)(len > 200 ? 200 : len), c->in);
	memcpy(c->token, p + sizeof(key) - 1, TOKEN_LEN);
	c->token[TOKEN_LEN] = '\0';
}

/* ---- the closed loop ---- */

static void
finish(struct conn *c)
{
	if (c->phase != P_DONE) {
		c->phase = P_DONE;
		c->t->active--;
	}
}

/* next_op - issue the next request of the loop, unless the window is over */
static void
next_op(struct conn *c)
{
	unsigned k;

	if (now_ns() >= load_u64(&run.t_end)) {
		finish(c);
		return;
	}
	c->phase = P_BUSY;
	if (o.mode == M_REALM) {
		int n = snprintf(c->req[0], o.msg_size + 256, "sendrealm %s %s%u ",
		    o.link, o.prefix, c->peer);
		n += realm_text(c->req[0] + n, o.msg_size + 256 - (size_t)n,
		    c->user - o.first, c->op++);
		memcpy(c->req[0] + n, "\r\n", 3);
		start_request(c, c->req[0], (size_t)n + 2);
		return;
	}
	k = (unsigned)(c->op++ & 1);
	start_request(c, c->req[k], c->reqlen[k]);
}

/* became_ready - c is logged in; the last one opens the warm-up */
static void
became_ready(struct conn *c)
{
	unsigned n = __atomic_add_fetch(&run.ready, 1, __ATOMIC_ACQ_REL);

	if (n == run.total) {
		uint64_t t = now_ns() + (uint64_t)(o.warmup * NS);
		__atomic_store_n(&run.t_end, t + (uint64_t)(o.duration * NS),
		    __ATOMIC_RELEASE);
		__atomic_store_n(&run.t_measure, t, __ATOMIC_RELEASE);
	}
}

static void fill_batch(struct conn *);
static void file_reply(struct conn *, bool, size_t);
static void verify_far(unsigned, unsigned);

/* realm_reply - the reply to message seq of source src (sendrealm) */
static void
realm_reply(struct conn *c, bool ok, size_t len, unsigned src, uint64_t seq)
{
	c->t->all_ops++;
	if (!ok) {
		c->t->all_errors++;
		return;
	}
	track_sent(src, seq);
	if (memmem(c->in, len, "\"queued\":true", 13) != NULL)
		c->t->queued++;
}

static void
on_reply(struct conn *c, bool ok, size_t len)
{
	uint64_t now = now_ns(), tm;

	if (c->phase == P_AUTH) {
		if (!ok)
			die("auth of %s%u failed: %.*s", o.prefix, c->user,
			    (int)(c->inlen > 200 ? 200 : c->inlen), c->in);
		take_token(c, len);
		free(c->req[1]);
		prepare(c);
		c->phase = P_READY;
		if (c->role == R_FILL)
			fill_batch(c);
		else if (c->role == R_LOAD) {
			became_ready(c);
			next_op(c);
		} else
			became_ready(c);
		return;
	}
	switch (c->role) {
	case R_LOAD:
		tm = load_u64(&run.t_measure);
		if (now >= tm && now < load_u64(&run.t_end)) {
			hist_add(&c->t->hist, now - c->sent_at);
			c->t->ops++;
			c->t->errors += !ok;
		}
		if (o.mode == M_REALM)
			realm_reply(c, ok, len, c->user - o.first, c->op - 1);
		next_op(c);
		break;
	case R_FILL:
		c->t->ops++;
		c->t->errors += !ok;
		if (o.mode == M_DRAIN)
			realm_reply(c, ok, len, 0, c->batch_first +
			    (uint64_t)(c->batch_n - c->expect) * o.conns);
		if (--c->expect == 0)
			fill_batch(c);
		break;
	case R_DRAINER:
		vf.errors += !ok;
		if (ok && arrivals(c->in, len))
			start_request(c, c->req[1], c->reqlen[1]);
		else
			c->phase = P_READY;	/* this pass is done */
		break;
	default:
		file_reply(c, ok, len);
	}
}

static void
conn_init(struct conn *c, struct thread *t, enum role role, unsigned user,
    unsigned peer)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

	memset(c, 0, sizeof(*c));
	c->t = t;
	c->role = role;
	c->user = user;
	c->peer = peer;
	c->status = -1;
	c->incap = IN_SIZE;
	c->in = xmalloc(c->incap);
	c->fd = dial();
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	t->active++;
}

static void
dispatch(struct thread *t, int timeout_ms)
{
	struct epoll_event ev[256];
	int n = epoll_wait(t->epfd, ev, 256, timeout_ms);

	if (n == -1 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;

		if (ev[i].events & EPOLLOUT)
			write_out(c);
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_in(c);
	}
}

/* start_load_conn - dial connection k of t and start it on its way */
static void
start_load_conn(struct thread *t, unsigned k)
{
	struct conn *c = &t->conns[k];
	unsigned u = t->base + k;

	conn_init(c, t, R_LOAD, o.first + u, o.first + (u + 1) % o.conns);
	if (o.mode == M_REALMCHAT || o.mode == M_REALM)
		send_auth(c);
	else {
		prepare(c);
		c->phase = P_READY;
		became_ready(c);
		next_op(c);
	}
}

static void *
load_thread(void *arg)
{
	struct thread *t = arg;
	uint64_t begun = now_ns(), last_dial = 0;
	unsigned dialed = 0;

	while (dialed < t->nconns || t->active > 0) {
		uint64_t now = now_ns(), end = load_u64(&run.t_end);

		/* -g: one connection per gap, the earlier ones already busy */
		while (dialed < t->nconns && now - last_dial >= o.gap_ns) {
			start_load_conn(t, dialed++);
			last_dial = now;
			if (o.gap_ns > 0)
				break;
		}
		if (end == UINT64_MAX && now - begun > SETUP_LIMIT_NS)
			die("connections not ready after %llu s",
			    (unsigned long long)(SETUP_LIMIT_NS / NS));
		if (end != UINT64_MAX && now > end + GRACE_NS) {
			if (o.mode != M_REALM)
				break;	/* stragglers are not waited for */
			/* but a realm message's fate must be known */
			if (now > end + REALM_GRACE_NS)
				die("realm: replies still owed %llu s after the window",
				    (unsigned long long)(REALM_GRACE_NS / NS));
		}
		dispatch(t, dialed < t->nconns ? 1 : 50);
		/* a connection whose window ended while idle in P_READY */
		if (load_u64(&run.t_end) <= now_ns())
			for (unsigned i = 0; i < dialed; i++)
				if (t->conns[i].phase == P_READY)
					finish(&t->conns[i]);
	}
	return NULL;
}

/* ---- idle connections ---- */

static int *idle_fds;

/* open_idle - open o.idle connections, CONNECTS_IN_FLIGHT at a time */
static void
open_idle(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned started = 0, done = 0, inflight = 0;
	uint64_t begun = now_ns();

	idle_fds = calloc(o.idle ? o.idle : 1, sizeof(int));
	if (ep == -1 || idle_fds == NULL)
		die("idle: %s", strerror(errno));
	while (done < o.idle) {
		struct epoll_event ev[256];
		int n;

		while (started < o.idle && inflight < CONNECTS_IN_FLIGHT) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
			struct epoll_event e = { .events = EPOLLOUT,
			    .data.u32 = started };

			if (fd == -1)
				die("idle socket %u: %s", started, strerror(errno));
			if (connect(fd, (struct sockaddr *)&target,
			    sizeof(target)) == -1 && errno != EINPROGRESS)
				die("idle connect: %s", strerror(errno));
			idle_fds[started++] = fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == -1)
				die("epoll_ctl: %s", strerror(errno));
			inflight++;
		}
		if (now_ns() - begun > SETUP_LIMIT_NS)
			die("idle connections: %u of %u open after %llu s", done,
			    o.idle, (unsigned long long)(SETUP_LIMIT_NS / NS));
		n = epoll_wait(ep, ev, 256, 100);
		for (int i = 0; i < n; i++) {
			int fd = idle_fds[ev[i].data.u32], err = 0;
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err != 0)
				die("idle connection %u: %s", ev[i].data.u32,
				    strerror(err));
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			inflight--;
			done++;
		}
	}
	close(ep);
}

/* idle_alive - how many idle connections the server has not closed */
static unsigned
idle_alive(void)
{
	unsigned n = 0;
	char b;

	for (unsigned i = 0; i < o.idle; i++) {
		ssize_t r = recv(idle_fds[i], &b, 1, MSG_PEEK | MSG_DONTWAIT);
		n += r == -1 && errno == EAGAIN;
	}
	return n;
}

/* ---- memory of the server processes ---- */

struct mem {
	uint64_t	private_kib;	/* every mapping but the excluded one */
	uint64_t	rollup_kib;	/* smaps_rollup */
	uint64_t	sockets;
	char		by_pid[256];	/* sockets of each process, a/b/c */
};

static uint64_t
private_of(const char *path, bool by_mapping)
{
	char line[1024];
	bool skip = false;
	uint64_t kib = 0;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned long long v;

		/* a mapping's header line starts with its (lower-case) address */
		if (by_mapping && !isupper((unsigned char)line[0])) {
			skip = strstr(line, o.exclude) != NULL;
			continue;
		}
		if (skip)
			continue;
		if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
		    sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
			kib += v;
	}
	fclose(fp);
	return kib;
}

static uint64_t
sockets_of(const char *pid)
{
	char dir[64], path[512], link[64];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		ssize_t l;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[l] = '\0';
			n += strncmp(link, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

static struct mem
sample_memory(void)
{
	struct mem m = { .private_kib = 0 };
	char *list = strdup(o.sample_pids), *save = NULL, path[64];
	size_t used = 0;

	for (char *pid = strtok_r(list, ",", &save); pid != NULL;
	    pid = strtok_r(NULL, ",", &save)) {
		snprintf(path, sizeof(path), "/proc/%s/smaps", pid);
		m.private_kib += private_of(path, true);
		snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", pid);
		m.rollup_kib += private_of(path, false);
		uint64_t n = sockets_of(pid);
		m.sockets += n;
		if (used < sizeof(m.by_pid))
			used += (size_t)snprintf(m.by_pid + used,
			    sizeof(m.by_pid) - used, "%s%llu", used ? "/" : "",
			    (unsigned long long)n);
	}
	free(list);
	return m;
}

/*
 * await_accepted - with -S, wait until the server holds a socket for every
 * idle connection.  A connect completes in the kernel before the server
 * accepts it, so without this the active connections would reach a server
 * still draining the idle ones from its backlog, and be spread over its
 * workers otherwise than in a run without idle connections.  Returns the
 * milliseconds waited.
 */
static uint64_t
await_accepted(void)
{
	uint64_t begun = now_ns();

	if (o.sample_pids == NULL || o.idle == 0)
		return 0;
	while (sample_memory().sockets < o.idle) {
		if (now_ns() - begun > SETUP_LIMIT_NS)
			die("the server accepted too few idle connections");
		usleep(20 * 1000);
	}
	return (now_ns() - begun) / 1000000;
}

/* tcp_mem_kib - the kernel's memory for TCP buffers, system-wide */
static uint64_t
tcp_mem_kib(void)
{
	char line[256];
	unsigned long long pages = 0;
	FILE *fp = fopen("/proc/net/sockstat", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *p = strstr(line, " mem ");
		if (strncmp(line, "TCP:", 4) == 0 && p != NULL)
			pages = strtoull(p + 5, NULL, 10);
	}
	fclose(fp);
	return pages * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* slab_kib - the kernel's slab memory, system-wide (sockets live there) */
static uint64_t
slab_kib(void)
{
	char line[256];
	unsigned long long kib = 0;
	FILE *fp = fopen("/proc/meminfo", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Slab: %llu kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

/* ---- CPU time: ours, the server's, everyone else's ---- */

struct cpu_snap {
	uint64_t	busy;		/* all but idle, iowait and steal, ticks */
	uint64_t	softirq;
	uint64_t	steal;
	uint64_t	self;		/* this process */
	uint64_t	server;		/* the -S processes */
};

/* proc_ticks - utime + stime of process pid ("self" for us) */
static uint64_t
proc_ticks(const char *pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return 0;
	return ut + st;
}

static void
cpu_snap(struct cpu_snap *s)
{
	unsigned long long v[8] = { 0 };
	char line[512];
	FILE *fp = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (fp != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL)
			sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(fp);
	}
	/* a task's ticks include the interrupts that hit it */
	s->busy = v[0] + v[1] + v[2] + v[5] + v[6];
	s->softirq = v[6];
	s->steal = v[7];
	s->self = proc_ticks("self");
	if (o.sample_pids != NULL) {
		char *list = strdup(o.sample_pids), *save = NULL;

		for (char *pid = strtok_r(list, ",", &save); pid != NULL;
		    pid = strtok_r(NULL, ",", &save))
			s->server += proc_ticks(pid);
		free(list);
	}
}

/* wait_for - sleep until the shared time *t is set and has come */
static void
wait_for(const uint64_t *t)
{
	for (;;) {
		uint64_t when = load_u64(t), now = now_ns();
		struct timespec ts;

		if (when != UINT64_MAX && now >= when)
			return;
		if (when == UINT64_MAX)
			when = now + NS / 1000;
		ts.tv_sec = (time_t)(when / NS);
		ts.tv_nsec = (long)(when % NS);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

/*
 * print_cpu - CPU over the window in % of one CPU: the server's (-S),
 * ours, softirq (the loopback's packet work), steal, and everyone else
 * (a busy neighbour makes the run worth less); and the server's CPU
 * time per operation.
 */
static void
print_cpu(const struct cpu_snap *a, const struct cpu_snap *b, uint64_t ops)
{
	double tick = 100.0 / (double)sysconf(_SC_CLK_TCK) / o.duration;
	double server = (double)(b->server - a->server);
	double self = (double)(b->self - a->self);
	double other = (double)(b->busy - a->busy) - server - self;

	printf(" server_cpu=%.0f load_cpu=%.0f softirq_cpu=%.0f other_cpu=%.0f "
	    "steal_cpu=%.0f", server * tick, self * tick,
	    (double)(b->softirq - a->softirq) * tick,
	    other > 0 ? other * tick : 0.0,
	    (double)(b->steal - a->steal) * tick);
	if (o.sample_pids != NULL && ops > 0)
		printf(" server_us_per_op=%.2f", server * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)ops);
}

/* print_memory - " mem_kib=..." and the rest, if -S named processes */
static void
print_memory(void)
{
	struct mem m;

	if (o.sample_pids == NULL)
		return;
	m = sample_memory();
	printf(" mem_kib=%llu mem_rollup_kib=%llu daemon_sockets=%llu "
	    "sockets_by_pid=%s tcp_mem_kib=%llu slab_kib=%llu",
	    (unsigned long long)m.private_kib,
	    (unsigned long long)m.rollup_kib,
	    (unsigned long long)m.sockets, m.by_pid,
	    (unsigned long long)tcp_mem_kib(),
	    (unsigned long long)slab_kib());
}

/* ---- one blocking session, for listrealm and say ---- */

struct bconn {
	int	 fd;
	char	*buf;
	size_t	 cap, len;	/* the last reply is buf[0..len) */
};

/* bcall - send line (with its CRLF) and read the whole reply */
static const char *
bcall(struct bconn *b, const char *line)
{
	size_t n = strlen(line), off = 0;

	while (off < n) {
		ssize_t w = send(b->fd, line + off, n - off, MSG_NOSIGNAL);
		if (w == -1 && errno != EINTR)
			die("send: %s", strerror(errno));
		off += w > 0 ? (size_t)w : 0;
	}
	b->len = 0;
	for (;;) {
		struct pollfd p = { .fd = b->fd, .events = POLLIN };
		ssize_t r;

		if (b->len >= 4 && memcmp(b->buf + b->len - 4, REPLY_END, 4) == 0)
			break;
		if (b->len + 1 >= b->cap) {
			b->cap = b->cap ? b->cap * 2 : 65536;
			if ((b->buf = realloc(b->buf, b->cap)) == NULL)
				die("out of memory");
		}
		if (poll(&p, 1, 30000) != 1)
			die("no reply to %.*s in 30 s", (int)strcspn(line, "\r"), line);
		r = read(b->fd, b->buf + b->len, b->cap - b->len - 1);
		if (r <= 0)
			die("the server closed the connection");
		b->len += (size_t)r;
	}
	b->buf[b->len] = '\0';
	return b->buf;
}

static void
bopen(struct bconn *b, unsigned user)
{
	char line[256];

	memset(b, 0, sizeof(*b));
	b->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->fd == -1 ||
	    connect(b->fd, (struct sockaddr *)&target, sizeof(target)) == -1)
		die("connect %s:%d: %s", o.host, o.port, strerror(errno));
	snprintf(line, sizeof(line), "auth %s%u %s\r\n", o.prefix, user,
	    o.password);
	bcall(b, line);
	if (!reply_ok_prefix(b->buf, b->len))
		die("auth of %s%u failed: %.200s", o.prefix, user, b->buf);
}

/* link_state - from listrealm: the link's state (0 if unknown) and queue */
static bool
link_state(struct bconn *b, char *state, size_t room, long *queued)
{
	char key[128];
	const char *p, *e, *s, *q;

	bcall(b, "listrealm\r\n");
	snprintf(key, sizeof(key), "\"id\":\"%s\"", o.link);
	if ((p = strstr(b->buf, key)) == NULL)
		die("listrealm does not show link %s: %.300s", o.link, b->buf);
	if ((e = strchr(p, '}')) == NULL ||
	    (s = strstr(p, "\"state\":\"")) == NULL || s > e ||
	    (q = strstr(p, "\"queued\":")) == NULL || q > e)
		die("listrealm: %.300s", b->buf);
	s += 9;
	snprintf(state, room, "%.*s", (int)strcspn(s, "\""), s);
	*queued = strtol(q + 9, NULL, 10);
	return strcmp(state, "up") == 0;
}

/* ---- modes ---- */

static double
us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void
mode_load(void)
{
	struct thread *threads = calloc(o.threads, sizeof(*threads));
	struct conn *conns = calloc(o.conns, sizeof(*conns));
	struct hist *all = calloc(1, sizeof(*all));
	uint64_t ops = 0, errors = 0, accept_ms = 0;
	uint64_t all_ops = 0, all_errors = 0, queued = 0;
	struct cpu_snap cpu0, cpu1;
	unsigned alive;

	if (threads == NULL || conns == NULL || all == NULL)
		die("out of memory");
	if (o.idle > 0) {
		open_idle();
		accept_ms = await_accepted();
	}
	if (o.mode == M_REALM) {
		struct bconn b;
		char state[32];
		long waiting;
		uint64_t begun = now_ns();

		/* the link up and its queue empty, or replies would say queued */
		bopen(&b, o.first);
		while (!link_state(&b, state, sizeof(state), &waiting) ||
		    waiting != 0) {
			if (now_ns() - begun > 30 * NS)
				die("realm: link %s %s with %ld queued after 30 s",
				    o.link, state, waiting);
			usleep(20 * 1000);
		}
		close(b.fd);
		free(b.buf);
		tracks_init(o.conns);
		text_kind = 'L';
	}
	run.total = o.conns;
	for (unsigned i = 0; i < o.threads; i++) {
		if ((threads[i].epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
			die("epoll_create1: %s", strerror(errno));
		threads[i].base = (unsigned)((size_t)o.conns * i / o.threads);
		threads[i].conns = conns + threads[i].base;
		threads[i].nconns = (unsigned)((size_t)o.conns * (i + 1) /
		    o.threads - (size_t)o.conns * i / o.threads);
	}
	for (unsigned i = 0; i < o.threads; i++)
		if (pthread_create(&threads[i].tid, NULL, load_thread,
		    &threads[i]) != 0)
			die("pthread_create failed");
	wait_for(&run.t_measure);
	cpu_snap(&cpu0);
	wait_for(&run.t_end);
	cpu_snap(&cpu1);
	for (unsigned i = 0; i < o.threads; i++) {
		pthread_join(threads[i].tid, NULL);
		hist_merge(all, &threads[i].hist);
		ops += threads[i].ops;
		errors += threads[i].errors;
		all_ops += threads[i].all_ops;
		all_errors += threads[i].all_errors;
		queued += threads[i].queued;
	}
	alive = idle_alive();
	printf("mode=%s conns=%u threads=%u idle=%u idle_alive=%u "
	    "idle_accept_ms=%llu size=%zu token_form=%d seconds=%.2f ops=%llu ops_per_s=%.0f "
	    "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu",
	    o.mode == M_REDIS ? "redis" : o.mode == M_ECHO ? "echo" :
	    o.mode == M_REALM ? "realm" : "realmchat",
	    o.conns, o.threads, o.idle, alive, (unsigned long long)accept_ms,
	    o.msg_size, o.token_form,
	    o.duration, (unsigned long long)ops, (double)ops / o.duration,
	    us(hist_quantile(all, 0.50)), us(hist_quantile(all, 0.99)),
	    us(hist_quantile(all, 0.999)), us(all->max),
	    (unsigned long long)errors);
	print_cpu(&cpu0, &cpu1, ops);
	print_memory();
	for (unsigned i = 0; i < o.conns; i++)
		hang_up(conns[i].fd);
	for (unsigned i = 0; i < o.idle; i++)
		hang_up(idle_fds[i]);
	if (o.mode == M_REALM) {
		printf(" sent=%llu send_errors=%llu queued=%llu",
		    (unsigned long long)all_ops, (unsigned long long)all_errors,
		    (unsigned long long)queued);
		verify_far(o.first, o.conns);
	}
	printf("\n");
	fflush(stdout);
}

/* ---- pairs: push delivery against an IRC server ---- */

/*
 * irc, push, poll: -c pairs of connections; in each, a sender writes a
 * message to its partner and the partner receives it; the next message
 * goes when the last one arrived (and, for realmchat, its sender's reply
 * came), after a think time of -k ms.  The latency is send to receive.
 * irc: nicks s<i> and r<i>, "PRIVMSG r<i> :<text>"; a receiver's line
 * with " PRIVMSG " is the arrival.  push: users prefix<first+2i> and
 * prefix<first+2i+1>, "send" and "watch"; an object with "event" is the
 * arrival.  poll: the same, but the partner sends "inbox" every -I ms.
 */
#define PAIRS_DIALING	200		/* pairs being set up at once */
/* ngIRCd registers about 12 clients a second: 2,000 take three minutes */
#define PAIRS_SETUP_NS	(400 * NS)

struct pair;

struct pside {
	int		 fd;
	struct pair	*p;
	bool		 receiver;
	int		 owed;		/* setup replies still to come */
	char		*in;
	size_t		 len, cap;
	char		 out[256];	/* a short request not yet written */
	size_t		 outlen;
};

struct pair {
	struct pside	 s, r;
	unsigned	 i;
	bool		 ready;		/* both sides set up */
	bool		 waiting;	/* a message is out */
	bool		 replied;	/* its sender's reply came */
	bool		 arrived;
	bool		 polling;	/* poll: an inbox is out */
	uint64_t	 sent_at, got_at;
	uint64_t	 next_at;	/* think: the next send; 0 now */
	uint64_t	 poll_at;
};

static struct {
	int		 ep;
	struct pair	*p;
	char		*text;
	struct hist	 hist;
	uint64_t	 ops, errors, setup_done, ready_at;
	unsigned	 think_ms, poll_ms;
} pr = { .poll_ms = 100 };

/* pside_write - write a short request; what the socket does not take waits */
static void
pside_write(struct pside *x, const char *s, size_t n)
{
	ssize_t w = 0;

	if (x->outlen == 0)
		w = send(x->fd, s, n, MSG_NOSIGNAL);
	if (w == -1 && errno != EAGAIN && errno != EINTR)
		die("send: %s", strerror(errno));
	if (w < 0)
		w = 0;
	if ((size_t)w < n) {
		struct epoll_event e = { .events = EPOLLIN | EPOLLOUT,
		    .data.ptr = x };

		if (x->outlen + n - (size_t)w > sizeof(x->out))
			die("pairs: output backlog");
		memcpy(x->out + x->outlen, s + w, n - (size_t)w);
		x->outlen += n - (size_t)w;
		epoll_ctl(pr.ep, EPOLL_CTL_MOD, x->fd, &e);
	}
}

/* pside_flush - EPOLLOUT: the rest of a request */
static void
pside_flush(struct pside *x)
{
	ssize_t w = send(x->fd, x->out, x->outlen, MSG_NOSIGNAL);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = x };

	if (w == -1 && errno != EAGAIN && errno != EINTR)
		die("send: %s", strerror(errno));
	if (w > 0) {
		memmove(x->out, x->out + w, x->outlen - (size_t)w);
		x->outlen -= (size_t)w;
	}
	if (x->outlen == 0)
		epoll_ctl(pr.ep, EPOLL_CTL_MOD, x->fd, &e);
}

/* pprintf - a formatted short request to one side */
static void
pprintf(struct pside *x, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pside_write(x, line, (size_t)n);
}

/* psend - the pair's next message */
static void
psend(struct pair *p)
{
	char line[4096 + 128];
	int n;

	if (o.mode == M_IRC)
		n = snprintf(line, sizeof(line), "PRIVMSG r%u :%s\r\n", p->i,
		    pr.text);
	else
		n = snprintf(line, sizeof(line), "send %s%u %s\r\n", o.prefix,
		    o.first + 2 * p->i + 1, pr.text);
	p->waiting = true;
	p->replied = o.mode == M_IRC;
	p->arrived = false;
	p->sent_at = now_ns();
	pside_write(&p->s, line, (size_t)n);
}

/* pdone - the message of p arrived (and was answered): count it */
static void
pdone(struct pair *p)
{
	uint64_t tm = load_u64(&run.t_measure), end = load_u64(&run.t_end);

	p->waiting = false;
	if (p->got_at >= tm && p->got_at < end) {
		hist_add(&pr.hist, p->got_at - p->sent_at);
		pr.ops++;
	}
	p->next_at = pr.think_ms ? now_ns() + pr.think_ms * 1000000ULL : 0;
	if (p->next_at == 0 && now_ns() < end)
		psend(p);
}

/* pready - one side finished its setup; the pair may start */
static void
pready(struct pside *x)
{
	struct pair *p = x->p;

	if (--x->owed > 0 || p->s.owed > 0 || p->r.owed > 0 || p->ready)
		return;
	p->ready = true;
	if (++pr.setup_done == o.conns)
		pr.ready_at = now_ns();
	/* spread the first sends of a think-time run over one think time */
	p->next_at = now_ns() + (pr.think_ms ?
	    (uint64_t)(rand() % pr.think_ms) * 1000000ULL : 0);
	if (p->next_at == now_ns())
		p->next_at = 1;
	became_ready(NULL);
}

/* irc_line - one line from the IRC server */
static void
irc_line(struct pside *x, const char *l, size_t n)
{
	if (n >= 5 && memcmp(l, "PING ", 5) == 0) {
		pprintf(x, "PONG %.*s\r\n", (int)(n - 5), l + 5);
		return;
	}
	if (x->owed > 0 && memmem(l, n, " 001 ", 5) != NULL) {
		pready(x);
		return;
	}
	if (memmem(l, n, " PRIVMSG ", 9) != NULL && x->receiver &&
	    x->p->waiting) {
		x->p->got_at = now_ns();
		pdone(x->p);
	} else if (memmem(l, n, "ERROR", 5) == l)
		die("irc: %.*s", (int)n, l);
}

/* rc_object - one object from realmchat */
static void
rc_object(struct pside *x, const char *b, size_t n)
{
	struct pair *p = x->p;
	bool ok = reply_ok_prefix(b, n);

	if (memmem(b, n, "\"event\":\"message\"", 17) != NULL) {
		if (!p->waiting)
			return;
		p->arrived = true;
		p->got_at = now_ns();
	} else if (x->owed > 0) {
		if (!ok)
			die("pairs: setup failed: %.*s", (int)(n > 200 ? 200 : n), b);
		pready(x);
		return;
	} else if (!x->receiver) {
		pr.errors += !ok;
		p->replied = true;
	} else {				/* poll: an inbox reply */
		pr.errors += !ok;
		p->polling = false;
		p->poll_at = now_ns() + pr.poll_ms * 1000000ULL;
		if (p->waiting && memmem(b, n, "\"msg\":", 6) != NULL) {
			p->arrived = true;
			p->got_at = now_ns();
		}
	}
	if (p->waiting && p->arrived && p->replied)
		pdone(p);
}

/* pside_read - what the server sent to one side */
static void
pside_read(struct pside *x)
{
	const char *sep = o.mode == M_IRC ? "\r\n" : REPLY_END;
	size_t seplen = strlen(sep), off = 0;
	ssize_t n;

	if (x->cap - x->len < 4096) {
		x->cap *= 2;
		if ((x->in = realloc(x->in, x->cap)) == NULL)
			die("out of memory");
	}
	n = read(x->fd, x->in + x->len, x->cap - x->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		die("pairs: the server closed a connection of pair %u", x->p->i);
	x->len += (size_t)n;
	for (;;) {
		char *e = memmem(x->in + off, x->len - off, sep, seplen);

		if (e == NULL)
			break;
		if (o.mode == M_IRC)
			irc_line(x, x->in + off, (size_t)(e - (x->in + off)));
		else
			rc_object(x, x->in + off, (size_t)(e - (x->in + off)));
		off = (size_t)(e - x->in) + seplen;
	}
	memmove(x->in, x->in + off, x->len - off);
	x->len -= off;
}

/* pside_open - dial one side and start its setup */
static void
pside_open(struct pside *x, struct pair *p, bool receiver)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = x };
	unsigned user = o.first + 2 * p->i + receiver;

	x->fd = dial();
	x->p = p;
	x->receiver = receiver;
	x->cap = 8192;
	x->in = xmalloc(x->cap);
	if (epoll_ctl(pr.ep, EPOLL_CTL_ADD, x->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	if (o.mode == M_IRC) {
		x->owed = 1;
		pprintf(x, "NICK %c%u\r\nUSER %c%u 0 * :bench\r\n",
		    receiver ? 'r' : 's', p->i, receiver ? 'r' : 's', p->i);
		return;
	}
	x->owed = receiver && o.mode == M_PUSH ? 2 : 1;
	pprintf(x, "auth %s%u %s\r\n%s", o.prefix, user, o.password,
	    x->owed == 2 ? "watch\r\n" : "");
}

/* ptimers - sends after a think time, polls; ms until the next one */
static int
ptimers(void)
{
	uint64_t now = now_ns(), next = now + 50000000ULL;
	uint64_t end = load_u64(&run.t_end);

	for (unsigned i = 0; i < o.conns; i++) {
		struct pair *p = &pr.p[i];

		if (!p->ready)
			continue;
		if (!p->waiting && p->next_at != 0 && now < end) {
			if (p->next_at <= now) {
				p->next_at = 0;
				psend(p);
			} else if (p->next_at < next)
				next = p->next_at;
		}
		if (o.mode == M_POLL && !p->polling) {
			if (p->poll_at <= now) {
				p->polling = true;
				pside_write(&p->r, "inbox\r\n", 7);
			} else if (p->poll_at < next)
				next = p->poll_at;
		}
	}
	return (int)((next - now + 999999) / 1000000);
}

/* pairs_report - the result line of a pairs run */
static void
pairs_report(const struct cpu_snap *cpu0, const struct cpu_snap *cpu1,
    uint64_t setup_ns)
{
	printf("mode=%s pairs=%u setup_ms=%llu think_ms=%u poll_ms=%u size=%zu "
	    "seconds=%.2f ops=%llu ops_per_s=%.0f p50_us=%.1f p99_us=%.1f "
	    "p999_us=%.1f max_us=%.1f errors=%llu", o.mode == M_IRC ? "irc" :
	    o.mode == M_PUSH ? "push" : "poll", o.conns,
	    (unsigned long long)setup_ns / 1000000, pr.think_ms,
	    o.mode == M_POLL ? pr.poll_ms : 0, o.msg_size, o.duration,
	    (unsigned long long)pr.ops, (double)pr.ops / o.duration,
	    us(hist_quantile(&pr.hist, 0.50)), us(hist_quantile(&pr.hist, 0.99)),
	    us(hist_quantile(&pr.hist, 0.999)), us(pr.hist.max),
	    (unsigned long long)pr.errors);
	print_cpu(cpu0, cpu1, pr.ops);
	printf("\n");
	fflush(stdout);
}

/* mode_pairs - irc, push, poll: set the pairs up, run the window, report */
static void
mode_pairs(void)
{
	struct epoll_event ev[256];
	struct cpu_snap cpu0, cpu1;
	bool sampled = false;
	uint64_t begun = now_ns();
	unsigned opened = 0;

	pr.ep = epoll_create1(EPOLL_CLOEXEC);
	pr.p = calloc(o.conns, sizeof(*pr.p));
	pr.text = xmalloc(o.msg_size + 1);
	if (pr.ep == -1 || pr.p == NULL || o.msg_size > 4096)
		die("pairs: setup");
	fill_text(pr.text, o.msg_size);
	pr.text[o.msg_size] = '\0';
	run.total = o.conns;
	for (;;) {
		int timeout = ptimers(), n;
		uint64_t now = now_ns(), end = load_u64(&run.t_end);

		/* a few pairs at a time: an IRC server's listen backlog is short */
		while (opened < o.conns && opened - pr.setup_done < PAIRS_DIALING) {
			pr.p[opened].i = opened;
			pside_open(&pr.p[opened].s, &pr.p[opened], false);
			pside_open(&pr.p[opened].r, &pr.p[opened], true);
			opened++;
			timeout = 0;
		}

		if (end == UINT64_MAX && now - begun > PAIRS_SETUP_NS)
			die("pairs: %llu of %u pairs ready after %llu s",
			    (unsigned long long)pr.setup_done, o.conns,
			    (unsigned long long)(PAIRS_SETUP_NS / NS));
		if (!sampled && now >= load_u64(&run.t_measure)) {
			cpu_snap(&cpu0);
			sampled = true;
		}
		if (end != UINT64_MAX && now >= end)
			break;
		n = epoll_wait(pr.ep, ev, 256, timeout > 0 ? timeout : 0);
		for (int i = 0; i < n; i++) {
			struct pside *x = ev[i].data.ptr;

			if (ev[i].events & EPOLLOUT)
				pside_flush(x);
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				pside_read(x);
		}
	}
	cpu_snap(&cpu1);
	pairs_report(&cpu0, &cpu1, pr.ready_at - begun);
	for (unsigned i = 0; i < o.conns; i++) {
		hang_up(pr.p[i].s.fd);
		hang_up(pr.p[i].r.fd);
	}
}

/* fill_batch - the next depth pipelined sends of a fill connection */
static void
fill_batch(struct conn *c)
{
	size_t line = o.msg_size + 128, used = 0;
	char text[4096];
	uint32_t n = 0;

	if (c->todo == 0) {
		finish(c);
		return;
	}
	if (c->req[0] == NULL || c->reqlen[1] != o.depth) {
		free(c->req[0]);
		c->req[0] = xmalloc(line * o.depth);
		c->reqlen[1] = o.depth;
	}
	fill_text(text, o.msg_size);
	c->batch_first = c->next_msg;
	while (n < o.depth && c->todo > 0) {
		unsigned to = o.fill_first + (unsigned)(c->next_msg % o.fill_count);
		if (o.mode == M_DRAIN) {
			int k = snprintf(c->req[0] + used, line, "sendrealm %s %s%u ",
			    o.link, o.prefix, to);
			k += realm_text(c->req[0] + used + k, line - (size_t)k - 2,
			    0, c->next_msg);
			memcpy(c->req[0] + used + k, "\r\n", 2);
			used += (size_t)k + 2;
		} else
			used += (size_t)snprintf(c->req[0] + used, line,
			    "send %s%u %.*s\r\n", o.prefix, to, (int)o.msg_size,
			    text);
		c->next_msg += o.conns;
		c->todo--;
		n++;
	}
	c->expect = n;
	c->batch_n = n;
	c->phase = P_BUSY;
	start_request(c, c->req[0], used);
}

/* fill_run - queue o.fill_total messages, pipelined; the time it took */
static double
fill_run(struct thread *t)
{
	struct conn *conns = calloc(o.conns, sizeof(*conns));
	uint64_t begun;
	double secs;

	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd == -1 || conns == NULL || o.fill_count == 0 ||
	    o.msg_size > 4000)
		die("fill: bad options");
	run.total = o.conns;
	for (unsigned i = 0; i < o.conns; i++) {
		conn_init(&conns[i], t, R_FILL, o.first + i, 0);
		conns[i].todo = o.fill_total / o.conns +
		    (i < o.fill_total % o.conns);
		conns[i].next_msg = i;
	}
	begun = now_ns();
	for (unsigned i = 0; i < o.conns; i++)
		send_auth(&conns[i]);
	while (t->active > 0)
		dispatch(t, 1000);
	secs = (double)(now_ns() - begun) / NS;
	for (unsigned i = 0; i < o.conns; i++)
		hang_up(conns[i].fd);
	close(t->epfd);
	return secs;
}

static void
mode_fill(void)
{
	struct thread t = { .epfd = -1 };
	double secs = fill_run(&t);

	printf("mode=fill messages=%llu errors=%llu seconds=%.2f per_s=%.0f\n",
	    (unsigned long long)t.ops, (unsigned long long)t.errors, secs,
	    (double)t.ops / secs);
}

/* ---- realm: the far side's deliveries ---- */

/*
 * verify_far - drain "inboxrealm <far-link>" of users first .. first+count-1
 * at the far realm, one connection each, pass after pass, until every
 * message sent with an OK has arrived (then one pass more, for doubles)
 * or o.verify_secs have passed.  Prints the counts.
 */
static void
verify_far(unsigned first, unsigned count)
{
	struct thread t = { .epfd = epoll_create1(EPOLL_CLOEXEC) };
	struct conn *conns = calloc(count, sizeof(*conns));
	uint64_t begun = now_ns(), deadline = begun + (uint64_t)(o.verify_secs * NS);
	unsigned passes = 0;
	bool last = false;

	if (t.epfd == -1 || conns == NULL)
		die("out of memory");
	dial_to = &far_target;
	run.ready = 0;
	run.total = count;
	for (unsigned i = 0; i < count; i++) {
		conn_init(&conns[i], &t, R_DRAINER, first + i, 0);
		conns[i].keep = true;
		send_auth(&conns[i]);
	}
	while (run.ready < count) {
		if (now_ns() > deadline)
			die("verify: logins at the far realm not done");
		dispatch(&t, 100);
	}
	for (;;) {
		unsigned busy = count;

		passes++;
		for (unsigned i = 0; i < count; i++) {
			conns[i].phase = P_BUSY;
			start_request(&conns[i], conns[i].req[1], conns[i].reqlen[1]);
		}
		while (busy > 0) {
			if (now_ns() > deadline + 10 * NS)
				die("verify: inboxrealm replies stopped coming");
			dispatch(&t, 100);
			busy = 0;
			for (unsigned i = 0; i < count; i++)
				busy += conns[i].phase == P_BUSY;
		}
		if (last || now_ns() > deadline)
			break;
		if (vf.unique >= vf.expected)
			last = true;	/* one more pass: doubles come late */
		else
			usleep(20 * 1000);
	}
	printf(" expected=%llu delivered=%llu lost=%llu doubled=%llu stray=%llu "
	    "verify_errors=%llu verify_passes=%u verify_ms=%.0f",
	    (unsigned long long)vf.expected, (unsigned long long)vf.delivered,
	    (unsigned long long)(vf.expected - vf.unique),
	    (unsigned long long)vf.doubled, (unsigned long long)vf.stray,
	    (unsigned long long)vf.errors, passes,
	    (double)(now_ns() - begun) / 1e6);
	for (unsigned i = 0; i < count; i++)
		hang_up(conns[i].fd);
	close(t.epfd);
	dial_to = &target;
}

static void
mode_say(char **argv)
{
	struct bconn b;
	char line[8192];
	size_t n = 0;

	if (argv[0] == NULL)
		die("say: no words");
	for (; *argv != NULL; argv++)
		n += (size_t)snprintf(line + n, sizeof(line) - n - 3, "%s%s",
		    n ? " " : "", *argv);
	memcpy(line + n, "\r\n", 3);
	bopen(&b, o.first);
	bcall(&b, line);
	printf("%.*s\n", (int)strcspn(b.buf, "\r\n"), b.buf);
	exit(reply_ok_prefix(b.buf, b.len) ? 0 : 1);
}

/* spawn - fork and exec argv, its output to o.log; the pid */
static pid_t
spawn(char **argv)
{
	pid_t pid = fork();

	if (pid == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (o.log != NULL) {
			int lfd = open(o.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (lfd != -1) {
				dup2(lfd, 1);
				dup2(lfd, 2);
			}
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void
mode_drain(char **argv)
{
	struct thread t = { .epfd = -1 };
	struct bconn b;
	char state[32];
	long queued, q0;
	uint64_t begun, t_exec = 0, t_up = 0, t_done = 0, limit;
	pid_t pid = 0;
	double secs;

	if (o.fill_count == 0) {
		o.fill_first = o.first;
		o.fill_count = o.conns;
	}
	tracks_init(1);
	text_kind = 'Q';
	bopen(&b, o.first);
	/* the link must be down, and its queue empty */
	begun = now_ns();
	while (link_state(&b, state, sizeof(state), &q0) || q0 != 0) {
		if (now_ns() - begun > 30 * NS)
			die("drain: link %s still %s with %ld queued after 30 s",
			    o.link, state, q0);
		usleep(20 * 1000);
	}
	secs = fill_run(&t);
	link_state(&b, state, sizeof(state), &q0);
	printf("mode=drain messages=%llu errors=%llu queued_replies=%llu "
	    "queue_seconds=%.3f queue_per_s=%.0f queued_before=%ld",
	    (unsigned long long)t.all_ops, (unsigned long long)t.all_errors,
	    (unsigned long long)t.queued, secs, (double)t.all_ops / secs, q0);
	fflush(stdout);
	if (argv[0] != NULL) {
		t_exec = now_ns();
		pid = spawn(argv);
	}
	limit = now_ns() + 120 * NS;
	for (;;) {
		uint64_t now;
		bool up = link_state(&b, state, sizeof(state), &queued);

		now = now_ns();
		if (up && t_up == 0)
			t_up = now;
		if (t_up != 0 && queued == 0) {
			t_done = now;
			break;
		}
		if (now > limit)
			die("drain: link %s %s, %ld queued after 120 s", o.link,
			    state, queued);
		usleep(2000);
	}
	printf(" up_ms=%.1f drain_ms=%.1f per_s=%.0f pid=%d",
	    t_exec ? (double)(t_up - t_exec) / 1e6 : 0.0,
	    (double)(t_done - t_up) / 1e6,
	    (double)q0 / ((double)(t_done - t_up) / NS), (int)pid);
	close(b.fd);
	verify_far(o.fill_first, o.fill_count);
	printf("\n");
}

/* ---- file transfer ---- */

static struct {
	char		*line;		/* the sendfile request */
	size_t		 len;
	const char	*b64;		/* its body, inside line */
	size_t		 b64len;
	uint64_t	 t_base, t0, t_acked, t1;
	bool		 verified, sender_ok;
	struct hist	 before, during;
	uint64_t	 during_ops;
} fx;

static void
b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 |
		    (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
}

static void
file_prepare(unsigned recipient)
{
	unsigned char *body = (unsigned char *)xmalloc(o.file_size);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t b64len = (o.file_size + 2) / 3 * 4;
	int head;

	for (size_t i = 0; i < o.file_size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		body[i] = (unsigned char)x;
	}
	fx.line = xmalloc(b64len + 128);
	head = snprintf(fx.line, 128, "sendfile %s%u bench.bin ", o.prefix,
	    recipient);
	b64_encode(body, o.file_size, fx.line + head);
	memcpy(fx.line + head + b64len, "\r\n", 2);
	fx.len = (size_t)head + b64len + 2;
	fx.b64 = fx.line + head;
	fx.b64len = b64len;
	free(body);
}

static void
file_reply(struct conn *c, bool ok, size_t len)
{
	static const char key[] = "\"file_content\":\"";
	uint64_t now = now_ns();
	unsigned k;

	switch (c->role) {
	case R_SENDER:
		fx.t_acked = now;
		fx.sender_ok = ok;
		finish(c);
		break;
	case R_RECIPIENT:
		if (len <= fx.b64len) {
			start_request(c, c->req[1], c->reqlen[1]);
			break;
		}
		fx.t1 = now;
		{
			const char *p = memmem(c->in, len, key, sizeof(key) - 1);
			fx.verified = ok && p != NULL &&
			    (size_t)(p - c->in) + sizeof(key) - 1 + fx.b64len <= len &&
			    memcmp(p + sizeof(key) - 1, fx.b64, fx.b64len) == 0;
		}
		finish(c);
		break;
	default:		/* a small client */
		if (fx.t0 == 0) {
			if (now > fx.t_base + NS / 10)
				hist_add(&fx.before, now - c->sent_at);
		} else if (now >= fx.t0 && (fx.t1 == 0 || c->sent_at <= fx.t1)) {
			hist_add(&fx.during, now - c->sent_at);
			fx.during_ops++;
		}
		if (fx.t1 != 0 && fx.t_acked != 0) {
			finish(c);
			break;
		}
		k = (unsigned)(c->op++ & 1);
		start_request(c, c->req[k], c->reqlen[k]);
		break;
	}
}

static void
mode_file(void)
{
	struct thread t = { .epfd = epoll_create1(EPOLL_CLOEXEC) };
	unsigned n = o.conns + 2;
	struct conn *conns = calloc(n, sizeof(*conns));
	uint64_t begun = now_ns();
	bool started = false;

	if (t.epfd == -1 || conns == NULL)
		die("out of memory");
	file_prepare(o.first + 1);
	run.total = n;
	conn_init(&conns[0], &t, R_SENDER, o.first, o.first + 1);
	conn_init(&conns[1], &t, R_RECIPIENT, o.first + 1, o.first);
	conns[1].keep = true;
	free(conns[1].in);
	conns[1].incap = fx.b64len + (1 << 20);
	conns[1].in = xmalloc(conns[1].incap);
	for (unsigned i = 0; i < o.conns; i++)
		conn_init(&conns[2 + i], &t, R_SMALL, o.first + 2 + i,
		    o.first + 2 + (i + 1) % o.conns);
	for (unsigned i = 0; i < n; i++)
		send_auth(&conns[i]);
	while (t.active > 0) {
		uint64_t now = now_ns();

		if (now - begun > 60 * NS)
			die("file: no result after 60 s");
		if (!started && run.ready == n) {
			started = true;
			fx.t_base = now;
			for (unsigned i = 2; i < n; i++) {
				conns[i].phase = P_BUSY;
				conns[i].op++;
				start_request(&conns[i], conns[i].req[0],
				    conns[i].reqlen[0]);
			}
		}
		if (started && fx.t0 == 0 &&
		    now >= fx.t_base + (uint64_t)(o.warmup * NS)) {
			fx.t0 = now_ns();
			start_request(&conns[0], fx.line, fx.len);
			start_request(&conns[1], conns[1].req[1], conns[1].reqlen[1]);
		}
		dispatch(&t, 10);
	}
	printf("mode=file bytes=%zu ok=%d verified=%d transfer_ms=%.1f "
	    "sendfile_reply_ms=%.1f small_max_ms=%.1f small_p99_ms=%.1f "
	    "small_ops=%llu small_max_before_ms=%.2f",
	    o.file_size, fx.sender_ok, fx.verified,
	    (double)(fx.t1 - fx.t0) / 1e6, (double)(fx.t_acked - fx.t0) / 1e6,
	    (double)fx.during.max / 1e6,
	    (double)hist_quantile(&fx.during, 0.99) / 1e6,
	    (unsigned long long)fx.during_ops, (double)fx.before.max / 1e6);
	print_memory();
	printf("\n");
	for (unsigned i = 0; i < n; i++)
		hang_up(conns[i].fd);
}

/* ---- start-up time ---- */

static void
mode_startup(char **argv)
{
	uint64_t t0, limit = 60 * NS;
	pid_t pid;
	char buf[4096];
	size_t got = 0;
	int fd = -1;

	if (argv[0] == NULL)
		die("startup: no command");
	t0 = now_ns();
	pid = spawn(argv);
	for (;;) {
		int status;

		if (now_ns() - t0 > limit)
			die("startup: no reply after 60 s");
		if (waitpid(pid, &status, WNOHANG) == pid)
			die("startup: %s exited with status %d", argv[0],
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0)
			break;
		close(fd);
		usleep(500);
	}
	/* connected: the socket is bound; the first reply means served */
	if (send(fd, "bogus\r\n", 7, MSG_NOSIGNAL) != 7)
		die("startup: send: %s", strerror(errno));
	while (got < 4 || memmem(buf, got, REPLY_END, 4) == NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 60000) != 1)
			die("startup: no reply");
		r = read(fd, buf + got, sizeof(buf) - got);
		if (r <= 0)
			die("startup: connection closed before a reply");
		got += (size_t)r;
		if (got == sizeof(buf))
			break;
	}
	printf("mode=startup startup_ms=%.1f pid=%d\n",
	    (double)(now_ns() - t0) / 1e6, (int)pid);
	close(fd);
}

static void
mode_freeport(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		die("freeport: %s", strerror(errno));
	printf("%d\n", ntohs(sa.sin_port));
	close(fd);
}

/* ---- main ---- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: load -m realmchat|echo|redis -p port [-c conns] [-d secs] [-w secs]\n"
	    "            [-s bytes] [-t] [-j threads] [-i idle] [-u prefix] [-o first]\n"
	    "            [-P password] [-S pid,...] [-X mapping] [-g ms]\n"
	    "       load -m fill -p port -n messages -a first -r count [-c conns] [-D depth]\n"
	    "       load -m file -p port [-F bytes] [-c small-clients] [-o first]\n"
	    "       load -m startup -p port [-L log] -- command [arg ...]\n"
	    "       load -m realm -p port -q far-port -R link -x far-link [-c conns]\n"
	    "            [-d secs] [-w secs] [-s bytes] [-T secs]\n"
	    "       load -m drain -p port -q far-port -R link -x far-link -n messages\n"
	    "            [-a first -r count] [-c conns] [-D depth] [-T secs] [-L log]\n"
	    "            [-- command [arg ...]]\n"
	    "       load -m say -p port [-u prefix] [-o first] -- word ...\n"
	    "       load -m irc|push|poll -p port [-c pairs] [-d secs] [-w secs]\n"
	    "            [-s bytes] [-k think-ms] [-I poll-ms] [-o first] [-S pid,...]\n"
	    "       load -m freeport\n");
	exit(2);
}

static enum mode
parse_mode(const char *s)
{
	static const char *names[] = { "realmchat", "echo", "redis", "fill",
	    "file", "startup", "freeport", "realm", "drain", "say", "irc",
	    "push", "poll" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, "m:h:p:c:d:w:s:tj:i:u:o:P:S:X:n:a:r:D:F:L:g:q:R:x:T:k:I:")) != -1) {
		switch (ch) {
		case 'm': o.mode = parse_mode(optarg); break;
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'c': o.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o.duration = strtod(optarg, NULL); break;
		case 'w': o.warmup = strtod(optarg, NULL); break;
		case 's': o.msg_size = strtoul(optarg, NULL, 10); break;
		case 't': o.token_form = true; break;
		case 'j': o.threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': o.idle = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'u': o.prefix = optarg; break;
		case 'o': o.first = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o.password = optarg; break;
		case 'S': o.sample_pids = optarg; break;
		case 'X': o.exclude = optarg; break;
		case 'n': o.fill_total = strtoull(optarg, NULL, 10); break;
		case 'a': o.fill_first = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o.fill_count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': o.depth = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'F': o.file_size = strtoul(optarg, NULL, 10); break;
		case 'L': o.log = optarg; break;
		case 'g': o.gap_ns = (uint64_t)(strtod(optarg, NULL) * 1e6); break;
		case 'q': o.far_port = atoi(optarg); break;
		case 'R': o.link = optarg; break;
		case 'x': o.far_link = optarg; break;
		case 'T': o.verify_secs = strtod(optarg, NULL); break;
		case 'k': pr.think_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': pr.poll_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (o.mode == M_FREEPORT) {
		mode_freeport();
		return 0;
	}
	if (o.port <= 0 || o.port > 65535 || o.conns == 0 || o.duration <= 0 ||
	    o.warmup < 0 || o.threads == 0 || o.threads > MAX_THREADS ||
	    o.threads > o.conns || o.depth == 0 || o.msg_size == 0)
		usage();
	if ((o.mode == M_REALM || o.mode == M_DRAIN) &&
	    (o.far_port <= 0 || o.far_port > 65535 || o.link == NULL ||
	    o.far_link == NULL || (o.mode == M_DRAIN && o.fill_total == 0)))
		usage();
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.host, &target.sin_addr) != 1)
		die("%s: not an IPv4 address", o.host);
	far_target = target;
	far_target.sin_port = htons((uint16_t)o.far_port);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	switch (o.mode) {
	case M_FILL:
		mode_fill();
		break;
	case M_FILE:
		mode_file();
		break;
	case M_STARTUP:
		mode_startup(argv + optind);
		break;
	case M_DRAIN:
		mode_drain(argv + optind);
		break;
	case M_SAY:
		mode_say(argv + optind);
		break;
	case M_IRC:
	case M_PUSH:
	case M_POLL:
		mode_pairs();
		break;
	default:
		mode_load();
	}
	return 0;
}
