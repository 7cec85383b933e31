package cli

import (
	"errors"
	"path/filepath"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/fsafe"
)

// AWS shared files the CLI writes, as the user, under $HOME.
const (
	AWSDir          = ".aws"
	AWSCredentials  = "credentials"
	AWSConfig       = "config"
	AWSProfile      = "tollgate"         // [tollgate] in credentials
	awsConfigHeader = "profile tollgate" // [profile tollgate] in config
	maxAWSFile      = 1 << 20
)

// openAWSDir opens home/.aws, creating it 0700 if missing (fsafe.OpenPrivateDir: it
// refuses a symlink, a directory owned by someone else, and one that others can write
// to). Files in it are read and replaced through its descriptor.
func openAWSDir(home string) (*fsafe.Dir, error) {
	if home == "" {
		return nil, errors.New("cannot find your home directory (set HOME)")
	}
	return fsafe.OpenPrivateDir(filepath.Join(home, AWSDir))
}

// checkAWSFiles makes sure the credentials can be saved before a key is asked for: the
// daemon shows a secret only once.
func checkAWSFiles(home string) error {
	f, err := openAWSDir(home)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, name := range []string{AWSCredentials, AWSConfig} {
		if _, _, err := f.ReadFile(name, maxAWSFile); err != nil {
			return err
		}
	}
	return nil
}

// writeAWSFiles writes profile [tollgate] into ~/.aws/credentials (always mode 0600) and
// [profile tollgate] with the region into ~/.aws/config (its mode kept, 0600 when new),
// leaving every other profile byte for byte. It returns the two paths.
func writeAWSFiles(home string, c tollgate.Credentials) (credPath, cfgPath string, err error) {
	f, err := openAWSDir(home)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	creds, _, err := f.ReadFile(AWSCredentials, maxAWSFile)
	if err != nil {
		return "", "", err
	}
	cfg, cfgMode, err := f.ReadFile(AWSConfig, maxAWSFile)
	if err != nil {
		return "", "", err
	}
	if cfgMode == 0 {
		cfgMode = 0o600
	}
	creds = setINISection(creds, AWSProfile, "["+AWSProfile+"]", []string{
		"aws_access_key_id = " + c.AccessKeyID,
		"aws_secret_access_key = " + c.SecretAccessKey,
	})
	if err := f.Replace(AWSCredentials, creds, 0o600); err != nil {
		return "", "", err
	}
	var body []string
	if c.Region != "" {
		body = append(body, "region = "+c.Region)
	}
	cfg = setINISection(cfg, awsConfigHeader, "["+awsConfigHeader+"]", body)
	if err := f.Replace(AWSConfig, cfg, cfgMode); err != nil {
		return "", "", err
	}
	return filepath.Join(f.Path(), AWSCredentials), filepath.Join(f.Path(), AWSConfig), nil
}
