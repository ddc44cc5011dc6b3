/*
 * NAME
 *	reply - JSON replies: {"status": ..., ...} followed by CRLF CRLF
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ascii.h"
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

/* Free space a reply is first printed into; a larger one is sized first. */
#define PRINT_ROOM	4096

static uint64_t *error_counters;	/* per error code, or NULL */

/*
 * The worker builds a reply's cJSON tree and frees it within one request,
 * so its nodes and strings come from this arena, emptied whenever the last
 * of them is freed: no malloc or free per node.  What does not fit (a
 * file's body) goes to malloc.
 */
#define ARENA_SIZE	(64 * 1024)
#define ARENA_ALIGN	_Alignof(max_align_t)

static _Alignas(max_align_t) char arena[ARENA_SIZE];
static size_t arena_used;		/* bytes handed out since it was empty */
static size_t arena_live;		/* of those, blocks not yet freed */

static bool
in_arena(const void *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)arena;

	return a >= lo && a < lo + ARENA_SIZE;
}

/* arena_alloc - cJSON's malloc */
static void *
arena_alloc(size_t n)
{
	void *p;

	n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (n == 0 || n > ARENA_SIZE - arena_used)
		return malloc(n);
	p = arena + arena_used;
	arena_used += n;
	arena_live++;
	return p;
}

/* arena_free - cJSON's free */
static void
arena_free(void *p)
{
	if (!in_arena(p)) {
		free(p);
		return;
	}
	if (--arena_live == 0)
		arena_used = 0;
}

/* reply_use_arena - cJSON allocates from the arena in this process */
void
reply_use_arena(void)
{
	cJSON_Hooks hooks = { .malloc_fn = arena_alloc, .free_fn = arena_free };

	cJSON_InitHooks(&hooks);
}

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

	cJSON_AddItemToObjectCS(o, "status", cJSON_CreateStringReference("OK"));
	if (message != NULL)
		cJSON_AddStringToObject(o, "message", message);
	return o;
}

/*
 * reply_listing - "message" of o shows list too: clients print or walk
 * result['message'] whatever the command.  A reference, so nothing is
 * copied; it copies list's head, so call it once list is complete.
 */
void
reply_listing(cJSON *o, cJSON *list)
{
	cJSON_AddItemReferenceToObject(o, "message", list);
}

/*
 * printed_size - about the length of o printed unformatted and made
 * ASCII: exact but for numbers and for strings with characters that
 * cJSON escapes.  A non-ASCII character counts as its \uXXXX escape (6
 * bytes for 2 or 3 bytes of UTF-8, 12 for 4).
 */
static size_t
printed_size(const cJSON *o)
{
	size_t n = 2;

	if (o->string != NULL)
		n += ascii_escaped_len(o->string, strlen(o->string)) + 3;
	if ((cJSON_IsString(o) || cJSON_IsRaw(o)) && o->valuestring != NULL)
		n += ascii_escaped_len(o->valuestring, strlen(o->valuestring));
	else if (cJSON_IsNumber(o))
		n += 30;
	else
		n += 3;
	for (const cJSON *c = o->child; c != NULL; c = c->next)
		n += printed_size(c) + 1;
	return n;
}

/*
 * print_into - print o unformatted straight into the free space of out
 * (no malloc, no copy), with room for at least want bytes, escape it to
 * ASCII in place and add the terminator; false when it does not fit
 * there (out is then as before).
 */
static bool
print_into(struct buf *out, cJSON *o, size_t want)
{
	size_t room, len, used = buf_used(out);

	if (buf_reserve(out, want) == -1)
		return false;
	room = out->cap - out->len;
	if (room > INT_MAX)
		room = INT_MAX;
	if (!cJSON_PrintPreallocated(o, out->data + out->len, (int)room, 0))
		return false;
	len = strlen(out->data + out->len);
	out->len += len;
	if (ascii_escape_tail(out, used) == -1)
		return false;
	if (buf_append(out, REPLY_END, sizeof(REPLY_END) - 1) == -1) {
		out->len = out->off + used;
		return false;
	}
	return true;
}

/*
 * mirror_data - seed 004's clients read "data" where the others read
 * "message": give both, the same content.  A reference, not a copy: the
 * cost is the printed bytes alone.
 */
static void
mirror_data(cJSON *o)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message"), *d;

	if (m == NULL || cJSON_GetObjectItemCaseSensitive(o, "data") != NULL)
		return;
	if (cJSON_IsString(m))
		d = cJSON_CreateStringReference(m->valuestring);
	else if (cJSON_IsObject(m))
		d = cJSON_CreateObjectReference(m->child);
	else if (cJSON_IsArray(m))
		d = cJSON_CreateArrayReference(m->child);
	else
		d = cJSON_Duplicate(m, true);
	if (d != NULL && !cJSON_AddItemToObjectCS(o, "data", d))
		cJSON_Delete(d);
}

/*
 * reply_finish - print o unformatted, in ASCII, plus the terminator into
 * out, and free o.  Replies are printed in place: nearly all fit in
 * PRINT_ROOM, and a larger one (an inbox with files) is tried again with
 * the room it needs; only one that still does not fit (many characters
 * to escape) is printed by cJSON into its own allocation and copied.  If
 * printing fails (no memory) an INTERNAL error goes out instead, so a
 * request never goes unanswered, and -1 tells the caller that o was not
 * sent.
 */
int
reply_finish(struct buf *out, cJSON *o)
{
	static const char oom[] = "{\"status\":\"ERROR\",\"code\":\"INTERNAL\","
	    "\"message\":\"out of memory\",\"data\":\"out of memory\"}"
	    REPLY_END;
	char *s;
	size_t len;

	mirror_data(o);
	if (o != NULL && (print_into(out, o, PRINT_ROOM) ||
	    print_into(out, o, printed_size(o) + 64))) {
		cJSON_Delete(o);
		return 0;
	}
	s = o != NULL ? json_print_ascii(o) : NULL;
	len = s != NULL ? strlen(s) : 0;
	cJSON_Delete(o);
	if (s == NULL || buf_reserve(out, len + sizeof(REPLY_END)) == -1) {
		cJSON_free(s);
		(void)buf_append(out, oom, sizeof(oom) - 1);
		return -1;
	}
	buf_append(out, s, len);
	buf_append(out, REPLY_END, sizeof(REPLY_END) - 1);
	cJSON_free(s);
	return 0;
}

/* add_const - add item under key, a string constant that is not copied */
static cJSON *
add_const(cJSON *o, const char *key, cJSON *item)
{
	if (item == NULL || !cJSON_AddItemToObjectCS(o, key, item)) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

/*
 * json_add_uint - add an unsigned integer to o.  cJSON prints numbers
 * with "%1.15g" and reads them back to check; an integer we format
 * ourselves goes in as raw text, exact over the whole 64-bit range.
 */
cJSON *
json_add_uint(cJSON *o, const char *key, uint64_t v)
{
	char text[21], *p = text + sizeof(text) - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return add_const(o, key, cJSON_CreateRaw(p));
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
 * key, like json_add_uint's, must be a string constant: it is not copied.
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
	item = add_const(o, key, cJSON_CreateString(tmp));
	if (tmp != small)
		free(tmp);
	return item;
}
