#!/bin/sh
# First-run demo data for docker compose: one connection, one model on it, one
# virtual key allowed that model. Idempotent: whatever already exists (same
# name) is left alone, and ALREADY_EXISTS from the server counts as success, so
# `docker compose up` may run it on every start.
#
# Reads (docker-compose.yml passes them from .env):
#   LLMPROXY_SERVER, LLMPROXY_ADMIN_TOKEN   where and how the CLI connects
#   DEMO_CONNECTION_NAME  DEMO_PROVIDER  DEMO_ENDPOINT  DEMO_API_KEY
#   DEMO_MODEL_NAME  DEMO_REMOTE_MODEL  DEMO_VIRTUAL_KEY_NAME  DEMO_VIRTUAL_KEY
# Never prints a key.
set -eu

: "${LLMPROXY_SERVER:?LLMPROXY_SERVER must name the control plane, e.g. controlplane:50051}"
: "${LLMPROXY_ADMIN_TOKEN:?LLMPROXY_ADMIN_TOKEN must be set}"
conn_name=${DEMO_CONNECTION_NAME:-demo-openai}
provider=${DEMO_PROVIDER:-openai}
endpoint=${DEMO_ENDPOINT:-https://api.openai.com/v1}
api_key=${DEMO_API_KEY:-}
model_name=${DEMO_MODEL_NAME:-gpt-fast}
remote_model=${DEMO_REMOTE_MODEL:-gpt-4o-mini}
vkey_name=${DEMO_VIRTUAL_KEY_NAME:-demo-team}
vkey=${DEMO_VIRTUAL_KEY:-}

if [ -z "$api_key" ]; then
  echo "seed: DEMO_API_KEY is empty: the demo connection gets a placeholder key" \
       "(the provider will answer 401 until you update it)" >&2
  api_key=sk-demo-placeholder
fi

cli() { llm-proxy "$@"; }

# The control plane may still be starting: wait up to a minute.
i=0
until cli -o json connection list >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then
    echo "seed: control plane at $LLMPROXY_SERVER does not answer" >&2
    cli -o json connection list >/dev/null   # show the CLI's own error
    exit 1
  fi
  sleep 2
done

# id_of KIND NAME: the id of the first KIND named NAME, or nothing. Works with
# either JSON shape of `list -o json` (an array, or {"connections": [...]}).
id_of() {
  cli -o json "$1" list |
    jq -r --arg n "$2" \
      'first(.. | objects | select(.name? == $n and (.id? | type) == "string") | .id) // empty'
}

# create KIND ARGS...: create, treating ALREADY_EXISTS as done. Prints nothing
# of the server's answer (it may hold a key).
create() {
  kind=$1
  shift
  rc=0
  out=$(cli -o json "$kind" add "$@" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && return 0
  # The CLI exits with 10 + the gRPC code: 16 is ALREADY_EXISTS.
  [ "$rc" -eq 16 ] && { echo "seed: $kind already exists"; return 0; }
  case "$out" in
    *ALREADY_EXISTS* | *"already exists"* | *"Already exists"*)
      echo "seed: $kind already exists" ;;
    *)
      echo "seed: $kind add failed:" >&2
      printf '%s\n' "$out" | grep -v -e 'sk-' >&2 || true
      return 1 ;;
  esac
}

conn_id=$(id_of connection "$conn_name")
if [ -z "$conn_id" ]; then
  create connection --name "$conn_name" --provider "$provider" \
    --endpoint "$endpoint" --api-key "$api_key"
  conn_id=$(id_of connection "$conn_name")
  echo "seed: connection $conn_name created ($conn_id)"
else
  echo "seed: connection $conn_name exists ($conn_id)"
fi
[ -n "$conn_id" ] || { echo "seed: cannot find connection $conn_name" >&2; exit 1; }

# Several models may share an alias (deployments of it), so the server would
# accept a duplicate: look before creating.
model_id=$(id_of model "$model_name")
if [ -z "$model_id" ]; then
  create model --name "$model_name" --remote "$remote_model" --conn-id "$conn_id"
  model_id=$(id_of model "$model_name")
  echo "seed: model $model_name created ($model_id)"
else
  echo "seed: model $model_name exists ($model_id)"
fi
[ -n "$model_id" ] || { echo "seed: cannot find model $model_name" >&2; exit 1; }

vkey_id=$(id_of vkey "$vkey_name")
if [ -z "$vkey_id" ]; then
  if [ -n "$vkey" ]; then
    create vkey --name "$vkey_name" --key "$vkey" --model-id "$model_id" --tps 5 --tokens 100000
  else
    # No key given: the server generates one, shown once by the CLI.
    cli vkey add --name "$vkey_name" --model-id "$model_id" --tps 5 --tokens 100000
  fi
  echo "seed: virtual key $vkey_name created"
else
  echo "seed: virtual key $vkey_name exists ($vkey_id)"
fi

echo "seed: done. Try:"
echo "  curl http://localhost:8080/v1/chat/completions -H \"Authorization: Bearer \$DEMO_VIRTUAL_KEY\" \\"
echo "    -H 'Content-Type: application/json' -d '{\"model\":\"$model_name\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
