"""The AWS KMS tutorials for key types other than symmetric encryption keys,
with boto3, unchanged but for the endpoint (passed explicitly, as boto3
older than 1.28 ignores AWS_ENDPOINT_URL) and the credentials, which come
from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION):

- an RSA_2048 SIGN_VERIFY key: sign a message, verify it, get its public key;
- an ECC_NIST_P256 SIGN_VERIFY key: the same;
- an RSA_2048 ENCRYPT_DECRYPT key: RSAES_OAEP_SHA_256 encrypt and decrypt,
  also with the public key outside KMS;
- an HMAC_256 key: GenerateMac and VerifyMac (a wrong MAC is
  KMSInvalidMacException);
- GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext;
- importing key material (BYOK): CreateKey with Origin EXTERNAL,
  GetParametersForImport, the material wrapped with RSAES-OAEP SHA-256 by
  the `cryptography` module (where AWS's documentation uses openssl),
  ImportKeyMaterial, encrypt and decrypt, and a ciphertext made with the
  material outside KMS that KMS cannot be fooled by.

Usage: keytypes_boto3.py
Prints one line per step, and "result: " JSON lines the Go test checks
with its own crypto and openssl (key IDs, public keys, messages and
signatures in hex); exits non-zero, naming the step, at the first one that
does not behave as AWS KMS does. integration/TestKeyTypesTutorials runs it
against `kmsfs serve`.
"""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def step(name):
    print("step:", name, flush=True)


def result(kind, **kw):
    kw = {k: v.hex() if isinstance(v, bytes) else v for k, v in kw.items()}
    print("result:", json.dumps(dict(kind=kind, **kw)), flush=True)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit(f"expected {code}, got {got}: {e}")
        return
    sys.exit(f"expected {code}, the call succeeded")


message = b"Hello, World! The tutorial's message to sign."

for spec, alg in (("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256")):
    step(f"create a {spec} SIGN_VERIFY key")
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY", Description=f"{spec} signing key")["KeyMetadata"]
    key_id = md["KeyId"]
    assert md["KeySpec"] == spec and md["KeyUsage"] == "SIGN_VERIFY", md
    assert alg in md["SigningAlgorithms"] and "EncryptionAlgorithms" not in md, md
    kms.create_alias(AliasName=f"alias/{spec.lower()}-signing", TargetKeyId=key_id)

    step(f"{spec}: sign a message")
    out = kms.sign(KeyId=f"alias/{spec.lower()}-signing", Message=message, MessageType="RAW", SigningAlgorithm=alg)
    sig = out["Signature"]
    assert out["SigningAlgorithm"] == alg and out["KeyId"].endswith(key_id), out

    step(f"{spec}: verify it")
    out = kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=sig, SigningAlgorithm=alg)
    assert out["SignatureValid"] is True, out
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=key_id, Message=message + b"!",
                 MessageType="RAW", Signature=sig, SigningAlgorithm=alg)

    step(f"{spec}: sign a digest")
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    digest = digest.finalize()
    dsig = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=alg)["Signature"]
    assert kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=dsig,
                      SigningAlgorithm=alg)["SignatureValid"]

    step(f"{spec}: get its public key and verify the signature outside KMS")
    pub = kms.get_public_key(KeyId=key_id)
    assert pub["KeySpec"] == spec and pub["KeyUsage"] == "SIGN_VERIFY" and alg in pub["SigningAlgorithms"], pub
    pk = serialization.load_der_public_key(pub["PublicKey"])
    if spec.startswith("RSA"):
        pk.verify(sig, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        pk.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    result("signature", spec=spec, key_id=key_id, algorithm=alg, public_key=pub["PublicKey"], message=message, signature=sig)

    step(f"{spec}: wrong usage")
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=key_id, Plaintext=b"x")

step("create an RSA_2048 ENCRYPT_DECRYPT key")
md = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
rsa_id = md["KeyId"]
assert md["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"], md

