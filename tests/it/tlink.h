/*
 * NAME
 *	tlink.h - a realm link's dialer, written for tests
 * DESCRIPTION
 *	What a peer realm does on the wire (docs/PROTOCOL.md, "The link
 *	protocol"), done by the test itself so that it can say what a real
 *	realm never would: the hello line in plain text, TLS 1.3 on the same
 *	socket (with a throw-away self-signed certificate), then the link's
 *	JSON lines inside TLS.  tl_up() goes through the whole handshake
 *	with a secret the test knows; tl_dial() stops after TLS so a test
 *	can send what it likes.  Every read is bounded in time.  The file
 *	holds static functions only: each test program that needs it
 *	includes it once.
 */
#ifndef IT_TLINK_H
#define IT_TLINK_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"

struct tlink {
	int		 fd;
	SSL		*ssl;
	char		 binding[65];	/* tls-exporter, hex */
	char		 nonce[33];	/* ours */
	char		 in[1 << 16];	/* plain text read, not yet taken */
	size_t		 len;
};

/* tl_ctx - a TLS 1.3 context with a fresh self-signed certificate */
static __attribute__((unused)) SSL_CTX *
tl_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(ctx);
	assert_non_null(key);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"relay", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);	/* we check nothing */
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* tl_hex - n bytes as lower-case hex */
static __attribute__((unused)) void
tl_hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* tl_binding - the RFC 9266 tls-exporter value of ssl, in hex */
static __attribute__((unused)) void
tl_binding(SSL *ssl, char out[65])
{
	unsigned char v[32];

	assert_int_equal(SSL_export_keying_material(ssl, v, sizeof(v),
	    "EXPORTER-Channel-Binding", 24, NULL, 0, 0), 1);
	tl_hex(v, sizeof(v), out);
}

/* tl_proof - HMAC-SHA-256 of the proof fields, in hex */
static __attribute__((unused)) void
tl_proof(const char *secret, const char *label, const char *n1,
    const char *n2, const char *dialer, const char *acceptor,
    const char *binding, char out[65])
{
	unsigned char mac[32];
	unsigned int len = 0;
	char text[512];
	int n = snprintf(text, sizeof(text), "%s\n%s\n%s\n%s\n%s\n%s\n", label,
	    n1, n2, dialer, acceptor, binding);

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)text, (size_t)n, mac, &len);
	tl_hex(mac, len, out);
}

/* tl_connect - a TCP connection to 127.0.0.1:port with read/write timeouts */
static __attribute__((unused)) int
tl_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		fail_msg("connect to port %d: %s", port, strerror(errno));
	return fd;
}

/*
 * tl_dial - say hello to port as realm, then TLS; NULL (and the
 * connection closed) if the acceptor does not speak TLS to us
 */
static __attribute__((unused)) struct tlink *
tl_dial(int port, const char *realm)
{
	static SSL_CTX *ctx;
	struct tlink *t = calloc(1, sizeof(*t));
	unsigned char n[16];
	char hello[256];

	if (ctx == NULL)
		ctx = tl_ctx(false);
	for (size_t i = 0; i < sizeof(n); i++)
		n[i] = (unsigned char)rand();
	tl_hex(n, sizeof(n), t->nonce);
	t->fd = tl_connect(port);
	snprintf(hello, sizeof(hello), "realmlink {\"v\":2,\"realm\":\"%s\","
	    "\"nonce\":\"%s\",\"inst\":\"0123456789abcdef\"}\n", realm,
	    t->nonce);
	assert_int_equal(write(t->fd, hello, strlen(hello)), (int)strlen(hello));
	t->ssl = SSL_new(ctx);
	SSL_set_fd(t->ssl, t->fd);
	if (SSL_connect(t->ssl) != 1) {
		ERR_clear_error();
		SSL_free(t->ssl);
		close(t->fd);
		free(t);
		return NULL;
	}
	tl_binding(t->ssl, t->binding);
	return t;
}

