package mailfiles

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
)

// envelope matches an mbox separator: "From SENDER DATE", the date in
// asctime form or close to it. Asking for a time and a year keeps a body
// line such as "From the desk of ..." from splitting a message.
var envelope = regexp.MustCompile(`^From \S+ .*\d{1,2}:\d\d(:\d\d)?.*\b\d{4}\b`)

func isEnvelope(line []byte) bool {
	return bytes.HasPrefix(line, []byte("From ")) && envelope.Match(bytes.TrimRight(line, "\r\n"))
}

// Read calls fn on each message of the file at path. A file whose first
// line is an mbox envelope line ("From ") is an mbox: it is split before
// each envelope line that follows an empty line, and its messages are named
// path#1, path#2, ... (just path when it holds one). Any other file is one
// message. Each message keeps its envelope line; classifier.Tokenize and
// Digest skip it.
func Read(path string, fn func(name string, raw []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var first [5]byte
	n, err := io.ReadFull(f, first[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read %s: %w", path, err)
	}
	size := fileSize(f)
	if string(first[:n]) != "From " || size <= wholeFile {
		// One message, or an mbox small enough to split in memory:
		// read it whole, in one allocation when the size is known.
		buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
		buf.Write(first[:n])
		if _, err := buf.ReadFrom(f); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if string(first[:n]) != "From " {
			return fn(path, buf.Bytes())
		}
		return splitBytes(path, buf.Bytes(), fn)
	}
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first[:n]), f), 64<<10)
	return split(path, r, fn)
}

// wholeFile is the largest mbox split in memory; a larger one is read a
// line at a time.
var wholeFile = 64 << 20

// splitBytes splits an mbox held in memory as split does, its messages
// sharing data.
func splitBytes(path string, data []byte, fn func(name string, raw []byte) error) error {
	var msgs [][]byte
	start := 0
	for pos := 0; ; {
		i := bytes.Index(data[pos:], []byte("\nFrom "))
		if i < 0 {
			break
		}
		i += pos
		pos = i + 1
		blank := i >= 1 && data[i-1] == '\n' || i >= 2 && data[i-1] == '\r' && data[i-2] == '\n'
		if !blank || i+1 == start {
			continue
		}
		line := data[i+1:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j+1]
		}
		if !isEnvelope(line) {
			continue
		}
		msgs = append(msgs, trimSeparator(data[start:i+1]))
		start = i + 1
	}
	msgs = append(msgs, data[start:])
	if len(msgs) == 1 {
		return fn(path, msgs[0])
	}
	for n, m := range msgs {
		if err := fn(path+"#"+strconv.Itoa(n+1), m); err != nil {
			return err
		}
	}
	return nil
}

func fileSize(f *os.File) int {
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		return int(fi.Size())
	}
	return 0
}

// split reads an mbox. The first message is held back until the second
// starts, so a one-message file keeps its plain name.
func split(path string, r *bufio.Reader, fn func(name string, raw []byte) error) error {
	var cur, held []byte
	n := 0
	emit := func(msg []byte) error {
		n++
		switch n {
		case 1:
			held = msg
			return nil
		case 2:
			if err := fn(path+"#1", held); err != nil {
				return err
			}
			held = nil
		}
		return fn(path+"#"+strconv.Itoa(n), msg)
	}
	blank := true // the start of the file counts as following an empty line
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: no envelope line is that long.
			cur = append(cur, line...)
			blank = false
			continue
		}
		if len(line) > 0 {
			if blank && len(cur) > 0 && isEnvelope(line) {
				if e := emit(trimSeparator(cur)); e != nil {
					return e
				}
				cur = nil
			}
			cur = append(cur, line...)
			blank = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if len(cur) > 0 {
		if err := emit(cur); err != nil {
			return err
		}
	}
	if n == 1 {
		return fn(path, held)
	}
	return nil
}

// trimSeparator drops the empty line that mbox puts between messages.
func trimSeparator(msg []byte) []byte {
	if bytes.HasSuffix(msg, []byte("\r\n\r\n")) {
		return msg[:len(msg)-2]
	}
	if bytes.HasSuffix(msg, []byte("\n\n")) {
		return msg[:len(msg)-1]
	}
	return msg
}
