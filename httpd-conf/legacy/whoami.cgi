#!/bin/sh
# whoami.cgi - a CGI program of the example legacy application, run by the
# web server (lighttpd through /bin/sh, cgi.assign in
# httpd-conf/lighttpd.conf.in; Apache as a cgi-script) once the step-up
# gate has let the request through.  It prints the variables
# the gate put into its environment: who is calling, as stepup knows them.
# Read the request body first, as a CGI program must (a web server may
# reset a connection whose body was left unread).
if [ "${CONTENT_LENGTH:-0}" -gt 0 ] 2>/dev/null; then
    head -c "$CONTENT_LENGTH" >/dev/null
fi
printf 'Content-Type: text/plain; charset=utf-8\r\n'
printf 'Cache-Control: no-store\r\n'
printf '\r\n'
printf 'STEPUP_USER_ID=%s\n' "${STEPUP_USER_ID-}"
printf 'STEPUP_IDENTITY_ID=%s\n' "${STEPUP_IDENTITY_ID-}"
printf 'STEPUP_PROGRAMME_ID=%s\n' "${STEPUP_PROGRAMME_ID-}"
printf 'REQUEST_METHOD=%s\n' "${REQUEST_METHOD-}"
