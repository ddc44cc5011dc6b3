/*
 * NAME
 *	conn - the load generator's connections and the framing of replies
 * DESCRIPTION
 *	Non-blocking TCP connections driven by one epoll set per thread:
 *	dialling, writing a request, reading and framing replies (a realmchat
 *	reply ends in an empty line, a redis one is a RESP value), and one
 *	blocking session (bconn) for the few requests that are not load.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench/load/load.h"

struct window window = { .t_measure = UINT64_MAX, .t_end = UINT64_MAX };
const struct sockaddr_in *dial_to = &target;	/* of conn_init() */

uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

int
tcp_dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)dial_to, sizeof(*dial_to)) == -1)
		die("connect %s:%d: %s", opt.host, ntohs(dial_to->sin_port),
		    strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* hang_up - close with a reset, so that no TIME_WAIT piles up */
void
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

void
start_request(struct conn *c, const char *req, size_t len)
{
	c->out = req;
	c->outlen = len;
	c->outoff = 0;
	c->sent_at = now_ns();
	write_out(c);
}

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

bool
reply_ok_prefix(const char *p, size_t len)
{
	static const char ok[] = "{\"status\":\"OK\"";

	return len >= sizeof(ok) - 1 && memcmp(p, ok, sizeof(ok) - 1) == 0;
}

/* take_replies - frame what is in c->in; make room for more */
static void
take_replies(struct conn *c)
{
	for (;;) {
		size_t end;
		bool ok;

		if (opt.mode == M_REDIS) {
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
		reply_taken(c, ok, c->skipped + end);
		memmove(c->in, c->in + end, c->inlen - end);
		c->inlen -= end;
		c->scan = 0;
		c->skipped = 0;
		c->status = -1;
	}
	if (c->inlen < c->incap)
		return;
	if (c->keep || opt.mode == M_REDIS) {
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
		die("the server closed a connection (user %s%u)", opt.prefix, c->user);
	c->inlen += (size_t)n;
	take_replies(c);
}

char *
xmalloc(size_t n)
{
	char *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* fill_text - msg_size bytes of printable text */
void
fill_text(char *p, size_t n)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < n; i++)
		p[i] = abc[i % (sizeof(abc) - 1)];
}

void
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
	c->fd = tcp_dial();
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	t->active++;
}

void
dispatch_events(struct thread *t, int timeout_ms)
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

/* bcall - send line (with its CRLF) and read the whole reply */
const char *
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

void
bopen(struct bconn *b, unsigned user)
{
	char line[256];

	memset(b, 0, sizeof(*b));
	b->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->fd == -1 ||
	    connect(b->fd, (struct sockaddr *)&target, sizeof(target)) == -1)
		die("connect %s:%d: %s", opt.host, opt.port, strerror(errno));
	snprintf(line, sizeof(line), "auth %s%u %s\r\n", opt.prefix, user,
	    opt.password);
	bcall(b, line);
	if (!reply_ok_prefix(b->buf, b->len))
		die("auth of %s%u failed: %.200s", opt.prefix, user, b->buf);
}
