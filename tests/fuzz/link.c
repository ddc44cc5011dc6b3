/*
 * NAME
 *	fuzz link - the realm link frame parser and the handshake line
 * DESCRIPTION
 *	The input is one line as a peer realm sends it (without its LF).
 *	link_parse() and link_hello_parse() read exactly len bytes; on
 *	success every field the frame's type promises is there with its
 *	JSON type, on failure a reason is given and nothing is held.
 *	Which strings a type needs is read from the library's own table
 *	(link_need_str); the numbers and the msg frame's text-or-file rule
 *	are checked here on their own, as the table does not say them.
 */
#include <string.h>
#include <strings.h>

#include "lib/link.h"
#include "tests/fuzz/fuzz.h"

/* check_frame - what a parsed frame promises holds */
static void
check_frame(const struct link_frame *f)
{
	const cJSON *file;
	uint64_t n;

	fuzz_assert(f->json != NULL && cJSON_IsObject(f->json));
	fuzz_assert(f->type < LT_COUNT);
	fuzz_assert(link_str(f->json, "t") != NULL);
	for (int i = 0; i < LINK_NEED_MAX && link_need_str[f->type][i] != NULL;
	    i++)
		fuzz_assert(link_str(f->json, link_need_str[f->type][i]) != NULL);
	switch (f->type) {
	case LT_MSG:
		fuzz_assert(f->id != 0 && link_uint(f->json, "id", &n) && n == f->id);
		fuzz_assert(link_uint(f->json, "time", &n));
		file = cJSON_GetObjectItemCaseSensitive(f->json, "file");
		fuzz_assert((file == NULL) != (link_str(f->json, "text") == NULL));
		if (file != NULL)
			fuzz_assert(link_str(file, "name") != NULL &&
			    link_str(file, "content") != NULL &&
			    link_uint(file, "size", &n));
		break;
	case LT_VERDICT:
		fuzz_assert(link_uint(f->json, "id", &n) && n == f->id);
		fuzz_assert(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(
		    f->json, "ok")));
		break;
	case LT_PING: case LT_JOIN: case LT_HISTORY: case LT_REPLY:
		fuzz_assert(link_uint(f->json, "q", &n) && n == f->q);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data, *why = NULL;
	struct link_frame f;
	cJSON *hello = (cJSON *)1;
	uint64_t v;

	if (link_parse(line, size, &f, &why) == 0) {
		check_frame(&f);
		link_frame_free(&f);
		fuzz_assert(f.json == NULL);
	} else
		fuzz_assert(why != NULL && f.json == NULL);

	why = NULL;
	if (link_hello_parse(line, size, &hello, &why) == 0) {
		fuzz_assert(hello != NULL && cJSON_IsObject(hello));
		fuzz_assert(size > strlen(LINK_COMMAND) &&
		    strncasecmp(line, LINK_COMMAND, strlen(LINK_COMMAND)) == 0);
		fuzz_assert(link_uint(hello, "v", &v) && v == LINK_VERSION);
		fuzz_assert(link_str(hello, "realm") != NULL &&
		    link_str(hello, "nonce") != NULL &&
		    link_str(hello, "inst") != NULL);
		cJSON_Delete(hello);
	} else
		fuzz_assert(why != NULL && hello == NULL);
	return 0;
}
