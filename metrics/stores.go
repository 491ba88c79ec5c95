package metrics

import (
	"context"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HeldEntry is what the quarantine gauges need of a held message.
type HeldEntry struct {
	Time time.Time
	Size int64
}

// stores reports, at each scrape, what is on disk: the quarantine's size
// and age, and the spool.
type stores struct {
	list     func(ctx context.Context) ([]HeldEntry, error)
	spoolDir string

	held, heldBytes, oldest, spool, up *prometheus.Desc
}

// RegisterStores adds the gauges read at scrape time: the quarantine (by
// list, nil to leave them out) and the bytes under spoolDir ("" to leave
// it out). Call it once per process.
func RegisterStores(list func(ctx context.Context) ([]HeldEntry, error), spoolDir string) error {
	return Registry.Register(&stores{
		list: list, spoolDir: spoolDir,
		held:      prometheus.NewDesc("mailguard_quarantine_messages", "Messages held in the quarantine.", nil, nil),
		heldBytes: prometheus.NewDesc("mailguard_quarantine_bytes", "Size of the messages held in the quarantine.", nil, nil),
		oldest:    prometheus.NewDesc("mailguard_quarantine_oldest_age_seconds", "Age of the oldest message in the quarantine (0 when empty).", nil, nil),
		up:        prometheus.NewDesc("mailguard_quarantine_up", "1 when the quarantine store answered the last scrape.", nil, nil),
		spool:     prometheus.NewDesc("mailguard_spool_bytes", "Bytes of messages spooled to disk while they are judged.", nil, nil),
	})
}

func (s *stores) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.held
	ch <- s.heldBytes
	ch <- s.oldest
	ch <- s.up
	ch <- s.spool
}

func (s *stores) Collect(ch chan<- prometheus.Metric) {
	if s.list != nil {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		entries, err := s.list(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.MustNewConstMetric(s.up, prometheus.GaugeValue, 0)
		} else {
			var bytes int64
			var age float64
			for _, e := range entries {
				bytes += e.Size
				if a := time.Since(e.Time).Seconds(); a > age {
					age = a
				}
			}
			ch <- prometheus.MustNewConstMetric(s.up, prometheus.GaugeValue, 1)
			ch <- prometheus.MustNewConstMetric(s.held, prometheus.GaugeValue, float64(len(entries)))
			ch <- prometheus.MustNewConstMetric(s.heldBytes, prometheus.GaugeValue, float64(bytes))
			ch <- prometheus.MustNewConstMetric(s.oldest, prometheus.GaugeValue, age)
		}
	}
	if s.spoolDir != "" {
		var n int64
		filepath.WalkDir(s.spoolDir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		ch <- prometheus.MustNewConstMetric(s.spool, prometheus.GaugeValue, float64(n))
	}
}
