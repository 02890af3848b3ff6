# shellcheck shell=bash
# tools/lib/stack/demo.sh - part "demo": the first time, a sandbox
# programme, its API key and a user with an enrolled phone (kept in
# $STATE/demo.env), made with stepupctl as the operator; every time, the
# copy-paste curl walk-through for them.  STEPUP_DEMO=0 skips it.

create_demo() {
    local f=$STATE/demo.env
    [ -f "$f" ] && return 0
    say "creating the demo programme, API key and user"
    local programme apikey password user
    programme=$(as_operator "$CTL" programme create --name demo --sandbox --gates legacy | json_field id) ||
        die "stepupctl programme create failed"
    apikey=$(as_operator "$CTL" apikey create --programme "$programme" | json_field apiKey) ||
        die "stepupctl apikey create failed"
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    user=$(as_operator "$CTL" user create --programme "$programme" --email demo@example.com \
           --password "$password" --mobile +447911123456 | json_field userId) ||
        die "stepupctl user create failed"
    as_operator "$CTL" user enrol --user "$user" --channel SMS >/dev/null ||
        die "stepupctl user enrol failed"
    (
        umask 077
        {
            echo "# The demo of tools/stack up (secrets: keep this file private)."
            printf 'export DEMO_PROGRAMME_ID=%q\n' "$programme"
            printf 'export DEMO_API_KEY=%q\n' "$apikey"
            printf 'export DEMO_USER_ID=%q\n' "$user"
            printf 'export DEMO_EMAIL=%q\n' demo@example.com
            printf 'export DEMO_PASSWORD=%q\n' "$password"
            printf 'export DEMO_MOBILE=%q\n' +447911123456
        } >"$f.tmp"
    )
    mv "$f.tmp" "$f"
}

print_demo() {
    local f=$STATE/demo.env
    [ -f "$f" ] || return 0
    # shellcheck disable=SC1090
    . "$f"
    cat <<TEXT

stepup is up at $URL

Demo programme (sandbox: the code is always 123456 and no text is sent):
  programme id  $DEMO_PROGRAMME_ID
  api-key       $DEMO_API_KEY
  user          $DEMO_EMAIL  password $DEMO_PASSWORD
  mobile        $DEMO_MOBILE (SMS factor enrolled)
(saved in $f)

Walk-through, copy and paste into a shell:

  # 1. Log in with email and password; keep the session token.
  TOKEN=\$(curl -sS -X POST $URL/login_with_password \\
      -H 'api-key: $DEMO_API_KEY' -H 'Content-Type: application/json' \\
      -d '{"email": "$DEMO_EMAIL", "password": {"value": "$DEMO_PASSWORD"}}' \\
      | tee /dev/stderr | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'); echo

  # 2. Issue a step-up challenge by SMS: expect "HTTP/1.1 204 No Content".
  #    (lighttpd wants a Content-Length on every POST, even an empty one.)
  curl -sS -i -w '\\n' -X POST $URL/stepup/challenges/otp/SMS -H 'Content-Length: 0' \\
      -H 'api-key: $DEMO_API_KEY' -H "Authorization: Bearer \$TOKEN"

  # 3. Again at once: 409 {"errorCode":"RETRY_IN_15SEC"} (one challenge per 15 s).
  curl -sS -i -w '\\n' -X POST $URL/stepup/challenges/otp/SMS -H 'Content-Length: 0' \\
      -H 'api-key: $DEMO_API_KEY' -H "Authorization: Bearer \$TOKEN"

  # 4. Log out: 204, and the token is refused (401) from now on.
  curl -sS -i -w '\\n' -X POST $URL/logout -H 'Content-Length: 0' \\
      -H 'api-key: $DEMO_API_KEY' -H "Authorization: Bearer \$TOKEN"

The whole flow (enrol, verify, step up, open the gated $URL/legacy/):
                  STEPUP_STATE_DIR=$STATE tools/flow-demo
Operator's tool:  . $STATE/stack.env && \$STEPUPCTL --help
Stop everything:  tools/stack down
TEXT
}

part_demo_up() {
    if [ "${STEPUP_DEMO:-1}" = 1 ]; then
        create_demo
        print_demo
    else
        say "up: $URL (environment in $STATE/stack.env)"
    fi
}
