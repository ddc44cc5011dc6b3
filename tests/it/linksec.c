/*
 * NAME
 *	it_linksec - attacks on realm links, by a user or an outsider
 * DESCRIPTION
 *	Two daemons, alpha and beta, share realm_secret.  Each test performs
 *	one attack and checks that it fails (docs/SECURITY.md, "Realm
 *	links"):
 *	  - a relay that ends TLS on each side (a user of alpha runs it and
 *	    points `addrealm` at it): the proofs are bound to the TLS channel,
 *	    so neither side accepts the other through it, nothing it injects
 *	    reaches a user;
 *	  - a relay that passes bytes on: it sees no user text (the link is
 *	    TLS), and a frame it injects breaks TLS instead of reaching a user;
 *	    mail goes on once alpha dials again;
 *	  - a peer that knows the secret sends a message numbered far beyond
 *	    the window: refused, and its next real messages are stored;
 *	  - a peer's senders beyond realm_users' share for one link are
 *	    refused (QUOTA) and `register` still works;
 *	  - 70 handshakes left open from other addresses: alpha's link to
 *	    beta still comes up at once, and beta's log stays short;
 *	  - certificates the operator chose: a pinned one (realm_tls_pin) and
 *	    ones from a CA (realm_tls_ca) let a peer in, others are refused.
 *	Every wait is bounded; the relays are child processes ended by pid.
 */
#include "harness.h"
#include "tlink.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET		"linksecret"

struct pair {
	struct daemon	*a, *b;
};

/* start_realm - a daemon named name sharing SECRET, with extra lines */
static struct daemon *
start_realm(const char *name, const char *extra)
{
	struct daemon *d = realm_start(name, SECRET, extra);

	realm_wait_serving(d, name);
	return d;
}

static int
setup_with(void **state, const char *b_extra)
{
	struct pair *p = calloc(1, sizeof(*p));

	p->a = start_realm("alpha", NULL);
	p->b = start_realm("beta", b_extra);
	*state = p;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, NULL);
}

static int
setup_small_room(void **state)
{
	return setup_with(state, "realm_users = 16\n");
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	daemon_destroy(p->a);
	daemon_destroy(p->b);
	free(p);
	return 0;
}

/* inbox_texts - every text waiting in c's realm inbox for id, as one string */
static char *
inbox_texts(struct client *c, const char *id)
{
	cJSON *r = client_cmd(c, "inboxrealm %s", id), *e;
	char *all = calloc(1, 1 << 16);
	size_t o = 0;

	assert_reply_ok(r);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "messages")) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "msg");
		if (cJSON_IsString(m) && o + strlen(m->valuestring) + 2 < 1 << 16)
			o += (size_t)sprintf(all + o, "%s\n", m->valuestring);
	}
	cJSON_Delete(r);
	return all;
}

/* wait_text - c's realm inbox for id shows text within timeout; all it showed */
static char *
wait_text(struct client *c, const char *id, const char *text, double timeout)
{
	double end = now_s() + timeout;
	char *seen = calloc(1, 1 << 17);

	for (;;) {
		char *got = inbox_texts(c, id);
		if (strlen(seen) + strlen(got) < (1 << 17) - 1)
			strcat(seen, got);
		free(got);
		if (strstr(seen, text) != NULL || now_s() > end)
			return seen;
		sleep_ms(100);
	}
}

/* realm_listed - c's listrealm names a link whose peer is peer */
static bool
realm_listed(struct client *c, const char *peer)
{
	cJSON *r = client_cmd(c, "listrealm"), *e;
	bool found = false;

	assert_reply_ok(r);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "realms")) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "peer");
		found |= cJSON_IsString(v) && strcmp(v->valuestring, peer) == 0;
	}
	cJSON_Delete(r);
	return found;
}

/* ---------------------------------------------------------------- */
/* Relays                                                            */
/* ---------------------------------------------------------------- */

/* A relay: a child process on a port of its own, forwarding to port to. */
struct relay {
	pid_t	 pid;
	int	 port;
	int	 ctl;		/* parent writes 'i' here: inject a frame */
	char	 capture[256];	/* every byte it saw, both ways */
};

