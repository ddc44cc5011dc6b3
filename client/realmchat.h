/*
 * NAME
 *	realmchat - the terminal client: shared state and interfaces
 * DESCRIPTION
 *	One struct rc holds the options, the connection and the session.
 *	conn.c speaks the protocol (frames, reconnect, session token),
 *	command.c turns what the user types into protocol lines, show.c
 *	prints replies and messages, save.c stores received files, term.c
 *	runs the interactive prompt.
 */
#ifndef RC_CLIENT_H
#define RC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <cJSON.h>

#include "lib/buf.h"

#define RC_NAMES	256	/* names remembered for completion */

/* exit statuses */
enum {
	EXIT_OKAY = 0,		/* every command succeeded */
	EXIT_FAILED = 1,	/* a command failed */
	EXIT_USAGE = 2,		/* bad options, no password */
	EXIT_CONNECT = 3,	/* no connection, or it was lost for good */
	EXIT_LOGIN = 4		/* the login was refused */
};

struct rc {
	/* options */
	const char	*host;		/* server address or name */
	const char	*port;		/* server port */
	const char	*user;		/* -u, or the user of a typed auth */
	char		*password;	/* for logging in again; malloc'd */
	const char	*dldir;		/* where received files go */
	bool		 json;		/* print replies as they came */
	bool		 color;		/* ANSI colours on stdout */
	bool		 interactive;	/* the libedit prompt runs */
	int		 poll_ms;	/* inbox polling interval */
	int		 reply_ms;	/* longest wait for one reply */
	int		 retry_ms;	/* how long to try reconnecting */
	/* connection */
	int		 fd;		/* socket, -1 when not connected */
	struct buf	 in;		/* bytes read, not yet a frame */
	size_t		 scan;		/* frame end searched up to here */
	/* session */
	char		 token[64];	/* session token, "" if none */
	bool		 bound;		/* this connection carries the session */
	bool		 watching;	/* the server pushes messages */
	bool		 no_watch;	/* the server has no watch: poll */
	bool		 reconnecting;	/* restoring the session after a loss */
	/* names seen, for tab completion */
	char		*names[RC_NAMES];
	int		 nnames;
};

/* conn.c */
int	conn_open(struct rc *, bool quiet);
void	conn_drop(struct rc *);
int	conn_request(struct rc *, const char *line, size_t len, cJSON **reply);
int	conn_request_raw(struct rc *, const char *line, size_t len,
	    cJSON **reply, char **raw);
int	conn_pump(struct rc *, int timeout_ms);
int	conn_login(struct rc *, const char *user, const char *password);
int	conn_reconnect(struct rc *);
int	conn_watch(struct rc *);
void	conn_note_login(struct rc *, const char *user, const char *password,
	    const cJSON *);
bool	reply_ok(const cJSON *);
const char *reply_str(const cJSON *, const char *key);

/* command.c */
enum { CMD_OK = 0, CMD_FAILED = 1, CMD_QUIT = 2, CMD_LOST = -1 };

int	command_run(struct rc *, const char *line);
int	command_poll(struct rc *);
void	command_learn(struct rc *);
const char *const *command_names(void);

/* show.c */
void	show_reply(struct rc *, const char *cmd, const cJSON *, const char *raw);
void	show_event(struct rc *, const cJSON *, const char *raw);
int	show_messages(struct rc *, const cJSON *msgs, const char *realm);
void	show_entry(struct rc *, const cJSON *entry, const char *key,
	    const char *realm);
void	show_note(struct rc *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	show_error(struct rc *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	show_table(struct rc *, const char *key, const cJSON *rows);
void	name_remember(struct rc *, const char *);
void	names_learn(struct rc *, const cJSON *);

/* save.c */
int	save_file(struct rc *, const char *name, const char *b64,
	    char *path, size_t pathlen);

/* term.c */
int	term_run(struct rc *);
void	term_hold(struct rc *);
void	term_release(struct rc *);

#endif
