#!/bin/sh
# build-aux/man.sh TEMPLATE BUILDDIR - write a man page (roff) to stdout:
# TEMPLATE's text, with each line that is only a marker replaced by what
# the built programs say of themselves, so that the pages list exactly the
# options, keys, settings and commands the code has:
#
#   @HELP program@         the program's --help, verbatim
#   @KEYS program@         its --describe-config table, one .TP per key
#   @PROGRAMME_SETTINGS@   stepupctl programme settings, one .TP per option
#
# and @VERSION@, @sysconfdir@, @sbindir@ replaced by the environment's
# VERSION, SYSCONFDIR and SBINDIR.
set -eu
template=$1
build=$2

bin() {
    case $1 in
        stepup-fcgi) echo "$build/src/fcgi/stepup-fcgi" ;;
        stepup-sender) echo "$build/src/sender/stepup-sender" ;;
        stepupctl) echo "$build/src/ctl/stepupctl" ;;
        *) echo "man.sh: unknown program $1" >&2; exit 1 ;;
    esac
}

# roff-safe text: backslashes, and a leading . or ' would be a request.
escape() {
    sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
}

# A Markdown table (| a | b | c |) as .TP entries: "| `key` | `def` | text |".
table() {
    awk -F ' \\| ' '
        /^\|---|^\| (key|option|limit) / { next }
        /^\| / {
            name = $1; sub(/^\| /, "", name); def = $2; text = $3; sub(/ \|$/, "", text)
            gsub(/`/, "", name); gsub(/`/, "", def); gsub(/`/, "", text)
            print ".TP"
            print "\\fB" name "\\fR"
            print text " (default: " def ")."
        }' | sed -e 's/\\\([^f]\)/\\e\1/g' -e 's/-/\\-/g'
}

while IFS= read -r line || [ -n "$line" ]; do
    case $line in
        "@HELP "*"@")
            p=${line#@HELP }; p=${p%@}
            echo ".nf"
            "$(bin "$p")" --help | escape
            echo ".fi" ;;
        "@KEYS "*"@")
            p=${line#@KEYS }; p=${p%@}
            "$(bin "$p")" --describe-config | table ;;
        "@PROGRAMME_SETTINGS@")
            "$(bin stepupctl)" programme settings | table ;;
        *)
            printf '%s\n' "$line" | sed -e "s|@VERSION@|${VERSION:-}|g" \
                -e "s|@sysconfdir@|${SYSCONFDIR:-/etc}|g" -e "s|@sbindir@|${SBINDIR:-/usr/sbin}|g" ;;
    esac
done <"$template"
