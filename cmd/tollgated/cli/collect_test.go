package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
)

// TestCollectRegions: `tollgated collect` scans the regions the daemon does
// (config.AllRegions), here every configured region although the default policy allows
// only one. (Validation already refuses a policy region outside aws.regions, so for a
// file-loaded configuration the union is aws.regions.)
func TestCollectRegions(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTCOLLECT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	_, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tollgate.toml")
	cfg := fmt.Sprintf(`[broker]
database = %q

[aws]
regions = ["us-west-2", "us-east-1"]
endpoint_url = %q

[policy.default]
regions = ["us-west-2"]
`, filepath.Join(dir, "db", "tollgate.db"), url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, "--config", cfgPath, "collect", "--json")
	if code != ExitOK {
		t.Fatalf("collect: exit %d, stderr %q", code, stderr)
	}
	var res accounting.CollectResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("collect --json: %v in %q", err, stdout)
	}
	var got []string
	for _, r := range res.Regions {
		got = append(got, r.Region)
	}
	slices.Sort(got)
	if want := []string{"us-east-1", "us-west-2"}; !slices.Equal(got, want) {
		t.Errorf("collected regions %v, want %v", got, want)
	}
}

// TestCollectChecksDatabaseDir: `tollgated collect` refuses a database directory others
// can write, as the daemon does, instead of opening (and creating files in) it.
func TestCollectChecksDatabaseDir(t *testing.T) {
	dir := t.TempDir()
	dbDir := filepath.Join(dir, "db")
	if err := os.Mkdir(dbDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dbDir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tollgate.toml")
	cfg := fmt.Sprintf("[broker]\ndatabase = %q\n\n[aws]\nregions = [\"us-west-2\"]\nendpoint_url = \"http://127.0.0.1:1\"\n",
		filepath.Join(dbDir, "tollgate.db"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain(t, "--config", cfgPath, "collect")
	if code != ExitFailure || !strings.Contains(stderr, "writable by group or others") {
		t.Errorf("collect: exit %d, stderr %q; want exit 1 naming the writable directory", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dbDir, "tollgate.db")); err == nil {
		t.Errorf("collect created the database in a refused directory")
	}
}
