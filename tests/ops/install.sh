#!/usr/bin/env bash
#
# NAME
#	install.sh - make install into a temporary DESTDIR, then drive the
#	init script of that tree
# SYNOPSIS
#	tests/ops/install.sh		(TAP on stdout)
# DESCRIPTION
#	Installs with DESTDIR, checks what was installed, then points the
#	installed init script at the tree (REALMCHAT_DEFAULTS names a
#	defaults file with DAEMON and CONFIG of the tree) and runs its
#	start, status, reload, restart and stop on a free loopback port,
#	checking the LSB exit codes: status 0 running, 1 dead with a pid
#	file, 3 not running, 4 unknown; a second start starts nothing; a bad
#	configuration is refused by reload and restart and leaves the daemon
#	as it was.  Run as root, the daemon drops to "nobody".
#
#	Needs root (as the init script does); otherwise the whole plan is
#	skipped.  BUILD and BIN name the build to install (default build,
#	bin), as for make.

set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
n=0

if [[ $(id -u) != 0 ]]; then
	echo "1..0 # SKIP the init script runs as root; run the tests as root"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/realmchat-install.XXXXXX")
prefix=/usr/local
etc=$tmp$prefix/etc
daemon=$tmp$prefix/sbin/realmchatd
realmctl=$tmp$prefix/sbin/realmctl
init=$etc/init.d/realmchat
config=$etc/realmchat/realmchat.conf
pidfile=$tmp/run/realmchat/realmchatd.pid
export REALMCHAT_DEFAULTS=$etc/default/realmchat

# ok DESCRIPTION COMMAND... - one TAP line for the command's success
ok() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
	fi
}

# exits WANT DESCRIPTION COMMAND... - one TAP line: the exit status is WANT
exits() {
	local want=$1 desc=$2 rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	n=$((n + 1))
	if [[ $rc == "$want" ]]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc: exit $rc, want $want"
		sed 's/^/# | /' <<<"$out"
	fi
}

master_pid() {
	cat "$pidfile" 2>/dev/null
}

# cleanup - whatever happened, no daemon and no tree is left behind
cleanup() {
	local pid
	pid=$(master_pid)
	if [[ -n $pid ]] && [[ $(readlink "/proc/$pid/exe") == "$daemon" ]]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# free_port - a loopback port nobody listens on, below the range the
# kernel takes source ports from: a port in that range that nobody listens
# on may still be held by one end of a connection (a client of an earlier
# test, or an orphan closing down), and the daemon's bind would fail
free_port() {
	local p low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range || true
	(( low > 12000 )) || low=32768
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ask LINE - the first line of the daemon's reply to one request
ask() {
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s\r\n' "$1" >&3
	read -r -t 5 reply <&3
	exec 3<&-
	echo "$reply"
}

answers() {
	[[ $(ask whoami) == *NO_SESSION* ]]
}

refuses_clients() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# masters - how many master processes of the installed binary run
masters() {
	local count=0 p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == "$daemon" ]] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q master &&
		    count=$((count + 1))
	done
	echo "$count"
}

runs_as() {
	local uid
	uid=$(awk '/^Uid:/ { print $3 }' "/proc/$(master_pid)/status")
	[[ $uid == "$(id -u "$1")" ]]
}

# wait_for SECONDS COMMAND... - until the command succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

status_workers() {
	"$realmctl" -s "$tmp/run/realmchat/realmchat.ctl" status 2>/dev/null |
	    grep -qE "^workers +$1\$"
}

write_config() {
	cat >"$config" <<-EOF
	# realmchat install test
	listen        = 127.0.0.1:$port
	workers       = 1
	realm_name    = inittest
	state_dir     = $tmp/var/lib/realmchat
	pidfile       = $pidfile
	control       = $tmp/run/realmchat/realmchat.ctl
	seed_users    = $etc/realmchat/users
	user          = $runas
	password_cost = 1
	EOF
}

# --- install ----------------------------------------------------------

make -s -C "$root" install DESTDIR="$tmp" PREFIX="$prefix" \
    BUILD="${BUILD:-build}" BIN="${BIN:-bin}" >"$tmp/make.log" 2>&1
rc=$?
ok "make install DESTDIR=... PREFIX=$prefix" test "$rc" = 0
((rc == 0)) || sed 's/^/# | /' "$tmp/make.log"
for f in sbin/realmchatd sbin/realmctl etc/realmchat/realmchat.conf \
    etc/init.d/realmchat etc/default/realmchat \
    lib/systemd/system/realmchat.service share/man/man8/realmchatd.8 \
    share/man/man8/realmctl.8 share/man/man5/realmchat.conf.5 \
    bin/realmchat share/man/man1/realmchat.1; do
	ok "installed $prefix/$f" test -s "$tmp$prefix/$f"
