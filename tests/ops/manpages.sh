#!/usr/bin/env bash
#
# NAME
#	manpages.sh - the manual pages are clean and complete
# SYNOPSIS
#	tests/ops/manpages.sh		(TAP on stdout)
# DESCRIPTION
#	Each page of man/ passes "mandoc -T lint" with no message at the
#	level of a warning or above.  realmchat.conf(5) and docs/CONFIG.md
#	describe every key of the key table in lib/config.c; realmctl(8)
#	describes every word of the token tables in realmctl/parser.c;
#	realmchatd(8) describes every signal the master acts on;
#	realmchat(1) describes every option and every command word of the
#	client (client/realmchat.c, client/command.c).

set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
n=0

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

# lint PAGE - mandoc finds nothing to warn about
lint() {
	local out
	if ! command -v mandoc >/dev/null; then
		echo "# mandoc is not installed (make deps installs it)"
		return 1
	fi
	out=$(mandoc -T lint -W warning "$1" 2>&1) && [[ -z $out ]] && return 0
	sed 's/^/# | /' <<<"$out"
	return 1
}

# has PATTERN FILE - a line of FILE matches the extended regex
has() {
	grep -qE "$1" "$2" || { echo "# $2 lacks /$1/"; return 1; }
}

for page in "$root"/man/*.[0-9]; do
	ok "mandoc -T lint: ${page#"$root"/}" lint "$page"
done

keys=$(sed -nE -e 's/^[[:space:]]*[SN]\("([a-z_]+)".*/\1/p' \
    -e 's/^[[:space:]]*\{ "([a-z_]+)", K_.*/\1/p' "$root/lib/config.c")
ok "lib/config.c has keys to check" test -n "$keys"
for key in $keys; do
	ok "realmchat.conf(5) describes $key" \
	    has "^\.It Ic $key( |\$)" "$root/man/realmchat.conf.5"
	ok "docs/CONFIG.md describes $key" \
	    has "^\| \`$key\` \|" "$root/docs/CONFIG.md"
done

words=$(sed -nE 's/^[[:space:]]*\{ KEYWORD, "([a-z]+)".*/\1/p' \
    "$root/realmctl/parser.c")
ok "realmctl/parser.c has words to check" test -n "$words"
for word in $words; do
	ok "realmctl(8) describes \"$word\"" \
	    has "^\.It Cm ([a-z]+ )?$word( |\$)" "$root/man/realmctl.8"
done

for sig in SIGHUP SIGTERM SIGINT; do
	ok "realmchatd(8) describes $sig" \
	    has "^\.It Dv .*$sig( |$)" "$root/man/realmchatd.8"
done

opts=$(sed -nE 's/.*getopt_long\(argc, argv, "([^"]+)".*/\1/p' \
    "$root/client/realmchat.c" | tr -d ':' | fold -w1)
ok "client/realmchat.c has options to check" test -n "$opts"
for o in $opts; do
	ok "realmchat(1) describes -$o" \
	    has "^\.It Fl $o( |\$)" "$root/man/realmchat.1"
done
ok "realmchat(1) describes --json" has '^\.It Fl \\-json' \
    "$root/man/realmchat.1"

cmds=$(sed -nE 's/^[[:space:]]*\{ "([a-z_]+)", [0-9], run_.*/\1/p' \
    "$root/client/command.c")
ok "client/command.c has commands to check" test -n "$cmds"
for c in $cmds; do
	ok "realmchat(1) describes \"$c\"" \
	    has "^\.It (Cm [a-z_]+ , )*Cm $c( |\$)" "$root/man/realmchat.1"
done

echo "1..$n"
