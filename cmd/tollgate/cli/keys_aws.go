package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// KeysAWSCmd is `tollgate keys aws`: the daemon creates the caller's IAM identity if
// missing and a new access key, and this process, running as the caller, writes it into
// ~/.aws. The secret goes to the file only: never to the terminal, never to --json.
type KeysAWSCmd struct {
	Rotate bool `help:"Replace your current key: the new one is written and the old one deleted."`
}

// keysAWSResult is the --json document (no secret in it).
type keysAWSResult struct {
	User            string    `json:"user"`
	IAMUser         string    `json:"iam_user"`
	AccessKeyID     string    `json:"access_key_id"`
	Region          string    `json:"region"`
	CreatedAt       time.Time `json:"created_at"`
	Profile         string    `json:"profile"`
	CredentialsFile string    `json:"credentials_file"`
	ConfigFile      string    `json:"config_file"`
}

// Run asks for the key and saves it.
func (c *KeysAWSCmd) Run(env *Env) error {
	// The daemon shows a secret once: make sure it can be saved before asking for one.
	if err := checkAWSFiles(env.Home); err != nil {
		return err
	}
	creds, err := env.Client.AWSKey(env.Ctx, c.Rotate)
	if err != nil {
		return err
	}
	credPath, cfgPath, err := writeAWSFiles(env.Home, creds)
	creds.SecretAccessKey = ""
	if err != nil {
		return fmt.Errorf("access key %s was issued but could not be saved: %w; fix that and run 'tollgate keys aws --rotate'", creds.AccessKeyID, err)
	}
	if env.JSON {
		return printJSON(env.Out, keysAWSResult{
			User: creds.User, IAMUser: creds.IAMUser, AccessKeyID: creds.AccessKeyID, Region: creds.Region,
			CreatedAt: creds.CreatedAt, Profile: AWSProfile, CredentialsFile: credPath, ConfigFile: cfgPath,
		})
	}
	fmt.Fprintf(env.Out, "wrote access key %s of IAM user %s to profile [%s] in %s\n", creds.AccessKeyID, creds.IAMUser, AWSProfile, credPath)
	if creds.Region != "" {
		fmt.Fprintf(env.Out, "region %s in %s\n", creds.Region, cfgPath)
	}
	fmt.Fprintf(env.Out, "use it with: aws --profile %s ...  or  export AWS_PROFILE=%s\n", AWSProfile, AWSProfile)
	warnOtherAWSFiles(env, credPath, cfgPath)
	return nil
}

// warnOtherAWSFiles says when the environment points AWS tools at other files, where
// the new profile would not be seen.
func warnOtherAWSFiles(env *Env, credPath, cfgPath string) {
	for _, v := range []struct{ name, path string }{
		{"AWS_SHARED_CREDENTIALS_FILE", credPath},
		{"AWS_CONFIG_FILE", cfgPath},
	} {
		if p := os.Getenv(v.name); p != "" && filepath.Clean(p) != v.path {
			fmt.Fprintf(env.Err, "note: %s=%s, so AWS tools will not read %s\n", v.name, p, v.path)
		}
	}
}
