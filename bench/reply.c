/*
 * NAME
 *	reply - microbenchmark of the reply path (lib/reply.c)
 * SYNOPSIS
 *	build/bench/reply [rounds [kind]]
 *	valgrind --tool=callgrind build/bench/reply 20000 2
 * DESCRIPTION
 *	Builds and prints, in the worker's arena, the replies of the
 *	benchmark's closed loop -- a send's OK and an inbox of one 32-byte
 *	message -- and the same inbox with text in Latin, Chinese and emoji,
 *	rounds times each (default 1,000,000), and prints the time per
 *	reply.  With kind (0: send, 1-4: the inboxes) only that one runs,
 *	for an instruction count.  Only the library API that every version
 *	has is used, so the same file builds against an older tree to
 *	compare (docs/PERFORMANCE.md, "ASCII replies").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/reply.h"

static const char *const texts[] = {
	"abcdefghijklmnopqrstuvwxyz012345",			/* ASCII */
	"caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e \xc3\xa0 la",	/* Latin */
	"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c\xe4\xb8\xad\xe6\x96\x87",
	"\xf0\x9f\x98\x80\xf0\x9f\x91\x8b\xf0\x9f\x8e\x89 ok",	/* emoji */
};

/* send_reply - the OK of a send */
static void
send_reply(struct buf *out, uint64_t id)
{
	cJSON *o = reply_ok("Message Sent");

	json_add_uint(o, "id", id);
	reply_finish(out, o);
}

/* inbox_reply - an inbox of one message, shaped as cmd_inbox makes it */
static void
inbox_reply(struct buf *out, const char *text, uint64_t id)
{
	cJSON *o = reply_ok(NULL);
	cJSON *by = cJSON_AddObjectToObject(o, "messages");
	cJSON *list = cJSON_AddArrayToObject(by, "b1");
	cJSON *e = cJSON_CreateObject();

	json_add_text(e, "msg_from", "b0", 2);
	json_add_text(e, "msg_to", "b1", 2);
	json_add_text(e, "msg", text, strlen(text));
	json_add_uint(e, "id", id);
	cJSON_AddStringToObject(e, "from", "b0");
	cJSON_AddStringToObject(e, "time", "2026-12-02T12:00:00Z");
	cJSON_AddItemToArray(list, e);
	reply_finish(out, o);
}

/* per_reply - ns per reply of kind k (-1: send) over rounds */
static double
per_reply(int k, long rounds, size_t *bytes)
{
	struct buf out = { 0 };
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		buf_reset(&out);
		if (k < 0)
			send_reply(&out, (uint64_t)i);
		else
			inbox_reply(&out, texts[k], (uint64_t)i);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	*bytes = buf_used(&out);
	buf_free(&out);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	    (double)(b.tv_nsec - a.tv_nsec)) / (double)rounds;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "inbox, ASCII", "inbox, Latin",
	    "inbox, Chinese", "inbox, emoji" };
	long rounds = argc > 1 ? atol(argv[1]) : 1000000;
	int only = argc > 2 ? atoi(argv[2]) : -1;
	size_t bytes;
	double ns;

	if (rounds <= 0 || only > 4)
		return 1;
	reply_use_arena();
	for (int k = -1; k < 4; k++) {
		if (only >= 0 && only != k + 1)
			continue;
		ns = per_reply(k, rounds, &bytes);
		printf("%-16s %7.1f ns  %4zu bytes\n", k < 0 ? "send OK" :
		    names[k], ns, bytes);
	}
	return 0;
}
