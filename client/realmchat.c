/*
 * NAME
 *	realmchat - terminal client for realmchat and the classroom servers
 * SYNOPSIS
 *	realmchat [-h host] [-p port] [-u user] [-d dir] [-i seconds]
 *	    [-c 'command; command'] [--json]
 * DESCRIPTION
 *	Connects, logs in (the password from REALMCHAT_PASSWORD or asked
 *	for without echo) and then either runs the commands of -c, reads
 *	commands from a pipe, or opens the interactive prompt.  See
 *	realmchat(1).
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/realmchat.h"
#include "lib/version.h"

/* usage - the synopsis, and the usage exit status */
static int
usage(void)
{
	fprintf(stderr, "usage: realmchat [-h host] [-p port] [-u user] "
	    "[-d dir] [-i seconds]\n"
	    "                 [-c 'command; command'] [--json]\n");
	return EXIT_USAGE;
}

/* ask_password - read a password from the terminal without echo */
static char *
ask_password(const char *user)
{
	struct termios old, quiet;
	char buf[256];
	ssize_t n;
	int fd;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return NULL;
	dprintf(fd, "Password for %s: ", user);
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	n = read(fd, buf, sizeof(buf) - 1);
	tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

/* get_password - REALMCHAT_PASSWORD, or asked on the terminal */
static char *
get_password(const char *user)
{
	const char *env = getenv("REALMCHAT_PASSWORD");

	if (env != NULL)
		return strdup(env);
	return ask_password(user);
}

/* default_dir - ~/Downloads/realmchat */
static char *
default_dir(void)
{
	const char *home = getenv("HOME");
	char *d;

	if (home == NULL || *home == '\0')
		home = ".";
	if (asprintf(&d, "%s/Downloads/realmchat", home) == -1)
		return NULL;
	return d;
}

/* rc_free - what the client allocated, for a clean exit under ASan */
static void
rc_free(struct rc *rc)
{
	if (rc->password != NULL)
		explicit_bzero(rc->password, strlen(rc->password));
	free(rc->password);
	for (int i = 0; i < rc->nnames; i++)
		free(rc->names[i]);
	buf_free(&rc->in);
}

/* tally - fold one command's status into the exit status; false to stop */
static bool
tally(int st, int *exit_status)
{
	if (st == CMD_LOST) {
		*exit_status = EXIT_CONNECT;
		return false;
	}
	if (st == CMD_FAILED && *exit_status == EXIT_OKAY)
		*exit_status = EXIT_FAILED;
	return st != CMD_QUIT;
}

/* run_script - the ';'-separated commands of -c, in order */
static int
run_script(struct rc *rc, const char *script)
{
	char *copy = strdup(script), *cmd, *save = NULL;
	int status = EXIT_OKAY;

	if (copy == NULL)
		return EXIT_FAILED;
	for (cmd = strtok_r(copy, ";", &save); cmd != NULL;
	    cmd = strtok_r(NULL, ";", &save))
		if (!tally(command_run(rc, cmd), &status))
			break;
	free(copy);
	return status;
}

/* run_pipe - one command per line of standard input, until its end */
static int
run_pipe(struct rc *rc)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = EXIT_OKAY;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!tally(command_run(rc, line), &status))
			break;
		fflush(stdout);
	}
	free(line);
	return status;
}

/* options - parse the command line into rc; -1 on a usage error */
static int
options(struct rc *rc, int argc, char **argv, const char **script)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	double secs;
	int ch;

	while ((ch = getopt_long(argc, argv, "h:p:u:d:i:c:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h': rc->host = optarg; break;
		case 'p': rc->port = optarg; break;
		case 'u': rc->user = optarg; break;
		case 'd': rc->dldir = optarg; break;
		case 'c': *script = optarg; break;
		case 'j': rc->json = true; break;
		case 'i':
			secs = strtod(optarg, NULL);
			if (secs < 0.1 || secs > 3600)
				return -1;
			rc->poll_ms = (int)(secs * 1000);
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* login - log in as -u's user, asking for the password */
static int
login(struct rc *rc)
{
	if ((rc->password = get_password(rc->user)) == NULL) {
		show_error(rc, "no password: set REALMCHAT_PASSWORD or run "
		    "on a terminal");
		return EXIT_USAGE;
	}
	if (conn_login(rc, rc->user, rc->password) == -1)
		return rc->fd == -1 ? EXIT_CONNECT : EXIT_LOGIN;
	return EXIT_OKAY;
}

/* session - connect, log in, then the script, the prompt or the pipe */
static int
session(struct rc *rc, const char *script)
{
	int st;

	if (conn_open(rc, false) == -1)
		return EXIT_CONNECT;
	if (rc->user != NULL && (st = login(rc)) != EXIT_OKAY)
		return st;
	if (rc->interactive && rc->user != NULL)
		show_note(rc, "logged in as %s on %s port %s; \"help\" lists "
		    "the commands", rc->user, rc->host, rc->port);
	if (script != NULL)
		return run_script(rc, script);
	if (rc->interactive)
		return term_run(rc);
	return run_pipe(rc);
}

/* main - options, then a session; everything freed before the exit */
int
main(int argc, char **argv)
{
	struct rc rc = { .host = "127.0.0.1", .port = "8889", .fd = -1,
	    .poll_ms = 2000, .reply_ms = 120000, .retry_ms = 30000 };
	const char *script = NULL;
	char *dldir = NULL;
	int st;

	if (options(&rc, argc, argv, &script) == -1)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if (rc.dldir == NULL && (rc.dldir = dldir = default_dir()) == NULL)
		return EXIT_FAILED;
	rc.interactive = script == NULL && isatty(STDIN_FILENO);
	rc.color = isatty(STDOUT_FILENO) && !rc.json &&
	    getenv("NO_COLOR") == NULL;
	st = session(&rc, script);
	conn_drop(&rc);
	rc_free(&rc);
	free(dldir);
	return st;
}
