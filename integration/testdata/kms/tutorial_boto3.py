"""The AWS KMS getting-started steps with boto3, unchanged but for the
endpoint (passed explicitly, as boto3 older than 1.28 ignores
AWS_ENDPOINT_URL) and the credentials, which come from the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).

Usage: tutorial_boto3.py ADMIN_ARN USER_ARN
ADMIN_ARN is the caller's own principal (the key administrator), USER_ARN
the key user whom the policy statement and the grant name.
Prints one line per step; exits non-zero, naming the step, at the first
one that does not behave as AWS KMS does. integration/TestServeTutorials
runs it against `kmsfs serve`.
"""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
admin, grantee = sys.argv[1], sys.argv[2]


def step(name):
    print("step:", name, flush=True)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit(f"expected {code}, got {got}: {e}")
        return
    sys.exit(f"expected {code}, the call succeeded")


step("create a key and an alias")
key = kms.create_key(Description="tutorial key", KeyUsage="ENCRYPT_DECRYPT",
                     Tags=[{"TagKey": "project", "TagValue": "tutorial"}])
key_id = key["KeyMetadata"]["KeyId"]
kms.create_alias(AliasName="alias/tutorial", TargetKeyId=key_id)

step("describe it, list keys and aliases")
md = kms.describe_key(KeyId="alias/tutorial")["KeyMetadata"]
assert md["KeyId"] == key_id and md["KeyState"] == "Enabled", md
assert md["KeySpec"] == "SYMMETRIC_DEFAULT", md
keys = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
        for k in page["Keys"]]
assert key_id in keys, keys
aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
assert [a["AliasName"] for a in aliases] == ["alias/tutorial"], aliases

step("encrypt and decrypt, with and without encryption context")
blob = kms.encrypt(KeyId="alias/tutorial", Plaintext=b"hello")["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
ctx = {"Department": "10"}
blob = kms.encrypt(KeyId=key_id, Plaintext=b"with context", EncryptionContext=ctx)["CiphertextBlob"]
out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
assert out["Plaintext"] == b"with context" and out["KeyId"] == md["Arn"], out
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)

step("generate data keys and decrypt them")
dk = kms.generate_data_key(KeyId="alias/tutorial", KeySpec="AES_256")
assert len(dk["Plaintext"]) == 32
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
dk2 = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=64)
assert "Plaintext" not in dk2
assert len(kms.decrypt(CiphertextBlob=dk2["CiphertextBlob"])["Plaintext"]) == 64

step("envelope encryption: a file sealed locally under the data key")
nonce = os.urandom(12)
sealed = AESGCM(dk["Plaintext"]).encrypt(nonce, b"file contents", None)
data_key = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"]
assert AESGCM(data_key).decrypt(nonce, sealed, None) == b"file contents"

step("re-encrypt under another key")
other = kms.create_key()["KeyMetadata"]
re = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=ctx,
                    DestinationKeyId=other["KeyId"], DestinationEncryptionContext=ctx)
assert re["KeyId"] == other["Arn"] and re["SourceKeyId"] == md["Arn"], re
assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == b"with context"

step("automatic rotation and its status; rotation on demand")
kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
st = kms.get_key_rotation_status(KeyId=key_id)
assert st["KeyRotationEnabled"] and st["RotationPeriodInDays"] == 180, st
kms.rotate_key_on_demand(KeyId=key_id)
rots = kms.list_key_rotations(KeyId=key_id)["Rotations"]
assert len(rots) == 1 and rots[0]["RotationType"] == "ON_DEMAND", rots
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"with context"

step("tags")
kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "test"}])
tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
assert tags == {"project": "tutorial", "env": "test"}, tags
kms.untag_resource(KeyId=key_id, TagKeys=["env"])
assert [t["TagKey"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]] == ["project"]

step("get and put the key policy")
policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
assert policy["Statement"][0]["Action"] == "kms:*", policy
# The tutorial's two statements: key administrators, key users.
policy = {"Version": "2012-10-17", "Id": "key-consolepolicy-3", "Statement": [
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": admin}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": grantee},
     "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]}
kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
got = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
assert got["Statement"][1]["Sid"] == "Allow use of the key", got
expect_error("MalformedPolicyDocumentException", kms.put_key_policy,
             KeyId=key_id, PolicyName="default", Policy='{"Statement": "nonsense"}')
lockout = {"Version": "2012-10-17", "Statement": [policy["Statement"][1]]}
expect_error("MalformedPolicyDocumentException", kms.put_key_policy,
             KeyId=key_id, PolicyName="default", Policy=json.dumps(lockout))

step("create and use a grant")
grant = kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt", "GenerateDataKey"],
                         Constraints={"EncryptionContextSubset": ctx})
grants = kms.list_grants(KeyId=key_id)["Grants"]
assert [g["GrantId"] for g in grants] == [grant["GrantId"]], grants
assert grants[0]["GranteePrincipal"] == grantee and sorted(grants[0]["Operations"]) == ["Decrypt", "GenerateDataKey"]
print("grant:", json.dumps({"KeyId": key_id, "GrantId": grant["GrantId"], "GrantToken": grant["GrantToken"],
                            "Blob": blob.hex()}), flush=True)

step("disable and enable")
kms.disable_key(KeyId=key_id)
expect_error("DisabledException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
kms.enable_key(KeyId=key_id)

step("schedule and cancel deletion")
d = kms.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)
assert d["KeyState"] == "PendingDeletion" and d["PendingWindowInDays"] == 7, d
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=other["KeyId"], Plaintext=b"x")
kms.cancel_key_deletion(KeyId=other["KeyId"])
assert kms.describe_key(KeyId=other["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"

step("done")
