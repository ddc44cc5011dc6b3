/*
 * NAME
 *	master.h - the master process: configuration, state, supervision
 */
#ifndef RC_MASTER_H
#define RC_MASTER_H

#include "lib/config.h"
#include "shm/state.h"

/* seed.c */
int	seed_check(const struct config *, char *err, size_t errlen);
int	seed_load(struct state *, const struct config *, char *err, size_t errlen);

/* listen.c */
int	listen_open(const struct config *, char *err, size_t errlen);

#endif
