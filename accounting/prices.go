package accounting

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The shipped price tables. They carry their source and date in their header comments;
// configuration overrides them entry by entry.
var (
	//go:embed data/ondemand.csv
	onDemandCSV []byte
	//go:embed data/ebs.csv
	ebsCSV []byte
)

// HoursPerMonth converts EBS prices (USD per GB-month) to per-second rates: AWS prorates a
// GB-month over 730 hours (365 × 24 / 12).
const HoursPerMonth = 730

// ErrUnpriced is wrapped by [Prices.OnDemand] and [Prices.Volume] when a type has no known
// price: its cost is unknown, never zero.
var ErrUnpriced = errors.New("no known price")

// Prices is the price table: shipped on-demand prices, config overrides, EBS prices.
// It is read-only after LoadPrices, so it is safe for concurrent use.
type Prices struct {
	onDemand map[string]float64 // "type/region" → USD/h
	vcpus    map[string]int     // type → vCPUs
	volumes  map[string]float64 // "gp3" or "gp3/region" → USD per GB-month
}

// LoadPrices loads the shipped table with overrides ("type/region" → USD/h) and EBS
// overrides ("gp3" → USD per GB-month, or "gp3/region" for one region).
func LoadPrices(overrides, volumeOverrides map[string]float64) (*Prices, error) {
	p := &Prices{onDemand: map[string]float64{}, vcpus: map[string]int{}, volumes: map[string]float64{}}
	rows, err := readTable(onDemandCSV, 4)
	if err != nil {
		return nil, fmt.Errorf("shipped on-demand prices: %w", err)
	}
	for _, r := range rows {
		usd, err1 := strconv.ParseFloat(r.cols[3], 64)
		n, err2 := strconv.Atoi(r.cols[2])
		if err := errors.Join(err1, err2); err != nil || usd <= 0 || n <= 0 {
			return nil, fmt.Errorf("shipped on-demand prices line %d: bad row %q", r.line, strings.Join(r.cols, ","))
		}
		p.onDemand[r.cols[1]+"/"+r.cols[0]] = usd
		p.vcpus[r.cols[1]] = n
	}
	rows, err = readTable(ebsCSV, 2)
	if err != nil {
		return nil, fmt.Errorf("shipped EBS prices: %w", err)
	}
	for _, r := range rows {
		usd, err := strconv.ParseFloat(r.cols[1], 64)
		if err != nil || usd < 0 {
			return nil, fmt.Errorf("shipped EBS prices line %d: bad row %q", r.line, strings.Join(r.cols, ","))
		}
		p.volumes[r.cols[0]] = usd
	}
	for _, k := range sortedKeys(overrides) {
		v := overrides[k]
		typ, region, ok := strings.Cut(k, "/")
		if !ok || typ == "" || region == "" {
			return nil, fmt.Errorf("accounting.prices key %q: want \"type/region\", e.g. \"t3.micro/us-west-2\"", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("accounting.prices %q = %v: not a price in USD per hour", k, v)
		}
		p.onDemand[k] = v
	}
	for _, k := range sortedKeys(volumeOverrides) {
		v := volumeOverrides[k]
		if typ, _, _ := strings.Cut(k, "/"); typ == "" {
			return nil, fmt.Errorf("accounting.volume_prices key %q: want \"gp3\" or \"gp3/region\"", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("accounting.volume_prices %q = %v: not a price in USD per GB-month", k, v)
		}
		p.volumes[k] = v
	}
	return p, nil
}

// OnDemand is the on-demand USD/hour of typ in region; an unknown one is an error naming it.
func (p *Prices) OnDemand(region, typ string) (float64, error) {
	if v, ok := p.onDemand[typ+"/"+region]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("instance type %s in %s: %w (add accounting.prices \"%s/%s\")", typ, region, ErrUnpriced, typ, region)
}

// VCPUs is the vCPU count of typ. Types only priced through overrides get the count their
// size name implies (large = 2, xlarge = 4, Nxlarge = 4N), which holds for every family
// in the shipped table.
func (p *Prices) VCPUs(typ string) (int, error) {
	if n, ok := p.vcpus[typ]; ok {
		return n, nil
	}
	if n, ok := vcpusFromSize(typ); ok {
		return n, nil
	}
	return 0, fmt.Errorf("instance type %s: unknown vCPU count", typ)
}

// Volume is the USD per GB-month of an EBS volume type in region; the region-specific
// override wins over the per-type price.
func (p *Prices) Volume(region, volType string) (float64, error) {
	if volType == "" {
		volType = "gp3"
	}
	if v, ok := p.volumes[volType+"/"+region]; ok {
		return v, nil
	}
	if v, ok := p.volumes[volType]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("volume type %s: %w (add accounting.volume_prices \"%s\")", volType, ErrUnpriced, volType)
}

func vcpusFromSize(typ string) (int, bool) {
	_, size, ok := strings.Cut(typ, ".")
	if !ok {
		return 0, false
	}
	switch size {
	case "nano", "micro", "small", "medium", "large":
		return 2, true
	case "xlarge":
		return 4, true
	}
	if n, ok := strings.CutSuffix(size, "xlarge"); ok {
		if k, err := strconv.Atoi(n); err == nil && k > 0 {
			return 4 * k, true
		}
	}
	return 0, false
}

type tableRow struct {
	line int
	cols []string
}

// readTable reads a shipped CSV: '#' lines are comments, the first other line is the
// header, every row has exactly n columns.
func readTable(b []byte, n int) ([]tableRow, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.FieldsPerRecord = n
	var out []tableRow
	header := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if header {
			header = false
			continue
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		out = append(out, tableRow{line: line, cols: rec})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
