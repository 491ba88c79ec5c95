package classifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
)

// Bounds on the work one message can cause: a huge or hostile message is
// judged on its beginning, which is also what its reader sees first.
const (
	maxRawBytes  = 8 << 20   // raw message bytes looked at
	maxTextBytes = 512 << 10 // decoded text tokenized, all parts together
	maxParts     = 64        // MIME parts walked
	maxDepth     = 8         // nesting of multiparts and attached messages
	maxTokens    = 4000      // distinct tokens kept
	minWordLen   = 3
	maxWordLen   = 12
)

// Tokenize returns the distinct tokens of a raw RFC 5322 message, in no
// particular order: the words its reader sees (MIME parts decoded, charsets converted to
// UTF-8, HTML reduced to its text), the header fields that carry a sender's
// habits (prefixed, e.g. "subject:free", "from:dom:example.com"), the hosts
// of its links and the path it travelled. Headers an upstream filter adds
// (X-Spam-* and the like) and those a mailbox adds on delivery are left
// out: they would teach the classifier a verdict or a mailbox, not mail.
func Tokenize(raw []byte) []string {
	if len(raw) > maxRawBytes {
		raw = raw[:maxRawBytes]
	}
	raw = skipEnvelopeLine(raw)
	t := tokenizerPool.Get().(*tokenizer)
	defer t.release()
	hdr, body := splitHeader(raw)
	h := parseHeader(hdr)
	t.headers(h)
	t.entity(h, body, 0)
	t.summary()
	return t.tokens()
}

// tokens returns the set. The tokens share one string of their own, so
// none holds on to the message or its decoded text.
func (t *tokenizer) tokens() []string {
	return t.set.strings()
}

// tokenizer collects the tokens of one message.
type tokenizer struct {
	set      tokenSet
	textLeft int
	parts    int
	links    int
	images   int
	// imageParts counts image/* parts; imageBytes is the largest one's
	// decoded size, about.
	imageParts int
	imageBytes int
	scratch    []byte
	tagName    []byte // html's scratch for tag names
	// urls are the link targets tokenized so far: a message gives the
	// same link many times, and its tokens are in the set already.
	urls   tokenSet
	prev   []byte
	bigram []byte
}

// Tokenizers are pooled: their token set and header reader are reused.
var tokenizerPool = sync.Pool{New: func() any {
	return &tokenizer{set: newTokenSet(1024), urls: newTokenSet(64), textLeft: maxTextBytes}
}}

func (t *tokenizer) release() {
	t.set.reset()
	t.urls.reset()
	t.prev = t.prev[:0]
	t.textLeft, t.parts, t.links, t.images = maxTextBytes, 0, 0, 0
	t.imageParts, t.imageBytes = 0, 0
	tokenizerPool.Put(t)
}

// addBytes adds b, allocating only when it is new.
func (t *tokenizer) addBytes(b []byte) {
	if t.set.len() < maxTokens {
		t.set.addBytes(b)
	}
}

func (t *tokenizer) add(tok string) {
	if t.set.len() < maxTokens {
		t.set.add(tok)
	}
}

// link tokenizes a link target once per message: url adds the same tokens
// for the same raw string, and the set only grows.
func (t *tokenizer) link(raw string) {
	if t.urls.add(raw) {
		t.url(raw)
	}
}

// linkBytes is link for bytes, which it copies only when new.
func (t *tokenizer) linkBytes(raw []byte) {
	if t.urls.addBytes(raw) {
		t.url(string(raw))
	}
}

// summary adds the counts gathered on the way, bucketed so that similar
// messages share a token.
func (t *tokenizer) summary() {
	t.add("links:" + bucket(t.links))
	t.add("images:" + bucket(t.images))
	if t.images+t.imageParts == 0 {
		return
	}
	// The shape of image spam: a picture carries the message, text (if
	// any) is filler to look like ham, and there is often no link. Each
	// fact alone is common in ham and too weak a clue to pass min_dev;
	// together they are one token that can be. The SpamAssassin corpus
	// (2002) holds hardly any such spam: its figures did not move.
	links := "links"
	if t.links == 0 {
		links = "nolinks"
	}
	text := "filler"
	switch seen := maxTextBytes - t.textLeft; {
	case seen < 200:
		text = "notext"
	case seen < 1000:
		text = "short"
	}
	embedded := "remote"
	if t.imageParts > 0 {
		embedded = "embedded"
		t.add("image:size:" + bucket(t.imageBytes>>10) + "k")
	}
	t.add("shape:image " + embedded + " " + links + " " + text)
}

// bucket is 0, 1, 2, 3, 4-7, 8-15, ... as a string.
func bucket(n int) string {
	if n < 4 {
		return strconv.Itoa(n)
	}
	lo := 4
	for lo*2 <= n {
		lo *= 2
	}
	return strconv.Itoa(lo) + "+"
}

// skipEnvelopeLine drops an mbox "From " line: it is the mailbox's, not
// the message's.
func skipEnvelopeLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
		return nil
	}
	return raw
}

// splitHeader splits at the first empty line (LF or CRLF); the header
// keeps its line ends.
func splitHeader(b []byte) (hdr, body []byte) {
	if len(b) > 0 && (b[0] == '\n' || (b[0] == '\r' && len(b) > 1 && b[1] == '\n')) {
		return nil, b[bytes.IndexByte(b, '\n')+1:]
	}
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return b, nil
		}
		next := i + j + 1
		if next < len(b) && b[next] == '\n' {
			return b[:next], b[next+1:]
		}
		if next+1 < len(b) && b[next] == '\r' && b[next+1] == '\n' {
			return b[:next], b[next+2:]
		}
		i = next
	}
	return b, nil
}

// Digest identifies a message for learning: the same message learnt twice
// counts once however it travelled, so the fields a hop adds (Received,
// X-Spam-*, Delivered-To, the mbox envelope line) are left out, line ends
// are normalised and trailing white space ignored.
func Digest(raw []byte) string {
	raw = skipEnvelopeLine(raw)
	hdr, body := splitHeader(raw)
	h := parseHeader(hdr)
	d := sha256.New()
	for _, name := range []string{"Message-Id", "From", "To", "Cc", "Subject", "Date", "Content-Type"} {
		for _, v := range h.Values(name) {
			d.Write([]byte(strings.ToLower(name)))
			d.Write([]byte{':'})
			d.Write([]byte(strings.Join(strings.Fields(v), " ")))
			d.Write([]byte{'\n'})
		}
	}
	d.Write([]byte{'\n'})
	body = bytes.TrimRight(body, " \t\r\n")
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		d.Write(bytes.TrimRight(line, " \t\r"))
		d.Write([]byte{'\n'})
	}
	return hex.EncodeToString(d.Sum(nil))
}
