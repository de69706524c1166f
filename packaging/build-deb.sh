#!/usr/bin/env bash
# Build the sentineldns .deb with cargo-deb and print its path (last line of
# stdout). Installs cargo-deb when it is missing. With the `capture` cargo
# feature present in Cargo.toml the binary is built with it (that needs
# libpcap-dev; installed here when running as root with apt-get).
#
#   packaging/build-deb.sh            # -> target/debian/sentineldns_<ver>_<arch>.deb
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "build-deb: $*" >&2; }

if ! cargo deb --version >/dev/null 2>&1; then
    log "installing cargo-deb"
    t0=$(date +%s)
    cargo install cargo-deb --locked >&2
    log "cargo-deb installed in $(( $(date +%s) - t0 ))s"
fi

build_args=()
if grep -Eq '^[[:space:]]*capture[[:space:]]*=' Cargo.toml; then
    build_args+=(--features capture)
    if ! pkg-config --exists libpcap 2>/dev/null && [ ! -e /usr/include/pcap.h ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing libpcap-dev (needed by the capture feature)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpcap-dev >&2
        else
            log "the capture feature needs libpcap-dev; install it first"
            exit 1
        fi
    fi
    log "building with --features capture"
else
    log "no capture feature in Cargo.toml: building without it"
fi

t0=$(date +%s)
# The release binary first: the man pages and shell completions the package
# installs are generated from its command line.
cargo build --release --locked "${build_args[@]}" >&2
rm -rf target/assets
target/release/sentineldns man --out target/assets/man >&2
gzip -9n target/assets/man/*.1
gzip -9nc CHANGELOG.md > target/assets/changelog.gz
mkdir -p target/assets/completions
target/release/sentineldns completions bash > target/assets/completions/sentineldns
target/release/sentineldns completions zsh > target/assets/completions/_sentineldns
target/release/sentineldns completions fish > target/assets/completions/sentineldns.fish
# cargo-deb packages that binary (stripped of its debug info).
out=$(cargo deb --no-build --strip "${build_args[@]}" | tail -n 1)
log "built in $(( $(date +%s) - t0 ))s"
if [ ! -f "$out" ]; then
    log "cargo deb did not report a package (got: $out)"
    exit 1
fi
echo "$out"
