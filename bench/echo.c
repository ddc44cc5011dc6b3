/*
 * NAME
 *	echo - the trivial line server that bounds what this machine can do
 * SYNOPSIS
 *	echo -p port [-h host] [-w workers]
 * DESCRIPTION
 *	Answers every line it reads with one fixed small reply in
 *	realmchat's framing (a JSON object and a blank line), doing no other
 *	work.  It has realmchat's process shape: the parent binds the
 *	socket and forks workers, each running one epoll loop on the shared
 *	listening socket (EPOLLEXCLUSIVE), TCP_NODELAY on every connection.
 *	So the load generator against it measures the cost of the loopback,
 *	the syscalls and the generator itself: the ceiling realmchat is
 *	compared with.
 *
 *	SIGTERM or SIGINT stops the parent, which stops the workers; a worker
 *	also exits when its parent dies.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define REPLY		"{\"status\":\"OK\",\"message\":\"Message Sent\",\"id\":1}\r\n\r\n"
#define REPLY_LEN	(sizeof(REPLY) - 1)
#define OUT_REPLIES	1024		/* replies written per send() at most */
#define OWED_HIGH	(1u << 16)	/* stop reading beyond this many owed */
#define MAX_EVENTS	256

struct econn {
	int		fd;
	bool		want_out;	/* EPOLLOUT registered */
	uint64_t	owed;		/* replies not yet written in full */
	size_t		off;		/* bytes of the first owed reply written */
};

static char inbuf[64 * 1024];
static char outbuf[OUT_REPLIES * REPLY_LEN];
static char listen_mark;

static void
usage(void)
{
	fprintf(stderr, "usage: echo -p port [-h host] [-w workers]\n");
	exit(2);
}

static int
listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	int fd, one = 1, rc;

	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "echo: %s:%s: %s\n", host, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 4096) == -1) {
		perror("echo: listen");
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
set_out(int epfd, struct econn *c, bool on)
{
	struct epoll_event e = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (c->want_out != on && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->want_out = on;
}

/* flush - write owed replies; -1 when the connection is dead */
static int
flush(struct econn *c)
{
	while (c->owed > 0) {
		uint64_t n = c->owed < OUT_REPLIES ? c->owed : OUT_REPLIES;
		size_t len = (size_t)n * REPLY_LEN - c->off;
		ssize_t w = send(c->fd, outbuf + c->off, len, MSG_NOSIGNAL);

		if (w == -1)
			return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -1;
		c->off += (size_t)w;
		c->owed -= c->off / REPLY_LEN;
		c->off %= REPLY_LEN;
	}
	return 0;
}

static void
drop(struct econn *c)
{
	close(c->fd);
	free(c);
}

static void
serve(int epfd, struct econn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		drop(c);
		return;
	}
	if ((events & EPOLLIN) && c->owed < OWED_HIGH) {
		ssize_t n = read(c->fd, inbuf, sizeof(inbuf));

		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			drop(c);
			return;
		}
		for (const char *p = inbuf, *end = inbuf + (n > 0 ? n : 0);
		    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			c->owed++;
	}
	if (flush(c) == -1) {
		drop(c);
		return;
	}
	set_out(epfd, c, c->owed > 0);
}

static void
accept_all(int epfd, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		struct econn *c;
		struct epoll_event e;

		if (fd == -1)
			return;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) == -1)
			drop(c);
	}
}

static int
worker(int lfd)
{
	struct epoll_event ev[MAX_EVENTS], le = { .events = EPOLLIN | EPOLLEXCLUSIVE,
	    .data.ptr = &listen_mark };
	int epfd;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) == -1) {
		perror("echo: epoll");
		return 1;
	}
	for (;;) {
		int n = epoll_wait(epfd, ev, MAX_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &listen_mark)
				accept_all(epfd, lfd);
			else
				serve(epfd, ev[i].data.ptr, ev[i].events);
		}
	}
}

int
main(int argc, char *argv[])
{
	const char *host = "127.0.0.1", *port = NULL;
	int ch, lfd, sig;
	long workers = 2;
	pid_t pids[64];
	sigset_t set;

	while ((ch = getopt(argc, argv, "h:p:w:")) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = optarg; break;
		case 'w': workers = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (port == NULL || workers < 1 || workers > 64)
		usage();
	for (size_t i = 0; i < OUT_REPLIES; i++)
		memcpy(outbuf + i * REPLY_LEN, REPLY, REPLY_LEN);
	if ((lfd = listen_on(host, port)) == -1)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (long i = 0; i < workers; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("echo: fork");
			return 1;
		}
		if (pids[i] == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			_exit(worker(lfd));
		}
	}
	sigwait(&set, &sig);
	for (long i = 0; i < workers; i++)
		kill(pids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
