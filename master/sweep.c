/*
 * NAME
 *	sweep - the master's housekeeping of the state
 * DESCRIPTION
 *	Timed work the master's loop does between supervising its children
 *	(master.c, tick()): ending sessions idle past session_timeout, and
 *	freeing the kept files whose file_keep has passed.  Each takes the
 *	state lock through master_lock(), which reaps while it waits, so a
 *	worker that died holding the lock never stalls a sweep.
 */
#include "lib/log.h"
#include "master/master.h"

#define FILE_CHUNK	256		/* kept files freed per transaction */

/* sweep_sessions - end sessions idle past session_timeout */
void
sweep_sessions(void)
{
	struct state *st = master_state();
	const struct config *cf = master_config();
	int n;

	if (master_lock() == -1)
		return;
	txn_begin_locked(st);
	n = session_expire(st, now_sec(), cf->session_timeout, 4096);
	if (n == -1)
		txn_abort(st);
	else
		txn_commit(st);
	if (n > 0)
		log_info("ended %d idle sessions", n);
}

/*
 * sweep_files - free the kept files whose file_keep has passed, in
 * transactions of FILE_CHUNK; each body goes after its commit.  Bounded
 * per call, so that a backlog never holds up supervision for long.
 */
void
sweep_files(void)
{
	struct state *st = master_state();
	const struct config *cf = master_config();
	uint64_t gone[FILE_CHUNK];
	size_t ngone;
	int n, total = 0;

	do {
		if (master_lock() == -1)
			return;
		txn_begin_locked(st);
		n = kept_expire(st, now_sec(), cf->file_keep, FILE_CHUNK,
		    gone, &ngone);
		if (n <= 0) {
			txn_abort(st);
			if (n == -1)
				log_err("kept files: %m");
			break;
		}
		txn_commit(st);
		for (size_t i = 0; i < ngone; i++)
			spool_unlink(st, gone[i]);
		total += n;
	} while (n == FILE_CHUNK && total < 16 * FILE_CHUNK);
	if (total > 0)
		log_info("file_keep: %d shown files expired", total);
}
