package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileMode is the mode of every database file: incidents hold undisclosed
// security drafts, so only the daemon's user may read them.
const fileMode fs.FileMode = 0o600

// restrictFiles creates the database file with fileMode before SQLite
// opens it (SQLite gives the -wal and -shm files the database file's
// mode), and tightens the files of a database created looser by an older
// version. The lock file is created 0600 by Open.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if fi.Mode().Perm()&^fileMode != 0 {
			if err := os.Chmod(p, fileMode); err != nil {
				return fmt.Errorf("store: restrict %s to mode %o: %w", p, fileMode, err)
			}
		}
	}
	return nil
}
