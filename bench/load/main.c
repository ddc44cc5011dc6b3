/*
 * NAME
 *	load - closed-loop load generator for realmchat, redis and echo
 *	(bench/load/: main.c options and the mode; load.h the map)
 * SYNOPSIS
 *	load -m realmchat|echo|redis -p port [-c conns] [-d secs] [-w secs]
 *	     [-s bytes] [-t] [-j threads] [-i idle] [-u prefix] [-o first]
 *	     [-P password] [-S pid,pid,...] [-X mapping] [-g ms]
 *	load -m fill -p port -n messages -a first -r count [-c conns] [-D depth]
 *	load -m file -p port [-F bytes] [-c small-clients] [-o first]
 *	load -m startup -p port [-L log] -- command [arg ...]
 *	load -m realm -p port -q far-port -R link -x far-link [-c conns] [-d secs]
 *	     [-w secs] [-s bytes] [-T secs]
 *	load -m drain -p port -q far-port -R link -x far-link -n messages
 *	     [-a first -r count] [-c conns] [-D depth] [-T secs] [-L log]
 *	     [-- command [arg ...]]
 *	load -m say -p port [-u prefix] [-o first] -- word ...
 *	load -m irc|push|poll -p port [-c pairs] [-d secs] [-w secs] [-s bytes]
 *	     [-k think-ms] [-I poll-ms] [-o first] [-S pid,...]
 *	load -m freeport
 * DESCRIPTION
 *	realmchat: each of the conns connections logs its own user in (user
 *	prefix<first+i>), then alternates "send <peer> <text>" (the peer is
 *	the next connection's user) and "inbox", keeping exactly one request
 *	outstanding (closed loop).  -t sends the token as the first argument
 *	(send <tokenid> peer text, inbox <tokenid>).  echo sends the same
 *	lines, without logging in, to bench/echo.  redis does the same work
 *	in RESP: LPUSH <peer-list> <text> and LPOP <own-list> 100.
 *
 *	After every connection is ready the load runs -w seconds of warm-up,
 *	then -d measured seconds: operations completed in that window, and
 *	the latency of each (request written to reply read in full) in a
 *	log-linear histogram (1.6% resolution, no allocation per request).
 *
 *	The connections are opened at once, as a client pool would; -g
 *	opens one every that many milliseconds instead, the earlier ones
 *	already running (to see how the server spreads them over workers).
 *
 *	-i opens that many idle connections before the load and holds them
 *	to the end; with -S the load starts only once the server holds them
 *	all (idle_accept_ms: how long that took after the last connect), and
 *	-S then reads, while they are still held, the memory of
 *	the given processes (Private_Clean + Private_Dirty of every mapping
 *	except the one whose path contains -X, and the same from
 *	smaps_rollup) and counts their sockets.
 *
 *	fill queues -n messages, pipelined -D deep, round-robin into the
 *	users first .. first+count-1 of -a and -r.  file sends a file of -F
 *	bytes (sendfile) from one user to the next, whose connection polls
 *	inbox until it has arrived, while -c small clients run the closed
 *	loop above; it reports the transfer time and the longest a small
 *	request waited meanwhile.  startup runs the command and reports the
 *	time from exec to the first reply on port.  freeport prints a free
 *	TCP port of 127.0.0.1.
 *
 *	realm: the closed loop above with "sendrealm <link> <peer> <text>"
 *	only, on the realm of -p; -R is the link's id there.  Each reply waits
 *	for the far realm's verdict while the link is up; replies that say
 *	"queued" are counted.  Every text is unique (run, connection and
 *	sequence number in its first bytes).  After the window, and after
 *	every outstanding reply, the users' "inboxrealm <far-link>" is
 *	drained on the realm of -q (-x: the same link's id there) until every
 *	message that got an OK has arrived or -T seconds have passed:
 *	delivered, lost (never arrived), doubled (arrived more than once) and
 *	stray (arrived, but never sent with an OK).
 *
 *	drain: with the link down (it waits until listrealm says so and the
 *	link's queue is empty), queues -n messages over it from -c
 *	connections, pipelined -D deep, to users first .. first+count-1
 *	(-a, -r; default the senders themselves); then runs the command, if
 *	one is given (the far realm's daemon; pid= in the result), and polls
 *	listrealm every 2 ms: from the first "up" to "queued":0 is the drain.
 *	Then verifies at the far side as realm does.
 *
 *	say: logs user prefix<first> in, sends the words as one request line
 *	and prints the reply; exits 1 unless it is OK.
 *
 *	irc, push, poll: pairs of a sender and its partner, closed loop; see
 *	mode_pairs().  irc against an IRC server (PRIVMSG), push against
 *	realmchat with the partner watching, poll with the partner asking
 *	inbox every -I ms (100).  The latency is from writing the message to
 *	its arrival at the partner.
 *
 *	Results go to stdout as one line of key=value pairs.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>

#include "bench/load/load.h"

struct opts opt = {
	.mode = M_REALMCHAT, .host = "127.0.0.1", .conns = 50, .duration = 5,
	.warmup = 1, .msg_size = 32, .threads = 1, .prefix = "b",
	.password = "benchpass", .exclude = "realmchat.state", .depth = 256,
	.file_size = 10 << 20, .verify_secs = 60, .poll_ms = 100,
};

struct sockaddr_in target, far_target;

/* die - the message on stderr, and exit 1 */
void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: load -m realmchat|echo|redis -p port [-c conns] [-d secs] [-w secs]\n"
	    "            [-s bytes] [-t] [-j threads] [-i idle] [-u prefix] [-o first]\n"
	    "            [-P password] [-S pid,...] [-X mapping] [-g ms]\n"
	    "       load -m fill -p port -n messages -a first -r count [-c conns] [-D depth]\n"
	    "       load -m file -p port [-F bytes] [-c small-clients] [-o first]\n"
	    "       load -m startup -p port [-L log] -- command [arg ...]\n"
	    "       load -m realm -p port -q far-port -R link -x far-link [-c conns]\n"
	    "            [-d secs] [-w secs] [-s bytes] [-T secs]\n"
	    "       load -m drain -p port -q far-port -R link -x far-link -n messages\n"
	    "            [-a first -r count] [-c conns] [-D depth] [-T secs] [-L log]\n"
	    "            [-- command [arg ...]]\n"
	    "       load -m say -p port [-u prefix] [-o first] -- word ...\n"
	    "       load -m irc|push|poll -p port [-c pairs] [-d secs] [-w secs]\n"
	    "            [-s bytes] [-k think-ms] [-I poll-ms] [-o first] [-S pid,...]\n"
	    "       load -m freeport\n");
	exit(2);
}

