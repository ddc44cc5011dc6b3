/*
 * NAME
 *	realmctl - steer a running realmchatd over its control socket
 * SYNOPSIS
 *	realmctl [-j] [-s socket | -f config] command [argument ...]
 * DESCRIPTION
 *	Sends one request (lib/ctl.h) and shows the reply, as aligned text
 *	or, with -j, as JSON.  The socket is -s, else the "control" key of
 *	the -f configuration, else CTL_SOCKET.  An error reply, a dead
 *	socket or an unknown word is reported on stderr, exit status 1.
 *
 *	After "stop" the daemon keeps the connection open until it has
 *	exited; realmctl waits for that, so that "realmctl stop" returns
 *	when the daemon is gone.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/config.h"
#include "realmctl/realmctl.h"

#define REPLY_WAIT_MS	15000		/* for a reply */
#define STOP_WAIT_MS	30000		/* for the daemon to exit after stop */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: realmctl [-j] [-s socket | -f config] command [argument ...]\n"
	    "commands: status, show users, show sessions, show groups,\n"
	    "          show realms, stats, kick USER, add realm ID HOST PORT,\n"
	    "          del realm ID, reload, stop\n");
	exit(1);
}

/* socket_path - -s, else the control key of -f, else the default */
static const char *
socket_path(const char *sock, const char *conf, struct config *cf)
{
	char err[1024];

	if (sock != NULL)
		return sock;
	if (conf == NULL)
		return CTL_SOCKET;
	if (config_load(cf, conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "realmctl: %s\n", err);
		exit(1);
	}
	if (cf->control[0] == '\0') {
		fprintf(stderr, "realmctl: %s sets no control socket\n", conf);
		exit(1);
	}
	return cf->control;
}

/* sock_dial - a connection to the control socket, or -1 (reported) */
static int
sock_dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "realmctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "realmctl: cannot connect to %s: %s "
		    "(is realmchatd running?)\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* send_request - the request for res, as one line */
static int
send_request(int fd, const struct parse_result *res)
{
	cJSON *o = cJSON_CreateObject();
	char *text;
	int rc;

	cJSON_AddStringToObject(o, "type", ctl_type_name(res->action));
	if (res->action == CTL_KICK)
		cJSON_AddStringToObject(o, "user", res->user);
	if (res->action == CTL_ADD_REALM || res->action == CTL_DEL_REALM)
		cJSON_AddStringToObject(o, "id", res->realm);
	if (res->action == CTL_ADD_REALM) {
		cJSON_AddStringToObject(o, "host", res->host);
		cJSON_AddNumberToObject(o, "port", res->port);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -1;
	rc = write_full(fd, text, strlen(text)) == -1 ||
	    write_full(fd, "\n", 1) == -1 ? -1 : 0;
	cJSON_free(text);
	if (rc == -1)
		fprintf(stderr, "realmctl: sending the request: %s\n",
		    strerror(errno));
	return rc;
}

/* wait_readable - 1 when fd has data or EOF, 0 on timeout, -1 on error */
static int
wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	while ((n = poll(&p, 1, ms)) == -1 && errno == EINTR)
		;
	return n;
}

/* read_reply - one reply line, parsed; NULL (reported) on any failure */
static cJSON *
read_reply(int fd)
{
	static char buf[CTL_REPLY_MAX];
	size_t len = 0;
	ssize_t n;
	char *lf;

	while ((lf = memchr(buf, '\n', len)) == NULL) {
		if (len == sizeof(buf) || wait_readable(fd, REPLY_WAIT_MS) <= 0) {
			fprintf(stderr, "realmctl: no reply from realmchatd\n");
			return NULL;
		}
		if ((n = read(fd, buf + len, sizeof(buf) - len)) <= 0) {
			fprintf(stderr, "realmctl: realmchatd closed the "
			    "connection without a reply\n");
			return NULL;
		}
		len += (size_t)n;
	}
	return cJSON_ParseWithLength(buf, (size_t)(lf - buf));
}

/* wait_gone - after stop: the daemon closes our connection as it exits */
static int
wait_gone(int fd)
{
	char byte;

	if (wait_readable(fd, STOP_WAIT_MS) == 1 && read(fd, &byte, 1) <= 0)
		return 0;
	fprintf(stderr, "realmctl: realmchatd is still stopping after %d s\n",
	    STOP_WAIT_MS / 1000);
	return -1;
}

/* reply_check - is the reply an OK?  An error goes to stderr */
static int
reply_check(const cJSON *reply)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(reply, "status");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(reply, "message");

	if (!cJSON_IsString(status)) {
		fprintf(stderr, "realmctl: malformed reply from realmchatd\n");
		return -1;
	}
	if (strcmp(status->valuestring, "OK") != 0) {
		fprintf(stderr, "realmctl: %s\n", cJSON_IsString(msg) ?
		    msg->valuestring : "request failed");
		return -1;
	}
	return 0;
}

/* stopped - after stop: wait until the daemon is gone, and say so */
static int
stopped(int fd, cJSON *reply)
{
	if (wait_gone(fd) == -1)
		return -1;
	cJSON_ReplaceItemInObjectCaseSensitive(reply, "message",
	    cJSON_CreateString("stopped"));
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *sock = NULL, *conf = NULL;
	struct parse_result res;
	struct config cf;
	bool json = false;
	cJSON *reply;
	int ch, fd, rc;

	while ((ch = getopt(argc, argv, "+f:js:")) != -1) {
		switch (ch) {
		case 'f': conf = optarg; break;
		case 'j': json = true; break;
		case 's': sock = optarg; break;
		default: usage();
		}
	}
	if (optind == argc)
		usage();
	if (parse(argc - optind, argv + optind, &res) == -1)
		return 1;
	if ((fd = sock_dial(socket_path(sock, conf, &cf))) == -1)
		return 1;
	if (send_request(fd, &res) == -1 || (reply = read_reply(fd)) == NULL)
		return 1;
	rc = reply_check(reply);
	if (rc == 0 && res.action == CTL_STOP)
		rc = stopped(fd, reply);
	if (rc == 0 && json)
		output_json(reply);
	else if (rc == 0)
		output_text(res.action, reply);
	cJSON_Delete(reply);
	close(fd);
	return rc == 0 ? 0 : 1;
}
