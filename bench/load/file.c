/*
 * NAME
 *	file - one file transfer beside small clients
 * DESCRIPTION
 *	One user sends a file of -F bytes to the next, whose connection polls
 *	inbox until it arrives, while -c small clients run the closed loop:
 *	the transfer time, and the longest a small request waited meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "bench/load/load.h"

static struct {
	char		*line;		/* the sendfile request */
	size_t		 len;
	const char	*b64;		/* its body, inside line */
	size_t		 b64len;
	uint64_t	 t_base, t0, t_acked, t1;
	bool		 verified, sender_ok;
	struct hist	 before, during;
	uint64_t	 during_ops;
} fx;

static void
b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 |
		    (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*out++ = '=';
	}
}

static void
file_prepare(unsigned recipient)
{
	unsigned char *body = (unsigned char *)xmalloc(opt.file_size);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t b64len = (opt.file_size + 2) / 3 * 4;
	int head;

	for (size_t i = 0; i < opt.file_size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		body[i] = (unsigned char)x;
	}
	fx.line = xmalloc(b64len + 128);
	head = snprintf(fx.line, 128, "sendfile %s%u bench.bin ", opt.prefix,
	    recipient);
	b64_encode(body, opt.file_size, fx.line + head);
	memcpy(fx.line + head + b64len, "\r\n", 2);
	fx.len = (size_t)head + b64len + 2;
	fx.b64 = fx.line + head;
	fx.b64len = b64len;
	free(body);
}

void
file_reply(struct conn *c, bool ok, size_t len)
{
	static const char key[] = "\"file_content\":\"";
	uint64_t now = now_ns();
	unsigned k;

	switch (c->role) {
	case R_SENDER:
		fx.t_acked = now;
		fx.sender_ok = ok;
		conn_done(c);
		break;
	case R_RECIPIENT:
		if (len <= fx.b64len) {
			start_request(c, c->req[1], c->reqlen[1]);
			break;
		}
		fx.t1 = now;
		{
			const char *p = memmem(c->in, len, key, sizeof(key) - 1);
			fx.verified = ok && p != NULL &&
			    (size_t)(p - c->in) + sizeof(key) - 1 + fx.b64len <= len &&
			    memcmp(p + sizeof(key) - 1, fx.b64, fx.b64len) == 0;
		}
		conn_done(c);
		break;
	default:		/* a small client */
		if (fx.t0 == 0) {
			if (now > fx.t_base + NS / 10)
				hist_add(&fx.before, now - c->sent_at);
		} else if (now >= fx.t0 && (fx.t1 == 0 || c->sent_at <= fx.t1)) {
			hist_add(&fx.during, now - c->sent_at);
			fx.during_ops++;
		}
		if (fx.t1 != 0 && fx.t_acked != 0) {
			conn_done(c);
			break;
		}
		k = (unsigned)(c->op++ & 1);
		start_request(c, c->req[k], c->reqlen[k]);
		break;
	}
}

void
mode_file(void)
{
	struct thread t = { .epfd = epoll_create1(EPOLL_CLOEXEC) };
	unsigned n = opt.conns + 2;
	struct conn *conns = calloc(n, sizeof(*conns));
	uint64_t begun = now_ns();
	bool started = false;

	if (t.epfd == -1 || conns == NULL)
		die("out of memory");
	file_prepare(opt.first + 1);
	window.total = n;
	conn_init(&conns[0], &t, R_SENDER, opt.first, opt.first + 1);
	conn_init(&conns[1], &t, R_RECIPIENT, opt.first + 1, opt.first);
	conns[1].keep = true;
	free(conns[1].in);
	conns[1].incap = fx.b64len + (1 << 20);
	conns[1].in = xmalloc(conns[1].incap);
	for (unsigned i = 0; i < opt.conns; i++)
		conn_init(&conns[2 + i], &t, R_SMALL, opt.first + 2 + i,
		    opt.first + 2 + (i + 1) % opt.conns);
	for (unsigned i = 0; i < n; i++)
		send_auth(&conns[i]);
	while (t.active > 0) {
		uint64_t now = now_ns();

		if (now - begun > 60 * NS)
			die("file: no result after 60 s");
		if (!started && window.ready == n) {
			started = true;
			fx.t_base = now;
			for (unsigned i = 2; i < n; i++) {
				conns[i].phase = P_BUSY;
				conns[i].op++;
				start_request(&conns[i], conns[i].req[0],
				    conns[i].reqlen[0]);
			}
		}
		if (started && fx.t0 == 0 &&
		    now >= fx.t_base + (uint64_t)(opt.warmup * NS)) {
			fx.t0 = now_ns();
			start_request(&conns[0], fx.line, fx.len);
			start_request(&conns[1], conns[1].req[1], conns[1].reqlen[1]);
		}
		dispatch_events(&t, 10);
	}
	printf("mode=file bytes=%zu ok=%d verified=%d transfer_ms=%.1f "
	    "sendfile_reply_ms=%.1f small_max_ms=%.1f small_p99_ms=%.1f "
	    "small_ops=%llu small_max_before_ms=%.2f",
	    opt.file_size, fx.sender_ok, fx.verified,
	    (double)(fx.t1 - fx.t0) / 1e6, (double)(fx.t_acked - fx.t0) / 1e6,
	    (double)fx.during.max / 1e6,
	    (double)hist_quantile(&fx.during, 0.99) / 1e6,
	    (unsigned long long)fx.during_ops, (double)fx.before.max / 1e6);
	print_memory();
	printf("\n");
	for (unsigned i = 0; i < n; i++)
		hang_up(conns[i].fd);
}
