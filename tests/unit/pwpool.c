/*
 * NAME
 *	unit_pwpool - password work in threads, finished on the caller's loop
 *	(lib/pwpool.c)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "lib/pwpool.h"

enum { TASKS = 8 };

struct item {
	struct pw_task	 t;		/* first, as the pool wants */
	int		*done;		/* counts finished items */
	int		 seen;		/* done() calls on this item */
};

static char mark;

/* item_done - on the "loop": count it; freed by the test */
static void
item_done(struct pw_task *t)
{
	struct item *it = (struct item *)(void *)t;

	(*it->done)++;
	it->seen++;
}

/* wait_done - run the loop until n items are done, or 20 s pass */
static void
wait_done(int epfd, const int *done, int n)
{
	for (int i = 0; i < 400 && *done < n; i++) {
		struct epoll_event ev;

		if (epoll_wait(epfd, &ev, 1, 50) == 1) {
			assert_ptr_equal(ev.data.ptr, &mark);
			pwpool_event();
		}
	}
	assert_int_equal(*done, n);
}

/*
 * Hashes made in threads check in threads; a wrong password does not; each
 * task is finished once, on the thread that runs the loop.
 */
static void
test_hash_then_verify(void **state)
{
	struct item h[TASKS], v[TASKS];
	int epfd = epoll_create1(0), done = 0;

	assert_true(epfd >= 0);
	assert_int_equal(pwpool_start(epfd, &mark), 0);
	assert_true(pwpool_running());
	for (int i = 0; i < TASKS; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].t.cost = 1;
		h[i].t.done = item_done;
		h[i].done = &done;
		snprintf(h[i].t.pw, sizeof(h[i].t.pw), "secret%d", i);
		pwpool_submit(&h[i].t);
	}
	wait_done(epfd, &done, TASKS);
	for (int i = 0; i < TASKS; i++) {
		assert_true(h[i].t.ok);
		assert_int_equal(h[i].seen, 1);
		assert_true(password_is_hash(h[i].t.hash));
		assert_string_equal(h[i].t.pw, "");	/* wiped once used */
		memset(&v[i], 0, sizeof(v[i]));
		v[i].t.verify = true;
		v[i].t.done = item_done;
		v[i].done = &done;
		memcpy(v[i].t.hash, h[i].t.hash, sizeof(v[i].t.hash));
		snprintf(v[i].t.pw, sizeof(v[i].t.pw), "secret%d", i % 2 ? i : 99);
		pwpool_submit(&v[i].t);
	}
	wait_done(epfd, &done, 2 * TASKS);
	for (int i = 0; i < TASKS; i++)
		assert_int_equal(v[i].t.ok, i % 2 == 1);
	pwpool_stop();
	assert_false(pwpool_running());
	close(epfd);
}

/* Without a running pool the work is done at once, inside submit. */
static void
test_inline_without_pool(void **state)
{
	struct item it = { .t = { .cost = 1, .done = item_done } };
	int done = 0;

	it.done = &done;
	strcpy(it.t.pw, "pw");
	pwpool_submit(&it.t);
	assert_int_equal(done, 1);
	assert_true(it.t.ok);
	assert_true(password_verify("pw", it.t.hash));
	assert_false(password_verify("px", it.t.hash));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_then_verify),
		cmocka_unit_test(test_inline_without_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
