/*
 * NAME
 *	fuzz chan - chan_take, the reading end of the channel to realmd
 * DESCRIPTION
 *	The input is what a socket of the channel delivered: taken message
 *	by message at each end, as realmd and as an asker would, until it
 *	runs out or is refused.  A message taken consumed exactly its header
 *	and body and carries what its type promises (bytes for a handoff, an
 *	object for any other); put back with chan_put it is taken again the
 *	same, so what one end accepts the other end could have sent.  A
 *	refusal says why and leaves nothing allocated; an incomplete message
 *	leaves the buffer as it was.
 */
#include <string.h>

#include "lib/chan.h"
#include "tests/fuzz/fuzz.h"

/* again - m, put back on a fresh buffer, is taken again as m */
static void
again(const struct chan_msg *m, enum chan_end at)
{
	struct buf b = { 0 };
	struct chan_msg m2;
	const char *why = NULL;
	int rc;

	if (m->json != NULL)
		rc = chan_put_json(&b, m->h.type, m->h.req,
		    cJSON_Duplicate(m->json, true));
	else
		rc = chan_put(&b, m->h.type, m->h.req, m->body, m->h.len);
	if (rc == -1)
		abort();		/* out of memory, or a bound broken */
	fuzz_assert(chan_take(&b, at, &m2, &why) == 1);
	fuzz_assert(m2.h.type == m->h.type && m2.h.req == m->h.req);
	fuzz_assert(buf_used(&b) == 0);
	if (m->json != NULL) {
		/* as text: cJSON_Compare takes a repeated key for the first */
		char *t1 = cJSON_PrintUnformatted(m->json);
		char *t2 = cJSON_PrintUnformatted(m2.json);
		if (t1 == NULL || t2 == NULL)
			abort();
		fuzz_assert(strcmp(t1, t2) == 0);
		cJSON_free(t1);
		cJSON_free(t2);
	} else
		fuzz_assert(m2.h.len == m->h.len &&
		    memcmp(m2.body, m->body, m->h.len) == 0);
	chan_msg_free(&m2);
	buf_free(&b);
}

/* take_all - every message of data, read at end at */
static void
take_all(const uint8_t *data, size_t size, enum chan_end at)
{
	struct buf b = { 0 };
	struct chan_msg m;
	const char *why;
	size_t before;
	int rc;

	if (size > 0 && buf_append(&b, data, size) == -1)
		abort();
	for (;;) {
		before = buf_used(&b);
		why = NULL;
		rc = chan_take(&b, at, &m, &why);
		if (rc == 0) {
			fuzz_assert(buf_used(&b) == before);
			fuzz_assert(m.body == NULL && m.json == NULL);
			break;
		}
		if (rc == -1) {
			fuzz_assert(why != NULL);
			fuzz_assert(m.body == NULL && m.json == NULL);
			break;
		}
		fuzz_assert(m.h.type > 0 && m.h.type < CHAN_TYPES);
		fuzz_assert(m.h.len <= CHAN_MAX);
		fuzz_assert(before - buf_used(&b) ==
		    sizeof(struct chan_hdr) + m.h.len);
		fuzz_assert((m.h.type == CHAN_HANDOFF) == (m.json == NULL));
		fuzz_assert((m.h.type == CHAN_HANDOFF) == (m.body != NULL));
		fuzz_assert(m.json == NULL || cJSON_IsObject(m.json));
		fuzz_assert((m.h.type == CHAN_RESULT) == (at == CHAN_AT_ASKER));
		again(&m, at);
		chan_msg_free(&m);
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	take_all(data, size, CHAN_AT_REALMD);
	take_all(data, size, CHAN_AT_ASKER);
	return 0;
}
