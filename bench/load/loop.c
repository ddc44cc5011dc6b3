/*
 * NAME
 *	loop - the closed loop: realmchat, echo, redis, fill
 * DESCRIPTION
 *	Each connection logs in, then keeps exactly one request outstanding
 *	(fill: a pipelined batch); what a reply means depends on the
 *	connection's role (reply_taken).  mode_load runs the threads, the
 *	warm-up and the measured window; idle connections are held meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench/load/load.h"

static int *idle_fds;

static void fill_batch(struct conn *);

/* prepare - the two requests of the closed loop for connection c */
static void
prepare(struct conn *c)
{
	size_t room = opt.msg_size + 256;
	char *text = xmalloc(opt.msg_size + 1);
	int n0, n1;

	fill_text(text, opt.msg_size);
	text[opt.msg_size] = '\0';
	c->req[0] = xmalloc(room);
	c->req[1] = xmalloc(256);
	if (opt.mode == M_REDIS) {
		char peer[64], own[64];
		int pl = snprintf(peer, sizeof(peer), "rc:%s%u", opt.prefix, c->peer);
		int ol = snprintf(own, sizeof(own), "rc:%s%u", opt.prefix, c->user);

		n0 = snprintf(c->req[0], room,
		    "*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n",
		    pl, peer, opt.msg_size, text);
		n1 = snprintf(c->req[1], 256,
		    "*3\r\n$4\r\nLPOP\r\n$%d\r\n%s\r\n$3\r\n100\r\n", ol, own);
	} else if (c->role == R_DRAINER) {
		n0 = 0;
		n1 = snprintf(c->req[1], 256, "inboxrealm %s\r\n", opt.far_link);
	} else if (opt.mode == M_REALM || opt.mode == M_DRAIN) {
		n0 = 0;		/* built for each message */
		n1 = 0;
	} else if (opt.token_form && opt.mode == M_REALMCHAT) {
		n0 = snprintf(c->req[0], room, "send %s %s%u %s\r\n", c->token,
		    opt.prefix, c->peer, text);
		n1 = snprintf(c->req[1], 256, "inbox %s\r\n", c->token);
	} else {
		n0 = snprintf(c->req[0], room, "send %s%u %s\r\n", opt.prefix,
		    c->peer, text);
		n1 = snprintf(c->req[1], 256, "inbox\r\n");
	}
	c->reqlen[0] = (size_t)n0;
	c->reqlen[1] = (size_t)n1;
	free(text);
}

void
send_auth(struct conn *c)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "auth %s%u %s\r\n", opt.prefix,
	    c->user, opt.password);

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
		die("auth of %s%u failed: %.*s", opt.prefix, c->user,
		    (int)(len > 200 ? 200 : len), c->in);
	memcpy(c->token, p + sizeof(key) - 1, TOKEN_LEN);
	c->token[TOKEN_LEN] = '\0';
}

void
conn_done(struct conn *c)
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

	if (now_ns() >= load_u64(&window.t_end)) {
		conn_done(c);
		return;
	}
	c->phase = P_BUSY;
	if (opt.mode == M_REALM) {
		int n = snprintf(c->req[0], opt.msg_size + 256, "sendrealm %s %s%u ",
		    opt.link, opt.prefix, c->peer);
		n += realm_text(c->req[0] + n, opt.msg_size + 256 - (size_t)n,
		    c->user - opt.first, c->op++);
		memcpy(c->req[0] + n, "\r\n", 3);
		start_request(c, c->req[0], (size_t)n + 2);
		return;
	}
	k = (unsigned)(c->op++ & 1);
	start_request(c, c->req[k], c->reqlen[k]);
}

/* became_ready - c is logged in; the last one opens the warm-up */
void
became_ready(struct conn *c)
{
	unsigned n = __atomic_add_fetch(&window.ready, 1, __ATOMIC_ACQ_REL);

	if (n == window.total) {
		uint64_t t = now_ns() + (uint64_t)(opt.warmup * NS);
		__atomic_store_n(&window.t_end, t + (uint64_t)(opt.duration * NS),
		    __ATOMIC_RELEASE);
		__atomic_store_n(&window.t_measure, t, __ATOMIC_RELEASE);
	}
}

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