static const char injected[] = "{\"t\":\"msg\",\"id\":900000,\"seq\":2,"
    "\"kind\":\"private\",\"from\":\"messi\",\"from_name\":\"Lionel Messi\","
    "\"to\":\"henderson\",\"time\":1796000000,\"text\":\"INJECTED\"}\n";

/* dial_plain - a blocking TCP connection to 127.0.0.1:port, or -1 */
static int
dial_plain(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* hello_line - the dialer's first line, read byte by byte; its length */
static ssize_t
hello_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size && read(fd, buf + n, 1) == 1)
		if (buf[n++] == '\n')
			return (ssize_t)n;
	return -1;
}

/* pass_bytes - forward one read from one socket to the other; -1 at the end */
static int
pass_bytes(int from, int to, FILE *cap)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0 || write(to, buf, (size_t)n) != n)
		return -1;
	fwrite(buf, 1, (size_t)n, cap);
	fflush(cap);
	return 0;
}

/*
 * byte_relay_run - the child: each connection that comes is passed on to
 * port to, bytes as they are; on 'i' from ctl, the injected frame goes
 * to the acceptor as if the dialer had sent it
 */
static void
byte_relay_run(int lfd, int to, int ctl, const char *capture)
{
	FILE *cap = fopen(capture, "w");

	for (;;) {
		int a = accept(lfd, NULL, NULL), b = dial_plain(to);
		while (a != -1 && b != -1) {
			struct pollfd p[3] = { { a, POLLIN, 0 }, { b, POLLIN, 0 },
			    { ctl, POLLIN, 0 } };
			char c;
			if (poll(p, 3, 1000) <= 0)
				continue;
			if ((p[0].revents && pass_bytes(a, b, cap) == -1) ||
			    (p[1].revents && pass_bytes(b, a, cap) == -1))
				break;
			if (p[2].revents && read(ctl, &c, 1) == 1)
				(void)write(b, injected, strlen(injected));
		}
		close(a);
		close(b);
	}
}

/*
 * mitm_run - the child: ends TLS with the dialer and starts its own with
 * the acceptor, passing the hello and then the plain text on, and
 * injecting a frame toward the acceptor once it has its challenge
 */
static void
mitm_run(int lfd, int to, SSL_CTX *sctx, SSL_CTX *cctx, const char *capture)
{
	FILE *cap = fopen(capture, "w");
	char buf[16384];

	for (;;) {
		int a = accept(lfd, NULL, NULL), b = dial_plain(to), n;
		ssize_t hl = hello_line(a, buf, sizeof(buf));
		SSL *sa = SSL_new(sctx), *sb = SSL_new(cctx);

		if (hl <= 0 || b == -1 || write(b, buf, (size_t)hl) != hl)
			_exit(2);
		SSL_set_fd(sa, a);
		SSL_set_fd(sb, b);
		if (SSL_connect(sb) != 1 || SSL_accept(sa) != 1)
			_exit(3);
		for (;;) {
			struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
			if (SSL_pending(sa) == 0 && SSL_pending(sb) == 0 &&
			    poll(p, 2, 1000) <= 0)
				continue;
			if (SSL_pending(sa) > 0 || p[0].revents) {
				if ((n = SSL_read(sa, buf, sizeof(buf))) <= 0 ||
				    SSL_write(sb, buf, n) != n)
					break;
				fwrite(buf, 1, (size_t)n, cap);
			}
			if (SSL_pending(sb) > 0 || p[1].revents) {
				if ((n = SSL_read(sb, buf, sizeof(buf))) <= 0 ||
				    SSL_write(sa, buf, n) != n)
					break;
				fwrite(buf, 1, (size_t)n, cap);
				/* after the challenge, a frame of its own */
				SSL_write(sb, injected, (int)strlen(injected));
			}
			fflush(cap);
		}
		SSL_free(sa);
		SSL_free(sb);
		close(a);
		close(b);
	}
}

