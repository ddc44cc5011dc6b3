/*
 * NAME
 *	proc.h - the entry point of each process the master forks
 * DESCRIPTION
 *	The master starts a worker or realmd by calling its main in the
 *	child; this is all it knows of them.  Each runs in the process slot
 *	slot of the state, on the inherited listening socket lfd, and
 *	returns the child's exit status.  realmd's socket is bound by the
 *	master, before it drops its privileges (realmd_listen).
 */
#ifndef RC_PROC_H
#define RC_PROC_H

struct config;
struct state;

int	worker_main(const struct config *, struct state *, int lfd, int slot);
int	realmd_main(const struct config *, struct state *, int lfd, int slot);
int	realmd_listen(const struct config *, char *err, size_t errlen);

#endif
