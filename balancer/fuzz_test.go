package balancer

import (
	"strings"
	"testing"
)

func FuzzApacheStatus(f *testing.F) {
	f.Add([]byte("Total Accesses: 1234\nBusyWorkers: 7\n"))
	f.Add([]byte("<html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseApacheStatus(b)
		if err == nil && !s.HasAccesses && !s.HasBusy {
			t.Fatalf("accepted a page with nothing in it: %q", b)
		}
	})
}

func FuzzNginxStatus(f *testing.F) {
	f.Add([]byte("Active connections: 1\nserver accepts handled requests\n 1 1 5\nReading: 0 Writing: 1 Waiting: 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ParseNginxStatus(b); err == nil && !s.HasAccesses {
			t.Fatalf("accepted %q without a counter", b)
		}
	})
}

func FuzzGBrowse(f *testing.F) {
	f.Add("[LOAD TABLE]\n0.1 0 1\n[MASTER]\npoll_interval = 0.5\n[SLAVE]\nports = 8101 # x\n")
	f.Add("[SLAVE]\n  key = v\n")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGBrowse(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		for i := 1; i < len(g.Table); i++ {
			if g.Table[i-1].Load >= g.Table[i].Load {
				t.Fatalf("table not sorted and unique: %v", g.Table)
			}
		}
	})
}

func FuzzTable(f *testing.F) {
	f.Add(0.1, 0, 1, 1.0, 1, 3, 0.7)
	f.Fuzz(func(t *testing.T, l1 float64, a1, b1 int, l2 float64, a2, b2 int, load float64) {
		tb, err := NewTable([]Row{{l1, a1, b1}, {l2, a2, b2}})
		if err != nil {
			return
		}
		lo, hi := tb.Lookup(load)
		if lo > hi || lo < 0 {
			t.Fatalf("Lookup(%g) on %v = %d..%d", load, tb, lo, hi)
		}
	})
}
