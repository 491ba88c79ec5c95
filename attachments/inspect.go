package attachments

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"

	"mailguard/classifier"
)

// Class is a kind of dangerous attachment; each has its own action.
type Class string

// The classes, in the order they are reported.
const (
	// Executable: a program or script by its name's extension, or a
	// program by its content whatever its name.
	Executable Class = "executable"
	// DoubleExtension: a document's extension followed by a program's
	// ("invoice.pdf.exe"), made to show only the first.
	DoubleExtension Class = "double_extension"
	// Mismatch: content that is a program or an archive under a name or
	// declared type of a harmless document ("photo.jpg" that is a zip).
	Mismatch Class = "mismatch"
	// Encrypted: an archive with encrypted files, which no scanner can
	// look into; the password is usually in the message.
	Encrypted Class = "encrypted"
	// Unscannable: an archive that cannot be opened here (7z, RAR, CAB,
	// a damaged zip).
	Unscannable Class = "unscannable"
	// Limits: the walk stopped at a limit (nesting, file count, expanded
	// size): a zip bomb, or an archive too big to vouch for.
	Limits Class = "limits"
)

// Classes lists every class.
var Classes = []Class{Executable, DoubleExtension, Mismatch, Encrypted, Unscannable, Limits}

// Finding is one dangerous file.
type Finding struct {
	Class Class
	// File is the file's name, with the archives holding it before it
	// ("orders.zip/2024/invoice.js").
	File string
	// Why completes "attachment FILE ...": "is an executable file (.exe)".
	Why string
}

// WalkLimits bound the work one message can cause.
type WalkLimits struct {
	// MaxDepth is how many archives deep the walk goes: an attached
	// archive is opened at depth 0, an archive in it at depth 1; the gzip
	// layer of a .tar.gz is a level of its own.
	MaxDepth int
	// MaxFiles bounds the files looked at, MIME parts and archive members
	// together.
	MaxFiles int
	// MaxExpandedBytes bounds the bytes decompressed from archives.
	MaxExpandedBytes int64
	// MaxParts bounds the MIME parts walked.
	MaxParts int
}

// Defaults of WalkLimits.
const (
	DefaultMaxDepth         = 5
	DefaultMaxFiles         = 1000
	DefaultMaxExpandedBytes = 64 << 20
	DefaultMaxParts         = 500
)

