package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestSetINISection(t *testing.T) {
	body := []string{"aws_access_key_id = AKNEW", "aws_secret_access_key = SNEW"}
	const ours = "[tollgate]\naws_access_key_id = AKNEW\naws_secret_access_key = SNEW\n"
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty file", "", ours},
		{"append after others", "[default]\naws_access_key_id = A\n", "[default]\naws_access_key_id = A\n\n" + ours},
		{"append without final newline", "[default]\nx = 1", "[default]\nx = 1\n\n" + ours},
		{"append after a blank line", "[default]\nx = 1\n\n", "[default]\nx = 1\n\n" + ours},
		{"replace in the middle, keeping the next section's comment",
			"[default]\nx = 1\n\n[tollgate]\naws_access_key_id = OLD\naws_secret_access_key = OLDS\n\n# work account\n[work]\ny = 2\n",
			"[default]\nx = 1\n\n" + ours + "\n# work account\n[work]\ny = 2\n"},
		{"replace at the end", "[a]\nb = c\n[tollgate]\nold = 1\n", "[a]\nb = c\n" + ours},
		{"replace spaced header", "[ tollgate ]\nold = 1\n[b]\n", ours + "[b]\n"},
		{"duplicates collapse into the first",
			"[tollgate]\nold = 1\n[x]\nk = v\n[tollgate]\nold = 2\n",
			ours + "[x]\nk = v\n"},
		{"similar names untouched", "[tollgate2]\nk = v\n[profile tollgate]\nregion = x\n",
			"[tollgate2]\nk = v\n[profile tollgate]\nregion = x\n\n" + ours},
		{"CRLF file", "[default]\r\nx = 1\r\n[tollgate]\r\nold = 1\r\n",
			"[default]\r\nx = 1\r\n" + strings.ReplaceAll(ours, "\n", "\r\n")},
		{"comment inside our section goes with it", "[tollgate]\n# mine\nold = 1\n", ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(setINISection([]byte(tt.in), "tollgate", "[tollgate]", body))
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestSetINISectionConfigProfile(t *testing.T) {
	in := "[default]\nregion = eu-west-1\n[profile tollgate]\nregion = old\noutput = json\n[profile work]\nregion = us-east-2\n"
	want := "[default]\nregion = eu-west-1\n[profile tollgate]\nregion = us-west-2\n[profile work]\nregion = us-east-2\n"
	if got := string(setINISection([]byte(in), "profile tollgate", "[profile tollgate]", []string{"region = us-west-2"})); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// FuzzSetINISection checks, for any file, that the result holds exactly one section of
// ours, that setting it again changes nothing, and that a file without our section is
// kept as a prefix.
func FuzzSetINISection(f *testing.F) {
	for _, s := range []string{"", "[default]\nx=1\n", "[tollgate]\na=b\n#c\n[x]\n", "[ tollgate]\r\n", "no header\n[tollgate", "\r", "a\r\nb\nc\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		body := []string{"k = v"}
		out := setINISection([]byte(in), "tollgate", "[tollgate]", body)
		n := 0
		for _, l := range splitLinesKeepEOL(out) {
			if sectionName(l) == "tollgate" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d [tollgate] sections in %q", n, out)
		}
		if again := setINISection(out, "tollgate", "[tollgate]", body); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		had := false
		for _, l := range splitLinesKeepEOL([]byte(in)) {
			had = had || sectionName(l) == "tollgate"
		}
		if !had && !bytes.HasPrefix(out, []byte(in)) {
			t.Fatalf("input %q not kept as a prefix of %q", in, out)
		}
	})
}
