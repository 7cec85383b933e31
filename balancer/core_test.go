package balancer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTableLookupGBrowseSemantics(t *testing.T) {
	tbl := DefaultTable()
	for _, tc := range []struct {
		load     float64
		min, max int
	}{
		{0, 0, 0},      // below the lowest row: no slaves
		{0.0999, 0, 0}, //
		{0.1, 0, 1},    // on a boundary: the upper row
		{0.4999, 0, 1}, //
		{0.5, 0, 2},    //
		{1.0, 1, 3},    //
		{1.99, 1, 3},   //
		{2.0, 2, 4},    //
		{1000, 2, 4},   // above the highest: the last row
	} {
		if lo, hi := tbl.Lookup(tc.load); lo != tc.min || hi != tc.max {
			t.Errorf("Lookup(%g) = %d..%d, want %d..%d", tc.load, lo, hi, tc.min, tc.max)
		}
	}
	// Unsorted rows and a duplicate threshold: the later row wins, as in GBrowse.
	tb, err := NewTable([]Row{{2, 2, 4}, {0.5, 0, 2}, {0.5, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := tb.Lookup(0.7); lo != 1 || hi != 1 {
		t.Errorf("duplicate threshold: Lookup(0.7) = %d..%d, want the later row 1..1", lo, hi)
	}
	if _, err := NewTable([]Row{{1, 3, 2}}); err == nil {
		t.Error("a row with min above max was accepted")
	}
	if lo, hi := (Table{}).Lookup(5); lo != 0 || hi != 0 {
		t.Errorf("empty table: %d..%d, want 0..0", lo, hi)
	}
}

func TestParseGBrowseShippedFile(t *testing.T) {
	g, err := LoadGBrowse(filepath.Join("testdata", "aws_balancer.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Table) != 9 || g.Table[8] != (Row{15, 8, 8}) || g.Table[0] != (Row{0.1, 0, 1}) {
		t.Errorf("table = %v, want the shipped 9 rows", g.Table)
	}
	if g.PollInterval != 30*time.Second || g.ServerStatusURL != "http://localhost/server-status" {
		t.Errorf("master = %s %q", g.PollInterval, g.ServerStatusURL)
	}
	if g.InstanceType != "m1.large" || g.SpotBid != 0.10 || len(g.Ports) != 1 || g.Ports[0] != 8101 ||
		g.Region != "us-west-2" || g.ImageID != "GBrowse-2.54" {
		t.Errorf("slave = %+v", g)
	}
	if g.ExternalIP != "" || len(g.DataSnapshots) != 0 || g.Subnet != "" {
		t.Errorf("empty values must be unset: %+v", g)
	}
	if len(g.Warnings) != 0 {
		t.Errorf("warnings on the shipped file: %v", g.Warnings)
	}
}

func TestParseGBrowseRules(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(t *testing.T, g GBrowse)
		err      string
	}{
		{name: "comments and blanks", in: "# top\n\n[load table]\n  # indented comment\n1 0 2   # inline\n\n[slave]\nports = 8101 8102 # two\n",
			check: func(t *testing.T, g GBrowse) {
				if len(g.Table) != 1 || g.Table[0] != (Row{1, 0, 2}) || len(g.Ports) != 2 {
					t.Errorf("got %+v", g)
				}
			}},
		{name: "defaults", in: "[LOAD TABLE]\n[SLAVE]\n", check: func(t *testing.T, g GBrowse) {
			if len(g.Table) != 4 || g.InstanceType != "m1.large" || g.SpotBid != 0.08 || g.Region != "us-east-1" || g.Ports[0] != 8101 {
				t.Errorf("defaults: %+v", g)
			}
		}},
		{name: "indented key ignored with a warning", in: "[LOAD TABLE]\n[SLAVE]\n  region = eu-west-1\n", check: func(t *testing.T, g GBrowse) {
			if g.Region != "us-east-1" || len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], ":3:") {
				t.Errorf("region %q warnings %v", g.Region, g.Warnings)
			}
		}},
		{name: "bad table row", in: "[LOAD TABLE]\n1 2\n[SLAVE]\n", err: "f.conf:2: load table row \"1 2\": want three numbers"},
		{name: "min above max", in: "[LOAD TABLE]\n1 3 2\n[SLAVE]\n", err: "f.conf:2:"},
		{name: "bad port", in: "[LOAD TABLE]\n[SLAVE]\nports = 80 99999\n", err: "f.conf:3: ports"},
		{name: "bad poll interval", in: "[LOAD TABLE]\n[MASTER]\npoll_interval = soon\n[SLAVE]\n", err: "f.conf:3: poll_interval"},
		{name: "no slave section", in: "[LOAD TABLE]\n1 0 1\n", err: "no [SLAVE] section"},
		{name: "key before a section", in: "region = x\n", err: "f.conf:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGBrowse(strings.NewReader(tc.in), "f.conf")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, g)
		})
	}
}

