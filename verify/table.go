package verify

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// table is the recipients file: one address, or "@domain" for a catch-all,
// a line; lines starting with "#" are comments. Lookups are case-insensitive on the whole
// address, as Postfix lowercases its lookup keys. The file is read again
// when its modification time or size changes, looked at no more than once
// a second, so operators edit it without a reload and a busy gateway does
// not stat it for every recipient.
type table struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	mod     time.Time
	size    int64
	addrs   map[string]bool
	domains map[string]bool
}

const tableCheckInterval = time.Second

func openTable(path string, log *slog.Logger) (*table, error) {
	t := &table{path: path, log: log, now: time.Now}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("recipients file: %w", err)
	}
	if err := t.load(fi); err != nil {
		return nil, err
	}
	t.checked = t.now()
	return t, nil
}

// contains reports whether the address (or a catch-all for its domain) is
// listed.
func (t *table) contains(a address) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	return t.domains[a.Domain] || t.addrs[a.key()]
}

// refresh reloads the file if it changed; on failure the old contents stay
// in use, because refusing every recipient over an editing mistake would
// bounce real mail.
func (t *table) refresh() {
	now := t.now()
	if now.Sub(t.checked) < tableCheckInterval {
		return
	}
	t.checked = now
	fi, err := os.Stat(t.path)
	if err != nil {
		t.log.Error("recipients file unreadable; keeping the previous contents", "file", t.path, "err", err)
		return
	}
	if fi.ModTime().Equal(t.mod) && fi.Size() == t.size {
		return
	}
	if err := t.load(fi); err != nil {
		t.log.Error("recipients file not reloaded; keeping the previous contents", "file", t.path, "err", err)
		return
	}
	t.log.Info("recipients file reloaded", "file", t.path, "addresses", len(t.addrs), "domains", len(t.domains))
}

func (t *table) load(fi os.FileInfo) error {
	f, err := os.Open(t.path)
	if err != nil {
		return fmt.Errorf("recipients file: %w", err)
	}
	defer f.Close()
	addrs, domains, err := parseTable(f, t.path)
	if err != nil {
		return err
	}
	t.addrs, t.domains, t.mod, t.size = addrs, domains, fi.ModTime(), fi.Size()
	return nil
}

func parseTable(f io.Reader, name string) (addrs, domains map[string]bool, err error) {
	addrs, domains = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
			// As in Postfix tables, a comment is a whole line.
		case strings.HasPrefix(line, "@"):
			d := normalizeDomain(line[1:])
			if d == "" {
				return nil, nil, fmt.Errorf("%s:%d: %q: empty domain", name, n, line)
			}
			domains[d] = true
		default:
			a := parseAddress(line)
			if a.Local == "" || a.Domain == "" {
				return nil, nil, fmt.Errorf("%s:%d: %q is neither an address nor an @domain", name, n, line)
			}
			addrs[a.key()] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("recipients file %s: %w", name, err)
	}
	return addrs, domains, nil
}
