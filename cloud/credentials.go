package cloud

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Environment variables consulted before handing over to the SDK's own loading.
const (
	envEC2AccessKey = "EC2_ACCESS_KEY" // GBrowse's name for the access key id
	envEC2SecretKey = "EC2_SECRET_KEY" // GBrowse's name for the secret access key
)

// sdkCredentialEnv are the variables by which a user tells the SDK explicitly where its
// credentials are. When any is set the GBrowse variables are ignored, so an operator who
// exports AWS_* or picks a profile gets exactly what every AWS tool would use.
var sdkCredentialEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", // the SDK reads both
	"AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
}

// Credential sources, as logged at start-up.
const (
	sourceSDK     = "sdk"     // the SDK's default chain (env, profile, SSO, role)
	sourceProfile = "profile" // an explicitly configured shared-config profile
	sourceGBrowse = "ec2-env" // EC2_ACCESS_KEY / EC2_SECRET_KEY
	sourceAWSEnv  = "aws-env" // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
)

// credentialChoice is where New takes credentials from. provider is nil when the SDK's
// own chain decides. keyID is the access key id when known up front (never the secret).
type credentialChoice struct {
	source   string
	keyID    string
	provider aws.CredentialsProvider
}

// chooseCredentials decides between the SDK's standard chain and the GBrowse variables.
// getenv is os.Getenv outside tests.
func chooseCredentials(getenv func(string) string, profile string) (credentialChoice, error) {
	if profile != "" {
		return credentialChoice{source: sourceProfile}, nil
	}
	for _, k := range sdkCredentialEnv {
		if getenv(k) != "" {
			c := credentialChoice{source: sourceSDK}
			if id := firstSet(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"); id != "" {
				c.source, c.keyID = sourceAWSEnv, id
			}
			return c, nil
		}
	}
	id, secret := getenv(envEC2AccessKey), getenv(envEC2SecretKey)
	switch {
	case id == "" && secret == "":
		return credentialChoice{source: sourceSDK}, nil
	case id == "":
		return credentialChoice{}, errors.New("EC2_SECRET_KEY is set but EC2_ACCESS_KEY is not")
	case secret == "":
		return credentialChoice{}, errors.New("EC2_ACCESS_KEY is set but EC2_SECRET_KEY is not")
	}
	return credentialChoice{
		source:   sourceGBrowse,
		keyID:    id,
		provider: credentials.NewStaticCredentialsProvider(id, secret, ""),
	}, nil
}

// firstSet returns the value of the first variable that is set.
func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}