/* relay_start - a relay toward port to: bytes as they are, or TLS ended */
static struct relay *
relay_start(int to, bool mitm)
{
	struct relay *r = calloc(1, sizeof(*r));
	SSL_CTX *sctx = mitm ? tl_ctx(true) : NULL;
	SSL_CTX *cctx = mitm ? tl_ctx(false) : NULL;
	int lfd = loopback_listener(&r->port, true), ctl[2];

	snprintf(r->capture, sizeof(r->capture), "/tmp/it_linksec.%d.%d",
	    (int)getpid(), r->port);
	assert_int_equal(pipe(ctl), 0);
	if ((r->pid = fork()) == 0) {
		alarm(60);		/* never outlives the test by much */
		close(ctl[1]);
		if (mitm)
			mitm_run(lfd, to, sctx, cctx, r->capture);
		else
			byte_relay_run(lfd, to, ctl[0], r->capture);
		_exit(0);
	}
	assert_true(r->pid > 0);
	close(lfd);
	close(ctl[0]);
	r->ctl = ctl[1];
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return r;
}

/* relay_seen - everything the relay saw, as a NUL-ended string */
static char *
relay_seen(const struct relay *r, size_t *len)
{
	FILE *fp = fopen(r->capture, "r");
	char *all = calloc(1, 1 << 22);

	*len = fp != NULL ? fread(all, 1, (1 << 22) - 1, fp) : 0;
	if (fp != NULL)
		fclose(fp);
	return all;
}

/* relay_stop - end the relay (by its pid) and forget its capture */
static void
relay_stop(struct relay *r)
{
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	close(r->ctl);
	unlink(r->capture);
	free(r);
}

/* has_bytes - memmem over what a relay saw */
static bool
has_bytes(const char *all, size_t len, const char *text)
{
	return memmem(all, len, text, strlen(text)) != NULL;
}

/* ---------------------------------------------------------------- */
/* Tests                                                             */
/* ---------------------------------------------------------------- */

/*
 * A user of alpha runs a relay that ends TLS on both sides and points
 * addrealm at it.  Each side's proof covers its own TLS channel, so
 * alpha refuses beta's challenge: no link on either side, and the frame
 * the relay sends beta of its own accord never reaches henderson.
 */
static void
test_tls_ending_relay_gets_no_link(void **state)
{
	struct pair *p = *state;
	struct relay *r = relay_start(daemon_port(p->b), true);
	struct client *am = client_login(p->a, "messi"),
	    *bh = client_login(p->b,
	    "henderson");
	cJSON *j = client_cmd(am, "addrealm x 127.0.0.1 %d", r->port);
	size_t len;
	char *seen;

	assert_reply_error(j, "REALM_UNREACHABLE");
	cJSON_Delete(j);
	sleep_ms(1000);
	assert_false(realm_listed(am, "beta"));
	assert_false(realm_listed(bh, "alpha"));
	/* so nothing the relay sent can wait for henderson */
	j = client_cmd(bh, "inboxrealm alpha");
	assert_reply_error(j, "NO_REALM");
	cJSON_Delete(j);
	/* the relay did get TLS up on both sides: it failed on the proof */
	seen = relay_seen(r, &len);
	if (!has_bytes(seen, len, "\"challenge\""))
		fail_msg("the relay never saw the challenge: not the attack");
	free(seen);
	if (!daemon_wait_log(p->a, "did not prove the realm secret", 5.0))
		fail_msg("alpha did not refuse the relayed proof");
	relay_stop(r);
	client_close(am);
	client_close(bh);
}

/*
 * A relay that passes bytes on unchanged: the link comes up (alpha and
 * beta talk to each other through it), but what the relay sees is TLS,
 * not the users' text; a frame it adds breaks the TLS stream and is
 * never stored, and mail flows again after alpha dials back.
 */
static void
test_byte_relay_reads_nothing_and_injects_nothing(void **state)
{
	struct pair *p = *state;
	struct relay *r = relay_start(daemon_port(p->b), false);
	struct client *am = client_login(p->a, "messi"),
	    *bh = client_login(p->b,
	    "henderson");
	char *seen, *texts;
	size_t len;
	cJSON *j;

	j = client_cmd(am, "addrealm x 127.0.0.1 %d", r->port);
	assert_reply_ok(j);
	cJSON_Delete(j);
	j = client_cmd(am, "sendrealm x henderson the-plan-is-4711");
	assert_reply_ok(j);
	cJSON_Delete(j);
	texts = wait_text(bh, "alpha", "the-plan-is-4711", 10.0);
	assert_non_null(strstr(texts, "the-plan-is-4711"));
	free(texts);

	assert_int_equal(write(r->ctl, "i", 1), 1);
	sleep_ms(1500);
	j = client_cmd(am, "sendrealm x henderson after-the-injection");
	assert_reply_ok(j);
	cJSON_Delete(j);
	texts = wait_text(bh, "alpha", "after-the-injection", 15.0);
	assert_non_null(strstr(texts, "after-the-injection"));
	assert_null(strstr(texts, "INJECTED"));
	free(texts);

	seen = relay_seen(r, &len);
	assert_true(len > 0);
	assert_true(has_bytes(seen, len, "realmlink"));	/* the hello is plain */
	assert_false(has_bytes(seen, len, "the-plan-is-4711"));
	assert_false(has_bytes(seen, len, "after-the-injection"));
	assert_false(has_bytes(seen, len, "henderson"));
	assert_false(has_bytes(seen, len, "\"challenge\""));
	free(seen);
	relay_stop(r);
	client_close(am);
	client_close(bh);
}

