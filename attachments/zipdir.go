package attachments

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// zipEntries reads the number of entries a zip archive's end of central
// directory record announces (APPNOTE.TXT section 4.3.16), without reading
// the directory. ok is false when no record is found; a zip64 archive
// (0xFFFF entries) reports 0xFFFF, more than any mail needs.
func zipEntries(data []byte) (n int, ok bool) {
	const eocdLen = 22
	sig := []byte{'P', 'K', 5, 6}
	// The record ends the archive, after a comment of up to 65535 bytes.
	from := len(data) - eocdLen - 65535
	if from < 0 {
		from = 0
	}
	i := bytes.LastIndex(data[from:], sig)
	if i < 0 || from+i+eocdLen > len(data) {
		return 0, false
	}
	rec := data[from+i:]
	return int(binary.LittleEndian.Uint16(rec[10:12])), true
}

// zipEntriesAt is zipEntries on an archive read through ra.
func zipEntriesAt(ra io.ReaderAt, size int64) (int, bool) {
	n := int64(22 + 65535)
	if n > size {
		n = size
	}
	tail := make([]byte, n)
	if _, err := ra.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return 0, false
	}
	return zipEntries(tail)
}

// memArchive is how much of an archive is kept in memory before it goes
// to a temporary file.
const memArchive = 1 << 20

// materialize reads r whole into something zip can read at random: memory
// up to memArchive, a temporary file (removed by done) beyond.
func materialize(r io.Reader) (ra io.ReaderAt, size int64, done func(), err error) {
	done = func() {}
	var mem bytes.Buffer
	n, err := mem.ReadFrom(io.LimitReader(r, memArchive+1))
	if err != nil {
		return nil, 0, done, err
	}
	if n <= memArchive {
		return bytes.NewReader(mem.Bytes()), n, done, nil
	}
	buf := mem.Bytes()
	f, err := os.CreateTemp("", "mailguard-archive-*")
	if err != nil {
		return nil, 0, done, fmt.Errorf("temporary file: %w", err)
	}
	done = func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(buf[:n]); err != nil {
		return nil, 0, done, fmt.Errorf("temporary file: %w", err)
	}
	m, err := io.Copy(f, r)
	if err != nil {
		return nil, 0, done, err
	}
	return f, n + m, done, nil
}
