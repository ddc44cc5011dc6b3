/*
 * NAME
 *	term - the interactive prompt: libedit in a poll loop
 * DESCRIPTION
 *	libedit's readline callback interface reads one key at a time, so
 *	the loop can wait on the keyboard, the socket and the polling timer
 *	at once.  Text that arrives while a line is being typed is written
 *	above it: term_hold() erases the prompt line and gives the terminal
 *	back its ordinary mode, term_release() restores the editing mode and
 *	has libedit draw the prompt and the half-typed line again.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <editline/readline.h>

#include "client/realmchat.h"
#include "lib/util.h"

static struct rc *term_rc;	/* for the libedit callbacks */
static bool editing;		/* a line is being edited in raw mode */
static int held;		/* depth of term_hold() */
static bool leaving;		/* quit, or end of input */
static bool line_done;		/* on_line ran: draw the prompt again */
static char prompt[96];

/* term_hold - make room above the prompt for output */
void
term_hold(struct rc *rc)
{
	if (!editing || held++ > 0)
		return;
	fputs("\r\033[K", stdout);
	fflush(stdout);
	rl_deprep_terminal();
}

/* term_release - draw the prompt and the typed line again */
void
term_release(struct rc *rc)
{
	if (!editing || --held > 0)
		return;
	fflush(stdout);
	fflush(stderr);
	rl_prep_terminal(0);
	rl_forced_update_display();
}

/* set_prompt - "user> " once logged in */
static void
set_prompt(struct rc *rc)
{
	snprintf(prompt, sizeof(prompt), "%s> ",
	    rc->token[0] != '\0' && rc->user != NULL ? rc->user : "realmchat");
	rl_set_prompt(prompt);
}

/* secret_line - a line with a password in it stays out of the history */
static bool
secret_line(const char *line)
{
	while (*line == ' ')
		line++;
	return strncasecmp(line, "auth ", 5) == 0 ||
	    strncasecmp(line, "register ", 9) == 0;
}

/* on_line - libedit has a whole line (NULL at end of input) */
static void
on_line(char *line)
{
	if (line == NULL) {
		leaving = true;
		printf("\n");
		return;
	}
	editing = false;
	line_done = true;
	if (*line != '\0' && !secret_line(line))
		add_history(line);
	if (command_run(term_rc, line) == CMD_QUIT)
		leaving = true;
	fflush(stdout);
	set_prompt(term_rc);
	free(line);
	editing = !leaving;
}

/* complete_command - the next command word starting with text */
static char *
complete_command(const char *text, int state)
{
	static int i;
	const char *const *names = command_names();
	size_t len = strlen(text);

	if (state == 0)
		i = 0;
	while (names[i] != NULL)
		if (strncmp(names[i++], text, len) == 0)
			return strdup(names[i - 1]);
	return NULL;
}

/* complete_name - the next user, group or realm name starting with text */
static char *
complete_name(const char *text, int state)
{
	static int i;
	size_t len = strlen(text);

	if (state == 0)
		i = 0;
	while (i < term_rc->nnames)
		if (strncmp(term_rc->names[i++], text, len) == 0)
			return strdup(term_rc->names[i - 1]);
	return NULL;
}

/* complete - commands in the first word, names after it */
static char **
complete(const char *text, int start, int end)
{
	rl_attempted_completion_over = 1;
	return rl_completion_matches(text, start == 0 ? complete_command :
	    complete_name);
}

/*
 * redraw - after a command.  libedit runs the line handler with the
 * terminal in its ordinary mode; some versions go back to editing mode
 * and draw the prompt only at the next key typed, reading a whole line
 * in between.  Installing the handler again puts the editor back into
 * one-key mode, with the editing mode set and a fresh prompt drawn below
 * the command's output (where it is drawn already, nothing changes).
 */
static void
redraw(void)
{
	line_done = false;
	fflush(stdout);
	fflush(stderr);
	rl_callback_handler_install(prompt, on_line);
}

/* due - milliseconds until the next inbox poll, or -1 for none */
static int
due(struct rc *rc, uint64_t next_poll)
{
	uint64_t now = now_msec();

	if (rc->watching || rc->token[0] == '\0' || rc->fd == -1)
		return -1;
	return next_poll > now ? (int)(next_poll - now) : 0;
}

/* socket_event - the server sent something, or went away */
static void
socket_event(struct rc *rc)
{
	if (conn_pump(rc, 0) == 0)
		return;
	show_error(rc, "connection to %s port %s lost", rc->host, rc->port);
	if (conn_reconnect(rc) == -1)
		show_note(rc, "not connected; the next command tries again");
	set_prompt(rc);
	term_hold(rc);
	term_release(rc);
}

/* term_loop - wait on the keyboard, the socket and the poll timer */
static void
term_loop(struct rc *rc)
{
	uint64_t next_poll = now_msec();
	struct pollfd p[2];
	int n, wait;

	while (!leaving) {
		/* frames read along with a reply wait in the buffer, not the socket */
		if (rc->fd != -1 && buf_used(&rc->in) > 0)
			socket_event(rc);
		p[0] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
		p[1] = (struct pollfd){ rc->fd, POLLIN, 0 };
		wait = due(rc, next_poll);
		n = poll(p, rc->fd != -1 ? 2 : 1, wait);
		if (n == -1 && errno != EINTR)
			break;
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			rl_callback_read_char();
			if (line_done && !leaving)
				redraw();
		}
		else if (n > 0 && rc->fd != -1 && p[1].revents != 0)
			socket_event(rc);
		else if (n == 0 && wait >= 0) {
			command_poll(rc);
			next_poll = now_msec() + (uint64_t)rc->poll_ms;
		}
	}
}

/* term_run - the interactive client, until quit or end of input */
int
term_run(struct rc *rc)
{
	term_rc = rc;
	rl_readline_name = "realmchat";
	rl_attempted_completion_function = complete;
	if (rc->token[0] != '\0') {
		conn_watch(rc);
		command_learn(rc);
	}
	set_prompt(rc);
	rl_callback_handler_install(prompt, on_line);
	editing = true;
	term_loop(rc);
	editing = false;
	rl_callback_handler_remove();
	return EXIT_OKAY;
}
