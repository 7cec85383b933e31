package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SSHKey is a user's SSH public key as stored (authorized_keys line and SHA256
// fingerprint). A private key is never stored.
type SSHKey struct {
	User        string
	PublicKey   string
	Fingerprint string
	UpdatedAt   time.Time
}

// GetSSHKey reads a user's key; ok is false if they have none.
func (d *DB) GetSSHKey(ctx context.Context, user string) (k SSHKey, ok bool, err error) {
	var at string
	err = queryRowContext(ctx, d, `SELECT user, public_key, fingerprint, updated_at FROM ssh_keys WHERE user = ?`, user).
		Scan(&k.User, &k.PublicKey, &k.Fingerprint, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return SSHKey{}, false, nil
	}
	if err != nil {
		return SSHKey{}, false, fmt.Errorf("read ssh key of %s: %w", user, err)
	}
	k.UpdatedAt, _ = ParseTime(at)
	return k, true, nil
}

// PutSSHKey stores (or replaces) a user's key. The regions' keypairs are re-imported
// lazily: their recorded fingerprints no longer match.
func (d *DB) PutSSHKey(ctx context.Context, k SSHKey) error {
	_, err := d.ExecContext(ctx, `INSERT INTO ssh_keys(user, public_key, fingerprint, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(user) DO UPDATE SET public_key = excluded.public_key, fingerprint = excluded.fingerprint,
		updated_at = excluded.updated_at`, k.User, k.PublicKey, k.Fingerprint, Time(k.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store ssh key of %s: %w", k.User, err)
	}
	return nil
}

// KeyImport returns the fingerprint of the key last imported as the keypair name (a
// user's keypair is named after the user) in region; ok is false if none was.
func (d *DB) KeyImport(ctx context.Context, name, region string) (fingerprint string, ok bool, err error) {
	err = d.QueryRowContext(ctx, `SELECT fingerprint FROM keypair_imports WHERE name = ? AND region = ?`, name, region).Scan(&fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read keypair import of %s in %s: %w", name, region, err)
	}
	return fingerprint, true, nil
}

// PutKeyImport records that the key with fingerprint is the keypair name in region.
func (d *DB) PutKeyImport(ctx context.Context, name, region, fingerprint string, at time.Time) error {
	_, err := d.ExecContext(ctx, `INSERT INTO keypair_imports(name, region, fingerprint, imported_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(name, region) DO UPDATE SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at`,
		name, region, fingerprint, Time(at))
	if err != nil {
		return fmt.Errorf("record keypair import of %s in %s: %w", name, region, err)
	}
	return nil
}

// DeleteKeyImport forgets the import of keypair name in region (after it was deleted in
// the cloud), so the next launch imports it again.
func (d *DB) DeleteKeyImport(ctx context.Context, name, region string) error {
	if _, err := d.ExecContext(ctx, `DELETE FROM keypair_imports WHERE name = ? AND region = ?`, name, region); err != nil {
		return fmt.Errorf("forget keypair import of %s in %s: %w", name, region, err)
	}
	return nil
}
