// Package promserver runs the pinned Prometheus (bin/prometheus, built by
// make prometheus-tools) on loopback for tests: it scrapes given loopback
// targets every second, evaluates the operator's alerting rules every
// second, and answers queries and the list of alerts through its HTTP
// API. Nothing leaves the machine: the server listens on 127.0.0.1 and
// scrapes only the targets a test names.
package promserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ceph-operator/ceph-operator/tests/framework/proc"
)

// Server is a running Prometheus.
type Server struct {
	*proc.Process
	// URL is its API's base, http://127.0.0.1:PORT.
	URL string
}

// Options says what the server scrapes and evaluates.
type Options struct {
	// Bin is the prometheus binary; Dir holds its configuration, data and
	// log (prometheus.log).
	Bin, Dir string
	// Targets are host:port addresses on loopback serving /metrics over
	// plain HTTP.
	Targets []string
	// Rules is a PrometheusRule manifest (config/prometheus/rules.yaml);
	// its spec is the rule file.
	Rules []byte
	// For replaces every rule's for: duration when set, so an alert fires
	// within a test's time. The expressions are the rules' own.
	For string
}

// RuleFile returns the plain Prometheus rule file of a PrometheusRule
// manifest: its spec, with every rule's for: set to forDuration unless that
// is empty.
func RuleFile(manifest []byte, forDuration string) ([]byte, error) {
	var obj struct {
		Spec struct {
			Groups []map[string]any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(manifest, &obj); err != nil {
		return nil, err
	}
	if len(obj.Spec.Groups) == 0 {
		return nil, fmt.Errorf("the PrometheusRule has no groups")
	}
	if forDuration != "" {
		for _, g := range obj.Spec.Groups {
			rules, _ := g["rules"].([]any)
			for _, r := range rules {
				if m, ok := r.(map[string]any); ok && m["alert"] != nil {
					m["for"] = forDuration
				}
			}
		}
	}
	return yaml.Marshal(obj.Spec)
}

// Start writes the configuration and starts Prometheus, and waits until it
// is ready.
func Start(ctx context.Context, o Options) (*Server, error) {
	rules, err := RuleFile(o.Rules, o.For)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "rules.yaml"), rules, 0o644); err != nil {
		return nil, err
	}
	cfg, err := yaml.Marshal(map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{"rules.yaml"},
		"scrape_configs": []any{map[string]any{
			"job_name":       "ceph-operator",
			"static_configs": []any{map[string]any{"targets": o.Targets}},
		}},
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "prometheus.yml"), cfg, 0o644); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	p, err := proc.Start(proc.Options{
		Name: "prometheus", Bin: o.Bin, LogPath: filepath.Join(o.Dir, "prometheus.log"),
		Args: []string{
			"--config.file=" + filepath.Join(o.Dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(o.Dir, "data"),
			"--web.listen-address=" + addr,
		},
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Process: p, URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if exited, _ := p.Exited(); exited || time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("prometheus did not become ready (log %s)", p.LogPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop ends the server, killing it after 10 seconds.
func (s *Server) Stop() { s.Process.Stop(10 * time.Second) }

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates an instant query now.
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: a %s, not a vector", q, data.ResultType)
	}
	out := make([]Sample, 0, len(data.Result))
	for _, r := range data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Alert is a pending or firing alert.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// Alerts lists the alerts now pending or firing.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := s.get(ctx, "/api/v1/alerts", &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// get reads an API answer's data into out.
func (s *Server) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", path, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, out)
}

// RuleHealth is how a rule's last evaluation went.
type RuleHealth struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// Rules lists every loaded rule with the health of its last evaluation
// ("ok", "err", or "unknown" before the first).
func (s *Server) Rules(ctx context.Context) ([]RuleHealth, error) {
	var data struct {
		Groups []struct {
			Rules []RuleHealth `json:"rules"`
		} `json:"groups"`
	}
	if err := s.get(ctx, "/api/v1/rules", &data); err != nil {
		return nil, err
	}
	var out []RuleHealth
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}
