/*
 * NAME
 *	link - the realm link protocol
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/ascii.h"
#include "lib/link.h"
#include "lib/reply.h"

static const char *const type_names[LT_COUNT] = {
	[LT_CHALLENGE] = "challenge", [LT_PROOF] = "proof",
	[LT_WELCOME] = "welcome", [LT_ERROR] = "error", [LT_MSG] = "msg",
	[LT_VERDICT] = "verdict", [LT_PING] = "ping", [LT_JOIN] = "join",
	[LT_HISTORY] = "history", [LT_REPLY] = "reply",
};

/* link_str - obj[key] if it is a string, else NULL */
const char *
link_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* link_uint - obj[key] if it is a whole number from 0 to 2^53 */
bool
link_uint(const cJSON *obj, const char *key, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble)
		return false;
	*out = (uint64_t)v->valuedouble;
	return true;
}

static bool
has_bool(const cJSON *obj, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsBool(v))
		return false;
	*out = cJSON_IsTrue(v);
	return true;
}

/* The string fields each type must carry (the fuzz harness reads it too). */
const char *const link_need_str[LT_COUNT][LINK_NEED_MAX] = {
	[LT_CHALLENGE] = { "realm", "nonce", "inst", "proof" },
	[LT_PROOF] = { "proof" },
	[LT_ERROR] = { "code", "message" },
	[LT_MSG] = { "kind", "from", "from_name", "to" },
	[LT_JOIN] = { "from", "from_name", "group" },
	[LT_HISTORY] = { "from", "group" },
};

/* check_msg - a msg frame has text or a file, not both, well formed */
static bool
check_msg(const cJSON *j, const char **why)
{
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(j, "file");
	const char *kind = link_str(j, "kind");
	uint64_t n;

	if (strcmp(kind, "private") != 0 && strcmp(kind, "group") != 0) {
		*why = "unknown message kind";
		return false;
	}
	if (!link_uint(j, "time", &n)) {
		*why = "message without time";
		return false;
	}
	if ((file == NULL) == (link_str(j, "text") == NULL)) {
		*why = "a message has either text or a file";
		return false;
	}
	if (file != NULL && (!cJSON_IsObject(file) ||
	    link_str(file, "name") == NULL || link_str(file, "content") == NULL ||
	    !link_uint(file, "size", &n))) {
		*why = "bad file in message";
		return false;
	}
	return true;
}

