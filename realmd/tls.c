/*
 * NAME
 *	tls - TLS for realm links, over memory buffers
 * DESCRIPTION
 *	A link is TLS 1.3 from the byte after the dialer's `realmlink`
 *	line.  realmd runs one event loop, so OpenSSL never touches a
 *	socket here: each connection's SSL reads from one memory BIO and
 *	writes to another, and link.c moves bytes between those and the
 *	socket.  That also lets the acceptor feed TLS the bytes a worker
 *	read past the first line before it handed the connection over.
 *
 *	Who a peer is stays proved by realm_secret: the HMAC proofs of the
 *	handshake cover the connection's RFC 9266 tls-exporter value
 *	(tls_binding), so a relay that ends TLS on each side holds two
 *	channels with different values and cannot pass the proofs on.
 *	Certificates therefore need no authority: by default each realm
 *	makes a self-signed one at first start (state_dir/realmd.key and
 *	realmd.crt).  An operator may also pin the peers' certificates
 *	(realm_tls_pin, SHA-256 fingerprints) or have them verified
 *	against a CA file (realm_tls_ca); both apply to either direction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "realmd/realmd.h"

#define EXPORTER_LABEL	"EXPORTER-Channel-Binding"	/* RFC 9266 */
#define CERT_DAYS	36500

static SSL_CTX *ctx;
static const struct config *tls_cf;

/* tls_error - the newest OpenSSL error as text (or what) */
static const char *
tls_error(const char *what)
{
	static char text[256];
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (e == 0)
		return what;
	ERR_error_string_n(e, text, sizeof(text));
	return text;
}

/* accept_any - verification is ours, after the handshake (tls_check_peer) */
static int
accept_any(int preverify, X509_STORE_CTX *x)
{
	return 1;
}

/* make_cert - a self-signed certificate for key, named after the realm */
static X509 *
make_cert(EVP_PKEY *key, const char *name)
{
	X509 *x = X509_new();
	X509_NAME *n;
	unsigned char serial[8];

	if (x == NULL)
		return NULL;
	arc4random_buf(serial, sizeof(serial));
	serial[0] &= 0x7f;
	n = X509_get_subject_name(x);
	if (X509_set_version(x, 2) == 1 &&
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x),
	    ((uint64_t)serial[0] << 56) | ((uint64_t)serial[1] << 48) |
	    ((uint64_t)serial[2] << 40) | ((uint64_t)serial[3] << 32) |
	    ((uint64_t)serial[4] << 24) | ((uint64_t)serial[5] << 16) |
	    ((uint64_t)serial[6] << 8) | serial[7]) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)CERT_DAYS * 86400) != NULL &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, n) == 1 && X509_set_pubkey(x, key) == 1 &&
	    X509_sign(x, key, EVP_sha256()) > 0)
		return x;
	X509_free(x);
	return NULL;
}

/* write_pem - key or cert into path, atomically, mode 0600 for a key */
static int
write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    key != NULL ? 0600 : 0644)) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0 || ok != 1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* make_pair - a new P-256 key and self-signed certificate at key, crt */
static int
make_pair(const char *kpath, const char *cpath, const char *name)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key != NULL ? make_cert(key, name) : NULL;
	int rc = -1;

	if (cert != NULL && write_pem(kpath, key, NULL) == 0 &&
	    write_pem(cpath, NULL, cert) == 0)
		rc = 0;
	if (rc == 0)
		log_notice("realmd: made a self-signed link certificate %s",
		    cpath);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* load_pair - our key and certificate: configured, or made at first start */
static int
load_pair(const struct config *cf)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];

	if (cf->realm_tls_cert[0] != '\0') {
		strlcpy(cpath, cf->realm_tls_cert, sizeof(cpath));
		strlcpy(kpath, cf->realm_tls_key[0] != '\0' ? cf->realm_tls_key :
		    cf->realm_tls_cert, sizeof(kpath));
	} else {
		if ((size_t)snprintf(kpath, sizeof(kpath), "%s/realmd.key",
		    cf->state_dir) >= sizeof(kpath) ||
		    (size_t)snprintf(cpath, sizeof(cpath), "%s/realmd.crt",
		    cf->state_dir) >= sizeof(cpath)) {
			log_err("realmd: state_dir is too long");
			return -1;
		}
		errno = 0;
		if (access(kpath, F_OK) == -1 && access(cpath, F_OK) == -1 &&
		    make_pair(kpath, cpath, cf->realm_name) == -1) {
			log_err("realmd: cannot make %s: %s", cpath,
			    errno ? strerror(errno) : tls_error("OpenSSL"));
			return -1;
		}
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cpath) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, kpath, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_err("realmd: link certificate %s / key %s: %s", cpath, kpath,
		    tls_error("unusable"));
		return -1;
	}
	return 0;
}

