package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInstancePacksMigration checks migration 0007 on a database that 0006 left with
// data: every instance's packed periods and volumes equal its rows afterwards, the
// volumes survive their table's rebuild, and later writes keep the packs equal.
func TestInstancePacksMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	maxMigration = 6
	d, err := Open(ctx, path)
	maxMigration = int(^uint(0) >> 1)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(d *DB, q string, args ...any) {
		t.Helper()
		if _, err := d.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 3 {
		id := fmt.Sprintf("i-%017x", i+1)
		exec(d, `INSERT INTO instances(id, region, type, state, launched_at, last_seen) VALUES (?, 'us-west-2', 't3.micro', 'running', ?, ?)`,
			id, Time(d.Now()), Time(d.Now()))
		for k := range i + 1 {
			exec(d, `INSERT INTO acct_periods(instance_id, region, az, type, start_s, end_s) VALUES (?, 'us-west-2', 'us-west-2a', 't3.micro', ?, ?)`,
				id, 1000*k+1, 1000*k+500)
		}
		exec(d, `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s) VALUES (?, ?, 'us-west-2', 'gp3', 8, 1)`,
			"vol-"+id[2:], id)
	}
	// A period recorded before its instance row exists.
	exec(d, `INSERT INTO acct_periods(instance_id, region, az, type, start_s) VALUES ('i-00000000000000009', 'us-west-2', 'us-west-2a', 'm5.large', 7)`)
	d.Close()

	d, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer d.Close()
	check := func(when string) {
		t.Helper()
		rows, err := d.QueryContext(ctx, `SELECT i.id, i.pack_periods, i.pack_volumes,
			coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || spot || ',' || type || ',' || az, ';')
				FROM acct_periods WHERE instance_id = i.id), ''),
			coalesce((SELECT group_concat(start_s || ',' || coalesce(end_s, 0) || ',' || estimated || ',' || size_gb || ',' || type, ';')
				FROM acct_volumes WHERE instance_id = i.id), '')
			FROM instances i`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var id, pp, pv, wp, wv string
			if err := rows.Scan(&id, &pp, &pv, &wp, &wv); err != nil {
				t.Fatal(err)
			}
			n++
			if !sameItems(pp, wp) || !sameItems(pv, wv) {
				t.Errorf("%s: %s packs (%q, %q), rows (%q, %q)", when, id, pp, pv, wp, wv)
			}
			if wv == "" && id != "i-00000000000000009" {
				t.Errorf("%s: %s lost its volume", when, id)
			}
		}
		if n < 3 {
			t.Fatalf("%s: %d instances, want at least 3", when, n)
		}
	}
	check("after migration")
	exec(d, `INSERT INTO instances(id, region, type, state, launched_at, last_seen) VALUES ('i-00000000000000009', 'us-west-2', 'm5.large', 'running', ?, ?)`,
		Time(d.Now()), Time(d.Now()))
	check("after the late instance row")
	exec(d, `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s) VALUES ('vol-9', 'i-00000000000000009', 'us-west-2', 'gp3', 8, 7)`)
	exec(d, `INSERT INTO acct_volumes(volume_id, instance_id, region, type, size_gb, start_s) VALUES ('vol-9b', 'i-00000000000000009', 'us-west-2', 'gp3', 8, 7)`)
	exec(d, `UPDATE acct_periods SET end_s = 9000, end_how = 'reason' WHERE instance_id = 'i-00000000000000009'`)
	exec(d, `DELETE FROM acct_periods WHERE instance_id = 'i-00000000000000003' AND start_s = 1`)
	exec(d, `UPDATE acct_volumes SET end_s = 600 WHERE instance_id = 'i-00000000000000001'`)
	check("after later writes")
}

// sameItems reports whether two packs hold the same items, in any order.
func sameItems(a, b string) bool {
	x, y := strings.Split(a, ";"), strings.Split(b, ";")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// A database a newer release migrated is refused with the versions named, and nothing
// is written to it; this release's own database reopens.
func TestNewerSchemaRefused(t *testing.T) { eachEngine(t, testNewerSchemaRefused) }

func testNewerSchemaRefused(t *testing.T, engine Engine) {
	ctx := context.Background()
	path := testTarget(t, engine)
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	migs, err := d.Migrations(ctx)
	if err != nil || len(migs) == 0 {
		t.Fatalf("migrations = %v, %v", migs, err)
	}
	known := migs[len(migs)-1].Version
	if _, err := d.ExecContext(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, 'from-the-future.sql', '2027-01-01T00:00:00Z')`, known+1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d, this tollgated knows up to %d", known+1, known)) {
		t.Fatalf("open of a newer schema: %v", err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	after, err := ro.Migrations(ctx)
	if err != nil || len(after) != len(migs)+1 {
		t.Fatalf("after the refusal: %d migrations, %v; want %d", len(after), err, len(migs)+1)
	}
}
