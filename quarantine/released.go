package quarantine

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// maxHeaderBytes bounds the header section Released reads into memory: a
// header longer than this is passed on unchanged after it.
const maxHeaderBytes = 1 << 20

// Released returns msg as it is delivered on release by reviewer: every
// X-Spam-Flag field removed and every X-Spam-Status field replaced, at the
// first one's place, by one that reads "No, ... released by REVIEWER" (the
// rest of the first one's value kept, in SpamAssassin's form), so the
// recipients' mail rules (Sieve, procmail) file it as ordinary mail. Only
// the header section (up to the first empty line) is rewritten; line
// endings are kept as they are.
func Released(msg io.Reader, reviewer string) io.Reader {
	br := bufio.NewReaderSize(msg, 64<<10)
	var head bytes.Buffer
	var lines []string
	n := 0
	for {
		line, err := br.ReadString('\n')
		n += len(line)
		if line != "" {
			lines = append(lines, line)
		}
		if err != nil || line == "\r\n" || line == "\n" || n > maxHeaderBytes {
			break
		}
	}
	rewrite(&head, lines, reviewer)
	return io.MultiReader(&head, br)
}

// rewrite writes lines (a header section, maybe with the empty line that
// ends it) with the verdict fields rewritten.
func rewrite(w *bytes.Buffer, lines []string, reviewer string) {
	reviewer = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, reviewer)
	if reviewer == "" {
		reviewer = "unknown"
	}
	statusDone := false
	for i := 0; i < len(lines); {
		// A field is its line and its continuation lines.
		j := i + 1
		if !isBlank(lines[i]) {
			for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
				j++
			}
		}
		field := lines[i:j]
		name, value, isField := strings.Cut(field[0], ":")
		name = strings.TrimSpace(name)
		switch {
		case isField && strings.EqualFold(name, "X-Spam-Flag"):
			// dropped
		case isField && strings.EqualFold(name, "X-Spam-Status"):
			if !statusDone {
				statusDone = true
				eol := lineEnd(field[len(field)-1])
				full := value
				for _, c := range field[1:] {
					full += c
				}
				w.WriteString("X-Spam-Status: " + releasedStatus(full, reviewer) + eol)
			}
		default:
			for _, l := range field {
				w.WriteString(l)
			}
		}
		i = j
	}
}

// releasedStatus turns an X-Spam-Status value ("Yes, score=12
// required=5 tests=A,B", folded or not) into the released one.
func releasedStatus(v, reviewer string) string {
	v = strings.Join(strings.Fields(v), " ")
	rest := v
	if word, after, ok := strings.Cut(v, ","); ok && (strings.EqualFold(word, "yes") || strings.EqualFold(word, "no")) {
		rest = strings.TrimSpace(after)
	} else if strings.EqualFold(v, "yes") || strings.EqualFold(v, "no") {
		rest = ""
	}
	if rest == "" {
		return "No, released by " + reviewer
	}
	return "No, " + rest + " released by " + reviewer
}

func isBlank(l string) bool { return l == "\r\n" || l == "\n" }

func lineEnd(l string) string {
	if strings.HasSuffix(l, "\r\n") {
		return "\r\n"
	}
	return "\n"
}
