package balancer

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/cloud"
)

// probeTimeout bounds one readiness check.
const probeTimeout = 3 * time.Second

func defaultProbeAddr(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// slaveIP is the address the master reaches a slave at: its private address (the master
// is in the same VPC), else its public one.
func slaveIP(in cloud.Instance) string {
	if in.PrivateIP != "" {
		return in.PrivateIP
	}
	return in.PublicIP
}

// probe checks whether a running slave answers on its first port as the pool's ready
// setting says: "http:STATUS" (HEAD / answers STATUS; GBrowse's slave answers 403) or
// "tcp" (a connection is accepted).
func (pr *poolRun) probe(ctx context.Context, in cloud.Instance) bool {
	ip := slaveIP(in)
	if ip == "" || len(pr.cfg.Ports) == 0 {
		return false
	}
	addr := pr.s.o.ProbeAddr(ip, pr.cfg.Ports[0])
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	kind, want, _ := strings.Cut(pr.cfg.Ready, ":")
	if kind == "tcp" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	code, err := strconv.Atoi(want)
	if err != nil {
		code = http.StatusForbidden
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+addr+"/", nil)
	if err != nil {
		return false
	}
	resp, err := pr.s.o.HTTPClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == code
}

// probeParallel bounds the readiness checks in flight for one pool.
const probeParallel = 32

// probeAll checks every running instance, in parallel, and says which answered.
func (pr *poolRun) probeAll(ctx context.Context, insts []cloud.Instance) map[string]bool {
	out := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeParallel)
	for _, in := range insts {
		if in.State != "running" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok := pr.probe(ctx, in)
			mu.Lock()
			out[in.ID] = ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