void
reply_taken(struct conn *c, bool ok, size_t len)
{
	uint64_t now = now_ns(), tm;

	if (c->phase == P_AUTH) {
		if (!ok)
			die("auth of %s%u failed: %.*s", opt.prefix, c->user,
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
		tm = load_u64(&window.t_measure);
		if (now >= tm && now < load_u64(&window.t_end)) {
			hist_add(&c->t->hist, now - c->sent_at);
			c->t->ops++;
			c->t->errors += !ok;
		}
		if (opt.mode == M_REALM)
			realm_reply(c, ok, len, c->user - opt.first, c->op - 1);
		next_op(c);
		break;
	case R_FILL:
		c->t->ops++;
		c->t->errors += !ok;
		if (opt.mode == M_DRAIN)
			realm_reply(c, ok, len, 0, c->batch_first +
			    (uint64_t)(c->batch_n - c->expect) * opt.conns);
		if (--c->expect == 0)
			fill_batch(c);
		break;
	case R_DRAINER:
		drain_reply(c, ok, len);
		break;
	default:
		file_reply(c, ok, len);
	}
}

/* start_load_conn - dial connection k of t and start it on its way */
static void
start_load_conn(struct thread *t, unsigned k)
{
	struct conn *c = &t->conns[k];
	unsigned u = t->base + k;

	conn_init(c, t, R_LOAD, opt.first + u, opt.first + (u + 1) % opt.conns);
	if (opt.mode == M_REALMCHAT || opt.mode == M_REALM)
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
		uint64_t now = now_ns(), end = load_u64(&window.t_end);

		/* -g: one connection per gap, the earlier ones already busy */
		while (dialed < t->nconns && now - last_dial >= opt.gap_ns) {
			start_load_conn(t, dialed++);
			last_dial = now;
			if (opt.gap_ns > 0)
				break;
		}
		if (end == UINT64_MAX && now - begun > SETUP_LIMIT_NS)
			die("connections not ready after %llu s",
			    (unsigned long long)(SETUP_LIMIT_NS / NS));
		if (end != UINT64_MAX && now > end + GRACE_NS) {
			if (opt.mode != M_REALM)
				break;	/* stragglers are not waited for */
			/* but a realm message's fate must be known */
			if (now > end + REALM_GRACE_NS)
				die("realm: replies still owed %llu s after the window",
				    (unsigned long long)(REALM_GRACE_NS / NS));
		}
		dispatch_events(t, dialed < t->nconns ? 1 : 50);
		/* a connection whose window ended while idle in P_READY */
		if (load_u64(&window.t_end) <= now_ns())
			for (unsigned i = 0; i < dialed; i++)
				if (t->conns[i].phase == P_READY)
					conn_done(&t->conns[i]);
	}
	return NULL;
}

