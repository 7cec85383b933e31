package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate"
)

// TestWriteFileSafe: report -o (both CLIs) writes a new 0600 file and refuses a
// symbolic link planted at the path, leaving its target untouched.
func TestWriteFileSafe(t *testing.T) {
	dir := t.TempDir()
	r := tollgate.Report{By: "user", Rows: []tollgate.ReportRow{{Key: "alice", Instances: 1}}}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("root's file"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "report.csv")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(&bytes.Buffer{}, link, r, FormatCSV, 0)
	if err == nil || !strings.Contains(err.Error(), link) {
		t.Errorf("symlink: got %v, want a refusal naming %s", err, link)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's file" {
		t.Errorf("the link's target was written: %q", b)
	}
	out := filepath.Join(dir, "new.csv")
	if err := WriteFile(&bytes.Buffer{}, out, r, FormatCSV, 0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new report: %v, mode %v, want 0600", err, fi.Mode())
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]os.FileMode{"": 0, "600": 0o600, "0640": 0o640} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "888", "1777", "rw-", "-1"} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q): got no error", in)
		}
	}
}
