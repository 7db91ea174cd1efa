# Sourced by scripts/test.sh (and usable by hand: `source scripts/s3-server.sh;
# memo_start_s3`): starts an S3-compatible server for the S3 tests and the S3
# benchmark — moto's, on a free port of 127.0.0.1 — creates a bucket in it, and
# exports what the tests read:
#
#   AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_REGION, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY    the usual variables, as memo's S3 store reads them
#   MEMO_TEST_S3_BUCKET      the bucket the tests use
#
# The server is stopped when the calling shell exits. If it cannot be started,
# memo_start_s3 says why and returns non-zero: the S3 tests never skip.

memo_start_s3() {
    if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
        echo "s3-server: installing moto[server] (the S3 test server)" >&2
        python3 -m pip install --quiet --disable-pip-version-check 'moto[server]' >&2 || {
            echo "s3-server: cannot install moto[server] with pip; the S3 tests need it" >&2
            return 1
        }
    fi
    local port log
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$(mktemp -t memo-moto.XXXXXX.log)
    python3 -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MEMO_S3_SERVER_PID=$!
    # shellcheck disable=SC2064  # expand the pid now
    trap "kill $MEMO_S3_SERVER_PID 2>/dev/null; wait $MEMO_S3_SERVER_PID 2>/dev/null; rm -f '$log'" EXIT
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export AWS_ALLOW_HTTP=true
    export AWS_REGION=us-east-1
    export AWS_ACCESS_KEY_ID=memo-test
    export AWS_SECRET_ACCESS_KEY=memo-test
    export MEMO_TEST_S3_BUCKET=memo-tests
    # Up within 30 s, or a clear failure.
    local tries=0
    until python3 -c 'import os, urllib.request; urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=1)' 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -ge 300 ] || ! kill -0 "$MEMO_S3_SERVER_PID" 2>/dev/null; then
            echo "s3-server: moto did not start on 127.0.0.1:$port; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    python3 - <<'EOF' || { echo "s3-server: cannot create the test bucket" >&2; return 1; }
import os
import boto3

boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(
    Bucket=os.environ["MEMO_TEST_S3_BUCKET"]
)
EOF
    echo "s3-server: moto on $AWS_ENDPOINT_URL, bucket $MEMO_TEST_S3_BUCKET" >&2
}
