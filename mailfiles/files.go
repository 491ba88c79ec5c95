// Package mailfiles finds the messages a command is pointed at: message
// files, folders of them (walked recursively, as a Maildir or a corpus
// directory), and mbox files, split at their "From " envelope lines.
package mailfiles

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is one file to read, with its size for progress reporting.
type File struct {
	Path string
	Size int64
}

// List expands paths into the files under them, in the order given and
// each folder's files in lexical order. Names starting with a dot (a
// Maildir's or an editor's bookkeeping) are skipped inside folders.
func List(paths []string) ([]File, error) {
	var out []File
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, File{Path: p, Size: fi.Size()})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			// A symlink (a corpus split is made of them) counts as its target.
			if info.Mode()&fs.ModeSymlink != 0 {
				if info, err = os.Stat(path); err != nil {
					return err
				}
				if info.IsDir() {
					return nil
				}
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			out = append(out, File{Path: path, Size: info.Size()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	return out, nil
}