/* msg_frame - a private message frame from sender to henderson */
static void
msg_frame(char *out, size_t size, uint64_t id, uint64_t seq,
    const char *sender, const char *text)
{
	snprintf(out, size, "{\"t\":\"msg\",\"id\":%llu,\"seq\":%llu,"
	    "\"kind\":\"private\",\"from\":\"%s\",\"from_name\":\"%s\","
	    "\"to\":\"henderson\",\"time\":1796000000,\"text\":\"%s\"}",
	    (unsigned long long)id, (unsigned long long)seq, sender, sender,
	    text);
}

/* verdict_of - send frame, return whether the verdict on id said ok */
static bool
verdict_of(struct tlink *t, const char *frame, uint64_t id, char *code,
    size_t size)
{
	cJSON *v;
	bool ok;

	tl_send(t, frame);
	v = tl_verdict(t, id);
	ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok"));
	snprintf(code, size, "%s", tl_field(v, "code"));
	cJSON_Delete(v);
	return ok;
}

/*
 * A peer (it knows the secret) sends a message, then one with id 2^53
 * and a number far beyond the window: that one is refused and does not
 * become the mark, so the next messages in sequence are stored.
 */
static void
test_message_beyond_the_window_refused(void **state)
{
	struct pair *p = *state;
	struct tlink *t = tl_up(daemon_port(p->b), "alpha", "beta", SECRET);
	struct client *bh = client_login(p->b, "henderson");
	char frame[1024], code[64], *texts;

	msg_frame(frame, sizeof(frame), 10, 1, "messi", "first-real");
	assert_true(verdict_of(t, frame, 10, code, sizeof(code)));
	msg_frame(frame, sizeof(frame), 9007199254740992ULL, 4000000000ULL,
	    "messi", "far-ahead");
	assert_false(verdict_of(t, frame, 9007199254740992ULL, code,
	    sizeof(code)));
	assert_string_equal(code, "BAD_ARGS");
	msg_frame(frame, sizeof(frame), 11, 2, "messi", "second-real");
	assert_true(verdict_of(t, frame, 11, code, sizeof(code)));
	msg_frame(frame, sizeof(frame), 12, 3, "messi", "third-real");
	assert_true(verdict_of(t, frame, 12, code, sizeof(code)));
	/* a resend below the mark is answered and not stored twice */
	msg_frame(frame, sizeof(frame), 11, 2, "messi", "second-real");
	assert_true(verdict_of(t, frame, 11, code, sizeof(code)));

	texts = wait_text(bh, "alpha", "third-real", 5.0);
	assert_non_null(strstr(texts, "first-real"));
	assert_non_null(strstr(texts, "third-real"));
	assert_null(strstr(texts, "far-ahead"));
	assert_non_null(strstr(texts, "second-real"));
	assert_null(strstr(strstr(texts, "second-real") + 1, "second-real"));
	free(texts);
	tl_close(t);
	client_close(bh);
}

/*
 * With realm_users = 16 one link may make 4 remote users: the fifth
 * sender's message is refused with QUOTA; the first sender still gets
 * through, and register on beta still works.
 */