/* tl_close - end the link's connection */
static __attribute__((unused)) void
tl_close(struct tlink *t)
{
	SSL_free(t->ssl);
	close(t->fd);
	free(t);
}

/* tl_send - one line of text inside TLS */
static __attribute__((unused)) void
tl_send(struct tlink *t, const char *line)
{
	char buf[8192];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	assert_int_equal(SSL_write(t->ssl, buf, n), n);
}

/*
 * tl_line - the next line, as JSON, within ms; NULL when the connection
 * ends (or TLS breaks) first
 */
static __attribute__((unused)) cJSON *
tl_line(struct tlink *t, int ms)
{
	double end = now_s() + ms / 1000.0;

	for (;;) {
		char *nl = memchr(t->in, '\n', t->len);
		struct pollfd p = { t->fd, POLLIN, 0 };
		int r;

		if (nl != NULL) {
			cJSON *j;
			*nl = '\0';
			j = cJSON_Parse(t->in);
			t->len -= (size_t)(nl + 1 - t->in);
			memmove(t->in, nl + 1, t->len);
			if (!cJSON_IsObject(j))
				fail_msg("link line is not a JSON object");
			return j;
		}
		if (now_s() > end)
			fail_msg("no line on the link within %d ms", ms);
		if (SSL_pending(t->ssl) == 0 && poll(&p, 1, 100) <= 0)
			continue;
		r = SSL_read(t->ssl, t->in + t->len, (int)(sizeof(t->in) - 1 -
		    t->len));
		if (r <= 0) {
			ERR_clear_error();
			return NULL;
		}
		t->len += (size_t)r;
	}
}

/* tl_field - a string field of a frame, "" if absent */
static __attribute__((unused)) const char *
tl_field(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/*
 * tl_up - a link to port, as realm me, proved with secret; the acceptor
 * must answer as peer.  Fails the test if it does not come up.
 */
static __attribute__((unused)) struct tlink *
tl_up(int port, const char *me, const char *peer, const char *secret)
{
	struct tlink *t = tl_dial(port, me);
	char want[65], proof[65], line[256];
	cJSON *j;

	if (t == NULL)
		fail_msg("the acceptor did not start TLS");
	if ((j = tl_line(t, 5000)) == NULL)
		fail_msg("no challenge");
	assert_string_equal(tl_field(j, "t"), "challenge");
	tl_proof(secret, "realmchat-link-2 accept", t->nonce,
	    tl_field(j, "nonce"), me, peer, t->binding, want);
	assert_string_equal(tl_field(j, "proof"), want);
	tl_proof(secret, "realmchat-link-2 dial", tl_field(j, "nonce"),
	    t->nonce, me, peer, t->binding, proof);
	cJSON_Delete(j);
	snprintf(line, sizeof(line), "{\"t\":\"proof\",\"proof\":\"%s\"}", proof);
	tl_send(t, line);
	if ((j = tl_line(t, 5000)) == NULL)
		fail_msg("no welcome");
	assert_string_equal(tl_field(j, "t"), "welcome");
	cJSON_Delete(j);
	return t;
}

/*
 * tl_verdict - the verdict on message id, skipping anything else the
 * peer sends meanwhile (pings, its own messages)
 */
static __attribute__((unused)) cJSON *
tl_verdict(struct tlink *t, uint64_t id)
{
	for (;;) {
		cJSON *j = tl_line(t, 10000);
		const cJSON *v;

		if (j == NULL)
			fail_msg("the link ended before the verdict on %llu",
			    (unsigned long long)id);
		v = cJSON_GetObjectItemCaseSensitive(j, "id");
		if (strcmp(tl_field(j, "t"), "verdict") == 0 &&
		    cJSON_IsNumber(v) && (v->valuedouble == (double)id ||
		    /* cJSON prints the largest ids with 15 digits only */
		    (id > (1ULL << 50) && v->valuedouble > (double)id * 0.999999 &&
		    v->valuedouble < (double)id * 1.000001)))
			return j;
		cJSON_Delete(j);
	}
}

#endif
