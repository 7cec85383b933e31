package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/db"
)

// `tollgated migrate` creates and migrates the database, lists the migrations, says the
// version; after a newer release's migration it refuses, naming both versions.
func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db", "tollgate.db")
	cfgPath := filepath.Join(dir, "tollgate.toml")
	cfg := fmt.Sprintf("[broker]\ndatabase = %q\n\n[aws]\nregions = [\"us-west-2\"]\nendpoint_url = \"http://127.0.0.1:1\"\n", dbPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, "--config", cfgPath, "migrate")
	if code != ExitOK || !strings.Contains(stdout, "0001_") || !strings.Contains(stdout, dbPath+" is at schema version ") {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	migs, _ := d.Migrations(ctx)
	last := migs[len(migs)-1].Version
	if _, err := d.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 'next.sql', '2027-01-01T00:00:00Z')`, last+1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	code, _, stderr = runMain(t, "--config", cfgPath, "migrate")
	if code != ExitFailure || !strings.Contains(stderr, fmt.Sprintf("schema version %d, this tollgated knows up to %d", last+1, last)) {
		t.Errorf("migrate of a newer schema: exit %d, stderr %q", code, stderr)
	}
}
