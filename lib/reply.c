/*
 * NAME
 *	reply - JSON replies: {"status": ..., ...} followed by CRLF CRLF
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/reply.h"
#include "lib/util.h"

static const struct {
	const char	*name;
	const char	*text;		/* seed text where the seeds have one */
} codes[E_COUNT] = {
	[E_BAD_COMMAND] = { "BAD_COMMAND", "Maaf, command tidak benar" },
	[E_BAD_ARGS] = { "BAD_ARGS", "Protocol Tidak Benar" },
	[E_NO_SESSION] = { "NO_SESSION", "Session Tidak Ditemukan" },
	[E_NO_USER] = { "NO_USER", "User Tidak Ditemukan" },
	[E_BAD_PASSWORD] = { "BAD_PASSWORD", "Password Salah" },
	[E_USER_EXISTS] = { "USER_EXISTS", "User Sudah Ada" },
	[E_BAD_NAME] = { "BAD_NAME", "Nama tidak valid" },
	[E_GROUP_EXISTS] = { "GROUP_EXISTS", "Group sudah ada" },
	[E_NO_GROUP] = { "NO_GROUP", "Group belum ada" },
	[E_NOT_MEMBER] = { "NOT_MEMBER", "Bukan member group" },
	[E_ALREADY_MEMBER] = { "ALREADY_MEMBER", "User sudah join" },
	[E_REALM_EXISTS] = { "REALM_EXISTS", "Realm sudah ada" },
	[E_NO_REALM] = { "NO_REALM", "Realm belum ada" },
	[E_REALM_UNREACHABLE] = { "REALM_UNREACHABLE", "Realm Unreachable" },
	[E_TOO_LARGE] = { "TOO_LARGE", "Request too large" },
	[E_QUOTA] = { "QUOTA", "Quota exceeded" },
	[E_BAD_FILE] = { "BAD_FILE", "Bad file" },
	[E_INTERNAL] = { "INTERNAL", "Internal error" },
};

static uint64_t *error_counters;	/* per error code, or NULL */

/* reply_count_errors - count every error reply into counters[code] */
void
reply_count_errors(uint64_t *counters)
{
	error_counters = counters;
}

/* code_name - the stable machine-readable word of an error */
const char *
code_name(enum rc_code c)
{
	return codes[c].name;
}

/* code_parse - the error called name, or E_COUNT if there is none */
enum rc_code
code_parse(const char *name)
{
	for (int c = 0; c < E_COUNT; c++)
		if (name != NULL && strcmp(codes[c].name, name) == 0)
			return (enum rc_code)c;
	return E_COUNT;
}

/* code_text - the default human text of an error */
const char *
code_text(enum rc_code c)
{
	return codes[c].text;
}

/* reply_ok - a new {"status":"OK","message":...} object */
cJSON *
reply_ok(const char *message)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "OK");
	if (message != NULL)
		cJSON_AddStringToObject(o, "message", message);
	return o;
}

/*
 * reply_finish - print o unformatted plus the terminator into out, and
 * free o.  If printing fails (no memory) an INTERNAL error goes out
 * instead, so a request never goes unanswered, and -1 tells the caller
 * that o was not sent.
 */
int
reply_finish(struct buf *out, cJSON *o)
{
	static const char oom[] = "{\"status\":\"ERROR\",\"code\":\"INTERNAL\","
	    "\"message\":\"out of memory\"}" REPLY_END;
	char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	size_t len = s != NULL ? strlen(s) : 0;

	cJSON_Delete(o);
	if (s == NULL || buf_reserve(out, len + sizeof(REPLY_END)) == -1) {
		free(s);
		(void)buf_append(out, oom, sizeof(oom) - 1);
		return -1;
	}
	buf_append(out, s, len);
	buf_append(out, REPLY_END, sizeof(REPLY_END) - 1);
	free(s);
	return 0;
}

/* reply_error - {"status":"ERROR","code":...,"message":...} */
int
reply_error(struct buf *out, enum rc_code c, const char *message)
{
	cJSON *o = cJSON_CreateObject();

	if (error_counters != NULL)
		__atomic_fetch_add(&error_counters[c], 1, __ATOMIC_RELAXED);
	cJSON_AddStringToObject(o, "status", "ERROR");
	cJSON_AddStringToObject(o, "code", codes[c].name);
	json_add_text(o, "message", message ? message : codes[c].text,
	    strlen(message ? message : codes[c].text));
	return reply_finish(out, o);
}

/* reply_errorf - reply_error with a formatted message */
int
reply_errorf(struct buf *out, enum rc_code c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error(out, c, msg);
}

/*
 * json_add_text - add a string of len bytes (not NUL-terminated) to o,
 * malformed UTF-8 replaced by U+FFFD.  Returns the new item, or NULL.
 * s must hold no NUL byte: a cJSON string ends at one, so input that may
 * carry NUL is refused before it gets here (see text_clean()).
 */
cJSON *
json_add_text(cJSON *o, const char *key, const char *s, size_t len)
{
	char small[256], *tmp = small;
	size_t need = utf8_valid(s, len) ? len + 1 : 3 * len + 1;
	cJSON *item;

	if (need > sizeof(small) && (tmp = malloc(need)) == NULL)
		return NULL;
	if (need == len + 1)
		memcpy(tmp, s, len);
	else
		len = utf8_sanitize(s, len, tmp);
	tmp[len] = '\0';
	item = cJSON_AddStringToObject(o, key, tmp);
	if (tmp != small)
		free(tmp);
	return item;
}
