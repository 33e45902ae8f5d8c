"""The AWS KMS multi-Region key walkthrough with boto3, unchanged but for
the endpoint (passed explicitly, as boto3 older than 1.28 ignores
AWS_ENDPOINT_URL) and the credentials, which come from the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY):

- a client of us-east-1 creates a multi-Region primary key (mrk-...) and
  encrypts with it;
- it replicates the key to eu-west-1 (ReplicateKey);
- a client of eu-west-1 decrypts the us-east-1 ciphertext with the replica,
  sees only its region's keys in ListKeys, and cannot see a us-east-1 key;
- UpdatePrimaryRegion makes the eu-west-1 replica the primary.

Usage: mrk_boto3.py
Prints one line per step and "done" at the end; exits non-zero, naming the
step, at the first one that does not behave as AWS KMS does.
integration/TestKeyTypesMultiRegionBoto3 runs it against `kmsfs serve`.
"""
import os
import sys

import boto3
from botocore.exceptions import ClientError

endpoint = os.environ["AWS_ENDPOINT_URL"]
us = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
eu = boto3.client("kms", endpoint_url=endpoint, region_name="eu-west-1")


def step(name):
    print("step:", name, flush=True)


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        if e.response["Error"]["Code"] != code:
            fail("got %s, want %s" % (e.response["Error"]["Code"], code))
        return
    fail("no error, want " + code)


step("create a plain key and a multi-Region primary key in us-east-1")
plain = us.create_key(Description="us-east-1 only")["KeyMetadata"]["KeyId"]
meta = us.create_key(Description="multi-Region", MultiRegion=True)["KeyMetadata"]
key_id = meta["KeyId"]
if not key_id.startswith("mrk-") or not meta["MultiRegion"]:
    fail("not a multi-Region key: %r" % meta)
if meta["MultiRegionConfiguration"]["MultiRegionKeyType"] != "PRIMARY":
    fail("not the primary: %r" % meta["MultiRegionConfiguration"])

step("encrypt in us-east-1")
blob = us.encrypt(KeyId=key_id, Plaintext=b"one key, two regions",
                  EncryptionContext={"purpose": "mrk"})["CiphertextBlob"]

step("replicate to eu-west-1")
rep = us.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1",
                       Description="replica",
                       Tags=[{"TagKey": "site", "TagValue": "dublin"}])
rmeta = rep["ReplicaKeyMetadata"]
if rmeta["KeyId"] != key_id or ":eu-west-1:" not in rmeta["Arn"]:
    fail("replica metadata %r" % rmeta)
if rmeta["MultiRegionConfiguration"]["MultiRegionKeyType"] != "REPLICA":
    fail("replica type %r" % rmeta["MultiRegionConfiguration"])
if rmeta["MultiRegionConfiguration"]["PrimaryKey"]["Arn"] != meta["Arn"]:
    fail("replica's primary %r" % rmeta["MultiRegionConfiguration"])
if rep["ReplicaTags"] != [{"TagKey": "site", "TagValue": "dublin"}] or not rep["ReplicaPolicy"]:
    fail("replica tags or policy %r" % rep)
expect_error("AlreadyExistsException", us.replicate_key, KeyId=key_id, ReplicaRegion="eu-west-1")

step("decrypt the us-east-1 ciphertext in eu-west-1")
out = eu.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "mrk"})
if out["Plaintext"] != b"one key, two regions" or out["KeyId"] != rmeta["Arn"]:
    fail("decrypt in eu-west-1: %r" % out)

step("each region lists its own keys")
eu_keys = [k["KeyId"] for k in eu.list_keys()["Keys"]]
if eu_keys != [key_id]:
    fail("eu-west-1 lists %r" % eu_keys)
us_keys = {k["KeyId"] for k in us.list_keys()["Keys"]}
if us_keys != {key_id, plain}:
    fail("us-east-1 lists %r" % us_keys)
expect_error("NotFoundException", eu.describe_key, KeyId=plain)

step("the primary describes its replica")
cfg = us.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
if [r["Region"] for r in cfg["ReplicaKeys"]] != ["eu-west-1"]:
    fail("ReplicaKeys %r" % cfg)

step("make eu-west-1 the primary")
us.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
cfg = eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
if cfg["MultiRegionKeyType"] != "PRIMARY" or cfg["PrimaryKey"]["Region"] != "eu-west-1":
    fail("after update_primary_region: %r" % cfg)
print("done", flush=True)
