package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// IAM identity states.
const (
	IAMCreating = "creating" // intent written, CreateUser may or may not have happened
	IAMActive   = "active"
	IAMRevoking = "revoking" // revocation started; start-up finishes it
)

// IAMIdentity is one user's IAM identity record (never a secret).
type IAMIdentity struct {
	User        string
	IAMUser     string
	ARN         string
	State       string
	CreatedAt   time.Time
	LastRotated time.Time
	UpdatedAt   time.Time
}

// IAMKey is an access key's id and status, as a key intent remembers it.
type IAMKey struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// IAMKeyIntent is a CreateAccessKey in flight.
type IAMKeyIntent struct {
	ID        int64
	User      string
	IAMUser   string
	Rotate    bool
	PriorKeys []IAMKey
	NewKey    string
	CreatedAt time.Time
}

const iamIdentityCols = `user, iam_user, arn, state, created_at, last_rotated, updated_at`

func scanIAMIdentity(sc Scanner) (IAMIdentity, error) {
	var r IAMIdentity
	var created, rotated, updated string
	if err := sc.Scan(&r.User, &r.IAMUser, &r.ARN, &r.State, &created, &rotated, &updated); err != nil {
		return IAMIdentity{}, err
	}
	var err1, err2, err3 error
	r.CreatedAt, err1 = ParseTime(created)
	r.LastRotated, err2 = ParseTime(rotated)
	r.UpdatedAt, err3 = ParseTime(updated)
	if err := errors.Join(err1, err2, err3); err != nil {
		return IAMIdentity{}, fmt.Errorf("iam identity %s: %w", r.User, err)
	}
	return r, nil
}

// GetIAMIdentity reads user's identity through q (nil: the database); found is false when
// there is none.
func (d *DB) GetIAMIdentity(ctx context.Context, q Querier, user string) (r IAMIdentity, found bool, err error) {
	if q == nil {
		q = d
	}
	r, err = scanIAMIdentity(q.QueryRowContext(ctx, `SELECT `+iamIdentityCols+` FROM iam_identities WHERE user = ?`, user))
	if errors.Is(err, sql.ErrNoRows) {
		return IAMIdentity{}, false, nil
	}
	if err != nil {
		return IAMIdentity{}, false, fmt.Errorf("get iam identity %s: %w", user, err)
	}
	return r, true, nil
}

// ListIAMIdentities returns every identity record, by user.
func (d *DB) ListIAMIdentities(ctx context.Context) ([]IAMIdentity, error) {
	rows, err := d.QueryContext(ctx, `SELECT `+iamIdentityCols+` FROM iam_identities ORDER BY user`)
	return scanAll("list iam identities", rows, err, scanIAMIdentity)
}

// PutIAMIdentity inserts or replaces user's identity record. UpdatedAt zero means d.Now().
func (d *DB) PutIAMIdentity(ctx context.Context, q Querier, r IAMIdentity) error {
	if q == nil {
		q = d
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = d.Now()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = r.UpdatedAt
	}
	_, err := q.ExecContext(ctx, `INSERT INTO iam_identities (`+iamIdentityCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(user) DO UPDATE SET iam_user = excluded.iam_user, arn = excluded.arn, state = excluded.state,
			created_at = excluded.created_at, last_rotated = excluded.last_rotated, updated_at = excluded.updated_at`,
		r.User, r.IAMUser, r.ARN, r.State, Time(r.CreatedAt), Time(r.LastRotated), Time(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put iam identity %s: %w", r.User, err)
	}
	return nil
}

// DeleteIAMIdentity removes user's identity record and its key intents.
func (d *DB) DeleteIAMIdentity(ctx context.Context, q Querier, user string) error {
	if q == nil {
		q = d
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM iam_key_intents WHERE user = ?`, user); err != nil {
		return fmt.Errorf("delete iam key intents of %s: %w", user, err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM iam_identities WHERE user = ?`, user); err != nil {
		return fmt.Errorf("delete iam identity %s: %w", user, err)
	}
	return nil
}

// InsertIAMKeyIntent records a CreateAccessKey about to be called; it returns the intent id.
func (d *DB) InsertIAMKeyIntent(ctx context.Context, q Querier, in IAMKeyIntent) (int64, error) {
	if q == nil {
		q = d
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = d.Now()
	}
	prior := in.PriorKeys
	if prior == nil {
		prior = []IAMKey{}
	}
	js, err := json.Marshal(prior)
	if err != nil {
		return 0, fmt.Errorf("iam key intent: %w", err)
	}
	rotate := 0
	if in.Rotate {
		rotate = 1
	}
	var id int64
	err = q.QueryRowContext(ctx, `INSERT INTO iam_key_intents (user, iam_user, rotate, prior_keys, new_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, in.User, in.IAMUser, rotate, string(js), in.NewKey, Time(in.CreatedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert iam key intent for %s: %w", in.IAMUser, err)
	}
	return id, nil
}

// SetIAMKeyIntentKey records the access key id CreateAccessKey returned.
func (d *DB) SetIAMKeyIntentKey(ctx context.Context, id int64, keyID string) error {
	if _, err := d.ExecContext(ctx, `UPDATE iam_key_intents SET new_key = ? WHERE id = ?`, keyID, id); err != nil {
		return fmt.Errorf("update iam key intent %d: %w", id, err)
	}
	return nil
}

// DeleteIAMKeyIntent removes a settled intent.
func (d *DB) DeleteIAMKeyIntent(ctx context.Context, q Querier, id int64) error {
	if q == nil {
		q = d
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM iam_key_intents WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete iam key intent %d: %w", id, err)
	}
	return nil
}

// ListIAMKeyIntents returns every unsettled key intent, oldest first.
func (d *DB) ListIAMKeyIntents(ctx context.Context) ([]IAMKeyIntent, error) {
	rows, err := d.QueryContext(ctx, `SELECT id, user, iam_user, rotate, prior_keys, new_key, created_at
		FROM iam_key_intents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list iam key intents: %w", err)
	}
	defer rows.Close()
	var out []IAMKeyIntent
	for rows.Next() {
		var in IAMKeyIntent
		var rotate int
		var prior, created string
		if err := rows.Scan(&in.ID, &in.User, &in.IAMUser, &rotate, &prior, &in.NewKey, &created); err != nil {
			return nil, fmt.Errorf("list iam key intents: %w", err)
		}
		in.Rotate = rotate != 0
		if err := json.Unmarshal([]byte(prior), &in.PriorKeys); err != nil {
			return nil, fmt.Errorf("iam key intent %d: prior keys: %w", in.ID, err)
		}
		if in.CreatedAt, err = ParseTime(created); err != nil {
			return nil, fmt.Errorf("iam key intent %d: %w", in.ID, err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
