package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// get fetches a URL of the metrics listener and returns its status and body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// sample returns the value of the family's sample whose labels include
// labels (a histogram's sample count), and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// TestMetrics scrapes /metrics after a relayed, a tagged, a quarantined and
// a rejected message and a DNSBL refusal, and checks each family and count;
// /healthz answers, and /readyz turns unready when the backend goes away.
func TestMetrics(t *testing.T) {
	g := Start(t, Options{Zone: listsZone(t), Settings: map[string]any{
		"metrics":    map[string]any{"listen": "127.0.0.1:0"},
		"thresholds": map[string]any{"tag": 5, "quarantine": 10, "reject": 5000},
		"dnsbl": []any{
			map[string]any{"zone": "bl.test", "action": "reject"},
			map[string]any{"zone": "score.test", "action": "score", "weight": 6},
		},
	}})
	base := g.MetricsURL()

	// Relayed (127.0.0.5 is on no list).
	c := g.DialFrom("127.0.0.5")
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg)); r.Code != 250 {
		t.Fatalf("plain message: %s", r)
	}
	c.Close()
	// Tagged: 127.0.0.8 is on score.test, 6 points.
	c = g.DialFrom("127.0.0.8")
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(simpleMsg)); r.Code != 250 {
		t.Fatalf("tagged message: %s", r)
	}
	c.Close()
	// Quarantined: GTUBE.
	c = g.DialFrom("127.0.0.5")
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte(strings.Replace(simpleMsg, "Hello.", gtube, 1))); r.Code != 250 {
		t.Fatalf("GTUBE: %s", r)
	}
	c.Close()
	// Rejected at the end of DATA: no From.
	c = g.DialFrom("127.0.0.5")
	if r := c.Send("a@example.com", []string{"u@example.org"}, []byte("To: u@example.org\r\nSubject: x\r\n\r\nbody\r\n")); r.Code != 550 {
		t.Fatalf("message without From: %s, want 550", r)
	}
	c.Close()
	// Refused at RCPT: 127.0.0.2 is on bl.test.
	r, c := rcptReply(t, g, "127.0.0.2", "a@example.com")
	if r.Code != 554 {
		t.Fatalf("listed client: %s, want 554", r)
	}
	c.Close()

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	exact := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mailguard_messages_total", map[string]string{"outcome": "relayed"}, 1},
		{"mailguard_messages_total", map[string]string{"outcome": "tagged", "test": "RCVD_IN_SCORE_TEST"}, 1},
		{"mailguard_messages_total", map[string]string{"outcome": "quarantined", "test": "GTUBE"}, 1},
		{"mailguard_messages_total", map[string]string{"outcome": "rejected"}, 1},
		{"mailguard_messages_total", map[string]string{"outcome": "tempfailed"}, 0},
		{"mailguard_refusals_total", map[string]string{"phase": "RCPT", "filter": "dnsbl", "outcome": "rejected"}, 1},
		{"mailguard_refusals_total", map[string]string{"phase": "DATA", "outcome": "rejected"}, 1},
		{"mailguard_transactions_total", nil, 5},
		{"mailguard_dns_list_queries_total", map[string]string{"list": "bl.test", "result": "listed"}, 1},
		{"mailguard_dns_list_queries_total", map[string]string{"list": "score.test", "result": "listed"}, 1},
		{"mailguard_backend_duration_seconds", map[string]string{"command": "DATA"}, 2},
		{"mailguard_quarantine_messages", nil, 1},
	}
	for _, e := range exact {
		got, found := sample(fams, e.name, e.labels)
		if (!found && e.want != 0) || got != e.want {
			t.Errorf("%s%v = %v (found %v), want %v", e.name, e.labels, got, found, e.want)
		}
	}
	// The harness's own connection at start counts too.
	if got, _ := sample(fams, "mailguard_connections_accepted_total", nil); got < 6 {
		t.Errorf("mailguard_connections_accepted_total = %v, want at least 6", got)
	}
	for _, name := range []string{
		"mailguard_connections_open", "mailguard_filter_duration_seconds", "mailguard_dns_cache_requests_total", "mailguard_classifier_duration_seconds",
		"mailguard_quarantine_oldest_age_seconds", "mailguard_quarantine_bytes", "mailguard_spool_bytes",
		"mailguard_classifier_tokens", "mailguard_classifier_learnt_messages",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s family", name)
		}
	}
	if _, ok := sample(fams, "mailguard_filter_duration_seconds", map[string]string{"filter": "dnsbl", "phase": "rcpt"}); !ok {
		t.Errorf("no dnsbl latency at RCPT")
	}
	// Cardinality: no label value is an address, a domain or a queue id.
	addrLike := regexp.MustCompile(`@|\d+\.\d+\.\d+\.\d+|^[0-9A-F]{10,12}$|example\.`)
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if addrLike.MatchString(l.GetValue()) && !strings.HasSuffix(l.GetValue(), ".test") && l.GetName() != "version" {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed (Debian package prometheus): exposition not linted")
	}

	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with everything up: %d %s", code, body)
	}
	g.Backend.Stop()
	code, body = get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "backend") {
		t.Errorf("/readyz with the backend down: %d %s, want 503 naming the backend", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the backend down: %d, want 200 (the process is up)", code)
	}
	// Clients meet the backend down: counted as failures to talk to it.
	// The first may be handed a kept connection that died with the
	// backend; the ones after it must connect anew.
	for range 3 {
		c = g.DialFrom("127.0.0.5")
		c.Expect(250, "EHLO client.example")
		if r := c.Cmd("MAIL FROM:<a@example.com>"); r.Code != 451 {
			t.Errorf("MAIL FROM with the backend down: %s, want 451", r)
		}
		c.Close()
	}
	_, body = get(t, base+"/metrics")
	fams, err = parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sample(fams, "mailguard_backend_errors_total", map[string]string{"command": "CONNECT"}); got < 1 {
		t.Errorf("mailguard_backend_errors_total{command=CONNECT} = %v after a client met the backend down, want at least 1", got)
	}
}
