package accounting

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/accounting/render"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/quota"
)

// reportEnv runs three users, a spot instance and an untracked one over 50 hours.
func reportEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, envOptions{regions: []string{"us-west-2", "eu-west-1"}})
	for _, u := range []string{"ann", "ben", "cat"} {
		e.setPolicy(u, quota.Policy{BudgetUSD: 5, BudgetPeriod: quota.PeriodMonth})
	}
	a := e.launch("us-west-2", "ann", "m5.large", 2, false, 0)
	e.launch("eu-west-1", "ben", "t3.micro", 1, false, 0)
	e.launch("us-west-2", "cat", "c5.xlarge", 1, true, 0)
	e.launch("eu-west-1", "", "t3.small", 1, false, 0)
	e.advance(20 * time.Hour)
	e.stop("us-west-2", a[0].ID)
	e.advance(16 * time.Hour)
	e.terminate("us-west-2", a[1].ID)
	e.advance(14 * time.Hour)
	return e
}

func TestReportGroupingsAddUp(t *testing.T) {
	e := reportEnv(t)
	for _, by := range []string{ByUser, ByGroup, ByPurpose, ByType, ByRegion, ByDay} {
		t.Run(by, func(t *testing.T) {
			r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart, By: by})
			if err != nil {
				t.Fatal(err)
			}
			rows, inst, days := 0.0, 0.0, 0.0
			for _, row := range r.Rows {
				rows += row.CostUSD
			}
			for _, ic := range append(append([]InstanceCost{}, r.Instances...), r.Untracked...) {
				inst += ic.CostUSD
			}
			for _, d := range r.Days {
				for _, v := range d.Spend {
					days += v
				}
			}
			if r.TotalUSD <= 0 {
				t.Fatalf("total: got %.6f, want a positive spend", r.TotalUSD)
			}
			for name, got := range map[string]float64{"rows": rows, "instances": inst, "days": days} {
				if !near(got, r.TotalUSD, 1e-9) {
					t.Errorf("sum of %s: got %.9f, want the total %.9f", name, got, r.TotalUSD)
				}
			}
			if len(r.Untracked) != 1 {
				t.Errorf("untracked: got %d, want 1", len(r.Untracked))
			}
			if by == ByDay && len(r.Rows) != 3 {
				t.Errorf("days: got %d rows, want 3 (50 hours from midnight span three UTC days)", len(r.Rows))
			}
		})
	}
	_, ledger := e.ledgerByID()
	r, _ := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart})
	if !near(r.TotalUSD, ledger, ledger*0.005) {
		t.Errorf("total $%.4f vs ledger $%.4f: more than 0.5%% apart", r.TotalUSD, ledger)
	}
	if _, err := e.svc.Report(context.Background(), ReportRequest{By: "colour"}); err == nil {
		t.Error("by colour: got no error")
	}
}

// totals extracts the printed total from each format.
func totals(t *testing.T, r Report) map[string]string {
	t.Helper()
	out := map[string]string{}
	var b bytes.Buffer
	if err := render.Write(&b, r, render.FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last[0] != "TOTAL" {
		t.Fatalf("CSV last row: got %q, want TOTAL", last)
	}
	out[render.FormatCSV] = last[3]

	b.Reset()
	if err := render.Write(&b, r, render.FormatJSON); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	out[render.FormatJSON] = strconv.FormatFloat(back.TotalUSD, 'f', 4, 64)

	b.Reset()
	if err := render.Write(&b, r, render.FormatHTML); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<span id="total">([0-9.]+)</span>`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatal("HTML: no total")
	}
	out[render.FormatHTML] = m[1]
	return out
}

func TestRenderFormatsAgree(t *testing.T) {
	e := reportEnv(t)
	for _, by := range []string{ByUser, ByDay} {
		t.Run(by, func(t *testing.T) {
			r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart, By: by})
			if err != nil {
				t.Fatal(err)
			}
			got := totals(t, r)
			want := strconv.FormatFloat(r.TotalUSD, 'f', 4, 64)
			for f, v := range got {
				if v != want {
					t.Errorf("%s total: got %s, want %s", f, v, want)
				}
			}
			var b bytes.Buffer
			if err := render.Write(&b, r, render.FormatTable); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "TOTAL") || !strings.Contains(b.String(), strconv.FormatFloat(r.TotalUSD, 'f', 2, 64)) {
				t.Errorf("table has no TOTAL line with %.2f:\n%s", r.TotalUSD, b.String())
			}
		})
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	e := reportEnv(t)
	r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := render.Write(&b, r, render.FormatHTML); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"http://", "https://", " src=", "<link", "@import", "url(", "<script"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("HTML holds %q: it must render with no network", bad)
		}
	}
	for _, want := range []string{"<svg", "<rect", "stroke-dasharray", "Untracked instances", "budget ann"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if err := render.Write(&b, r, "pdf"); err == nil {
		t.Error("format pdf: got no error")
	}
}
