// Package iamusers manages per-user IAM identities: create, issue and rotate access keys,
// revoke (one or all at term end), crash-safely through intents written before each IAM
// call. The secret of a new key is returned once to its owner and never stored.
package iamusers

import "time"

// Credentials is a freshly created access key. SecretAccessKey is the one secret tollgate
// ever returns, once, to its owner; it is never stored, logged or audited.
type Credentials struct {
	User            string    `json:"user"`     // Unix user
	IAMUser         string    `json:"iam_user"` // e.g. tollgate-alice
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Region          string    `json:"region"`
	CreatedAt       time.Time `json:"created_at"`
}

// Key is an access key's public facts.
type Key struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"` // Active | Inactive
	CreatedAt time.Time `json:"created_at"`
}

// Identity is one user's IAM identity as `tollgate admin iam ls` shows it.
type Identity struct {
	User        string    `json:"user"`
	IAMUser     string    `json:"iam_user"`
	ARN         string    `json:"arn"`
	CreatedAt   time.Time `json:"created_at"`
	LastRotated time.Time `json:"last_rotated,omitempty"`
	Keys        []Key     `json:"keys"`
	State       string    `json:"state"` // active | creating | revoking | untracked | missing
}
