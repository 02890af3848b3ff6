# shellcheck shell=bash
# tools/lib/common.sh - shell functions shared by tools/stack and tools/test.
#
# Source it from a bash script that has set ROOT to the top of the source
# tree (the directory holding configure.ac).  It defines:
#
#   STEPUP_PACKAGES      the Debian 12 packages stepup needs to build, run
#                        and test
#   ensure_packages [PKG...]
#                        install whatever of STEPUP_PACKAGES (plus PKG...)
#                        is missing, when root; otherwise fail naming them
#   ensure_built [CONFIGURE-ARG...]
#                        bootstrap, configure and build into
#                        $STEPUP_BUILD_DIR when the binaries are missing
#   stack_users_setup    create the stack's system users when root (one
#                        per part: STEPUP_DB_USER, STEPUP_FCGI_USER,
#                        STEPUP_SENDER_USER; the web server's, www-data,
#                        comes with Debian)
#   as_user USER CMD...  run CMD as USER (root) or directly (not root)
#   ensure_traversable DIR...
#                        give each of the stack's users the search bit on
#                        every ancestor of DIR that denies it
#   die MESSAGE / say MESSAGE
#
# Nothing here starts a server; tools/stack does.

: "${ROOT:?ROOT must be set before sourcing common.sh}"

STEPUP_BUILD_DIR=${STEPUP_BUILD_DIR:-$ROOT/build}
# The system users of the stack when it is brought up by root, one per
# part as in production (README, "Running in production"), so that neither
# the web server nor the application it protects can read stepup's keys:
# PostgreSQL, stepup-fcgi, stepup-sender, and the web server (which also
# runs the example application, a CGI).  Not root: everything runs as the
# caller.
STEPUP_DB_USER=${STEPUP_DB_USER:-stepup}
STEPUP_FCGI_USER=${STEPUP_FCGI_USER:-stepup-fcgi}
STEPUP_SENDER_USER=${STEPUP_SENDER_USER:-stepup-sender}
STEPUP_WEB_USER=${STEPUP_WEB_USER:-www-data}
# shellcheck disable=SC2034 # used by the scripts that source this file
PG_BIN=${STEPUP_PG_BIN:-/usr/lib/postgresql/15/bin}
PROG=${PROG:-$(basename "$0")}

# Every Debian 12 package stepup needs, with one file (or Python module)
# whose absence shows that the package is missing.  Probing files instead of
# asking dpkg keeps the check fast and lets it work where the tools came
# from elsewhere.
STEPUP_PACKAGE_PROBES=(
    "build-essential|/usr/bin/gcc /usr/bin/g++ /usr/bin/make"
    "autoconf|/usr/bin/autoreconf"
    "automake|/usr/bin/automake"
    "libtool|/usr/bin/libtoolize"
    "pkg-config|/usr/bin/pkg-config"
    "libfcgi-dev|/usr/include/fcgiapp.h"
    "libpq-dev|/usr/include/postgresql/libpq-fe.h"
    "libjson-c-dev|/usr/include/json-c/json.h"
    "libssl-dev|/usr/include/openssl/evp.h"
    "check|/usr/include/check.h"
    "libsubunit-dev|/usr/include/subunit/child.h"
    "libphonenumber-dev|/usr/include/phonenumbers/phonenumberutil.h"
    "lighttpd|/usr/sbin/lighttpd"
    "apache2|/usr/sbin/apache2 /usr/lib/apache2/modules/mod_proxy_fcgi.so"
    "libapache2-mod-fcgid|/usr/lib/apache2/modules/mod_fcgid.so"
    "mandoc|/usr/bin/mandoc"
    "man-db|/usr/bin/man"
    "binutils|/usr/bin/readelf"
    "postgresql-15|/usr/lib/postgresql/15/bin/postgres /usr/lib/postgresql/15/bin/initdb"
    "postgresql-client-15|/usr/lib/postgresql/15/bin/psql /usr/lib/postgresql/15/bin/pg_dump"
    "python3|/usr/bin/python3"
    "python3-pytest|py:pytest"
    "python3-cryptography|py:cryptography.hazmat.primitives.ciphers.aead"
    "python3-prometheus-client|py:prometheus_client.parser"
    "python3-yaml|py:yaml"
    "python3-jsonschema|py:jsonschema"
    "curl|/usr/bin/curl"
    "openssl|/usr/bin/openssl"
    "ca-certificates|/etc/ssl/certs/ca-certificates.crt"
    "procps|/usr/bin/ps"
    "passwd|/usr/sbin/useradd"
    "util-linux|/usr/sbin/runuser"
    # tests/integration/test_65_pgbouncer.py and test_92_failover.py, and
    # tools/stack with STEPUP_PGBOUNCER=1 or STEPUP_PG_HA=patroni
    "pgbouncer|/usr/sbin/pgbouncer"
    "patroni|/usr/bin/patroni"
    "etcd-server|/usr/bin/etcd"
    "valgrind|/usr/bin/valgrind"
    "wrk|/usr/bin/wrk"
    # tools/bench: the loopback SMS gateways of its delivery rows
    "nginx-light|/usr/sbin/nginx"
    "libnginx-mod-http-echo|/usr/lib/nginx/modules/ngx_http_echo_module.so"
    # tools/test --fuzz: clang with libFuzzer and its sanitizer runtimes
    # (a glob: the runtimes live under clang's full version number).
    "clang-14|/usr/bin/clang-14 /usr/bin/clang++-14"
    "libclang-rt-14-dev|/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a"
    "libfuzzer-14-dev|/usr/lib/llvm-14/lib/libFuzzer.a"
    # libcurl4-openssl-dev (stepup-sender's http provider): its headers live
    # under a multiarch directory, so it has no probe and dpkg is asked.
)
# valgrind (tools/test --valgrind), wrk, nginx-light and
# libnginx-mod-http-echo (tools/bench and tools/sender-bench) and clang-14,
# libclang-rt-14-dev and libfuzzer-14-dev (tools/test --fuzz) are asked
# for by the scripts that need them: not in the default list.
STEPUP_PACKAGES=(build-essential autoconf automake libtool pkg-config libfcgi-dev libpq-dev
                 libjson-c-dev libssl-dev check libsubunit-dev libphonenumber-dev libcurl4-openssl-dev lighttpd
                 apache2 libapache2-mod-fcgid mandoc man-db binutils
                 postgresql-15 postgresql-client-15 python3 python3-pytest python3-cryptography
                 python3-prometheus-client python3-yaml python3-jsonschema
                 curl openssl ca-certificates procps passwd util-linux
                 pgbouncer patroni etcd-server)

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# The probe of a package ("" when it has none listed).
package_probe() {
    local entry
    for entry in "${STEPUP_PACKAGE_PROBES[@]}"; do
        if [ "${entry%%|*}" = "$1" ]; then
            printf '%s\n' "${entry#*|}"
            return 0
        fi
    done
    printf '\n'
}

