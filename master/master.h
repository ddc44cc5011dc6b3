/*
 * NAME
 *	master.h - the master process: configuration, state, supervision
 */
#ifndef RC_MASTER_H
#define RC_MASTER_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>
#include <cJSON.h>

#include "lib/config.h"
#include "shm/state.h"

/* The account to run as, when started as root. */
struct priv {
	bool		 drop;		/* started as root, user is not root */
	uid_t		 uid;
	gid_t		 gid;
	char		 name[64];
};

/* What a reload did, for the one who asked. */
struct reload_report {
	char		 why[1024];	/* refused: the reason */
	const char	*restart[8];	/* changed keys that need a restart */
	int		 nrestart;
	bool		 capacities;	/* changed: they apply to a new state */
	unsigned	 workers;	/* workers from now on */
};

/* What deleting a link did. */
struct realm_del {
	unsigned	 dropped;	/* queued messages dropped */
	unsigned	 moved;		/* arrivals moved to the personal inbox */
};

/* A worker as the master knows it. */
struct child_info {
	pid_t		 pid;
	int		 slot;		/* in the state's process table */
	bool		 retiring;	/* from before a reload, finishing */
	enum proc_role	 role;		/* PROC_WORKER or PROC_REALMD */
};

/* master.c: what the control socket may learn and ask */
const struct config *master_config(void);
struct state	*master_state(void);
uint64_t	 master_started(void);
bool		 master_stopping(void);
int		 master_children(struct child_info *, int max);
int		 master_lock(void);
int		 master_reload(struct reload_report *);
void		 master_stop(const char *why);

/* control.c */
#define CONTROL_POLLFDS	34	/* two sockets, their clients, realmd for each */
int	control_open(const struct config *, const struct priv *, char *err,
	    size_t errlen);
int	control_pollfds(struct pollfd *, int max);
void	control_dispatch(const struct pollfd *, int n);
int	control_wait_ms(uint64_t now);
void	control_close(void);
void	control_forget(void);

/* admin.c: the state as realmctl sees it, and what it may change */
cJSON	*admin_status(void);
cJSON	*admin_users(void);
cJSON	*admin_sessions(void);
cJSON	*admin_groups(void);
cJSON	*admin_realms(void);
cJSON	*admin_stats(void);
int	 admin_kick(const char *user, unsigned *ended);
int	 admin_delrealm(const char *id, struct realm_del *);

/* priv.c */
int	priv_lookup(const struct config *, struct priv *, char *err,
	    size_t errlen);
int	priv_own(const struct priv *, const char *path, char *err,
	    size_t errlen);
int	priv_mkdir_parent(const struct priv *, const char *path, char *err,
	    size_t errlen);
int	priv_own_state(const struct priv *, const struct config *,
	    const struct state *, char *err, size_t errlen);
int	priv_drop(const struct priv *, char *err, size_t errlen);

/* seed.c */
int	seed_check(const struct config *, char *err, size_t errlen);
int	seed_load(struct state *, const struct config *, char *err, size_t errlen);

/* sweep.c: timed housekeeping of the state, from the master's loop */
void	sweep_sessions(void);
void	sweep_files(void);

/* listen.c */
int	listen_open(const struct config *, char *err, size_t errlen);
int	listen_unix(const char *path, mode_t mode, int backlog,
	    const struct priv *, char *err, size_t errlen);

#endif
