/*
 * NAME
 *	chan - the channel between realmd and those who ask it
 * DESCRIPTION
 *	Framing, the table of what each message type needs, and the way
 *	to realmd's socket (lib/chan.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/chan.h"
#include "lib/link.h"

enum field_type { F_STR, F_UINT, F_BOOL };

struct field {
	const char	*name;		/* NULL ends the list */
	enum field_type	 type;		/* F_UINT: a whole number, 0 to 2^53 */
};

#define FIELDS_MAX	5

/* What each type is: the end that reads it, its body, the fields it needs. */
static const struct {
	enum chan_end	 reader;
	bool		 json;		/* the body is a JSON object */
	struct field	 need[FIELDS_MAX + 1];
} types[CHAN_TYPES] = {
	[CHAN_HANDOFF] = { CHAN_AT_REALMD, false, { { NULL } } },
	[CHAN_SEND] = { CHAN_AT_REALMD, true, { { "realm", F_UINT },
	    { "id", F_UINT }, { "wait", F_BOOL } } },
	[CHAN_ADDREALM] = { CHAN_AT_REALMD, true, { { "id", F_STR },
	    { "host", F_STR }, { "port", F_UINT } } },
	[CHAN_PING] = { CHAN_AT_REALMD, true, { { "realm", F_UINT } } },
	[CHAN_JOIN] = { CHAN_AT_REALMD, true, { { "realm", F_UINT },
	    { "from", F_STR }, { "from_name", F_STR }, { "group", F_STR },
	    { "password", F_STR } } },
	[CHAN_HISTORY] = { CHAN_AT_REALMD, true, { { "realm", F_UINT },
	    { "from", F_STR }, { "from_name", F_STR }, { "group", F_STR } } },
	[CHAN_RESULT] = { CHAN_AT_ASKER, true, { { "ok", F_BOOL } } },
};

/* chan_put - append one message to b */
int
chan_put(struct buf *b, enum chan_type type, uint64_t req, const char *body,
    size_t len)
{
	struct chan_hdr h = { .type = type, .len = (uint32_t)len, .req = req };

	if (len > CHAN_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (buf_append(b, &h, sizeof(h)) == -1)
		return -1;
	return len > 0 ? buf_append(b, body, len) : 0;
}

/* chan_put_json - append a message whose body is o, and free o */
int
chan_put_json(struct buf *b, enum chan_type type, uint64_t req, cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	int rc = -1;

	cJSON_Delete(o);
	if (text != NULL)
		rc = chan_put(b, type, req, text, strlen(text));
	cJSON_free(text);
	return rc;
}

/* field_ok - obj has the field, of its JSON type */
static bool
field_ok(const cJSON *obj, const struct field *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
	uint64_t n;

	switch (f->type) {
	case F_STR:
		return cJSON_IsString(v);
	case F_UINT:
		return link_uint(obj, f->name, &n);
	case F_BOOL:
		return cJSON_IsBool(v);
	}
	return false;
}

/* check_body - m's body as the object its type needs; -1 with *why */
static int
check_body(struct chan_msg *m, const char **why)
{
	const struct field *f = types[m->h.type].need;

	if (!types[m->h.type].json)
		return 0;
	m->json = cJSON_ParseWithLength(m->body, m->h.len);
	free(m->body);
	m->body = NULL;
	if (!cJSON_IsObject(m->json)) {
		*why = "a body that is not a JSON object";
		return -1;
	}
	for (; f->name != NULL; f++)
		if (!field_ok(m->json, f)) {
			*why = "a message without a field its type needs";
			return -1;
		}
	return 0;
}

/*
 * chan_take - the first whole message of b, read at end `at': 1 with
 * *m, 0 if it is not all there yet, -1 with *why if it is not a message
 * that end may act on (the channel is broken: drop it).
 */
int
chan_take(struct buf *b, enum chan_end at, struct chan_msg *m,
    const char **why)
{
	memset(m, 0, sizeof(*m));
	if (buf_used(b) < sizeof(m->h))
		return 0;
	memcpy(&m->h, buf_head(b), sizeof(m->h));
	if (m->h.type == 0 || m->h.type >= CHAN_TYPES || m->h.len > CHAN_MAX) {
		*why = "a bad type or length";
		errno = EPROTO;
		return -1;
	}
	if (types[m->h.type].reader != at) {
		*why = "a message meant for the other end";
		errno = EPROTO;
		return -1;
	}
	if (buf_used(b) < sizeof(m->h) + m->h.len)
		return 0;
	if ((m->body = malloc((size_t)m->h.len + 1)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	memcpy(m->body, buf_head(b) + sizeof(m->h), m->h.len);
	m->body[m->h.len] = '\0';
	buf_consume(b, sizeof(m->h) + m->h.len);
	if (check_body(m, why) == -1) {
		chan_msg_free(m);
		errno = EPROTO;
		return -1;
	}
	return 1;
}

/* chan_msg_free - what chan_take gave m */
void
chan_msg_free(struct chan_msg *m)
{
	free(m->body);
	cJSON_Delete(m->json);
	m->body = NULL;
	m->json = NULL;
}

/*
 * chan_uint, chan_str, chan_bool - the value of a field chan_take() has
 * checked (0, NULL or false for one the table does not promise and the
 * message lacks)
 */
uint64_t
chan_uint(const cJSON *obj, const char *key)
{
	uint64_t n;

	return link_uint(obj, key, &n) ? n : 0;
}

const char *
chan_str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

bool
chan_bool(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* chan_socket_path - where realmd listens: state_dir/realmd.sock */
int
chan_socket_path(const struct config *cf, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/realmd.sock", cf->state_dir);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * chan_connect - a non-blocking socket connected to realmd, or -1 with
 * errno (ENAMETOOLONG: state_dir is too long for a socket's path)
 */
int
chan_connect(const struct config *cf)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (chan_socket_path(cf, sa.sun_path, sizeof(sa.sun_path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
