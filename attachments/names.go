package attachments

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultExtensions are the file name extensions of programs and scripts
// Windows (or a mail reader's platform) runs on a double click, the class
// of attachments that carries most mail-borne malware; disk images are in
// because Windows mounts them and runs what they hold.
func DefaultExtensions() []string {
	return []string{
		"exe", "scr", "com", "pif", "bat", "cmd", "cpl", "dll", "msi", "msp", "msc",
		"js", "jse", "vbs", "vbe", "wsf", "wsh", "wsc", "hta", "ps1", "psm1", "reg",
		"jar", "lnk", "scf", "url", "inf", "chm", "gadget", "application", "appx",
		"msix", "appref-ms", "xll", "iso", "img", "vhd", "vhdx",
	}
}

// documentExt are extensions of what people expect to open safely: the
// first of a double extension ("invoice.pdf.exe") names one of them.
var documentExt = set("pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "rtf", "txt",
	"odt", "ods", "odp", "csv", "htm", "html", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff",
	"mp3", "mp4", "wav", "avi", "mov", "zip", "rar", "7z")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// extensions returns a file name's extensions, last one last, lower case,
// with the spaces and dots Windows drops from the end of a name removed
// ("invoice.pdf   .exe." has pdf and exe).
func extensions(name string) []string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimRight(name, " .\t")
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil
	}
	var out []string
	for _, p := range parts[1:] {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Quote renders a file name from a message for a reply or a log line:
// quoted, printable ASCII only (other runes escaped), at most 120 runes.
// A name is written by the sender; it must never break the reply's line or
// hide what it is.
func Quote(name string) string {
	if utf8.RuneCountInString(name) > 120 {
		r := []rune(name)
		name = string(r[:117]) + "..."
	}
	return strconv.QuoteToASCII(name)
}

// detail is a name made safe for X-Spam-Status: letters, digits and
// ._-/ kept, everything else _.
func detail(name string) string {
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '/') {
			b[i] = '_'
		}
	}
	return string(b)
}
