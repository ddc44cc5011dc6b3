/*
 * NAME
 *	pairs - irc, push and poll: pairs of a sender and its partner
 * DESCRIPTION
 *	The latency is from writing a message to its arrival at the partner:
 *	an IRC PRIVMSG, a realmchat watch event, or an inbox poll that finds it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench/load/load.h"

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
} pr;

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

	if (opt.mode == M_IRC)
		n = snprintf(line, sizeof(line), "PRIVMSG r%u :%s\r\n", p->i,
		    pr.text);
	else
		n = snprintf(line, sizeof(line), "send %s%u %s\r\n", opt.prefix,
		    opt.first + 2 * p->i + 1, pr.text);
	p->waiting = true;
	p->replied = opt.mode == M_IRC;
	p->arrived = false;
	p->sent_at = now_ns();
	pside_write(&p->s, line, (size_t)n);
}

/* pdone - the message of p arrived (and was answered): count it */
static void
pdone(struct pair *p)
{
	uint64_t tm = load_u64(&window.t_measure), end = load_u64(&window.t_end);

	p->waiting = false;
	if (p->got_at >= tm && p->got_at < end) {
		hist_add(&pr.hist, p->got_at - p->sent_at);
		pr.ops++;
	}
	p->next_at = opt.think_ms ? now_ns() + opt.think_ms * 1000000ULL : 0;
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
	if (++pr.setup_done == opt.conns)
		pr.ready_at = now_ns();
	/* spread the first sends of a think-time run over one think time */
	p->next_at = now_ns() + (opt.think_ms ?
	    (uint64_t)(rand() % opt.think_ms) * 1000000ULL : 0);
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
		p->poll_at = now_ns() + opt.poll_ms * 1000000ULL;
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
	const char *sep = opt.mode == M_IRC ? "\r\n" : REPLY_END;
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
		if (opt.mode == M_IRC)
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
	unsigned user = opt.first + 2 * p->i + receiver;

	x->fd = tcp_dial();
	x->p = p;
	x->receiver = receiver;
	x->cap = 8192;
	x->in = xmalloc(x->cap);
	if (epoll_ctl(pr.ep, EPOLL_CTL_ADD, x->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	if (opt.mode == M_IRC) {
		x->owed = 1;
		pprintf(x, "NICK %c%u\r\nUSER %c%u 0 * :bench\r\n",
		    receiver ? 'r' : 's', p->i, receiver ? 'r' : 's', p->i);
		return;
	}
	x->owed = receiver && opt.mode == M_PUSH ? 2 : 1;
	pprintf(x, "auth %s%u %s\r\n%s", opt.prefix, user, opt.password,
	    x->owed == 2 ? "watch\r\n" : "");
}

/* ptimers - sends after a think time, polls; ms until the next one */
static int
ptimers(void)
{
	uint64_t now = now_ns(), next = now + 50000000ULL;
	uint64_t end = load_u64(&window.t_end);

	for (unsigned i = 0; i < opt.conns; i++) {
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
		if (opt.mode == M_POLL && !p->polling) {
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
	    "p999_us=%.1f max_us=%.1f errors=%llu", opt.mode == M_IRC ? "irc" :
	    opt.mode == M_PUSH ? "push" : "poll", opt.conns,
	    (unsigned long long)setup_ns / 1000000, opt.think_ms,
	    opt.mode == M_POLL ? opt.poll_ms : 0, opt.msg_size, opt.duration,
	    (unsigned long long)pr.ops, (double)pr.ops / opt.duration,
	    us(hist_quantile(&pr.hist, 0.50)), us(hist_quantile(&pr.hist, 0.99)),
	    us(hist_quantile(&pr.hist, 0.999)), us(pr.hist.max),
	    (unsigned long long)pr.errors);
	print_cpu(cpu0, cpu1, pr.ops);
	printf("\n");
	fflush(stdout);
}

/* mode_pairs - irc, push, poll: set the pairs up, run the window, report */
void
mode_pairs(void)
{
	struct epoll_event ev[256];
	struct cpu_snap cpu0, cpu1;
	bool sampled = false;
	uint64_t begun = now_ns();
	unsigned opened = 0;

	pr.ep = epoll_create1(EPOLL_CLOEXEC);
	pr.p = calloc(opt.conns, sizeof(*pr.p));
	pr.text = xmalloc(opt.msg_size + 1);
	if (pr.ep == -1 || pr.p == NULL || opt.msg_size > 4096)
		die("pairs: setup");
	fill_text(pr.text, opt.msg_size);
	pr.text[opt.msg_size] = '\0';
	window.total = opt.conns;
	for (;;) {
		int timeout = ptimers(), n;
		uint64_t now = now_ns(), end = load_u64(&window.t_end);

		/* a few pairs at a time: an IRC server's listen backlog is short */
		while (opened < opt.conns && opened - pr.setup_done < PAIRS_DIALING) {
			pr.p[opened].i = opened;
			pside_open(&pr.p[opened].s, &pr.p[opened], false);
			pside_open(&pr.p[opened].r, &pr.p[opened], true);
			opened++;
			timeout = 0;
		}

		if (end == UINT64_MAX && now - begun > PAIRS_SETUP_NS)
			die("pairs: %llu of %u pairs ready after %llu s",
			    (unsigned long long)pr.setup_done, opt.conns,
			    (unsigned long long)(PAIRS_SETUP_NS / NS));
		if (!sampled && now >= load_u64(&window.t_measure)) {
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
	for (unsigned i = 0; i < opt.conns; i++) {
		hang_up(pr.p[i].s.fd);
		hang_up(pr.p[i].r.fd);
	}
}
