#!/bin/sh
# Imports Fleetlog's data views, visualizations, map and dashboards into Kibana, replacing the copies an earlier
# import made (same ids). Run by the kibana-setup service of docker-compose.yml, or by hand:
#
#   KIBANA_URL=http://127.0.0.1:5601 docker/kibana/import-saved-objects.sh
#
# POSIX sh and curl only: it runs in the Kibana image, which has both.
set -eu

kibana_url="${KIBANA_URL:-http://127.0.0.1:5601}"
file="${1:-$(dirname "$0")/fleetlog.ndjson}"
attempts=30

attempt=1
while :; do
  # Without --fail: Kibana explains a refused import in the body, which is worth printing.
  if response=$(curl --silent --show-error --max-time 60 -X POST \
    "$kibana_url/api/saved_objects/_import?overwrite=true" \
    -H 'kbn-xsrf: fleetlog' --form "file=@$file"); then
    echo "$response"
    # 200 also answers an import in which some objects failed (a reference missing, say): "success" says all went in.
    # A refused import does not get better by retrying; anything else (Kibana still starting) may.
    case "$response" in
      *'"success":true'*) exit 0 ;;
      *'"success":false'*) exit 1 ;;
    esac
  fi
  if [ "$attempt" -ge "$attempts" ]; then
    echo "Kibana at $kibana_url did not import $file after $attempts attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 5
done
