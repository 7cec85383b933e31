package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "demo box", "demo box"},
		{"unicode kept", "café ☕", "café ☕"},
		{"escape sequence", "x\x1b[31mRED", `x\x1b[31mRED`},
		{"newline forging a row", "i-x\n42 bob launch allowed", `i-x\n42 bob launch allowed`},
		{"tab", "a\tb", `a\tb`},
		{"invalid byte", "a\xffb", `a\xffb`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := printable(c.in); got != c.want {
				t.Errorf("printable(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestTableCellsCannotForgeRows(t *testing.T) {
	var buf bytes.Buffer
	tb := newTable(&buf, "ID", "NAME")
	tb.row("i-0123456789abcdef0", "evil\n42  forged\x1b]0;title\x07")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("table printed %d lines, want 2 (header and one row):\n%s", n, out)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("control characters reached the terminal: %q", out)
	}
}
