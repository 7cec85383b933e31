package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tollgate/tollgate"
)

var testCreds = tollgate.Credentials{
	User: "alice", IAMUser: "tollgate-alice", AccessKeyID: "AKIATESTNEW0000000001",
	SecretAccessKey: "s3cr3t/NEW+key0000000000000000000000000", Region: "us-west-2",
}

const (
	otherCreds  = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = keep-me\n\n[tollgate]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old-secret\n\n# personal\n[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = work-secret\n"
	otherConfig = "[default]\nregion = eu-west-1\n\n[profile work]\nregion = us-east-2\noutput = table\n"
)

// wantCredsFile is otherCreds with only the [tollgate] section replaced.
var wantCredsFile = strings.Replace(otherCreds, "aws_access_key_id = AKIAOLD\naws_secret_access_key = old-secret\n",
	"aws_access_key_id = "+testCreds.AccessKeyID+"\naws_secret_access_key = "+testCreds.SecretAccessKey+"\n", 1)

const wantConfigFile = otherConfig + "\n[profile tollgate]\nregion = us-west-2\n"

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkMode fails unless path (not followed) has permission bits mode and is owned by uid.
func checkMode(t *testing.T, path string, mode os.FileMode, uid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != mode {
		t.Errorf("%s mode = %04o, want %04o", path, got, mode)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s owner = %d, want %d", path, got, uid)
	}
}

func TestWriteAWSFiles(t *testing.T) {
	me := os.Geteuid()
	type check func(t *testing.T, home, outside string)
	tests := []struct {
		name    string
		setup   func(t *testing.T, home, outside string)
		wantErr string
		check   check
	}{
		{
			name: "fresh home",
			check: func(t *testing.T, home, _ string) {
				checkMode(t, filepath.Join(home, ".aws"), 0o700, me)
				checkMode(t, filepath.Join(home, ".aws/credentials"), 0o600, me)
				checkMode(t, filepath.Join(home, ".aws/config"), 0o600, me)
				want := "[tollgate]\naws_access_key_id = " + testCreds.AccessKeyID + "\naws_secret_access_key = " + testCreds.SecretAccessKey + "\n"
				if got := readFile(t, filepath.Join(home, ".aws/credentials")); got != want {
					t.Errorf("credentials = %q, want %q", got, want)
				}
				if got, want := readFile(t, filepath.Join(home, ".aws/config")), "[profile tollgate]\nregion = us-west-2\n"; got != want {
					t.Errorf("config = %q, want %q", got, want)
				}
			},
		},
		{
			name: "other profiles kept byte for byte",
			setup: func(t *testing.T, home, _ string) {
				writeFile(t, filepath.Join(home, ".aws/credentials"), otherCreds, 0o644)
				writeFile(t, filepath.Join(home, ".aws/config"), otherConfig, 0o644)
			},
			check: func(t *testing.T, home, _ string) {
				if got := readFile(t, filepath.Join(home, ".aws/credentials")); got != wantCredsFile {
					t.Errorf("credentials =\n%s\nwant\n%s", got, wantCredsFile)
				}
				if got := readFile(t, filepath.Join(home, ".aws/config")); got != wantConfigFile {
					t.Errorf("config =\n%s\nwant\n%s", got, wantConfigFile)
				}
				checkMode(t, filepath.Join(home, ".aws/credentials"), 0o600, me) // narrowed: it holds secrets
				checkMode(t, filepath.Join(home, ".aws/config"), 0o644, me)      // kept
			},
		},
		{
			name: "symlinked credentials not followed",
			setup: func(t *testing.T, home, outside string) {
				writeFile(t, filepath.Join(outside, "victim"), "precious\n", 0o644)
				writeFile(t, filepath.Join(home, ".aws/config"), otherConfig, 0o600)
				if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(home, ".aws/credentials")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "symlink",
			check: func(t *testing.T, home, outside string) {
				if got := readFile(t, filepath.Join(outside, "victim")); got != "precious\n" {
					t.Errorf("symlink target changed to %q", got)
				}
				if fi, err := os.Lstat(filepath.Join(home, ".aws/credentials")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the planted symlink was replaced or removed")
				}
				if got := readFile(t, filepath.Join(home, ".aws/config")); got != otherConfig {
					t.Errorf("config changed although credentials were refused")
				}
			},
		},
		{
			name: "symlinked config not followed",
			setup: func(t *testing.T, home, outside string) {
				writeFile(t, filepath.Join(outside, "victim"), "precious\n", 0o644)
				writeFile(t, filepath.Join(home, ".aws/credentials"), otherCreds, 0o600)
				if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(home, ".aws/config")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "symlink",
			check: func(t *testing.T, home, outside string) {
				if got := readFile(t, filepath.Join(outside, "victim")); got != "precious\n" {
					t.Errorf("symlink target changed to %q", got)
				}
				if got := readFile(t, filepath.Join(home, ".aws/credentials")); got != otherCreds {
					t.Errorf("credentials changed although config was refused")
				}
			},
		},
		{
			name: "symlinked .aws refused",
			setup: func(t *testing.T, home, outside string) {
				if err := os.Mkdir(filepath.Join(outside, "aws"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(outside, "aws"), filepath.Join(home, ".aws")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "symlink",
			check: func(t *testing.T, _, outside string) {
				if ents, _ := os.ReadDir(filepath.Join(outside, "aws")); len(ents) != 0 {
					t.Errorf("files written through the symlinked directory: %v", ents)
				}
			},
		},
		{
			name:    "world-writable .aws refused",
			setup:   func(t *testing.T, home, _ string) { mkdirMode(t, filepath.Join(home, ".aws"), 0o777) },
			wantErr: "writable by others",
		},
		{
			name:    "credentials that are a directory refused",
			setup:   func(t *testing.T, home, _ string) { mkdirMode(t, filepath.Join(home, ".aws/credentials"), 0o700) },
			wantErr: "not a regular file",
		},
	}
	if me == 0 {
		tests = append(tests, struct {
			name    string
			setup   func(t *testing.T, home, outside string)
			wantErr string
			check   check
		}{
			name: ".aws owned by someone else refused",
			setup: func(t *testing.T, home, _ string) {
				mkdirMode(t, filepath.Join(home, ".aws"), 0o700)
				if err := os.Chown(filepath.Join(home, ".aws"), 4242, 4242); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "not by you",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, outside := t.TempDir(), t.TempDir()
			old := syscall.Umask(0)
			t.Cleanup(func() { syscall.Umask(old) })
			if tt.setup != nil {
				tt.setup(t, home, outside)
			}
			preErr := checkAWSFiles(home)
			_, _, err := writeAWSFiles(home, testCreds)
			switch {
			case tt.wantErr == "" && (err != nil || preErr != nil):
				t.Fatalf("writeAWSFiles: %v (check: %v)", err, preErr)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("writeAWSFiles err = %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr != "" && (preErr == nil || !strings.Contains(preErr.Error(), tt.wantErr)):
				t.Errorf("checkAWSFiles err = %v, want one containing %q", preErr, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testCreds.SecretAccessKey) {
				t.Errorf("error message holds the secret")
			}
			if tt.check != nil {
				tt.check(t, home, outside)
			}
			if ents, _ := os.ReadDir(filepath.Join(home, ".aws")); len(ents) > 0 {
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tollgate-") {
						t.Errorf("temporary file %s left behind", e.Name())
					}
				}
			}
		})
	}
}

func mkdirMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
