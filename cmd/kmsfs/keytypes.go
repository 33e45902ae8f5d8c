package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmsfs/kmsfs/keyring"
)

// Commands for asymmetric, HMAC and imported keys: kmsfs sign, verify,
// mac, and kmsfs key public-key, import. Their --json output is AWS's
// response shape.

// canWrapDataKeys refuses, for kmsfs init, a key that cannot wrap file
// data keys.
func canWrapDataKeys(ref string, m keyring.KeyMetadata) error {
	if m.KeySpec == "SYMMETRIC_DEFAULT" && m.KeyUsage == "ENCRYPT_DECRYPT" {
		return nil
	}
	return fmt.Errorf("%w: key %s is %s %s; a volume needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key",
		keyring.ErrInvalidKeyUsage, ref, m.KeySpec, m.KeyUsage)
}

func extendKeyTypes(c *cli.Command) *cli.Command {
	c.Subcommands = append(c.Subcommands, publicKeyCommand(), keyImportCommand(), keyReplicateCommand())
	return c
}

// messageFlags are --message and --message-file.
func messageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "key", Usage: "the key (ID, ARN or alias)", Required: true},
		&cli.StringFlag{Name: "message", Usage: "the message, as text"},
		&cli.StringFlag{Name: "message-file", Usage: "read the message from `FILE`"},
	}
}

func message(c *cli.Context) ([]byte, error) {
	switch {
	case c.IsSet("message") == c.IsSet("message-file"):
		return nil, usageError{"give exactly one of --message and --message-file"}
	case c.IsSet("message"):
		return []byte(c.String("message")), nil
	}
	return os.ReadFile(c.String("message-file"))
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:  "sign",
		Usage: "sign a message with an asymmetric SIGN_VERIFY key (AWS KMS Sign)",
		UsageText: "kmsfs sign --key KEY --algorithm ALG (--message TEXT | --message-file FILE) [--message-type DIGEST]\n\n" +
			"Prints the signature in base64.\nExample: kmsfs sign --key alias/signing --algorithm ECDSA_SHA_256 --message hello",
		Flags: append(messageFlags(),
			&cli.StringFlag{Name: "algorithm", Usage: "SigningAlgorithm, e.g. RSASSA_PSS_SHA_256, ECDSA_SHA_256", Required: true},
			&cli.StringFlag{Name: "message-type", Usage: "RAW (default) or DIGEST"}),
		Action: serviceActionLocal(0, func(c *cli.Context, svc *service) (any, string, error) {
			a, err := roleOf[keyring.Asymmetric](svc, "asymmetric keys")
			if err != nil {
				return nil, "", err
			}
			msg, err := message(c)
			if err != nil {
				return nil, "", err
			}
			out, err := a.Sign(c.Context, &keyring.SignInput{KeyId: c.String("key"), Message: msg,
				MessageType: c.String("message-type"), SigningAlgorithm: c.String("algorithm")})
			if err != nil {
				return nil, "", err
			}
			return out, base64.StdEncoding.EncodeToString(out.Signature), nil
		}),
	}
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a signature with an asymmetric SIGN_VERIFY key (AWS KMS Verify)",
		UsageText: "kmsfs verify --key KEY --algorithm ALG --signature BASE64 (--message TEXT | --message-file FILE)\n\n" +
			"An invalid signature fails (KMSInvalidSignatureException).\n" +
			"Example: kmsfs verify --key alias/signing --algorithm ECDSA_SHA_256 --message hello --signature MEUCIQ...",
		Flags: append(messageFlags(),
			&cli.StringFlag{Name: "algorithm", Usage: "SigningAlgorithm", Required: true},
			&cli.StringFlag{Name: "signature", Usage: "the signature in base64", Required: true},
			&cli.StringFlag{Name: "message-type", Usage: "RAW (default) or DIGEST"}),
		Action: serviceActionLocal(0, func(c *cli.Context, svc *service) (any, string, error) {
			a, err := roleOf[keyring.Asymmetric](svc, "asymmetric keys")
			if err != nil {
				return nil, "", err
			}
			msg, err := message(c)
			if err != nil {
				return nil, "", err
			}
			sig, err := base64.StdEncoding.DecodeString(c.String("signature"))
			if err != nil {
				return nil, "", usageError{"--signature is not base64"}
			}
			out, err := a.Verify(c.Context, &keyring.VerifyInput{KeyId: c.String("key"), Message: msg, Signature: sig,
				MessageType: c.String("message-type"), SigningAlgorithm: c.String("algorithm")})
			if err != nil {
				return nil, "", err
			}
			return out, "signature is valid", nil
		}),
	}
}