step("RSAES_OAEP_SHA_256: encrypt and decrypt")
blob = kms.encrypt(KeyId=rsa_id, Plaintext=b"asymmetric secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
assert len(blob) == 256, len(blob)
out = kms.decrypt(KeyId=rsa_id, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
assert out["Plaintext"] == b"asymmetric secret" and out["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256", out
expect_error("InvalidCiphertextException", kms.decrypt, KeyId=rsa_id, CiphertextBlob=blob,
             EncryptionAlgorithm="RSAES_OAEP_SHA_1")

step("RSAES_OAEP_SHA_256: encrypt outside KMS with the public key, decrypt in KMS")
pk = serialization.load_der_public_key(kms.get_public_key(KeyId=rsa_id)["PublicKey"])
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
outside = pk.encrypt(b"encrypted offline", oaep)
assert kms.decrypt(KeyId=rsa_id, CiphertextBlob=outside, EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == \
    b"encrypted offline"

step("RSAES_OAEP_SHA_256: 190 bytes fit a 2048-bit key, 191 do not")
kms.encrypt(KeyId=rsa_id, Plaintext=b"x" * 190, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
expect_error("ValidationException", kms.encrypt, KeyId=rsa_id, Plaintext=b"x" * 191,
             EncryptionAlgorithm="RSAES_OAEP_SHA_256")

step("create an HMAC_256 key")
md = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
hmac_id = md["KeyId"]
assert md["MacAlgorithms"] == ["HMAC_SHA_256"], md

step("GenerateMac and VerifyMac")
mac = kms.generate_mac(KeyId=hmac_id, Message=message, MacAlgorithm="HMAC_SHA_256")
assert len(mac["Mac"]) == 32 and mac["MacAlgorithm"] == "HMAC_SHA_256", mac
out = kms.verify_mac(KeyId=hmac_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"])
assert out["MacValid"] is True, out
wrong = bytes([mac["Mac"][0] ^ 1]) + mac["Mac"][1:]
expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=hmac_id, Message=message,
             MacAlgorithm="HMAC_SHA_256", Mac=wrong)
expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=rsa_id, Message=message, MacAlgorithm="HMAC_SHA_256")

step("GenerateDataKeyPair")
sym_id = kms.create_key()["KeyMetadata"]["KeyId"]
ctx = {"purpose": "data key pair"}
pair = kms.generate_data_key_pair(KeyId=sym_id, KeyPairSpec="ECC_NIST_P256", EncryptionContext=ctx)
priv = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
assert priv.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) == pair["PublicKey"]
assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == \
    pair["PrivateKeyPlaintext"]
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=pair["PrivateKeyCiphertextBlob"])

step("GenerateDataKeyPairWithoutPlaintext")
pair = kms.generate_data_key_pair_without_plaintext(KeyId=sym_id, KeyPairSpec="RSA_2048")
assert "PrivateKeyPlaintext" not in pair and pair["KeyPairSpec"] == "RSA_2048", pair
der = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"]
priv = serialization.load_der_private_key(der, password=None)
assert priv.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) == pair["PublicKey"]

step("BYOK: create a key with Origin EXTERNAL")
md = kms.create_key(Origin="EXTERNAL", Description="imported material")["KeyMetadata"]
byok_id = md["KeyId"]
assert md["KeyState"] == "PendingImport" and md["Origin"] == "EXTERNAL", md
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=byok_id, Plaintext=b"x")

step("BYOK: GetParametersForImport")
params = kms.get_parameters_for_import(KeyId=byok_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                       WrappingKeySpec="RSA_2048")
wrapping = serialization.load_der_public_key(params["PublicKey"])
assert wrapping.key_size == 2048 and params["ParametersValidTo"] is not None, params

step("BYOK: wrap the key material (RSAES-OAEP SHA-256, as openssl pkeyutl does in the guide) and import it")
material = os.urandom(32)
encrypted = wrapping.encrypt(material, oaep)
kms.import_key_material(KeyId=byok_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=encrypted,
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
md = kms.describe_key(KeyId=byok_id)["KeyMetadata"]
assert md["KeyState"] == "Enabled" and md["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE", md
expect_error("InvalidImportTokenException", kms.import_key_material, KeyId=byok_id, ImportToken=b"0" * 32,
             EncryptedKeyMaterial=encrypted, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")

step("BYOK: encrypt and decrypt with the imported material")
blob = kms.encrypt(KeyId=byok_id, Plaintext=b"byok secret", EncryptionContext=ctx)["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"byok secret"

step("BYOK: delete the material and import it again")
kms.delete_imported_key_material(KeyId=byok_id)
assert kms.describe_key(KeyId=byok_id)["KeyMetadata"]["KeyState"] == "PendingImport"
expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob, EncryptionContext=ctx)
params = kms.get_parameters_for_import(KeyId=byok_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                       WrappingKeySpec="RSA_2048")
wrapping = serialization.load_der_public_key(params["PublicKey"])
kms.import_key_material(KeyId=byok_id, ImportToken=params["ImportToken"],
                        EncryptedKeyMaterial=wrapping.encrypt(material, oaep),
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"byok secret"

step("BYOK: an imported ECC_NIST_P256 signing key made outside KMS")
ecc = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
params = kms.get_parameters_for_import(KeyId=ecc, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
mine = ec.generate_private_key(ec.SECP256R1())
pkcs8 = mine.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
wrapping = serialization.load_der_public_key(params["PublicKey"])
kms.import_key_material(KeyId=ecc, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapping.encrypt(pkcs8, oaep),
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
sig = kms.sign(KeyId=ecc, Message=message, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
mine.public_key().verify(sig, message, ec.ECDSA(hashes.SHA256()))

step("rotation of asymmetric and HMAC keys is refused, as AWS does")
expect_error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=rsa_id)
expect_error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=hmac_id)

print("done", flush=True)