static void
test_remote_senders_capped_register_works(void **state)
{
	struct pair *p = *state;
	struct tlink *t = tl_up(daemon_port(p->b), "alpha", "beta", SECRET);
	struct client *c = client_connect(p->b);
	char frame[1024], code[64], name[32];
	uint64_t seq = 0;
	cJSON *j;

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "ghost%d", i);
		msg_frame(frame, sizeof(frame), 100 + i, ++seq, name, "boo");
		if (i < 4)
			assert_true(verdict_of(t, frame, 100 + i, code,
			    sizeof(code)));
		else {
			assert_false(verdict_of(t, frame, 100 + i, code,
			    sizeof(code)));
			assert_string_equal(code, "QUOTA");
		}
	}
	msg_frame(frame, sizeof(frame), 200, ++seq, "ghost0", "again");
	assert_true(verdict_of(t, frame, 200, code, sizeof(code)));
	j = client_cmd(c, "register newcomer pw123456 Newcomer Indonesia");
	assert_reply_ok(j);
	cJSON_Delete(j);
	tl_close(t);
	client_close(c);
}

/*
 * 70 connections from ten other addresses say hello and then nothing.
 * alpha's addrealm to beta still succeeds at once, the link carries
 * mail, and beta logs a few lines about it, not one per connection.
 */
static void
test_handshake_flood_leaves_the_link_up(void **state)
{
	static const char hello[] = "realmlink {\"v\":2,\"realm\":\"flood\","
	    "\"nonce\":\"00112233445566778899aabbccddeeff\","
	    "\"inst\":\"0123456789abcdef\"}\n";
	struct pair *p = *state;
	struct client *flood[70], *am, *bh;
	char src[32], *log, *texts;
	int lines = 0;
	cJSON *j;

	for (int i = 0; i < 70; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i / 7);
		flood[i] = client_connect_from(p->b, src);
		client_write(flood[i], hello, strlen(hello));
	}
	sleep_ms(500);
	am = client_login(p->a, "messi");
	bh = client_login(p->b, "henderson");
	j = client_cmd(am, "addrealm beta 127.0.0.1 %d", daemon_port(p->b));
	if (strcmp(tl_field(j, "status"), "OK") != 0)
		daemon_log_tail(p->b, 30);
	assert_reply_ok(j);
	cJSON_Delete(j);
	j = client_cmd(am, "sendrealm beta henderson through-the-flood");
	assert_reply_ok(j);
	cJSON_Delete(j);
	texts = wait_text(bh, "alpha", "through-the-flood", 10.0);
	assert_non_null(strstr(texts, "through-the-flood"));
	free(texts);
	/* more of them, while the link is up: it stays up */
	for (int i = 0; i < 70; i++)
		client_close(flood[i]);
	for (int i = 0; i < 70; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i % 10);
		flood[i] = client_connect_from(p->b, src);
		client_write(flood[i], hello, strlen(hello));
	}
	j = client_cmd(am, "sendrealm beta henderson still-up");
	assert_reply_ok(j);
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "queued"));
	cJSON_Delete(j);
	for (int i = 0; i < 70; i++)
		client_close(flood[i]);
	log = daemon_log_text(p->b);
	for (char *s = log; (s = strstr(s, "realm link")) != NULL; s++)
		lines++;
	if (lines > 40)
		fail_msg("beta logged %d lines about link handshakes", lines);
	free(log);
	client_close(am);
	client_close(bh);
}

/* ---------------------------------------------------------------- */
/* Certificates the operator chooses                                 */
/* ---------------------------------------------------------------- */

static int
setup_none(void **state)
{
	*state = NULL;
	return 0;
}

static int
teardown_none(void **state)
{
	return 0;
}

/* cert_fingerprint - SHA-256 of the PEM certificate at path, hex with colons */
static void
cert_fingerprint(const char *path, char out[96 + 1])
{
	FILE *fp = fopen(path, "r");
	X509 *x = fp != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	unsigned char md[32];
	unsigned int len = 0;

	if (x == NULL)
		fail_msg("no certificate at %s", path);
	fclose(fp);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &len), 1);
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
	X509_free(x);
}

/* issue - a key and a certificate for cn, signed by ca (self if NULL) */
static void
issue(const char *cn, EVP_PKEY *ca_key, X509 *ca, const char *kpath,
    const char *cpath, EVP_PKEY **key_out, X509 **cert_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *fp;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand() & 0xffff);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) :
	    X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, ca ? ca : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "CA:FALSE" : "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
	if (kpath != NULL) {
		assert_non_null(fp = fopen(kpath, "w"));
		PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
		fclose(fp);
	}
	assert_non_null(fp = fopen(cpath, "w"));
	PEM_write_X509(fp, x);
	fclose(fp);
	*key_out = key;
	*cert_out = x;
}

