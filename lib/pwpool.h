/*
 * NAME
 *	pwpool - password hashing in threads, finished on the event loop
 */
#ifndef RC_PWPOOL_H
#define RC_PWPOOL_H

#include <stdbool.h>

#include "lib/password.h"

/*
 * A password to hash or check.  The caller embeds it first in a struct
 * of its own; done runs on the loop thread once the work is done, or is
 * dropped at stop (ok false), and frees it.
 */
struct pw_task {
	struct pw_task	*next;
	void		(*done)(struct pw_task *);
	bool		 verify;	/* check pw against hash, or hash pw */
	bool		 ok;		/* the check passed, or the hash is made */
	unsigned	 cost;		/* of a new hash */
	char		 pw[PASSWORD_MAX + 1];	/* wiped once used */
	char		 hash[PASSWORD_HASH_MAX];	/* in to check, out when made */
};

int	pwpool_start(int epfd, void *mark);
bool	pwpool_running(void);
void	pwpool_submit(struct pw_task *);
void	pwpool_event(void);
void	pwpool_stop(void);
void	pw_task_run(struct pw_task *);

#endif
