package attachments

import (
	"bytes"
	"encoding/binary"
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