# True when every probe of the package is present.
package_present() {
    local probe
    for probe in $(package_probe "$1"); do
        case $probe in
            py:*) [ -x /usr/bin/python3 ] &&
                  /usr/bin/python3 -c "import ${probe#py:}" 2>/dev/null || return 1 ;;
            *) [ -e "$probe" ] || return 1 ;;
        esac
    done
    if [ -z "$(package_probe "$1")" ]; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$' || return 1
    fi
    return 0
}

# ensure_packages [EXTRA-PACKAGE...]: install the missing packages of
# STEPUP_PACKAGES and EXTRA (apt-get, as root), or fail with their names.
ensure_packages() {
    local pkg missing=()
    for pkg in "${STEPUP_PACKAGES[@]}" "$@"; do
        package_present "$pkg" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]}
  install them as root:  apt-get install ${missing[*]}"
    fi
    say "installing missing Debian packages: ${missing[*]}"
    if [ -z "${STEPUP_APT_UPDATED:-}" ]; then
        apt-get update -q || die "apt-get update failed"
        STEPUP_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install ${missing[*]} failed"
    for pkg in "${missing[@]}"; do
        package_present "$pkg" || die "package $pkg is installed but $(package_probe "$pkg") is still missing"
    done
}

# ensure_built [CONFIGURE-ARG...]: when stepup-fcgi or stepupctl is missing
# from $STEPUP_BUILD_DIR, generate configure if needed (./bootstrap),
# configure out of tree (with the given arguments) and build.
ensure_built() {
    local b=$STEPUP_BUILD_DIR
    if [ -x "$b/src/fcgi/stepup-fcgi" ] && [ -x "$b/src/ctl/stepupctl" ] &&
       [ -x "$b/src/sender/stepup-sender" ]; then
        return 0
    fi
    if [ ! -x "$ROOT/configure" ]; then
        say "generating configure (./bootstrap)"
        "$ROOT/bootstrap" || die "./bootstrap failed"
    fi
    mkdir -p "$b"
    if [ ! -f "$b/Makefile" ]; then
        say "configuring in $b"
        (cd "$b" && "$ROOT/configure" -q "$@") || die "configure failed (see $b/config.log)"
    fi
    say "building in $b"
    make -C "$b" -j"$(nproc)" >/dev/null || die "the build failed (run: make -C $b)"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Create the stack's system users (without home or shell) when root.
stack_users_setup() {
    is_root || return 0
    local user
    for user in "$STEPUP_DB_USER" "$STEPUP_FCGI_USER" "$STEPUP_SENDER_USER" "$STEPUP_WEB_USER"; do
        id -u "$user" >/dev/null 2>&1 && continue
        say "creating system user $user"
        useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$user" ||
            die "useradd $user failed"
    done
}

# as_user USER CMD...: run CMD as USER when root, else as ourselves.  The
# working directory is / so that a directory USER cannot enter (e.g.
# /root) is never its current directory.
as_user() {
    local user=$1
    shift
    if is_root; then
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && "$@")
    fi
}

# ensure_traversable DIR...: when root, make sure each of the stack's users
# can reach DIR: every ancestor that denies one the search bit gets o+x
# (search only, never read), and each change is printed.
ensure_traversable() {
    is_root || return 0
    local dir d user
    for dir in "$@"; do
        [ -d "$dir" ] || continue
        for user in "$STEPUP_DB_USER" "$STEPUP_FCGI_USER" "$STEPUP_SENDER_USER" "$STEPUP_WEB_USER"; do
            runuser -u "$user" -- test -x "$dir" 2>/dev/null && continue
            d=$dir
            local chain=()
            while [ "$d" != "/" ] && [ -n "$d" ]; do
                chain=("$d" "${chain[@]}")
                d=$(dirname "$d")
            done
            for d in "${chain[@]}"; do
                if ! runuser -u "$user" -- test -x "$d" 2>/dev/null; then
                    chmod o+x "$d" || die "chmod o+x $d failed"
                    say "gave others the search bit (o+x) on $d so that $user can reach $dir"
                fi
            done
            runuser -u "$user" -- test -x "$dir" || die "$user still cannot reach $dir"
        done
    done
}

# 64 hex digits (256 bits) from the kernel's random source.
random_hex32() {
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}
