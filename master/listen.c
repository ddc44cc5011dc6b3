/*
 * NAME
 *	listen - the client listening socket, bound by the master
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "master/master.h"

#define BACKLOG	1024

/* listen_open - a non-blocking socket listening on cf->listen_* */
int
listen_open(const struct config *cf, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res, *ai;
	char port[8];
	int fd = -1, one = 1, rc, saved = 0;

	snprintf(port, sizeof(port), "%u", cf->listen_port);
	if ((rc = getaddrinfo(cf->listen_host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s:%s: %s", cf->listen_host, port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, BACKLOG) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "listen %s:%s: %s", cf->listen_host, port,
		    strerror(saved));
	return fd;
}
