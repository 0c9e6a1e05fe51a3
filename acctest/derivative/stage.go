package derivative

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
)

// stage is a directory that becomes one layer on top of the base tree.
// Parent directories copy the base's owner and mode, so that the layer does
// not change them, and a path under a base symlink (e.g. /lib on merged-usr)
// is refused: the layer would replace the symlink with a directory.
type stage struct {
	dir  string // staging directory
	base string // base tree the layer goes on top of
}

func (s *stage) file(rel string, data []byte, mode os.FileMode) error {
	if err := s.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(s.dir, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	return nil
}

func (s *stage) copyFile(rel, src string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	return s.file(rel, data, mode)
}

func (s *stage) symlink(rel, target string) error {
	if err := s.parents(rel); err != nil {
		return err
	}
	if err := os.Symlink(target, filepath.Join(s.dir, rel)); err != nil {
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	return nil
}

func (s *stage) mkdir(rel string, mode os.FileMode) error {
	if err := s.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(s.dir, rel)
	if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("staging %s: %w", rel, err)
	}
	return nil
}

// parents creates the parent directories of rel like the base has them.
func (s *stage) parents(rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	if err := s.parents(dir); err != nil {
		return err
	}
	p := filepath.Join(s.dir, dir)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	mode, uid, gid := os.FileMode(0o755), 0, 0
	if fi, err := os.Lstat(filepath.Join(s.base, dir)); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("staging under %s: it is a symlink in the base", dir)
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode, uid, gid = fi.Mode().Perm()|fi.Mode()&(fs.ModeSetgid|fs.ModeSticky), int(st.Uid), int(st.Gid)
	}
	if err := os.Mkdir(p, mode); err != nil {
		return fmt.Errorf("staging %s: %w", dir, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("staging %s: %w", dir, err)
	}
	if err := os.Lchown(p, uid, gid); err != nil {
		return fmt.Errorf("staging %s: %w", dir, err)
	}
	return nil
}