done
ok "daemon, realmctl and init script are executable" \
    test -x "$daemon" -a -x "$realmctl" -a -x "$init"
ok "the realmchat client is executable" test -x "$tmp$prefix/bin/realmchat"
ok "the installed config is the production one" grep -qE \
    '^listen *= *0\.0\.0\.0:8889' "$config"
for want in 'state_dir *= */var/lib/realmchat' 'user *= *realmchat' \
    'control *= */run/realmchat/realmchat.ctl' \
    'pidfile *= */run/realmchat/realmchatd.pid'; do
	ok "production config: $want" grep -qE "^$want" "$config"
done
ok "init script has an LSB INIT INFO block" \
    grep -q '^### BEGIN INIT INFO' "$init"
ok "no @placeholder@ is left in what was installed" \
    bash -c "! grep -rl '@[A-Z]*@' '$tmp$prefix/etc' '$tmp$prefix/lib' '$tmp$prefix/share'"
ok "installed daemon finds the installed config by default" \
    bash -c "strings '$daemon' | grep -qx '$prefix/etc/realmchat/realmchat.conf'"

# --- the tree, for the init script ------------------------------------

port=$(free_port)
runas=root
id nobody >/dev/null 2>&1 && runas=nobody
chmod 0755 "$tmp"			# the user reaches the tree
mkdir -p -m 0755 "$tmp/var/lib"
printf 'messi surabaya Lionel_Messi Argentina\n' >"$etc/realmchat/users"
write_config
cat >"$REALMCHAT_DEFAULTS" <<EOF
DAEMON=$daemon
CONFIG=$config
START_WAIT=10
EOF

exits 3 "status before start: 3 (not running)" "$init" status
exits 0 "start: 0" "$init" start
exits 0 "status: 0 (running)" "$init" status
ok "status names the pid" grep -q "running (pid $(master_pid))" <<<"$out"
ok "clients are answered" answers
ok "the master runs as $runas" runs_as "$runas"
first=$(master_pid)
exits 0 "start again: 0, and nothing started" "$init" start
ok "start again says: already running" grep -q "already running" <<<"$out"
ok "start again: one master, the same pid" \
    test "$(masters)" = 1 -a "$(master_pid)" = "$first"
exits 1 "realmchatd by hand on the same config: refused" \
    "$daemon" -f "$config"
ok "refused because it is already running" \
    grep -q "already running (pid $first)" <<<"$out"
exits 0 "realmctl -f CONFIG status" "$realmctl" -f "$config" status
ok "realmctl sees the realm" grep -q "realm inittest" <<<"$out"

sed -i 's/^workers .*/workers = 2/' "$config"
exits 0 "reload a good config: 0" "$init" reload
ok "the new worker count is in force" wait_for 5 status_workers 2
exits 0 "force-reload: 0" "$init" force-reload

echo "bogus_key = 1" >>"$config"
exits 1 "reload a bad config: 1 (refused)" "$init" reload
ok "reload says the running config stays" \
    grep -q "the running one stays" <<<"$out"
exits 1 "restart with a bad config: 1 (refused)" "$init" restart
ok "the daemon runs on, untouched" test "$(master_pid)" = "$first"
exits 0 "status after refusals: 0" "$init" status
ok "clients are still answered" answers
ok "still two workers" status_workers 2

write_config
exits 0 "restart: 0" "$init" restart
ok "restart made a new master" test -n "$(master_pid)" -a \
    "$(master_pid)" != "$first"
ok "clients are answered after restart" answers

exits 0 "stop: 0" "$init" stop
exits 3 "status after stop: 3 (not running)" "$init" status
ok "the pid file is gone" test ! -e "$pidfile"
ok "the port is closed" refuses_clients
exits 0 "stop when stopped: 0" "$init" stop

exits 0 "start again after stop: 0" "$init" start
kill -KILL "$(master_pid)"
wait_for 5 bash -c "! kill -0 $(master_pid) 2>/dev/null"
exits 1 "status of a killed daemon: 1 (dead, pid file left)" "$init" status
exits 0 "stop clears what the dead daemon left: 0" "$init" stop
exits 3 "status then: 3 (not running)" "$init" status

cat >"$REALMCHAT_DEFAULTS" <<EOF
DAEMON=$tmp/no/such/realmchatd
CONFIG=$config
EOF
exits 4 "status without the daemon installed: 4 (unknown)" "$init" status
exits 5 "start without the daemon installed: 5" "$init" start
exits 2 "an unknown action: 2" "$init" frobnicate

echo "1..$n"
