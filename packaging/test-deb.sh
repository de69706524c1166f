#!/usr/bin/env bash
# Install a sentineldns .deb on this (Debian/Ubuntu, root) machine, check it,
# and remove it again:
#   files in place, `sentineldns --version`, `config check` of the installed
#   configuration, `systemd-analyze verify` of the unit (when available), a
#   replay with the installed model, then `dpkg -r` (and purge).
#
#   packaging/test-deb.sh [PATH.deb]    # default: the newest target/debian/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "must run as root (dpkg -i)"
deb=${1:-$(ls -t target/debian/*.deb 2>/dev/null | head -n 1)}
[ -n "$deb" ] && [ -f "$deb" ] || fail "no .deb given or found in target/debian (run packaging/build-deb.sh)"

export DEBIAN_FRONTEND=noninteractive
step "installing libpcap and $deb"
apt-get install -y -qq --no-install-recommends libpcap0.8 >/dev/null 2>&1 \
    || apt-get install -y -qq --no-install-recommends libpcap0.8t64 >/dev/null
dpkg -i "$deb" >&2

cleanup() {
    step "removing the package"
    dpkg -r sentineldns >&2 || true
    dpkg -P sentineldns >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "files"
for f in /usr/bin/sentineldns \
         /lib/systemd/system/sentineldns.service \
         /etc/sentineldns/sentineldns.toml \
         /usr/share/sentineldns/default.bin \
         /usr/share/doc/sentineldns/README.md \
         /usr/share/doc/sentineldns/config.md \
         /usr/share/doc/sentineldns/install.md \
         /usr/share/doc/sentineldns/changelog.gz \
         /usr/share/doc/sentineldns/changelog.Debian.gz \
         /usr/share/man/man1/sentineldns.1.gz \
         /usr/share/man/man1/sentineldns-replay.1.gz \
         /usr/share/man/man1/sentineldns-capture.1.gz \
         /usr/share/bash-completion/completions/sentineldns \
         /usr/share/zsh/vendor-completions/_sentineldns \
         /usr/share/fish/vendor_completions.d/sentineldns.fish; do
    [ -e "$f" ] || fail "$f missing"
done
dpkg-query -W -f='${Conffiles}\n' sentineldns | grep -q /etc/sentineldns/sentineldns.toml \
    || fail "the configuration is not a conffile"
getent passwd sentineldns >/dev/null || fail "system user sentineldns not created"
depends=$(dpkg-query -W -f='${Depends}' sentineldns)
echo "$depends" | grep -q 'libc6' || fail "Depends lacks libc6 (\$auto): $depends"
echo "$depends" | grep -q 'libpcap0.8' || fail "Depends lacks libpcap (\$auto): $depends"
zcat /usr/share/man/man1/sentineldns-replay.1.gz | grep -q '^.TH sentineldns-replay 1' || fail "man page sentineldns-replay"
bash -n /usr/share/bash-completion/completions/sentineldns || fail "bash completion does not parse"
[ -d /var/lib/sentineldns ] || fail "/var/lib/sentineldns not created"
[ "$(stat -c %U /var/lib/sentineldns)" = sentineldns ] || fail "/var/lib/sentineldns not owned by sentineldns"

step "version"
sentineldns --version | grep -q '^sentineldns ' || fail "sentineldns --version"

step "live capture is built in"
cap_err=$(sentineldns capture --interface nosuchif0 --no-model --db /tmp/sentineldns-deb-test.db 2>&1 || true)
echo "$cap_err" | grep -q "nosuchif0" || { echo "$cap_err" >&2; fail "the packaged binary has no live capture"; }

step "config check"
sentineldns config check --config /etc/sentineldns/sentineldns.toml >/dev/null \
    || fail "config check of the installed configuration"

if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify"
    # Without a running systemd, verify still parses the unit and checks the
    # executables; ignore only the noise about the absent system manager.
    if ! out=$(systemd-analyze verify /lib/systemd/system/sentineldns.service 2>&1); then
        echo "$out" >&2
        fail "systemd-analyze verify"
    fi
    if echo "$out" | grep -i 'sentineldns.service' | grep -Eiq 'unknown|invalid|failed|not found|ignoring'; then
        echo "$out" >&2
        fail "systemd-analyze verify reported problems with the unit"
    fi
else
    step "systemd-analyze not available: unit not verified"
fi

step "replay with the installed model"
work=$(mktemp -d)
cp simulations/sample.jsonl "$work/"
(
    cd "$work"  # no models/ here: the model search must find /usr/share/sentineldns/default.bin
    SENTINELDNS_CONFIG=/etc/sentineldns/sentineldns.toml \
        sentineldns replay --db "$work/t.db" --format json sample.jsonl >"$work/out.json" 2>"$work/err.txt" \
        || { cat "$work/err.txt" >&2; fail "replay"; }
)
grep -q '"label":"Likely Compromise"' "$work/out.json" || fail "replay produced no verdicts"
rm -rf "$work"

trap - EXIT
cleanup
[ ! -e /usr/bin/sentineldns ] || fail "binary left after dpkg -r"
getent passwd sentineldns >/dev/null || fail "the system user must stay after purge (Debian policy)"
[ ! -e /var/lib/sentineldns ] || fail "/var/lib/sentineldns left after purge"
step "OK"
