// Package sigv4 authenticates HTTP requests signed with AWS Signature
// Version 4, as the AWS SDKs, boto3 and the aws command line sign every call
// to a KMS endpoint.
//
// # What it owns
//
// [Verifier.Verify] decides whether a request, whose body the caller has
// already read, carries a valid SigV4 Authorization header from an access
// key that a [LookupFunc] knows and has not disabled, and returns the
// [keyring.Principal] the key acts as. It checks the header's shape, the
// X-Amz-Date clock skew (15 minutes either way, as AWS), the credential
// scope (algorithm, date, service, region, terminator) and then the
// signature itself.
//
// The signature is not checked by code of ours: Verify rebuilds a copy of
// the request that holds only the headers the client listed in
// SignedHeaders, signs it again with aws-sdk-go-v2's signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4) at the request's X-Amz-Date,
// and compares the two signatures in constant time. It also requires the
// signer to have signed exactly the client's SignedHeaders list, so that a
// header the SDK signer treats specially (User-Agent, a zero Content-Length)
// cannot make two different canonical requests look alike; such requests
// are refused rather than guessed at. The body is always hashed as read:
// the X-Amz-Content-Sha256 shortcut of S3 is not honoured, so an unsigned
// payload never verifies.
//
// [NewAccessKey] and [ValidAccessKeyID] make and check AWS-shaped access
// key IDs and secrets for whoever stores them.
//
// # What it refuses
//
// It stores no keys ([LookupFunc] is the storage's), decides no
// authorization (that is a [keyring.Authorizer]'s job once the principal is
// known) and serves no HTTP: the transport reads the body, calls Verify, and
// writes the refusal with the exception name and status of [ExceptionOf].
//
// # Refusals
//
// Each refusal is an [*Error] wrapping one sentinel, named and worded as
// AWS's JSON-protocol services (KMS, DynamoDB) answer the same failure
// (AWS General Reference, "Signature Version 4 signing process" and the
// "Common Errors" of the KMS API Reference; messages as AWS SDKs report
// them). Those services answer 400 for all of them; REST-style AWS
// services answer 403 for some. Messages never repeat the signature or
// the secret, unlike AWS's IncompleteSignature texts, which echo the whole
// Authorization header.
//
// kmsfs access keys have no session tokens, so a request that carries
// X-Amz-Security-Token is refused as UnrecognizedClientException, the
// answer AWS gives for a token it does not know. A disabled access key is
// refused exactly as an unknown one, as AWS treats an inactive key, so the
// answer does not reveal which key IDs exist.
package sigv4
