package quarantine

import (
	"fmt"
	"os"
	"path/filepath"

	"mailguard/redisconn"
)

// DirName is the embedded store's directory in data_dir.
const DirName = "quarantine"

// Config selects the store.
type Config struct {
	// DataDir is the configuration's data_dir; the embedded store lives in
	// DataDir/quarantine.
	DataDir string
	// MustExist opens an embedded store only if its directory exists
	// (the error then wraps fs.ErrNotExist), so reviewing an empty
	// quarantine creates nothing.
	MustExist bool
	// Store is the configuration's store: "" is embedded; redis://... is
	// shared between instances.
	Store string
}

// Available reports, as an error, why a store value cannot be opened by
// this version; nil when it can. Configuration checks ask it, so a store
// Open would refuse is refused before anything starts.
func Available(store string) error {
	switch {
	case store == "":
		return nil
	case redisconn.IsRedis(store):
		if _, err := redisconn.Options(store); err != nil {
			return fmt.Errorf("quarantine: store %w", err)
		}
		return nil
	}
	return fmt.Errorf("quarantine: store %q: unknown kind (want empty or redis://)", store)
}

// Open opens the store the configuration names.
func Open(cfg Config) (Store, error) {
	if err := Available(cfg.Store); err != nil {
		return nil, err
	}
	switch {
	case cfg.Store == "":
		dir := filepath.Join(cfg.DataDir, DirName)
		if cfg.MustExist {
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("quarantine: %w", err)
			}
		}
		return OpenDir(dir)
	case redisconn.IsRedis(cfg.Store):
		return OpenRedis(cfg.Store, "")
	}
	return nil, fmt.Errorf("quarantine: store %q: no opener", cfg.Store)
}
