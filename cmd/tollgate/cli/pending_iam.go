package cli

import "errors"

// TEMPORARY: the IAM engineer replaces these with keys_aws.go and admin_iam.go and
// deletes this file.

// KeysAWSCmd is `tollgate keys aws`.
type KeysAWSCmd struct {
	Rotate bool `help:"Replace your current key."`
}

// Run is not implemented yet.
func (c *KeysAWSCmd) Run(env *Env) error { return errors.New("keys aws: not implemented yet") }

// AdminIAMCmd is `tollgate admin iam`.
type AdminIAMCmd struct{}

// Run is not implemented yet.
func (c *AdminIAMCmd) Run(env *Env) error { return errors.New("admin iam: not implemented yet") }
