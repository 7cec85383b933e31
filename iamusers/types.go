// Package iamusers manages per-user IAM identities: create, issue and rotate access keys,
// revoke (one or all at term end), crash-safely through intents written before each IAM
// call. The secret of a new key is returned once to its owner and never stored.
package iamusers

import "github.com/tollgate/tollgate"

// The types this package produces are defined in package tollgate, so that the CLI can
// decode them without linking this package.
type (
	Credentials = tollgate.Credentials
	Key         = tollgate.Key
	Identity    = tollgate.Identity
)
