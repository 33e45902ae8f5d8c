#!/usr/bin/env bash
# The AWS KMS getting-started steps with the AWS CLI, unchanged but for the
# endpoint and credentials, which come from the environment
# (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION). Stops at the first step that fails.
# integration/TestServeTutorials runs it against `kmsfs serve`.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { echo "step: $*"; }
# The endpoint, the one change from the tutorials (older CLIs ignore
# AWS_ENDPOINT_URL, so it is passed explicitly too).
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

step create a key and an alias
key_id=$(aws kms create-key --description "cli tutorial" --query KeyMetadata.KeyId --output text)
aws kms create-alias --alias-name alias/cli-tutorial --target-key-id "$key_id"

step describe and list
state=$(aws kms describe-key --key-id alias/cli-tutorial --query KeyMetadata.KeyState --output text)
[ "$state" = Enabled ]
aws kms list-keys --output text | grep "$key_id" >/dev/null
aws kms list-aliases --key-id "$key_id" --query 'Aliases[0].AliasName' --output text | grep -x alias/cli-tutorial >/dev/null

step encrypt and decrypt a file, with encryption context
printf 'top secret' >"$work/plain.txt"
aws kms encrypt --key-id alias/cli-tutorial --plaintext "fileb://$work/plain.txt" \
	--encryption-context purpose=tutorial --query CiphertextBlob --output text | base64 -d >"$work/blob"
aws kms decrypt --ciphertext-blob "fileb://$work/blob" --encryption-context purpose=tutorial \
	--query Plaintext --output text | base64 -d >"$work/out.txt"
cmp "$work/plain.txt" "$work/out.txt"
if aws kms decrypt --ciphertext-blob "fileb://$work/blob" 2>"$work/err"; then
	echo "decrypt without the encryption context succeeded" >&2
	exit 1
fi
grep InvalidCiphertextException "$work/err" >/dev/null

step generate a data key
aws kms generate-data-key --key-id "$key_id" --key-spec AES_256 >"$work/dk.json"
python3 -c 'import json,sys,base64; d=json.load(open(sys.argv[1])); assert len(base64.b64decode(d["Plaintext"]))==32' "$work/dk.json"
aws kms generate-data-key-without-plaintext --key-id "$key_id" --key-spec AES_128 --query KeyId --output text | grep "$key_id" >/dev/null

step rotation
aws kms enable-key-rotation --key-id "$key_id"
aws kms get-key-rotation-status --key-id "$key_id" --query KeyRotationEnabled --output text | grep -x True >/dev/null
aws kms rotate-key-on-demand --key-id "$key_id" >/dev/null
aws kms list-key-rotations --key-id "$key_id" --query 'Rotations[0].RotationType' --output text | grep -x ON_DEMAND >/dev/null

step tags and policy
aws kms tag-resource --key-id "$key_id" --tags TagKey=owner,TagValue=cli
aws kms list-resource-tags --key-id "$key_id" --query 'Tags[0].TagValue' --output text | grep -x cli >/dev/null
aws kms get-key-policy --key-id "$key_id" --policy-name default --output text | grep 'kms:\*' >/dev/null

step disable, enable, schedule and cancel deletion
aws kms disable-key --key-id "$key_id"
aws kms describe-key --key-id "$key_id" --query KeyMetadata.KeyState --output text | grep -x Disabled >/dev/null
aws kms enable-key --key-id "$key_id"
aws kms schedule-key-deletion --key-id "$key_id" --pending-window-in-days 7 --query KeyState --output text | grep -x PendingDeletion >/dev/null
aws kms cancel-key-deletion --key-id "$key_id" >/dev/null

step done