/* open_idle - open opt.idle connections, CONNECTS_IN_FLIGHT at a time */
static void
open_idle(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned started = 0, done = 0, inflight = 0;
	uint64_t begun = now_ns();

	idle_fds = calloc(opt.idle ? opt.idle : 1, sizeof(int));
	if (ep == -1 || idle_fds == NULL)
		die("idle: %s", strerror(errno));
	while (done < opt.idle) {
		struct epoll_event ev[256];
		int n;

		while (started < opt.idle && inflight < CONNECTS_IN_FLIGHT) {
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
			    opt.idle, (unsigned long long)(SETUP_LIMIT_NS / NS));
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

	for (unsigned i = 0; i < opt.idle; i++) {
		ssize_t r = recv(idle_fds[i], &b, 1, MSG_PEEK | MSG_DONTWAIT);
		n += r == -1 && errno == EAGAIN;
	}
	return n;
}

/* threads_start - split the connections over the threads and start them */
static void
threads_start(struct thread *threads, struct conn *conns)
{
	window.total = opt.conns;
	for (unsigned i = 0; i < opt.threads; i++) {
		if ((threads[i].epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
			die("epoll_create1: %s", strerror(errno));
		threads[i].base = (unsigned)((size_t)opt.conns * i / opt.threads);
		threads[i].conns = conns + threads[i].base;
		threads[i].nconns = (unsigned)((size_t)opt.conns * (i + 1) /
		    opt.threads - (size_t)opt.conns * i / opt.threads);
	}
	for (unsigned i = 0; i < opt.threads; i++)
		if (pthread_create(&threads[i].tid, NULL, load_thread,
		    &threads[i]) != 0)
			die("pthread_create failed");
}

/* threads_join - wait for the threads; their counts summed into sum */
static void
threads_join(struct thread *threads, struct thread *sum)
{
	for (unsigned i = 0; i < opt.threads; i++) {
		pthread_join(threads[i].tid, NULL);
		hist_merge(&sum->hist, &threads[i].hist);
		sum->ops += threads[i].ops;
		sum->errors += threads[i].errors;
		sum->all_ops += threads[i].all_ops;
		sum->all_errors += threads[i].all_errors;
		sum->queued += threads[i].queued;
	}
}

/* load_report - the start of the result line of the closed loop */
static void
load_report(const struct thread *sum, unsigned alive, uint64_t accept_ms)
{
	const struct hist *all = &sum->hist;

	printf("mode=%s conns=%u threads=%u idle=%u idle_alive=%u "
	    "idle_accept_ms=%llu size=%zu token_form=%d seconds=%.2f ops=%llu ops_per_s=%.0f "
	    "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu",
	    opt.mode == M_REDIS ? "redis" : opt.mode == M_ECHO ? "echo" :
	    opt.mode == M_REALM ? "realm" : "realmchat",
	    opt.conns, opt.threads, opt.idle, alive, (unsigned long long)accept_ms,
	    opt.msg_size, opt.token_form,
	    opt.duration, (unsigned long long)sum->ops,
	    (double)sum->ops / opt.duration,
	    us(hist_quantile(all, 0.50)), us(hist_quantile(all, 0.99)),
	    us(hist_quantile(all, 0.999)), us(all->max),
	    (unsigned long long)sum->errors);
}

/* mode_load - realmchat, echo, redis, realm: the closed loop, measured */
void
mode_load(void)
{
	struct thread *threads = calloc(opt.threads, sizeof(*threads));
	struct conn *conns = calloc(opt.conns, sizeof(*conns));
	struct thread *sum = calloc(1, sizeof(*sum));
	uint64_t accept_ms = 0;
	struct cpu_snap cpu0, cpu1;

	if (threads == NULL || conns == NULL || sum == NULL)
		die("out of memory");
	if (opt.idle > 0) {
		open_idle();
		accept_ms = await_accepted();
	}
	if (opt.mode == M_REALM)
		realm_await_link();
	threads_start(threads, conns);
	wait_for(&window.t_measure);
	cpu_snap(&cpu0);
	wait_for(&window.t_end);
	cpu_snap(&cpu1);
	threads_join(threads, sum);
	load_report(sum, idle_alive(), accept_ms);
	print_cpu(&cpu0, &cpu1, sum->ops);
	print_memory();
	for (unsigned i = 0; i < opt.conns; i++)
		hang_up(conns[i].fd);
	for (unsigned i = 0; i < opt.idle; i++)
		hang_up(idle_fds[i]);
	if (opt.mode == M_REALM) {
		printf(" sent=%llu send_errors=%llu queued=%llu",
		    (unsigned long long)sum->all_ops,
		    (unsigned long long)sum->all_errors,
		    (unsigned long long)sum->queued);
		verify_far(opt.first, opt.conns);
	}
	printf("\n");
	fflush(stdout);
}

/* fill_batch - the next depth pipelined sends of a fill connection */
static void
fill_batch(struct conn *c)
{
	size_t line = opt.msg_size + 128, used = 0;
	char text[4096];
	uint32_t n = 0;

	if (c->todo == 0) {
		conn_done(c);
		return;
	}
	if (c->req[0] == NULL || c->reqlen[1] != opt.depth) {
		free(c->req[0]);
		c->req[0] = xmalloc(line * opt.depth);
		c->reqlen[1] = opt.depth;
	}
	fill_text(text, opt.msg_size);
	c->batch_first = c->next_msg;
	while (n < opt.depth && c->todo > 0) {
		unsigned to = opt.fill_first + (unsigned)(c->next_msg % opt.fill_count);
		if (opt.mode == M_DRAIN) {
			int k = snprintf(c->req[0] + used, line, "sendrealm %s %s%u ",
			    opt.link, opt.prefix, to);
			k += realm_text(c->req[0] + used + k, line - (size_t)k - 2,
			    0, c->next_msg);
			memcpy(c->req[0] + used + k, "\r\n", 2);
			used += (size_t)k + 2;
		} else
			used += (size_t)snprintf(c->req[0] + used, line,
			    "send %s%u %.*s\r\n", opt.prefix, to, (int)opt.msg_size,
			    text);
		c->next_msg += opt.conns;
		c->todo--;
		n++;
	}
	c->expect = n;
	c->batch_n = n;
	c->phase = P_BUSY;
	start_request(c, c->req[0], used);
}

/* fill_run - queue opt.fill_total messages, pipelined; the time it took */
double
fill_run(struct thread *t)
{
	struct conn *conns = calloc(opt.conns, sizeof(*conns));
	uint64_t begun;
	double secs;

	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd == -1 || conns == NULL || opt.fill_count == 0 ||
	    opt.msg_size > 4000)
		die("fill: bad options");
	window.total = opt.conns;
	for (unsigned i = 0; i < opt.conns; i++) {
		conn_init(&conns[i], t, R_FILL, opt.first + i, 0);
		conns[i].todo = opt.fill_total / opt.conns +
		    (i < opt.fill_total % opt.conns);
		conns[i].next_msg = i;
	}
	begun = now_ns();
	for (unsigned i = 0; i < opt.conns; i++)
		send_auth(&conns[i]);
	while (t->active > 0)
		dispatch_events(t, 1000);
	secs = (double)(now_ns() - begun) / NS;
	for (unsigned i = 0; i < opt.conns; i++)
		hang_up(conns[i].fd);
	close(t->epfd);
	return secs;
}

void
mode_fill(void)
{
	struct thread t = { .epfd = -1 };
	double secs = fill_run(&t);

	printf("mode=fill messages=%llu errors=%llu seconds=%.2f per_s=%.0f\n",
	    (unsigned long long)t.ops, (unsigned long long)t.errors, secs,
	    (double)t.ops / secs);
}