/* parse_whole - a JSON value that is all of p (but blanks after it), or NULL */
static cJSON *
parse_whole(const char *p, size_t len)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(p, len, &end, false);

	if (j == NULL)
		return NULL;
	while (end < p + len && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (end != p + len) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* check_numbers - the numbers and flags f's type needs, into f */
static bool
check_numbers(struct link_frame *f, const char **why)
{
	switch (f->type) {
	case LT_MSG:
		if (!link_uint(f->json, "id", &f->id) || f->id == 0) {
			*why = "message without id";
			return false;
		}
		if (!link_uint(f->json, "seq", &f->seq) || f->seq == 0 ||
		    f->seq > UINT32_MAX) {
			*why = "message without seq";
			return false;
		}
		return check_msg(f->json, why);
	case LT_VERDICT:
		if (!link_uint(f->json, "id", &f->id) ||
		    !has_bool(f->json, "ok", &f->ok)) {
			*why = "bad verdict";
			return false;
		}
		return true;
	case LT_PING: case LT_JOIN: case LT_HISTORY:
		if (!link_uint(f->json, "q", &f->q)) {
			*why = "request without q";
			return false;
		}
		return true;
	case LT_REPLY:
		if (!link_uint(f->json, "q", &f->q) ||
		    !has_bool(f->json, "ok", &f->ok)) {
			*why = "bad reply";
			return false;
		}
		return true;
	case LT_CHALLENGE:
		if (!link_uint(f->json, "v", &f->id)) {
			*why = "challenge without version";
			return false;
		}
		return true;
	default:
		return true;
	}
}

/*
 * link_parse - one line of a link into f; -1 with *why if it is not a
 * whole, known frame.
 */
int
link_parse(const char *line, size_t len, struct link_frame *f, const char **why)
{
	const char *t;
	int type = -1;

	memset(f, 0, sizeof(*f));
	if ((f->json = parse_whole(line, len)) == NULL ||
	    !cJSON_IsObject(f->json)) {
		*why = "not a JSON object";
		goto bad;
	}
	if ((t = link_str(f->json, "t")) == NULL) {
		*why = "frame without type";
		goto bad;
	}
	for (int i = 0; i < LT_COUNT; i++)
		if (strcmp(t, type_names[i]) == 0)
			type = i;
	if (type == -1) {
		*why = "unknown frame type";
		goto bad;
	}
	f->type = (enum link_type)type;
	for (int i = 0; i < LINK_NEED_MAX && link_need_str[type][i] != NULL; i++)
		if (link_str(f->json, link_need_str[type][i]) == NULL) {
			*why = "frame lacks a field";
			goto bad;
		}
	if (!check_numbers(f, why))
		goto bad;
	return 0;
bad:
	link_frame_free(f);
	return -1;
}

void
link_frame_free(struct link_frame *f)
{
	cJSON_Delete(f->json);
	f->json = NULL;
}

/*
 * link_hello_parse - a dialer's first line: "realmlink {...}" with v,
 * realm, nonce and inst.  The object goes to *hello.
 */
int
link_hello_parse(const char *line, size_t len, cJSON **hello, const char **why)
{
	size_t cl = strlen(LINK_COMMAND);
	uint64_t v;

	*hello = NULL;
	if (len <= cl || strncasecmp(line, LINK_COMMAND, cl) != 0 ||
	    (line[cl] != ' ' && line[cl] != '\t')) {
		*why = "not a realm handshake";
		return -1;
	}
	if ((*hello = parse_whole(line + cl, len - cl)) == NULL ||
	    !cJSON_IsObject(*hello) || !link_uint(*hello, "v", &v) ||
	    link_str(*hello, "realm") == NULL ||
	    link_str(*hello, "nonce") == NULL || link_str(*hello, "inst") == NULL) {
		*why = "bad realm handshake";
		goto bad;
	}
	if (v != LINK_VERSION) {
		*why = "unsupported link version";
		goto bad;
	}
	return 0;
bad:
	cJSON_Delete(*hello);
	*hello = NULL;
	return -1;
}

/* to_hex - n bytes as 2n lower-case hex digits and a NUL */
static void
to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* link_nonce - fresh random bytes, in hex */
void
link_nonce(char hex[2 * NONCE_LEN + 1])
{
	unsigned char b[NONCE_LEN];

	arc4random_buf(b, sizeof(b));
	to_hex(b, sizeof(b), hex);
}

/*
 * link_proof - HMAC-SHA-256(secret, label \n n1 \n n2 \n dialer \n
 * acceptor \n binding), in hex.  The label names the direction of the
 * proof; binding is the TLS channel's tls-exporter value, so a proof
 * made on one connection is worth nothing on another.
 */
void
link_proof(const char *secret, const char *label, const char *n1,
    const char *n2, const char *dialer, const char *acceptor,
    const char *binding, char out[PROOF_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *text = NULL;
	int n;

	out[0] = '\0';
	n = asprintf(&text, "%s\n%s\n%s\n%s\n%s\n%s\n", label, n1, n2,
	    dialer, acceptor, binding);
	if (n < 0)
		return;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)text, (size_t)n, mac, &maclen) == NULL)
		maclen = 0;
	free(text);
	if (maclen * 2 == PROOF_HEX)
		to_hex(mac, maclen, out);
}

/* link_proof_ok - given is the proof we expect; compared in constant time */
bool
link_proof_ok(const char *secret, const char *label, const char *n1,
    const char *n2, const char *dialer, const char *acceptor,
    const char *binding, const char *given)
{
	char want[PROOF_HEX + 1];

	link_proof(secret, label, n1, n2, dialer, acceptor, binding, want);
	return want[0] != '\0' && strlen(given) == PROOF_HEX &&
	    CRYPTO_memcmp(want, given, PROOF_HEX) == 0;
}

/* link_send - append o as one line of ASCII JSON to b, and free it */
int
link_send(struct buf *b, cJSON *o)
{
	char *text = json_print_ascii(o);
	int rc = -1;

	cJSON_Delete(o);
	if (text != NULL && buf_append(b, text, strlen(text)) == 0 &&
	    buf_append(b, "\n", 1) == 0)
		rc = 0;
	cJSON_free(text);
	return rc;
}
