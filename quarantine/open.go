package quarantine

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Config selects the store.
type Config struct {
	// DataDir is the configuration's data_dir; the embedded store lives in
	// DataDir/quarantine.
	DataDir string
	// Store is the configuration's store: "" is embedded; redis://... is
	// shared between instances.
	Store string
}

// Open opens the store the configuration names.
func Open(cfg Config) (Store, error) {
	switch {
	case cfg.Store == "":
		return OpenDir(filepath.Join(cfg.DataDir, "quarantine"))
	case strings.HasPrefix(cfg.Store, "redis://"):
		return nil, fmt.Errorf("quarantine: store %s: the Redis quarantine is not available in this version", cfg.Store)
	}
	return nil, fmt.Errorf("quarantine: store %q: unknown kind (want empty or redis://)", cfg.Store)
}
