/*
 * NAME
 *	pwpool - password hashing in threads, finished on the event loop
 * DESCRIPTION
 *	A yescrypt hash costs tens of milliseconds on purpose; run on an
 *	event loop, one client pipelining register, auth or joingroup lines
 *	(or one peer pipelining group joins) would keep everybody else of
 *	that process waiting.  So the loop hands the work to PW_THREADS
 *	threads and goes on; done tasks come back through an eventfd in the
 *	loop's epoll set, and their done() runs on the loop, where shared
 *	state and connections may be touched.  The threads see a task's
 *	password and hash and nothing else.
 *
 *	A process that never started the pool (a test harness that calls
 *	handlers directly) gets the work done inline by pwpool_submit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "lib/log.h"
#include "lib/pwpool.h"

#define PW_THREADS	2

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct pw_task	*todo, **todo_tail;	/* FIFO */
	struct pw_task	*done;			/* any order */
	bool		 quit;
	int		 efd;
	int		 nthreads;
	pthread_t	 threads[PW_THREADS];
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
    &pool.todo, NULL, false, -1, 0, { 0 } };

/* pw_task_run - the slow part of one task */
void
pw_task_run(struct pw_task *t)
{
	if (t->verify)
		t->ok = password_verify(t->pw, t->hash);
	else
		t->ok = password_hash(t->pw, t->cost, t->hash,
		    sizeof(t->hash)) == 0;
	explicit_bzero(t->pw, sizeof(t->pw));
}

/* pw_thread - take tasks until told to quit */
static void *
pw_thread(void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct pw_task *t;

		while (pool.todo == NULL && !pool.quit)
			pthread_cond_wait(&pool.cv, &pool.mu);
		if (pool.quit)
			break;
		t = pool.todo;
		if ((pool.todo = t->next) == NULL)
			pool.todo_tail = &pool.todo;
		pthread_mutex_unlock(&pool.mu);
		pw_task_run(t);
		pthread_mutex_lock(&pool.mu);
		t->next = pool.done;
		pool.done = t;
		if (write(pool.efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
			log_warn("eventfd write: %m");
	}
	pthread_mutex_unlock(&pool.mu);
	password_thread_done();
	return arg;
}

/* pwpool_start - the threads, and their eventfd in epfd marked mark */
int
pwpool_start(int epfd, void *mark)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = mark };

	if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, pool.efd, &e) == -1)
		return -1;
	for (; pool.nthreads < PW_THREADS; pool.nthreads++)
		if ((errno = pthread_create(&pool.threads[pool.nthreads], NULL,
		    pw_thread, NULL)) != 0)
			return -1;
	return 0;
}

/* pwpool_running - are tasks done in threads (else inline)? */
bool
pwpool_running(void)
{
	return pool.nthreads > 0;
}

/* pwpool_submit - do t in a thread; t->done runs on the loop after */
void
pwpool_submit(struct pw_task *t)
{
	t->next = NULL;
	if (!pwpool_running()) {
		pw_task_run(t);
		t->done(t);
		return;
	}
	pthread_mutex_lock(&pool.mu);
	*pool.todo_tail = t;
	pool.todo_tail = &t->next;
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
}

/* pwpool_event - the eventfd is readable: finish the tasks that are done */
void
pwpool_event(void)
{
	uint64_t n;
	struct pw_task *t, *next;

	if (pool.efd != -1 && read(pool.efd, &n, sizeof(n)) == -1 &&
	    errno != EAGAIN)
		log_warn("eventfd read: %m");
	pthread_mutex_lock(&pool.mu);
	t = pool.done;
	pool.done = NULL;
	pthread_mutex_unlock(&pool.mu);
	for (; t != NULL; t = next) {
		next = t->next;
		t->done(t);
	}
}

/*
 * pwpool_stop - end the threads; tasks not started are finished undone
 * (ok false), so that each is freed by its done()
 */
void
pwpool_stop(void)
{
	struct pw_task *t, *next;

	pthread_mutex_lock(&pool.mu);
	pool.quit = true;
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nthreads = 0;
	for (t = pool.todo; t != NULL; t = next) {
		next = t->next;
		explicit_bzero(t->pw, sizeof(t->pw));
		t->ok = false;
		t->next = pool.done;
		pool.done = t;
	}
	pool.todo = NULL;
	pool.todo_tail = &pool.todo;
	pwpool_event();
	if (pool.efd != -1)
		close(pool.efd);
	pool.efd = -1;
}
