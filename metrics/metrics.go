// Package metrics holds the gateway's Prometheus instruments, each declared
// once here, and serves them with the health endpoints (server.go).
//
// Names follow Prometheus' conventions: the mailguard_ prefix, _total for
// counters, base units (_seconds, _bytes). Labels hold only bounded values:
// outcomes, phases, filter and test names, list zones from the
// configuration; never an address, a domain or a queue id.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every instrument of the process, with the Go runtime and
// process collectors.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

func counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	Registry.MustRegister(c)
	return c
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	Registry.MustRegister(h)
	return h
}

// Latency buckets, in seconds: checks and DNS answer in milliseconds, a
// backend may take seconds.
var (
	fastBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	slowBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
)

// Outcomes of a message (the outcome label of Messages).
const (
	Relayed     = "relayed"
	Tagged      = "tagged"
	Quarantined = "quarantined"
	Rejected    = "rejected"
	Tempfailed  = "tempfailed"
)

// DNS list query results (the result label of DNSListQueries).
const (
	Listed  = "listed"
	Clean   = "clean"
	Error   = "error"
	Timeout = "timeout"
)

var (
	// ConnectionsOpen counts the SMTP connections open now.
	ConnectionsOpen = func() prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailguard_connections_open", Help: "SMTP connections open now."})
		Registry.MustRegister(g)
		return g
	}()
	// ConnectionsAccepted counts connections admitted past the limits.
	ConnectionsAccepted = counter("mailguard_connections_accepted_total", "SMTP connections admitted.")
	// ConnectionsRefused counts connections turned away before the
	// banner, by reason (max_connections, max_connections_per_ip,
	// max_connections_per_network, connection_rate, evicted_idle,
	// pregreet, shutting_down).
	ConnectionsRefused = counterVec("mailguard_connections_refused_total", "SMTP connections refused before the banner, by reason.", "reason")
	// Tarpits counts error replies delayed by the tarpit.
	Tarpits = counter("mailguard_tarpit_delays_total", "Error replies delayed by the tarpit (after limits.soft_errors).")
	// Transactions counts MAIL FROM commands that opened a transaction.
	Transactions = counter("mailguard_transactions_total", "Mail transactions started (MAIL FROM).")
	// Messages counts messages at the end of DATA by outcome, and by the
	// test that decided it ("" when none did).
	Messages = counterVec("mailguard_messages_total", "Messages by outcome at the end of DATA, and the test that decided.", "outcome", "test")
	// Refusals counts every refusal sent to a client, by SMTP phase, the
	// filter that decided ("mailguard" for the gateway's own limits and
	// the backend's replies) and outcome (rejected or tempfailed).
	Refusals = counterVec("mailguard_refusals_total", "Refusals sent to clients, by phase, filter and outcome.", "phase", "filter", "outcome")
	// FilterDuration is how long each filter's check took, by phase.
	FilterDuration = histogramVec("mailguard_filter_duration_seconds", "Time a filter's check took, by phase.", fastBuckets, "filter", "phase")
	// DNSListQueries counts DNS list lookups by list and result.
	DNSListQueries = counterVec("mailguard_dns_list_queries_total", "DNS list lookups by list (zone) and result.", "list", "result")
	// DNSCache counts the resolver's answers by whether the cache gave
	// them ("hit") or a name server ("miss").
	DNSCache = counterVec("mailguard_dns_cache_requests_total", "DNS questions by cache result.", "result")
	// BackendDuration is how long the backend took to answer, by command.
	BackendDuration = histogramVec("mailguard_backend_duration_seconds", "Time the backend MTA took to answer, by command.", slowBuckets, "command")
	// BackendErrors counts failures to talk to the backend (not its
	// refusals), by command.
	BackendErrors = counterVec("mailguard_backend_errors_total", "Failures to talk to the backend MTA, by command.", "command")
	// ClassifierDuration is how long the classifier took for a message.
	ClassifierDuration = histogramVec("mailguard_classifier_duration_seconds", "Time the Bayesian classifier took for a message.", fastBuckets)
	// ClassifierResults counts the classifier's answers by band (spam,
	// ham, unsure).
	ClassifierResults = counterVec("mailguard_classifier_results_total", "Classifier answers by band.", "band")
	// ClassifierErrors counts messages that went on without the Bayes
	// score because the token store failed (a shared store that is down).
	ClassifierErrors = counter("mailguard_classifier_errors_total", "Messages passed on without a Bayes score because the token store failed.")
	// AnvilErrors counts failed calls to the shared store of rate
	// counters, pregreet and greylisting memories and callout answers
	// (Redis), by operation.
	AnvilErrors = counterVec("mailguard_anvil_errors_total", "Failed calls to the shared store of rate counters, greylisting and callout answers, by operation.", "op")
)
