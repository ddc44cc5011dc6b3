/*
 * NAME
 *	config - realmchat.conf: key = value lines
 * DESCRIPTION
 *	Every key is described once in the key table in config.c, with its
 *	type, bounds and default.  Unknown keys and bad values are errors
 *	reported as "file:line: reason".
 */
#ifndef RC_CONFIG_H
#define RC_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "lib/util.h"

struct config {
	char		 path[PATH_MAX];	/* file it was read from, absolute */
	char		 cwd[PATH_MAX];		/* relative paths are from here */
	char		 listen_host[256];	/* address to bind */
	uint16_t	 listen_port;
	uint64_t	 workers;		/* 0: one per CPU */
	char		 state_dir[PATH_MAX];
	char		 realm_name[NAME_LEN + 1];
	char		 realm_secret[256];
	char		 realm_tls_cert[PATH_MAX];	/* "" = made in state_dir */
	char		 realm_tls_key[PATH_MAX];	/* "" = in realm_tls_cert */
	char		 realm_tls_ca[PATH_MAX];	/* verify peers against it */
	char		 realm_tls_pin[1024];	/* peers' SHA-256 fingerprints */
	char		 control[PATH_MAX];	/* realmctl socket, "" = none */
	char		 control_ro[PATH_MAX];	/* read-only one, "" = none */
	char		 seed_users[PATH_MAX];
	char		 pidfile[PATH_MAX];	/* "" = state_dir/realmchatd.pid */
	char		 user[64];		/* account to run as when root */
	int		 log_level;		/* syslog priority */

	uint64_t	 max_line;		/* bytes in one request line */
	uint64_t	 max_message;		/* bytes of message text */
	uint64_t	 inbox_quota;		/* messages waiting per user */
	uint64_t	 inbox_batch;		/* messages in one inbox reply */
	uint64_t	 session_timeout;	/* seconds a session may idle */
	uint64_t	 sessions_per_user;	/* oldest evicted beyond this */
	uint64_t	 idle_timeout;		/* seconds a connection may idle */
	uint64_t	 max_connections;	/* per worker */
	uint64_t	 max_connections_per_address;	/* all workers */
	uint64_t	 send_timeout;		/* seconds replies may wait unread */
	uint64_t	 registrations_per_address;	/* users made per hour */
	uint64_t	 sessions_per_address;	/* sessions opened per hour */
	uint64_t	 max_input_per_worker;	/* bytes of unfinished lines */
	uint64_t	 max_input_per_address;	/* the same, all workers */
	uint64_t	 password_cost;		/* yescrypt cost, 1..11 */
	uint64_t	 group_history;		/* messages kept per group */
	uint64_t	 group_members;		/* members per group */
	uint64_t	 max_file;		/* bytes of one file */
	uint64_t	 spool_max;		/* bytes of all stored files */
	uint64_t	 file_keep;		/* seconds a shown file stays fetchable */
	uint64_t	 spool_reserve;		/* bytes kept free on its disk */

	/* capacities, used when a state file is created */
	uint64_t	 max_users;
	uint64_t	 max_sessions;
	uint64_t	 max_messages;
	uint64_t	 message_store;		/* bytes of message text */
	uint64_t	 max_groups;
	uint64_t	 max_memberships;	/* (group, user) pairs */
	uint64_t	 max_files;
	uint64_t	 realm_users;		/* room for users of linked realms */
	uint64_t	 realm_wait;		/* seconds a realm reply may wait */
	uint64_t	 realm_backoff_max;	/* longest pause between dials */
	uint64_t	 realm_queue;		/* messages queued per link */
	uint64_t	 realm_user_dials;	/* users' addrealm dials a minute */
	uint64_t	 realm_user_links;	/* links users' addrealm may make */
	bool		 debug_hooks;		/* test-only commands; never in production */
	int		 register_order;	/* enum register_order */
	int		 addrealm_anon;		/* enum addrealm_anon */
};

/* register's four words: told apart (auto) or fixed */
enum register_order { REG_AUTO, REG_USER_FIRST, REG_NAME_FIRST };

/* who may run addrealm without a session */
enum addrealm_anon { ANON_NO, ANON_LOOPBACK, ANON_ANY };

void	config_defaults(struct config *);
int	config_load(struct config *, const char *path, char *err, size_t errlen);
int	config_reload(struct config *, const struct config *old, char *err,
	    size_t errlen);
int	config_parse_line(struct config *, char *line, char *err, size_t errlen);

#endif
