/*
 * NAME
 *	pwjob - a request that waits for a password hash or check
 * DESCRIPTION
 *	A handler that needs a password hashed or checked fills a pw_job
 *	and hands it to the pool (lib/pwpool.c); its connection answers
 *	nothing more until the job's finish has run on the loop (conn.c
 *	counts it as backlogged), so replies stay in order and a connection
 *	has at most one hash in flight.  A connection that closes first
 *	only clears the job's pointer to it.
 */
#include <stdlib.h>
#include <string.h>

#include "worker/worker.h"

_Static_assert(PWHASH_LEN <= PASSWORD_HASH_MAX, "a stored hash must fit a task");

char pwpool_mark;

/* job_done - on the loop: finish the request, unless its connection left */
static void
job_done(struct pw_task *t)
{
	struct pw_job *j = (struct pw_job *)(void *)t;
	struct buf reply = { 0 };
	struct conn *c = j->c;

	if (c != NULL) {
		c->pw_job = NULL;
		j->finish(c->w, c, j, &reply);
		conn_late_reply(c, &reply);
		buf_free(&reply);
	}
	pw_job_free(j);
}

/*
 * pw_submit - run j's hash or check off the loop; j->finish answers rq's
 * connection afterwards.  Without the pool (a harness) it all runs now,
 * into rq->out.
 */
void
pw_submit(struct request *rq, struct pw_job *j)
{
	if (!pwpool_running()) {
		pw_task_run(&j->t);
		j->finish(rq->w, rq->c, j, rq->out);
		pw_job_free(j);
		return;
	}
	j->c = rq->c;
	j->t.done = job_done;
	rq->c->pw_job = j;
	pwpool_submit(&j->t);
}

/* pw_forget - the connection closes: its job's answer goes nowhere */
void
pw_forget(struct conn *c)
{
	if (c->pw_job != NULL)
		c->pw_job->c = NULL;
	c->pw_job = NULL;
}

/*
 * pw_job_new - a job for the password argument pw (NULL: none) of rq, or
 * NULL after replying (a password too long: BAD_ARGS; no memory)
 */
struct pw_job *
pw_job_new(struct request *rq, const struct word *pw)
{
	struct pw_job *j;

	if (pw != NULL && pw->len > PASSWORD_MAX) {
		reply_errorf(rq->out, E_BAD_ARGS, "Password longer than %d bytes",
		    PASSWORD_MAX);
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		reply_error(rq->out, E_INTERNAL, NULL);
		return NULL;
	}
	if (pw != NULL)
		memcpy(j->t.pw, pw->p, pw->len);
	j->user = rq->user;
	j->session = rq->session;
	j->t.cost = (unsigned)rq->w->cf->password_cost;
	return j;
}

/* pw_job_free - a job done or never submitted, its password wiped */
void
pw_job_free(struct pw_job *j)
{
	explicit_bzero(j, sizeof(*j));
	free(j);
}
