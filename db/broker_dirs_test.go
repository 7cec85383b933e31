package db

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDBFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.db")
	if err := CheckDBFiles(path); err != nil {
		t.Errorf("absent files: got %v, want no error", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckDBFiles(path); err != nil {
		t.Errorf("a regular file: got %v, want no error", err)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), path+"-wal"); err != nil {
		t.Fatal(err)
	}
	if err := CheckDBFiles(path); err == nil || !strings.Contains(err.Error(), "-wal is not a regular file") {
		t.Errorf("a linked -wal: got %v, want a refusal", err)
	}
}
