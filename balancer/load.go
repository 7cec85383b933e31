package balancer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Sample is one raw reading of a load source.
type Sample struct {
	At time.Time
	// TotalAccesses is the server's request counter (Apache's "Total Accesses",
	// nginx's "requests"), when the page has one.
	TotalAccesses uint64
	HasAccesses   bool
	// BusyWorkers is Apache's BusyWorkers (nginx: reading + writing connections).
	BusyWorkers int
	HasBusy     bool
	// Value is a load given directly (a file or a command).
	Value    float64
	HasValue bool
}

// maxStatusPage bounds what a status page may be: a real one is a few hundred bytes.
const maxStatusPage = 1 << 20

// ParseApacheStatus reads mod_status's machine-readable page (server-status?auto): the
// "Total Accesses" counter and "BusyWorkers". ReqPerSec is ignored: it is Apache's
// lifetime average (accesses / uptime), not the current rate.
func ParseApacheStatus(b []byte) (Sample, error) {
	var s Sample
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxStatusPage)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "Total Accesses":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return Sample{}, fmt.Errorf("apache status: Total Accesses %q is not a count", val)
			}
			s.TotalAccesses, s.HasAccesses = n, true
		case "BusyWorkers":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return Sample{}, fmt.Errorf("apache status: BusyWorkers %q is not a count", val)
			}
			s.BusyWorkers, s.HasBusy = n, true
		}
	}
	if err := sc.Err(); err != nil {
		return Sample{}, fmt.Errorf("apache status: %w", err)
	}
	if !s.HasAccesses && !s.HasBusy {
		return Sample{}, errors.New("apache status: neither \"Total Accesses\" nor \"BusyWorkers\" found: not a server-status?auto page (is ExtendedStatus on, and the URL ending in ?auto?)")
	}
	return s, nil
}

// ParseNginxStatus reads ngx_http_stub_status_module's page:
//
//	Active connections: 291
//	server accepts handled requests
//	 16630948 16630948 31070465
//	Reading: 6 Writing: 179 Waiting: 106
func ParseNginxStatus(b []byte) (Sample, error) {
	var s Sample
	lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[0] == "server" && f[3] == "requests" && i+1 < len(lines):
			n := strings.Fields(lines[i+1])
			if len(n) != 3 {
				return Sample{}, fmt.Errorf("nginx status: want three counters after %q, got %q", l, lines[i+1])
			}
			v, err := strconv.ParseUint(n[2], 10, 64)
			if err != nil {
				return Sample{}, fmt.Errorf("nginx status: requests %q is not a count", n[2])
			}
			s.TotalAccesses, s.HasAccesses = v, true
		case len(f) == 6 && f[0] == "Reading:" && f[2] == "Writing:":
			r, err1 := strconv.Atoi(f[1])
			w, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil || r < 0 || w < 0 {
				return Sample{}, fmt.Errorf("nginx status: bad line %q", l)
			}
			s.BusyWorkers, s.HasBusy = r+w, true
		}
	}
	if !s.HasAccesses {
		return Sample{}, errors.New("nginx status: no \"server accepts handled requests\" counters: not a stub_status page")
	}
	return s, nil
}

// parseValue reads one non-negative number (a file's or a command's output).
func parseValue(b []byte) (float64, error) {
	t := strings.TrimSpace(string(b))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v != v || v > 1e12 {
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		return 0, fmt.Errorf("%q is not a non-negative number", t)
	}
	return v, nil
}

// Source is where a pool's load comes from.
type Source interface {
	Poll(ctx context.Context) (Sample, error)
}

// SourceOptions configure NewSource.
type SourceOptions struct {
	HTTPClient *http.Client     // default: a client with Timeout
	Timeout    time.Duration    // one poll's bound (default 10s)
	Now        func() time.Time // default time.Now
}

// Metrics a pool may scale on.
const (
	MetricRequests    = "requests"     // requests per second, from the counter's change
	MetricBusyWorkers = "busy_workers" // Apache's BusyWorkers (nginx: reading + writing)
)

// NewSource returns the source spec names: apache:URL, nginx:URL, file:/path or
// command:/path/to/program [args…] (run without a shell, with a minimal environment).
func NewSource(spec, metric string, o SourceOptions) (Source, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("load source %q: want apache:URL, nginx:URL, file:/path or command:/path [args]", spec)
	}
	switch kind {
	case "apache", "nginx":
		if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
			return nil, fmt.Errorf("load source %q: the URL must start with http:// or https://", spec)
		}
		parse := ParseApacheStatus
		if kind == "nginx" {
			parse = ParseNginxStatus
		}
		return &httpSource{url: arg, parse: parse, o: o}, nil
	case "file":
		if !strings.HasPrefix(arg, "/") {
			return nil, fmt.Errorf("load source %q: the file must be an absolute path", spec)
		}
		return &fileSource{path: arg, o: o}, nil
	case "command":
		argv := strings.Fields(arg)
		if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
			return nil, fmt.Errorf("load source %q: the command must be an absolute path (it runs without a shell)", spec)
		}
		return &commandSource{argv: argv, o: o}, nil
	}
	return nil, fmt.Errorf("load source %q: unknown kind %q (want apache, nginx, file or command)", spec, kind)
}

type httpSource struct {
	url   string
	parse func([]byte) (Sample, error)
	o     SourceOptions
}

func (h *httpSource) Poll(ctx context.Context) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return Sample{}, err
	}
	resp, err := h.o.HTTPClient.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("fetch %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("fetch %s: %s", h.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusPage))
	if err != nil {
		return Sample{}, fmt.Errorf("fetch %s: %w", h.url, err)
	}
	s, err := h.parse(b)
	s.At = h.o.Now()
	return s, err
}

type fileSource struct {
	path string
	o    SourceOptions
}

func (f *fileSource) Poll(ctx context.Context) (Sample, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return Sample{}, err
	}
	v, err := parseValue(b)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", f.path, err)
	}
	return Sample{At: f.o.Now(), Value: v, HasValue: true}, nil
}

type commandSource struct {
	argv []string
	o    SourceOptions
}

func (c *commandSource) Poll(ctx context.Context) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", c.argv[0], err)
	}
	v, err := parseValue(out)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", c.argv[0], err)
	}
	return Sample{At: c.o.Now(), Value: v, HasValue: true}, nil
}

// Meter turns samples into a load: the request rate from the change of the counter
// between consecutive samples, busy workers as they are, or a value given directly.
type Meter struct {
	metric string
	prev   Sample
	have   bool
}

// NewMeter returns a meter of metric ("" = requests).
func NewMeter(metric string) *Meter { return &Meter{metric: metric} }

// Observe takes a sample and returns the load, or ok = false when there is none yet (the
// first counter reading, or a counter that went down: the server restarted).
func (m *Meter) Observe(s Sample) (load float64, ok bool) {
	switch {
	case s.HasValue:
		return s.Value, true
	case m.metric == MetricBusyWorkers:
		return float64(s.BusyWorkers), s.HasBusy
	}
	prev, had := m.prev, m.have
	m.prev, m.have = s, s.HasAccesses
	if !had || !s.HasAccesses || s.TotalAccesses < prev.TotalAccesses {
		return 0, false
	}
	dt := s.At.Sub(prev.At).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(s.TotalAccesses-prev.TotalAccesses) / dt, true
}
