/*
 * NAME
 *	listen - the listening sockets, bound by the master
 * DESCRIPTION
 *	The TCP socket the clients connect to (listen_open), and the UNIX
 *	sockets of the control channel (listen_unix, for control.c): made
 *	never wider than their mode, owned by the daemon's user, and never
 *	taken over from a daemon that still serves them.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

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

/*
 * clear_stale - remove the socket a daemon that died left behind; refuse
 * to take over a path that is no socket, or one that someone serves.
 */
static int
clear_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat sb;
	int fd, live;

	if (lstat(sun->sun_path, &sb) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen, "%s is served by another process",
		    sun->sun_path);
		return -1;
	}
	return unlink(sun->sun_path);
}

/* bind_at - a socket bound at sun with mode, made as if by umask */
static int
bind_at(const struct sockaddr_un *sun, mode_t mode, int backlog)
{
	mode_t old;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	old = umask(0177);		/* never wider than 0600 while bound */
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	umask(old);
	if (rc == -1 || chmod(sun->sun_path, mode) == -1 ||
	    listen(fd, backlog) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * listen_unix - a UNIX socket listening at path with mode, its directory
 * made for p's user; a dead daemon's socket there is replaced.  -1 with
 * err set on failure.
 */
int
listen_unix(const char *path, mode_t mode, int backlog, const struct priv *p,
    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%.900s: path too long for a socket", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (priv_mkdir_parent(p, path, err, errlen) == -1)
		return -1;
	err[0] = '\0';
	if (clear_stale(&sun, err, errlen) == -1 ||
	    (fd = bind_at(&sun, mode, backlog)) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%.900s: %s", path, strerror(errno));
		return -1;
	}
	return fd;
}
