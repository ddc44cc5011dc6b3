/*
 * NAME
 *	unit_buf - the byte buffer, and buf_send over a socket pair
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "lib/buf.h"

/* pair - a connected pair of non-blocking UNIX stream sockets */
static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
}

/* everything goes when the socket takes it: consumed, counted, received */
static void
test_send_all(void **state)
{
	struct buf b = { 0 };
	char got[16];
	size_t sent = 99;
	int sv[2];

	(void)state;
	pair(sv);
	buf_append(&b, "hello\n", 6);
	assert_int_equal(buf_send(&b, sv[0], &sent), 0);
	assert_int_equal(sent, 6);
	assert_int_equal(buf_used(&b), 0);
	assert_int_equal(read(sv[1], got, sizeof(got)), 6);
	assert_memory_equal(got, "hello\n", 6);
	/* an empty buffer sends nothing, and says so */
	assert_int_equal(buf_send(&b, sv[0], &sent), 0);
	assert_int_equal(sent, 0);
	assert_int_equal(buf_send(&b, sv[0], NULL), 0);
	buf_free(&b);
	close(sv[0]);
	close(sv[1]);
}

/* a full socket is not an error: what it took is consumed, the rest waits */
static void
test_send_full(void **state)
{
	size_t big = 16u << 20, sent = 0, drained = 0;
	struct buf b = { 0 };
	char *chunk = calloc(1, 65536);
	int sv[2];

	(void)state;
	assert_non_null(chunk);
	pair(sv);
	for (size_t i = 0; i < big / 65536; i++)
		buf_append(&b, chunk, 65536);
	assert_int_equal(buf_send(&b, sv[0], &sent), 0);
	assert_true(sent > 0 && sent < big);
	assert_int_equal(buf_used(&b), big - sent);
	/* the reader takes some; the next call goes on from there */
	for (ssize_t n; (n = read(sv[1], chunk, 65536)) > 0;)
		drained += (size_t)n;
	assert_int_equal(drained, sent);
	assert_int_equal(buf_send(&b, sv[0], &sent), 0);
	assert_true(sent > 0);
	free(chunk);
	buf_free(&b);
	close(sv[0]);
	close(sv[1]);
}

/* a peer that hung up is an error with errno, never a SIGPIPE */
static void
test_send_hung_up(void **state)
{
	struct buf b = { 0 };
	size_t sent = 99;
	int sv[2];

	(void)state;
	pair(sv);
	close(sv[1]);
	buf_append(&b, "x", 1);
	errno = 0;
	assert_int_equal(buf_send(&b, sv[0], &sent), -1);	/* alive: no signal */
	assert_int_equal(errno, EPIPE);
	assert_int_equal(sent, 0);
	assert_int_equal(buf_used(&b), 1);
	buf_free(&b);
	close(sv[0]);
	/* a descriptor that is no socket at all */
	buf_append(&b, "x", 1);
	assert_int_equal(buf_send(&b, -1, NULL), -1);
	assert_int_equal(errno, EBADF);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_all),
		cmocka_unit_test(test_send_full),
		cmocka_unit_test(test_send_hung_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