/*
 * beta_takes_alpha_only - alpha's addrealm to beta links, gamma's is
 * refused and beta's log says why; then the three daemons go
 */
static void
beta_takes_alpha_only(struct daemon *a, struct daemon *b, struct daemon *g,
    const char *why)
{
	struct client *am = client_login(a, "messi");
	struct client *gm = client_login(g, "messi");
	cJSON *j;

	j = client_cmd(am, "addrealm beta 127.0.0.1 %d", daemon_port(b));
	assert_reply_ok(j);
	cJSON_Delete(j);
	j = client_cmd(gm, "addrealm beta 127.0.0.1 %d", daemon_port(b));
	assert_reply_error(j, "REALM_UNREACHABLE");
	cJSON_Delete(j);
	if (!daemon_wait_log(b, why, 5.0))
		fail_msg("beta did not say why it refused gamma");
	client_close(am);
	client_close(gm);
	daemon_destroy(a);
	daemon_destroy(b);
	daemon_destroy(g);
}

/*
 * realm_tls_pin: beta takes only a dialer whose certificate it pinned.
 * alpha (pinned) links; gamma, sharing the secret but not pinned, is
 * refused after TLS.
 */
static void
test_pinned_certificates(void **state)
{
	struct daemon *a = start_realm("alpha", NULL), *g, *b;
	char path[512], fp[97], extra[256];

	g = start_realm("gamma", NULL);
	snprintf(path, sizeof(path), "%s/state/realmd.crt", daemon_dir(a));
	cert_fingerprint(path, fp);
	snprintf(extra, sizeof(extra), "realm_tls_pin = 00:11, %s\n", fp);
	b = start_realm("beta", extra);
	beta_takes_alpha_only(a, b, g, "not pinned");
}

/*
 * realm_tls_ca: alpha and beta show certificates from one CA and verify
 * each other against it; gamma, with its own self-signed one, is refused.
 */
static void
test_certificates_from_a_ca(void **state)
{
	char dir[] = "/tmp/it_linksec_ca.XXXXXX", k[2][600], c[2][600];
	char ca_path[600], extra[2][4096];
	EVP_PKEY *ca_key, *key;
	X509 *ca, *cert;
	struct daemon *a, *b, *g;

	assert_non_null(mkdtemp(dir));
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
	issue("test ca", NULL, NULL, NULL, ca_path, &ca_key, &ca);
	for (int i = 0; i < 2; i++) {
		snprintf(k[i], sizeof(k[i]), "%s/r%d.key", dir, i);
		snprintf(c[i], sizeof(c[i]), "%s/r%d.crt", dir, i);
		issue(i ? "beta" : "alpha", ca_key, ca, k[i], c[i], &key, &cert);
		EVP_PKEY_free(key);
		X509_free(cert);
		snprintf(extra[i], sizeof(extra[i]), "realm_tls_cert = %s\n"
		    "realm_tls_key = %s\nrealm_tls_ca = %s\n", c[i], k[i],
		    ca_path);
	}
	a = start_realm("alpha", extra[0]);
	b = start_realm("beta", extra[1]);
	g = start_realm("gamma", NULL);
	beta_takes_alpha_only(a, b, g, "does not verify");
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	for (int i = 0; i < 2; i++) {
		unlink(k[i]);
		unlink(c[i]);
	}
	unlink(ca_path);
	rmdir(dir);
}

#define TP(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TP(test_tls_ending_relay_gets_no_link),
		TP(test_byte_relay_reads_nothing_and_injects_nothing),
		TP(test_message_beyond_the_window_refused),
		cmocka_unit_test_setup_teardown(
		    test_remote_senders_capped_register_works, setup_small_room,
		    teardown),
		TP(test_handshake_flood_leaves_the_link_up),
		cmocka_unit_test_setup_teardown(test_pinned_certificates,
		    setup_none, teardown_none),
		cmocka_unit_test_setup_teardown(test_certificates_from_a_ca,
		    setup_none, teardown_none),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
