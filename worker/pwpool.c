/*
 * NAME
 *	pwpool - password hashing off the event loop
 * DESCRIPTION
 *	A yescrypt hash costs tens of milliseconds on purpose; run on the
 *	event loop, a client that pipelines register, auth or joingroup
 *	lines would keep every other connection of the worker waiting.  So
 *	a handler that needs a hash hands a job to PW_THREADS threads and
 *	returns; its connection answers nothing more until the job's
 *	finisher has run (conn.c counts it as backlogged), so replies stay
 *	in order, and one connection has at most one hash in flight.
 *
 *	Done jobs come back through an eventfd in the worker's epoll set;
 *	their finishers run on the loop, where the state and the
 *	connections may be touched.  The threads touch neither: they see
 *	the job's password and hash and nothing else.  A connection that
 *	closes first only clears the job's pointer to it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "lib/log.h"
#include "lib/password.h"
#include "worker/worker.h"

#define PW_THREADS	2

char pwpool_mark;

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct pw_job	*todo, **todo_tail;	/* FIFO */
	struct pw_job	*done;			/* any order */
	bool		 quit;
	int		 efd;
	int		 nthreads;
	pthread_t	 threads[PW_THREADS];
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
    NULL, false, -1, 0, { 0 } };

/* pw_run - the slow part of one job */
static void
pw_run(struct pw_job *j)
{
	if (j->verify)
		j->ok = password_verify(j->pw, j->hash);
	else
		j->ok = password_hash(j->pw, j->cost, j->hash,
		    sizeof(j->hash)) == 0;
	explicit_bzero(j->pw, sizeof(j->pw));
}

/* pw_thread - take jobs until told to quit */
static void *
pw_thread(void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct pw_job *j;

		while (pool.todo == NULL && !pool.quit)
			pthread_cond_wait(&pool.cv, &pool.mu);
		if (pool.quit)
			break;
		j = pool.todo;
		if ((pool.todo = j->next) == NULL)
			pool.todo_tail = &pool.todo;
		pthread_mutex_unlock(&pool.mu);
		pw_run(j);
		pthread_mutex_lock(&pool.mu);
		j->next = pool.done;
		pool.done = j;
		if (write(pool.efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
			log_warn("eventfd write: %m");
	}
	pthread_mutex_unlock(&pool.mu);
	password_thread_done();
	return arg;
}

/* pwpool_start - the threads and the eventfd, watched by the worker's epoll */
int
pwpool_start(struct worker *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &pwpool_mark };

	pool.todo_tail = &pool.todo;
	if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, pool.efd, &e) == -1)
		return -1;
	for (; pool.nthreads < PW_THREADS; pool.nthreads++)
		if ((errno = pthread_create(&pool.threads[pool.nthreads], NULL,
		    pw_thread, NULL)) != 0)
			return -1;
	return 0;
}

/*
 * pwpool_submit - hash or check j->pw in a thread; j->finish runs on the
 * loop when it is done.  The connection waits meanwhile.
 */
void
pwpool_submit(struct conn *c, struct pw_job *j)
{
	j->c = c;
	j->next = NULL;
	c->pw_job = j;
	pthread_mutex_lock(&pool.mu);
	*pool.todo_tail = j;
	pool.todo_tail = &j->next;
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
}

/* pwpool_event - the eventfd is readable: finish the jobs that are done */
void
pwpool_event(struct worker *w)
{
	uint64_t n;
	struct pw_job *j, *next;

	if (read(pool.efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("eventfd read: %m");
	pthread_mutex_lock(&pool.mu);
	j = pool.done;
	pool.done = NULL;
	pthread_mutex_unlock(&pool.mu);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->c != NULL) {
			struct buf reply = { 0 };
			struct conn *c = j->c;

			c->pw_job = NULL;
			j->finish(w, c, j, &reply);
			conn_late_reply(c, &reply);
			buf_free(&reply);
		}
		explicit_bzero(j, sizeof(*j));
		free(j);
	}
}

/* pwpool_forget - the connection closes: its job's answer goes nowhere */
void
pwpool_forget(struct conn *c)
{
	if (c->pw_job != NULL)
		c->pw_job->c = NULL;
	c->pw_job = NULL;
}

/* pwpool_stop - end the threads (jobs not started are dropped) */
void
pwpool_stop(struct worker *w)
{
	pthread_mutex_lock(&pool.mu);
	pool.quit = true;
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nthreads = 0;
	for (struct pw_job *j = pool.todo, *next; j != NULL; j = next) {
		next = j->next;
		free(j);
	}
	pool.todo = NULL;
	pwpool_event(w);	/* what finished: connections are gone by now */
	if (pool.efd != -1)
		close(pool.efd);
	pool.efd = -1;
}

/*
 * pw_job_new - a job for the password argument pw of rq, or NULL after
 * replying (a password too long: BAD_ARGS; no memory: INTERNAL)
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
		memcpy(j->pw, pw->p, pw->len);
	j->user = rq->user;
	j->cost = (unsigned)rq->w->cf->password_cost;
	return j;
}

/* pw_job_free - a job never submitted, its password wiped */
void
pw_job_free(struct pw_job *j)
{
	explicit_bzero(j, sizeof(*j));
	free(j);
}