func (l *WalkLimits) defaults() {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxExpandedBytes <= 0 {
		l.MaxExpandedBytes = DefaultMaxExpandedBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
}

// Report is what Inspect found.
type Report struct {
	Findings []Finding
	// Files is how many files were looked at; Expanded how many bytes
	// were decompressed from archives.
	Files    int
	Expanded int64
}

// sniffLen is how much of a file content detection reads (mimetype's
// default).
const sniffLen = 3072

// Inspect walks every MIME part of the raw message at raw and every file
// in the archives they are, and reports the files that fall in a class.
// Executable extensions are given lower case without the dot.
func Inspect(raw []byte, lim WalkLimits, executable []string) *Report {
	lim.defaults()
	in := &inspector{lim: lim, exec: set(executable...), rep: &Report{}}
	res := classifier.Walk(raw, classifier.WalkLimits{MaxParts: lim.MaxParts, MaxDepth: 16}, func(p *classifier.Part) {
		if in.stopped {
			return
		}
		if p.Filename == "" && (strings.HasPrefix(p.Type, "text/") || len(p.Body) == 0) {
			return // the message's text
		}
		name := p.Filename
		if name == "" {
			name = "(unnamed " + p.Type + " part)"
		}
		in.file(name, p.Names, p.Type, bytes.NewReader(p.Body), 0)
	})
	if res.Truncated != "" && !in.stopped {
		in.find(Limits, "(message)", fmt.Sprintf("has more MIME parts or nesting than the %s limit allows", res.Truncated))
	}
	return in.rep
}

type inspector struct {
	lim     WalkLimits
	exec    map[string]bool
	rep     *Report
	stopped bool
}

func (in *inspector) find(c Class, file, why string) {
	in.rep.Findings = append(in.rep.Findings, Finding{Class: c, File: file, Why: why})
}

// limit reports a limit reached and stops the walk: past it, nothing the
// walk says would be complete.
func (in *inspector) limit(file, why string) {
	if !in.stopped {
		in.find(Limits, file, why)
	}
	in.stopped = true
}

var errBudget = errors.New("expanded size limit")

// budget counts the bytes read from decompressors against
// MaxExpandedBytes.
type budget struct {
	r  io.Reader
	in *inspector
}

func (b *budget) Read(p []byte) (int, error) {
	left := b.in.lim.MaxExpandedBytes - b.in.rep.Expanded
	if left <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.Read(p)
	b.in.rep.Expanded += int64(n)
	return n, err
}

// file looks at one file: its names (a MIME part may have two), its
// declared type ("" for archive members), its content from r, and, when it
// is an archive, the files in it. depth is how many archives enclose it.
func (in *inspector) file(file string, names []string, declared string, r io.Reader, depth int) {
	if in.stopped {
		return
	}
	in.rep.Files++
	if in.rep.Files > in.lim.MaxFiles {
		in.limit(file, fmt.Sprintf("holds more than %d files", in.lim.MaxFiles))
		return
	}
	nameExec := false
	var shownExt string
	for _, n := range names {
		exts := extensions(n)
		if len(exts) == 0 {
			continue
		}
		last := exts[len(exts)-1]
		if shownExt == "" {
			shownExt = last
		}
		if in.exec[last] {
			nameExec = true
			if len(exts) >= 2 && documentExt[exts[len(exts)-2]] {
				in.find(DoubleExtension, file, fmt.Sprintf("has a double extension (.%s.%s)", exts[len(exts)-2], last))
			}
			in.find(Executable, file, fmt.Sprintf("is an executable file (.%s)", last))
			break
		}
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if errors.Is(err, errBudget) {
		in.limit(file, fmt.Sprintf("expands to more than %d bytes", in.lim.MaxExpandedBytes))
		return
	}
	if n == 0 {
		return
	}
	mt := mimetype.Detect(head)
	prog, arch := kinds(mt)
	if prog == "a Windows program" && !isPE(head) {
		prog = ""
	}
	if prog != "" && !nameExec {
		in.find(Executable, file, fmt.Sprintf("is %s by its content", prog))
	}
	if what := prog + arch; what != "" {
		if harmless := harmlessLabel(shownExt, declared); harmless != "" {
			in.find(Mismatch, file, fmt.Sprintf("is %s but %s", what, harmless))
		}
	}
	if arch == "" {
		return
	}
	switch arch {
	case "a 7z archive", "a RAR archive", "an xz archive", "a CAB archive", "an lzip archive":
		in.find(Unscannable, file, "is "+arch+", which cannot be looked into")
		return
	}
	if depth >= in.lim.MaxDepth {
		in.limit(file, fmt.Sprintf("nests archives deeper than %d", in.lim.MaxDepth))
		return
	}
	rest, err := io.ReadAll(r)
	data := append(head, rest...)
	if errors.Is(err, errBudget) {
		in.limit(file, fmt.Sprintf("expands to more than %d bytes", in.lim.MaxExpandedBytes))
		return
	}
	if err != nil {
		in.find(Unscannable, file, "is "+arch+" that cannot be read ("+errText(err)+")")
		return
	}
	switch arch {
	case "a zip archive":
		in.zip(file, data, depth)
	case "a tar archive":
		in.tar(file, data, depth)
	case "a gzip file", "a bzip2 file":
		in.compressed(file, names, arch, data, depth)
	}
}

// errText shortens a library's error for a reply.
func errText(err error) string {
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// zip walks a zip archive's members. The central directory's entry count
// is checked before archive/zip reads it, since the reader keeps every
// entry in memory.
func (in *inspector) zip(file string, data []byte, depth int) {
	if n, ok := zipEntries(data); ok && n > in.lim.MaxFiles-in.rep.Files {
		in.limit(file, fmt.Sprintf("holds more than %d files", in.lim.MaxFiles))
		return
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		in.find(Unscannable, file, "is a damaged zip archive ("+errText(err)+")")
		return
	}
	encrypted := false
	for _, f := range zr.File {
		if in.stopped {
			return
		}
		if f.FileInfo().IsDir() {
			continue
		}
		member := file + "/" + f.Name
		if f.Flags&0x1 != 0 {
			if !encrypted {
				in.find(Encrypted, file, "is an encrypted archive")
				encrypted = true
			}
			// Names are not encrypted: still judge them.
			in.file(member, []string{f.Name}, "", bytes.NewReader(nil), depth+1)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			in.find(Unscannable, member, "cannot be unpacked ("+errText(err)+")")
			in.file(member, []string{f.Name}, "", bytes.NewReader(nil), depth+1)
			continue
		}
		in.file(member, []string{f.Name}, "", &budget{r: rc, in: in}, depth+1)
		rc.Close()
	}
}

func (in *inspector) tar(file string, data []byte, depth int) {
	tr := tar.NewReader(bytes.NewReader(data))
	for !in.stopped {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			in.find(Unscannable, file, "is a damaged tar archive ("+errText(err)+")")
			return
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		in.file(file+"/"+h.Name, []string{h.Name}, "", tr, depth+1)
	}
}

// compressed unpacks a gzip or bzip2 file and looks at what it holds under
// the name the compressor recorded, else its own name without .gz/.bz2
// (.tgz and .tbz2 hold a .tar).
func (in *inspector) compressed(file string, names []string, arch string, data []byte, depth int) {
	var r io.Reader
	inner := ""
	if len(names) > 0 {
		inner = path.Base(strings.ReplaceAll(names[0], `\`, "/"))
	}
	lower := strings.ToLower(inner)
	switch {
	case strings.HasSuffix(lower, ".tgz"), strings.HasSuffix(lower, ".tbz2"), strings.HasSuffix(lower, ".tbz"):
		inner = inner[:strings.LastIndexByte(inner, '.')] + ".tar"
	case strings.HasSuffix(lower, ".gz"), strings.HasSuffix(lower, ".bz2"):
		inner = inner[:strings.LastIndexByte(inner, '.')]
	}
	if arch == "a gzip file" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			in.find(Unscannable, file, "is a damaged gzip file ("+errText(err)+")")
			return
		}
		if zr.Name != "" {
			inner = zr.Name
		}
		r = zr
	} else {
		r = bzip2.NewReader(bytes.NewReader(data))
	}
	var innerNames []string
	if inner != "" {
		innerNames = []string{inner}
	} else {
		inner = "(content)"
	}
	in.file(file+"/"+inner, innerNames, "", &budget{r: r, in: in}, depth+1)
}

// kinds says whether detected content is a program or an archive, in
// words for the reply ("a Windows program", "a zip archive").
func kinds(mt *mimetype.MIME) (prog, arch string) {
	for m := mt; m != nil; m = m.Parent() {
		switch m.String() {
		case "application/vnd.microsoft.portable-executable":
			return "a Windows program", ""
		case "application/x-elf", "application/x-executable", "application/x-sharedlib":
			return "an ELF program", ""
		case "application/x-mach-binary":
			return "a Mach-O program", ""
		case "application/x-ms-shortcut":
			return "a Windows shortcut", ""
		case "application/x-ms-installer":
			return "a Windows installer", ""
		case "application/java-archive":
			return "a Java program", ""
		case "application/x-java-applet":
			return "a Java class", ""
		case "application/zip":
			if m == mt {
				return "", "a zip archive"
			}
			// Office documents, EPUB and the like are zip files too,
			// judged as what they are, not walked.
			return "", ""
		case "application/x-tar":
			return "", "a tar archive"
		case "application/gzip":
			return "", "a gzip file"
		case "application/x-bzip2":
			return "", "a bzip2 file"
		case "application/x-7z-compressed":
			return "", "a 7z archive"
		case "application/vnd.rar":
			return "", "a RAR archive"
		case "application/x-xz":
			return "", "an xz archive"
		case "application/vnd.ms-cab-compressed":
			return "", "a CAB archive"
		case "application/lzip":
			return "", "an lzip archive"
		}
	}
	return "", ""
}

// harmlessExt are names whose content is never a program or an archive.
var harmlessExt = set("pdf", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "txt", "rtf", "csv",
	"mp3", "wav", "mp4", "mov", "avi", "htm", "html", "doc", "xls", "ppt", "ics", "vcf", "svg", "webp")

// harmlessLabel describes what makes the file look harmless, "" when
// nothing does: its extension, else its declared type.
func harmlessLabel(ext, declared string) string {
	if harmlessExt[ext] {
		return "is named ." + ext
	}
	d := strings.ToLower(declared)
	if strings.HasPrefix(d, "image/") || strings.HasPrefix(d, "audio/") || strings.HasPrefix(d, "video/") ||
		strings.HasPrefix(d, "text/") || d == "application/pdf" || d == "application/msword" {
		return "is declared " + d
	}
	return ""
}

// isPE narrows mimetype's "MZ" test, which text starting with those two
// letters passes: the DOS header's e_lfanew must point at "PE\0\0", or,
// when it points past what was read, the DOS stub's message must be
// there.
func isPE(b []byte) bool {
	if len(b) < 64 || b[0] != 'M' || b[1] != 'Z' {
		return false
	}
	off := int(binary.LittleEndian.Uint32(b[0x3c:0x40]))
	if off >= 0x40 && off+4 <= len(b) {
		return bytes.Equal(b[off:off+4], []byte("PE\x00\x00"))
	}
	return bytes.Contains(b, []byte("program cannot be run")) || bytes.Contains(b, []byte("program must be run"))
}
