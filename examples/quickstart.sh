#!/usr/bin/env bash
# An agency backend's whole journey through GaaP, with curl and the JSON API.
#
# Start the platform (make run), onboard an agency as docs/quickstart.md shows,
# then from the repository root:
#
#     examples/quickstart.sh agency.json
#
# where agency.json is what `gaap-admin create-agency` printed. It takes a token,
# subscribes to payment webhooks, creates a payment, pays it in the sandbox as the
# citizen's browser would, verifies the signed webhook, sends an email and a text
# message and finds them in make run's local sinks, refunds the payment, and signs
# the demo citizen in with OpenID Connect (code flow with PKCE).
#
# Needs bash, curl, openssl and python3 (for JSON; make run needs it anyway).
# The addresses are make run's defaults: set GAAP_ISSUER,
# PAYMENTS_HTTP_ADDRESS, NOTIFY_HTTP_ADDRESS and GAAP_VAR_DIR as you set them for
# make run if you moved them.
set -euo pipefail

AGENCY_FILE=${1:?usage: examples/quickstart.sh AGENCY_JSON (what gaap-admin create-agency printed)}
IDENTITY=${GAAP_ISSUER:-http://127.0.0.1:8081}
PAYMENTS=http://${PAYMENTS_HTTP_ADDRESS:-127.0.0.1:8082}
NOTIFY=http://${NOTIFY_HTTP_ADDRESS:-127.0.0.1:8083}
VAR=${GAAP_VAR_DIR:-var}   # make run's sinks and demo citizen
AGENCY=http://127.0.0.1:8000   # your service (not running in this example)
RUN=$(date +%s)-$$             # this run's references and idempotency keys
WORK=$(mktemp -d)
trap 'kill "${RECEIVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# get FIELD.PATH: print a field of the JSON on stdin (python3 instead of jq).
get() {
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1"
}

# call SERVICE_URL Package.Service/Method JSON: one Connect JSON call with the token.
call() {
  curl -sS --fail-with-body -H "authorization: Bearer $TOKEN" \
       -H 'content-type: application/json' -d "$3" "$1/$2"
}

CLIENT_ID=$(get client_id < "$AGENCY_FILE")
CLIENT_SECRET=$(get client_secret < "$AGENCY_FILE")
REDIRECT_URI=$(get redirect_uris.0 < "$AGENCY_FILE")

# 1. A token (client_credentials); it lasts 5 minutes: fetch another when it ends.
TOKEN=$(curl -sS --fail-with-body -u "$CLIENT_ID:$CLIENT_SECRET" \
             -d grant_type=client_credentials "$IDENTITY/oauth2/token" | get access_token)
echo "1. access token ${TOKEN:0:24}..."

# 2. Payment webhooks to our endpoint (a few lines of python3 stand in for your
#    backend's: they keep each POST's raw body and Gaap-Signature header).
python3 -c 'import http.server, itertools, os, sys
folder, count = sys.argv[1], itertools.count()
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        name = os.path.join(folder, "hook-%03d" % next(count))
        with open(name + ".sig", "w") as sig:
            sig.write(self.headers.get("gaap-signature", ""))
        with open(name + ".tmp", "wb") as raw:
            raw.write(body)
        os.rename(name + ".tmp", name + ".body")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
print(server.server_port, flush=True)
server.serve_forever()' "$WORK" > "$WORK/port" &
RECEIVER=$!
until [ -s "$WORK/port" ]; do sleep 0.1; done
HOOK_URL="http://127.0.0.1:$(cat "$WORK/port")/webhooks/gaap"
SUBSCRIBED=$(call "$PAYMENTS" gaap.payments.v1.PaymentsService/CreateWebhookSubscription \
  "{\"url\": \"$HOOK_URL\", \"eventTypes\": [\"payment.succeeded\", \"payment.refunded\"],
    \"idempotencyKey\": \"quickstart-$RUN-webhook\"}")
SUBSCRIPTION_ID=$(get subscription.id <<< "$SUBSCRIBED")
SECRET=$(get signingSecret <<< "$SUBSCRIBED")
echo "2. webhook subscription $SUBSCRIPTION_ID"

# 3. A payment of £40.00: amounts are minor units, int64, so a string in JSON.
PAYMENT=$(call "$PAYMENTS" gaap.payments.v1.PaymentsService/CreatePayment \
  "{\"amount\": \"4000\", \"reference\": \"PRK-$RUN\", \"description\": \"Residents' parking permit\",
    \"returnUrl\": \"$AGENCY/paid\", \"idempotencyKey\": \"quickstart-$RUN-payment\"}")
PAYMENT_ID=$(get id <<< "$PAYMENT")
NEXT_URL=$(get nextUrl <<< "$PAYMENT")
echo "3. payment $PAYMENT_ID - send the citizen to $NEXT_URL"

# What the citizen's browser does, in plain HTTP: in your service these are
# identity's and payments' own pages, and you write none of this.
# submit PAGE_FILE BASE_URL [curl args...]: post the page's form with its hidden
# fields (the CSRF token) and the given fields; prints the redirect's Location.
submit() {
  local page=$1 base=$2 action
  shift 2
  action=$(sed -n 's/.*<form method="post" action="\([^"]*\)".*/\1/p' "$page" | head -1)
  local fields=()
  while IFS= read -r field; do fields+=(--data-urlencode "$field"); done < <(
    sed -n 's/.*<input type="hidden" name="\([^"]*\)" value="\([^"]*\)".*/\1=\2/p' "$page")
  curl -sS -o /dev/null -w '%{redirect_url}' -b "$WORK/cookies" -c "$WORK/cookies" \
       "${fields[@]}" "$@" "$base${action//&amp;/&}"
}
page() {  # page URL: fetch a page into $WORK/page.html; prints where it redirects, if it does
  curl -sS --fail-with-body -b "$WORK/cookies" -c "$WORK/cookies" -o "$WORK/page.html" \
       -w '%{redirect_url}' "$1"
}

# 4. The citizen pays with the sandbox's success card, then confirms.
PAGES=${NEXT_URL%%/pay/*}
page "$NEXT_URL" > /dev/null
submit "$WORK/page.html" "$PAGES" --data-urlencode 'card-number=4242 4242 4242 4242' \
       -d expiry=12/39 -d security-code=123 --data-urlencode 'cardholder-name=A Citizen' > /dev/null
page "$NEXT_URL" > /dev/null
BACK=$(submit "$WORK/page.html" "$PAGES")
[ "$BACK" = "$AGENCY/paid" ] || { echo "the payment page sent the citizen to '$BACK'" >&2; exit 1; }

# verified_event TYPE: wait for a webhook of TYPE about our payment, check its
# signature (HMAC-SHA256 of "<t>.<raw body>" with the secret, t within 5 minutes)
# and print its body.
verified_event() {
  local deadline=$((SECONDS + 60)) body header t v1 expected
  while [ "$SECONDS" -lt "$deadline" ]; do
    for body in "$WORK"/hook-*.body; do
      [ -e "$body" ] || continue
      header=$(cat "${body%.body}.sig")
      t=${header#t=}; t=${t%%,*}
      v1=${header#*v1=}; v1=${v1%%,*}
      expected=$({ printf '%s.' "$t"; cat "$body"; } |
                 openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
      if [ "$expected" != "$v1" ] || [ $(( $(date +%s) - t )) -gt 300 ]; then
        echo "a webhook with a bad signature: $header" >&2; exit 1
      fi
      if [ "$(get type < "$body")" = "$1" ] && [ "$(get payment.id < "$body")" = "$PAYMENT_ID" ]; then
        cat "$body"; return 0
      fi
    done
    sleep 0.2
  done
  echo "no $1 webhook for $PAYMENT_ID" >&2; exit 1
}

# 5. The signed webhook arrives: verify it, then read the payment.
EVENT=$(verified_event payment.succeeded)
STATE=$(call "$PAYMENTS" gaap.payments.v1.PaymentsService/GetPayment \
             "{\"paymentId\": \"$PAYMENT_ID\"}" | get state)
[ "$STATE" = PAYMENT_STATE_SUCCESS ] || { echo "payment is $STATE" >&2; exit 1; }
echo "4-5. webhook $(get id <<< "$EVENT") verified; payment $STATE"

# 6. An email and a text message from templates, seen in make run's sinks.
template() {  # template CHANNEL SUBJECT: a new template's id
  call "$NOTIFY" gaap.notify.v1.NotifyService/CreateTemplate \
    "{\"channel\": \"$1\", \"name\": \"Quickstart $1\", \"idempotencyKey\": \"quickstart-$RUN-$1\",
      \"contents\": [{\"language\": \"en\", \"subject\": \"$2\",
                      \"body\": \"Your permit ((reference)) is paid.\"}]}" | get id
}
EMAIL_TEMPLATE=$(template CHANNEL_EMAIL 'Permit ((reference))')
SMS_TEMPLATE=$(template CHANNEL_SMS '')
VALUES="{\"reference\": {\"text\": \"PRK-$RUN\"}}"
call "$NOTIFY" gaap.notify.v1.NotifyService/SendEmail \
  "{\"templateId\": \"$EMAIL_TEMPLATE\", \"emailAddress\": \"citizen@example.com\",
    \"personalisation\": $VALUES, \"idempotencyKey\": \"quickstart-$RUN-email\"}" > /dev/null
call "$NOTIFY" gaap.notify.v1.NotifyService/SendSms \
  "{\"templateId\": \"$SMS_TEMPLATE\", \"phoneNumber\": \"07912345678\",
    \"personalisation\": $VALUES, \"idempotencyKey\": \"quickstart-$RUN-sms\"}" > /dev/null
in_sink() {  # in_sink FOLDER: wait for the file in FOLDER that mentions this run
  local deadline=$((SECONDS + 60)) found
  until found=$(grep -l "PRK-$RUN" "$VAR/$1"/* 2>/dev/null | head -1) && [ -n "$found" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "nothing in $VAR/$1" >&2; exit 1; }
    sleep 0.2
  done
  basename "$found"
}
echo "6. email $(in_sink mail) and SMS $(in_sink sms) delivered to the local sinks"

# 7. A full refund; the refund's own webhook follows.
REFUND_ID=$(call "$PAYMENTS" gaap.payments.v1.PaymentsService/CreateRefund \
  "{\"paymentId\": \"$PAYMENT_ID\", \"amount\": \"4000\", \"idempotencyKey\": \"quickstart-$RUN-refund\"}" |
  get id)
verified_event payment.refunded > /dev/null
echo "7. refund $REFUND_ID and its webhook verified"
call "$PAYMENTS" gaap.payments.v1.PaymentsService/DisableWebhookSubscription \
  "{\"subscriptionId\": \"$SUBSCRIPTION_ID\", \"idempotencyKey\": \"quickstart-$RUN-unsubscribe\"}" > /dev/null

# 8. Citizen sign-in: OpenID Connect's code flow with PKCE (S256).
VERIFIER=$(openssl rand -hex 32)
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
STATE_PARAM=$(openssl rand -hex 16)
NONCE=$(openssl rand -hex 16)
AUTHORIZE="$IDENTITY/authorize?response_type=code&client_id=$CLIENT_ID&scope=openid%20profile%20email%20phone"
AUTHORIZE+="&redirect_uri=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$REDIRECT_URI")"
AUTHORIZE+="&state=$STATE_PARAM&nonce=$NONCE&code_challenge=$CHALLENGE&code_challenge_method=S256"
# Your backend redirects the citizen to $AUTHORIZE; the demo citizen's browser:
EMAIL=$(get email < "$VAR/demo/citizen.json")
PASSWORD=$(get password < "$VAR/demo/citizen.json")
LOCATION=$AUTHORIZE
while [[ "$LOCATION" != "$REDIRECT_URI"* ]]; do   # sign in, allow, until sent back
  LOCATION=$(page "$LOCATION")
  if [ -z "$LOCATION" ] && grep -q 'name="password"' "$WORK/page.html"; then
    LOCATION=$(submit "$WORK/page.html" "$IDENTITY" --data-urlencode "email=$EMAIL" \
                      --data-urlencode "password=$PASSWORD")
  elif [ -z "$LOCATION" ] && grep -q 'name="decision"' "$WORK/page.html"; then
    LOCATION=$(submit "$WORK/page.html" "$IDENTITY" -d decision=allow)
  fi
  [ -n "$LOCATION" ] || { echo "stuck on a sign-in page" >&2; exit 1; }
done
# Back at your redirect URI: check state, then exchange the code with the verifier.
CALLBACK_STATE=$(sed -n 's/.*[?&]state=\([^&]*\).*/\1/p' <<< "$LOCATION")
[ "$CALLBACK_STATE" = "$STATE_PARAM" ] || { echo "the callback's state is not ours" >&2; exit 1; }
CODE=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<< "$LOCATION")
TOKENS=$(curl -sS --fail-with-body -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code \
              -d "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT_URI" \
              -d "code_verifier=$VERIFIER" "$IDENTITY/oauth2/token")
# Validate the ID token with your OpenID Connect library (signature against
# $IDENTITY/.well-known/jwks.json, iss, aud, exp, nonce); here we ask UserInfo.
USERINFO=$(curl -sS --fail-with-body -H "authorization: Bearer $(get access_token <<< "$TOKENS")" \
                "$IDENTITY/userinfo")
echo "8. signed in: $(get sub <<< "$USERINFO") $(get email <<< "$USERINFO")"