func macCommand() *cli.Command {
	return &cli.Command{
		Name:  "mac",
		Usage: "compute or check an HMAC with a GENERATE_VERIFY_MAC key (AWS KMS GenerateMac, VerifyMac)",
		UsageText: "kmsfs mac --key KEY --algorithm ALG (--message TEXT | --message-file FILE) [--verify BASE64]\n\n" +
			"Prints the MAC in base64; with --verify, checks it instead (a wrong MAC fails with KMSInvalidMacException).\n" +
			"Example: kmsfs mac --key alias/hmac --algorithm HMAC_SHA_256 --message hello",
		Flags: append(messageFlags(),
			&cli.StringFlag{Name: "algorithm", Usage: "MacAlgorithm, e.g. HMAC_SHA_256", Required: true},
			&cli.StringFlag{Name: "verify", Usage: "check this MAC (base64)"}),
		Action: serviceActionLocal(0, macAction),
	}
}

func macAction(c *cli.Context, svc *service) (any, string, error) {
	m, err := roleOf[keyring.Macer](svc, "HMAC keys")
	if err != nil {
		return nil, "", err
	}
	msg, err := message(c)
	if err != nil {
		return nil, "", err
	}
	if c.IsSet("verify") {
		mac, err := base64.StdEncoding.DecodeString(c.String("verify"))
		if err != nil {
			return nil, "", usageError{"--verify is not base64"}
		}
		out, err := m.VerifyMac(c.Context, &keyring.VerifyMacInput{KeyId: c.String("key"), Message: msg, Mac: mac, MacAlgorithm: c.String("algorithm")})
		if err != nil {
			return nil, "", err
		}
		return out, "MAC is valid", nil
	}
	out, err := m.GenerateMac(c.Context, &keyring.GenerateMacInput{KeyId: c.String("key"), Message: msg, MacAlgorithm: c.String("algorithm")})
	if err != nil {
		return nil, "", err
	}
	return out, base64.StdEncoding.EncodeToString(out.Mac), nil
}

func publicKeyCommand() *cli.Command {
	return &cli.Command{
		Name:      "public-key",
		Usage:     "print an asymmetric key's public key (AWS KMS GetPublicKey), as PEM",
		UsageText: "kmsfs key public-key KEY\n\nExample: kmsfs key public-key alias/signing > signing.pem",
		Action: serviceActionLocal(1, func(c *cli.Context, svc *service) (any, string, error) {
			a, err := roleOf[keyring.Asymmetric](svc, "asymmetric keys")
			if err != nil {
				return nil, "", err
			}
			out, err := a.GetPublicKey(c.Context, &keyring.GetPublicKeyInput{KeyId: c.Args().First()})
			if err != nil {
				return nil, "", err
			}
			text := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: out.PublicKey})
			return out, string(text[:len(text)-1]), nil
		}),
	}
}

func keyImportCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "import key material into a key created with --origin EXTERNAL (BYOK)",
		UsageText: "kmsfs key import --material-file FILE [--valid-to RFC3339] KEY\n\n" +
			"Fetches a wrapping key (GetParametersForImport, RSA_4096 with RSAES_OAEP_SHA_256), wraps\n" +
			"the raw material of FILE with it and imports it (ImportKeyMaterial). Material wrapped\n" +
			"elsewhere (openssl, as AWS documents) goes through the AWS CLI or SDKs.\n" +
			"Example: kmsfs key import --material-file key.bin alias/byok",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "material-file", Usage: "the raw key material", Required: true},
			&cli.StringFlag{Name: "valid-to", Usage: "the material expires at this RFC 3339 time"},
		},
		Action: serviceActionLocal(1, keyImport),
	}
}

func keyImport(c *cli.Context, svc *service) (any, string, error) {
	imp, err := roleOf[keyring.Importer](svc, "imported key material")
	if err != nil {
		return nil, "", err
	}
	in := &keyring.ImportKeyMaterialInput{KeyId: c.Args().First()}
	if c.IsSet("valid-to") {
		t, err := time.Parse(time.RFC3339, c.String("valid-to"))
		if err != nil {
			return nil, "", usageError{"--valid-to is not an RFC 3339 time"}
		}
		in.ValidTo = &keyring.EpochTime{Time: t}
	}
	material, err := os.ReadFile(c.String("material-file"))
	if err != nil {
		return nil, "", err
	}
	defer clear(material)
	p, err := imp.GetParametersForImport(c.Context, &keyring.GetParametersForImportInput{KeyId: in.KeyId,
		WrappingAlgorithm: "RSAES_OAEP_SHA_256", WrappingKeySpec: "RSA_4096"})
	if err != nil {
		return nil, "", err
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	rsaPub, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok {
		return nil, "", fmt.Errorf("%w: the wrapping key is not an RSA public key", keyring.ErrInternal)
	}
	in.ImportToken = p.ImportToken
	in.EncryptedKeyMaterial, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, material, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: material of %d bytes does not fit RSAES_OAEP_SHA_256 (wrap it with openssl and the AWS CLI)",
			keyring.ErrValidation, len(material))
	}
	out, err := imp.ImportKeyMaterial(c.Context, in)
	if err != nil {
		return nil, "", err
	}
	return out, out.KeyId + ": key material imported", nil
}
