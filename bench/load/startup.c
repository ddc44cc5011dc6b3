/*
 * NAME
 *	startup - start-up time, one request (say), a free port
 * DESCRIPTION
 *	The modes that measure or do one thing once: the time from exec to
 *	the first reply, one request as a logged-in user, a free TCP port.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench/load/load.h"

void
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
	bopen(&b, opt.first);
	bcall(&b, line);
	printf("%.*s\n", (int)strcspn(b.buf, "\r\n"), b.buf);
	exit(reply_ok_prefix(b.buf, b.len) ? 0 : 1);
}

/* spawn - fork and exec argv, its output to opt.log; the pid */
pid_t
spawn_command(char **argv)
{
	pid_t pid = fork();

	if (pid == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (opt.log != NULL) {
			int lfd = open(opt.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
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

void
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
	pid = spawn_command(argv);
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

void
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
