package db

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestStatementsClosedWithDB: a DB's cached statements go with it, so a process that
// opens many databases (tests, `tollgated dev` restarts) does not keep them all.
func TestStatementsClosedWithDB(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Holdings(ctx, d, "alice"); err != nil {
		t.Fatalf("Holdings: %v", err)
	}
	n := 0
	d.stmts.stmts.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		t.Fatalf("no statement cached after a read through the pool")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	n = 0
	d.stmts.stmts.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d statements left after Close, want 0", n)
	}
}

// TestOpenCreatesNoDirectory: the directory is the caller's (PrepareDir checks it).
func TestOpenCreatesNoDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	d, err := Open(context.Background(), filepath.Join(dir, "tollgate.db"))
	if err == nil {
		d.Close()
		t.Fatalf("Open in a missing directory succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created %s (stat err %v)", dir, err)
	}
}