static enum mode
parse_mode(const char *s)
{
	static const char *names[] = { "realmchat", "echo", "redis", "fill",
	    "file", "startup", "freeport", "realm", "drain", "say", "irc",
	    "push", "poll" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* parse_args - the options into opt; the index of the first operand */
static int
parse_args(int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, "m:h:p:c:d:w:s:tj:i:u:o:P:S:X:n:a:r:D:F:L:g:q:R:x:T:k:I:")) != -1) {
		switch (ch) {
		case 'm': opt.mode = parse_mode(optarg); break;
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'c': opt.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': opt.duration = strtod(optarg, NULL); break;
		case 'w': opt.warmup = strtod(optarg, NULL); break;
		case 's': opt.msg_size = strtoul(optarg, NULL, 10); break;
		case 't': opt.token_form = true; break;
		case 'j': opt.threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': opt.idle = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'u': opt.prefix = optarg; break;
		case 'o': opt.first = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': opt.password = optarg; break;
		case 'S': opt.sample_pids = optarg; break;
		case 'X': opt.exclude = optarg; break;
		case 'n': opt.fill_total = strtoull(optarg, NULL, 10); break;
		case 'a': opt.fill_first = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': opt.fill_count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'D': opt.depth = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'F': opt.file_size = strtoul(optarg, NULL, 10); break;
		case 'L': opt.log = optarg; break;
		case 'g': opt.gap_ns = (uint64_t)(strtod(optarg, NULL) * 1e6); break;
		case 'q': opt.far_port = atoi(optarg); break;
		case 'R': opt.link = optarg; break;
		case 'x': opt.far_link = optarg; break;
		case 'T': opt.verify_secs = strtod(optarg, NULL); break;
		case 'k': opt.think_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': opt.poll_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	return optind;
}

/* set_targets - check the options; the addresses of the two realms */
static void
set_targets(void)
{
	if (opt.port <= 0 || opt.port > 65535 || opt.conns == 0 || opt.duration <= 0 ||
	    opt.warmup < 0 || opt.threads == 0 || opt.threads > MAX_THREADS ||
	    opt.threads > opt.conns || opt.depth == 0 || opt.msg_size == 0)
		usage();
	if ((opt.mode == M_REALM || opt.mode == M_DRAIN) &&
	    (opt.far_port <= 0 || opt.far_port > 65535 || opt.link == NULL ||
	    opt.far_link == NULL || (opt.mode == M_DRAIN && opt.fill_total == 0)))
		usage();
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &target.sin_addr) != 1)
		die("%s: not an IPv4 address", opt.host);
	far_target = target;
	far_target.sin_port = htons((uint16_t)opt.far_port);
}

int
main(int argc, char *argv[])
{
	char **rest = argv + parse_args(argc, argv);

	if (opt.mode == M_FREEPORT) {
		mode_freeport();
		return 0;
	}
	set_targets();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	switch (opt.mode) {
	case M_FILL:
		mode_fill();
		break;
	case M_FILE:
		mode_file();
		break;
	case M_STARTUP:
		mode_startup(rest);
		break;
	case M_DRAIN:
		mode_drain(rest);
		break;
	case M_SAY:
		mode_say(rest);
		break;
	case M_IRC:
	case M_PUSH:
	case M_POLL:
		mode_pairs();
		break;
	default:
		mode_load();
	}
	return 0;
}
