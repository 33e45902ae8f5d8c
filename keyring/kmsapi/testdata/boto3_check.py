"""Drives a kmsapi handler with boto3, as an AWS SDK user would.

Run by TestBoto3 with the endpoint URL as the only argument; prints
"boto3-check: ok" when every step passed, else raises.
"""
import datetime
import sys

import boto3
import botocore.config

kms = boto3.client(
    "kms",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="not-checked",
    config=botocore.config.Config(retries={"max_attempts": 1}),
)


def expect_error(cls, fn, **kw):
    try:
        fn(**kw)
    except cls as e:
        return e
    raise AssertionError("expected %s from %s" % (cls.__name__, fn.__name__))


now = datetime.datetime.now(datetime.timezone.utc)
meta = kms.create_key(Description="boto3")["KeyMetadata"]
key_id, arn = meta["KeyId"], meta["Arn"]
assert meta["KeyState"] == "Enabled", meta
assert isinstance(meta["CreationDate"], datetime.datetime), meta
assert abs((meta["CreationDate"] - now).total_seconds()) < 60, meta["CreationDate"]

kms.create_alias(AliasName="alias/boto3", TargetKeyId=key_id)

ctx = {"path": "/a/b", "inode": "42"}
plain = b"hello\x00\xff world"
enc = kms.encrypt(KeyId="alias/boto3", Plaintext=plain, EncryptionContext=ctx)
assert enc["KeyId"] == arn, enc
dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
assert dec["Plaintext"] == plain, dec
assert dec["KeyId"] == arn, dec

expect_error(kms.exceptions.InvalidCiphertextException, kms.decrypt,
             CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"path": "/other"})

desc = kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]
assert desc["KeyId"] == key_id and desc["Arn"] == arn, desc
assert desc["CreationDate"] == meta["CreationDate"], (desc, meta)

dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
assert len(dk["Plaintext"]) == 32, dk
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]

kms.disable_key(KeyId=key_id)
e = expect_error(kms.exceptions.DisabledException, kms.encrypt, KeyId=key_id, Plaintext=b"x")
assert e.response["Error"]["Code"] == "DisabledException", e.response
assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
assert e.response["ResponseMetadata"]["RequestId"], e.response
kms.enable_key(KeyId=key_id)
kms.encrypt(KeyId=key_id, Plaintext=b"x")

expect_error(kms.exceptions.NotFoundException, kms.describe_key, KeyId="alias/missing")

aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
assert "alias/boto3" in aliases, aliases

print("boto3-check: ok")