func TestParseStatusPages(t *testing.T) {
	apache := "Total Accesses: 1234\nTotal kBytes: 99\nReqPerSec: .0123\nBusyWorkers: 7\nIdleWorkers: 3\n"
	s, err := ParseApacheStatus([]byte(apache))
	if err != nil || s.TotalAccesses != 1234 || s.BusyWorkers != 7 {
		t.Errorf("apache = %+v, %v", s, err)
	}
	nginx := "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"
	s, err = ParseNginxStatus([]byte(nginx))
	if err != nil || s.TotalAccesses != 31070465 || s.BusyWorkers != 185 {
		t.Errorf("nginx = %+v, %v", s, err)
	}
	for _, bad := range []string{"", "<html><body>It works!</body></html>", "Total Accesses: lots\n", "BusyWorkers: -3\n"} {
		if _, err := ParseApacheStatus([]byte(bad)); err == nil {
			t.Errorf("apache page %q accepted", bad)
		}
		if _, err := ParseNginxStatus([]byte(bad)); err == nil {
			t.Errorf("nginx page %q accepted", bad)
		}
	}
}

func TestMeterRateFromCounter(t *testing.T) {
	m := NewMeter(MetricRequests)
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if _, ok := m.Observe(Sample{At: t0, TotalAccesses: 1000, HasAccesses: true}); ok {
		t.Error("the first reading gave a rate")
	}
	if r, ok := m.Observe(Sample{At: t0.Add(30 * time.Second), TotalAccesses: 1060, HasAccesses: true}); !ok || r != 2 {
		t.Errorf("rate = %g, %v; want 2 req/s", r, ok)
	}
	if _, ok := m.Observe(Sample{At: t0.Add(60 * time.Second), TotalAccesses: 10, HasAccesses: true}); ok {
		t.Error("a counter reset gave a rate")
	}
	if r, ok := m.Observe(Sample{At: t0.Add(90 * time.Second), TotalAccesses: 40, HasAccesses: true}); !ok || r != 1 {
		t.Errorf("after the reset: %g, %v; want 1 req/s", r, ok)
	}
	b := NewMeter(MetricBusyWorkers)
	if r, ok := b.Observe(Sample{BusyWorkers: 5, HasBusy: true}); !ok || r != 5 {
		t.Errorf("busy workers = %g, %v", r, ok)
	}
}

func TestSources(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "load")
	os.WriteFile(f, []byte("2.5\n"), 0o600)
	src, err := NewSource("file:"+f, "", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := src.Poll(context.Background()); err != nil || s.Value != 2.5 {
		t.Errorf("file source = %+v, %v", s, err)
	}
	os.WriteFile(f, []byte("garbage"), 0o600)
	if _, err := src.Poll(context.Background()); err == nil {
		t.Error("garbage accepted")
	}
	cmd, err := NewSource("command:/bin/echo 3", "", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := cmd.Poll(context.Background()); err != nil || s.Value != 3 {
		t.Errorf("command source = %+v, %v", s, err)
	}
	refused, _ := NewSource("apache:http://127.0.0.1:1/server-status?auto", "", SourceOptions{Timeout: time.Second})
	if _, err := refused.Poll(context.Background()); err == nil {
		t.Error("connection refused gave a reading")
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	slow, _ := NewSource("apache:"+hang.URL+"/server-status?auto", "", SourceOptions{Timeout: 200 * time.Millisecond})
	if _, err := slow.Poll(context.Background()); err == nil {
		t.Error("a status page that never answers gave a reading")
	}
	for _, bad := range []string{"", "apache:", "apache:ftp://x", "file:relative", "command:sh -c x", "snmp:host"} {
		if _, err := NewSource(bad, "", SourceOptions{}); err == nil {
			t.Errorf("source %q accepted", bad)
		}
	}
}

func TestRenderfarmWrittenOnlyOnChange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "renderfarm.conf")
	urls := []string{"http://10.0.0.9:8101", "http://10.0.0.5:8101"}
	changed, err := WriteRenderfarm(p, urls)
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	b, _ := os.ReadFile(p)
	want := "[GENERAL]\nrenderfarm = 1\nremote renderer =\n\thttp://10.0.0.5:8101\n\thttp://10.0.0.9:8101\n"
	if string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
	if changed, _ := WriteRenderfarm(p, []string{urls[1], urls[0]}); changed {
		t.Error("the same set in another order was written again")
	}
	if changed, _ := WriteRenderfarm(p, nil); !changed {
		t.Error("an empty set was not written")
	}
	b, _ = os.ReadFile(p)
	if string(b) != "[GENERAL]\nrenderfarm = 0\nremote renderer =\n" {
		t.Errorf("empty renderfarm = %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}