/* tls_init - the context every link uses; 0, or -1 (logged) */
int
tls_init(const struct config *cf)
{
	tls_cf = cf;
	if ((ctx = SSL_CTX_new(TLS_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		log_err("realmd: TLS: %s", tls_error("no context"));
		return -1;
	}
	SSL_CTX_set_num_tickets(ctx, 0);	/* no resumption: nothing to keep */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
	if (cf->realm_tls_ca[0] != '\0' &&
	    SSL_CTX_load_verify_locations(ctx, cf->realm_tls_ca, NULL) != 1) {
		log_err("realmd: realm_tls_ca %s: %s", cf->realm_tls_ca,
		    tls_error("unreadable"));
		return -1;
	}
	return load_pair(cf);
}

/* tls_new - the TLS end of one link, on memory buffers; NULL if none */
SSL *
tls_new(bool dialer)
{
	SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
	BIO *rb, *wb;

	if (ssl == NULL)
		return NULL;
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	if (rb == NULL || wb == NULL) {
		BIO_free(rb);
		BIO_free(wb);
		SSL_free(ssl);
		return NULL;
	}
	BIO_set_mem_eof_return(rb, -1);	/* empty means "wait", not EOF */
	SSL_set_bio(ssl, rb, wb);
	if (dialer)
		SSL_set_connect_state(ssl);
	else
		SSL_set_accept_state(ssl);
	return ssl;
}

/* tls_free - end a link's TLS */
void
tls_free(SSL *ssl)
{
	SSL_free(ssl);		/* and both memory BIOs */
}

/* tls_ready - the handshake is over: application data may flow */
bool
tls_ready(SSL *ssl)
{
	return SSL_is_init_finished(ssl);
}

/* tls_feed - bytes read from the socket, for TLS to decrypt */
int
tls_feed(SSL *ssl, const void *data, size_t len)
{
	return len == 0 || BIO_write(SSL_get_rbio(ssl), data, (int)len) ==
	    (int)len ? 0 : -1;
}

/* tls_drain - what TLS has written, appended to out for the socket */
int
tls_drain(SSL *ssl, struct buf *out)
{
	BIO *wb = SSL_get_wbio(ssl);
	size_t n;

	while ((n = BIO_ctrl_pending(wb)) > 0) {
		int got;
		if (buf_reserve(out, n) == -1)
			return -1;
		got = BIO_read(wb, out->data + out->len, (int)n);
		if (got <= 0)
			break;
		out->len += (size_t)got;
	}
	return 0;
}

/*
 * tls_step - run the handshake (until done) and decrypt what arrived
 * into in.  1: the handshake ended in this call; 0: fine; -1 with *why:
 * the connection is broken, or the peer closed it (*why says which).
 */
int
tls_step(SSL *ssl, struct buf *in, const char **why)
{
	char data[16 * 1024];
	int rc = 0, n;

	if (!SSL_is_init_finished(ssl)) {
		if ((n = SSL_do_handshake(ssl)) != 1) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			*why = tls_error("the TLS handshake failed");
			return -1;
		}
		rc = 1;
	}
	while ((n = SSL_read(ssl, data, sizeof(data))) > 0)
		if (buf_append(in, data, (size_t)n) == -1) {
			*why = "out of memory";
			return -1;
		}
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return rc;
	case SSL_ERROR_ZERO_RETURN:
		*why = "the peer closed the link";
		return -1;
	default:
		*why = tls_error("TLS record refused");
		return -1;
	}
}

/* tls_seal - encrypt all of text (the handshake is done) */
int
tls_seal(SSL *ssl, struct buf *text)
{
	while (buf_used(text) > 0) {
		size_t n = buf_used(text) > (1u << 20) ? (1u << 20) :
		    buf_used(text);
		int w = SSL_write(ssl, buf_head(text), (int)n);
		if (w <= 0)
			return -1;
		buf_consume(text, (size_t)w);
	}
	buf_free(text);
	return 0;
}

/* pin_ok - the certificate's SHA-256 is one of realm_tls_pin's */
static bool
pin_ok(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], pins[sizeof(tls_cf->realm_tls_pin)];
	unsigned int len;
	size_t j = 0;

	if (X509_digest(cert, EVP_sha256(), md, &len) != 1)
		return false;
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* pins may be written with colons and in either case */
	for (const char *s = tls_cf->realm_tls_pin; *s != '\0'; s++)
		if (*s != ':' && j + 1 < sizeof(pins))
			pins[j++] = (char)(*s >= 'A' && *s <= 'F' ? *s + 32 : *s);
	pins[j] = '\0';
	for (char *save, *p = strtok_r(pins, ", \t", &save); p != NULL;
	    p = strtok_r(NULL, ", \t", &save))
		if (strcmp(p, hex) == 0)
			return true;
	return false;
}

/* tls_check_peer - the operator's demands on the peer's certificate */
int
tls_check_peer(SSL *ssl, const char **why)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int rc = 0;

	if (cert == NULL) {
		*why = "the peer showed no certificate";
		return -1;
	}
	if (tls_cf->realm_tls_pin[0] != '\0' && !pin_ok(cert)) {
		*why = "the peer's certificate is not pinned (realm_tls_pin)";
		rc = -1;
	} else if (tls_cf->realm_tls_ca[0] != '\0' &&
	    SSL_get_verify_result(ssl) != X509_V_OK) {
		*why = "the peer's certificate does not verify (realm_tls_ca)";
		rc = -1;
	}
	X509_free(cert);
	return rc;
}

/* tls_binding - the connection's tls-exporter value (RFC 9266), in hex */
int
tls_binding(SSL *ssl, char hex[2 * TLS_BINDING_LEN + 1])
{
	unsigned char v[TLS_BINDING_LEN];

	if (SSL_version(ssl) != TLS1_3_VERSION ||
	    SSL_export_keying_material(ssl, v, sizeof(v), EXPORTER_LABEL,
	    strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(v); i++)
		snprintf(hex + 2 * i, 3, "%02x", v[i]);
	return 0;
}
