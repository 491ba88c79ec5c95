package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// TokenStats are the classifier's store figures.
type TokenStats struct {
	Tokens    int
	Spam, Ham uint64
}

type tokenStore struct {
	read                   func(ctx context.Context) (TokenStats, error)
	tokens, learnt, readOK *prometheus.Desc
}

// RegisterTokenStore adds the classifier's store gauges, read at scrape
// time with read. Call it once per process.
func RegisterTokenStore(read func(ctx context.Context) (TokenStats, error)) error {
	return Registry.Register(&tokenStore{
		read:   read,
		tokens: prometheus.NewDesc("mailguard_classifier_tokens", "Tokens in the classifier's store.", nil, nil),
		learnt: prometheus.NewDesc("mailguard_classifier_learnt_messages", "Messages the classifier has learnt, by class.", []string{"class"}, nil),
		readOK: prometheus.NewDesc("mailguard_classifier_store_up", "1 when the token store could be read at the last scrape.", nil, nil),
	})
}

func (t *tokenStore) Describe(ch chan<- *prometheus.Desc) {
	ch <- t.tokens
	ch <- t.learnt
	ch <- t.readOK
}

func (t *tokenStore) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	st, err := t.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(t.readOK, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(t.readOK, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(t.tokens, prometheus.GaugeValue, float64(st.Tokens))
	ch <- prometheus.MustNewConstMetric(t.learnt, prometheus.GaugeValue, float64(st.Spam), "spam")
	ch <- prometheus.MustNewConstMetric(t.learnt, prometheus.GaugeValue, float64(st.Ham), "ham")
}
