package classifier

import (
	"strings"
	"unicode"
)

// charsetFamily names the script a declared charset is made for: "ascii",
// "latin", "cyrillic", "greek", "cjk", "unicode" (UTF-8/16: any), or ""
// for one not known here.
func charsetFamily(cs string) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	switch {
	case cs == "" || cs == "us-ascii" || cs == "ascii":
		return "ascii"
	case strings.HasPrefix(cs, "utf-"):
		return "unicode"
	case cs == "iso-8859-1" || cs == "iso-8859-15" || cs == "windows-1252" || cs == "cp1252" || cs == "latin1" ||
		cs == "iso-8859-2" || cs == "windows-1250":
		return "latin"
	case strings.Contains(cs, "koi8") || cs == "windows-1251" || cs == "cp1251" || cs == "iso-8859-5":
		return "cyrillic"
	case cs == "iso-8859-7" || cs == "windows-1253":
		return "greek"
	case strings.Contains(cs, "gb") || strings.Contains(cs, "big5") || strings.Contains(cs, "jis") ||
		strings.Contains(cs, "euc-") || strings.Contains(cs, "2022") || strings.Contains(cs, "ks_c") || strings.Contains(cs, "5601"):
		return "cjk"
	}
	return ""
}

// scriptSample is how many bytes of a text part textScript looks at.
const scriptSample = 4096

// textScript names the script most of the letters of s are in: "ascii"
// (no letter beyond ASCII), "latin" (some accented Latin), "latin8"
// (mostly accented Latin: a text in another script read with a Latin
// charset), "cyrillic", "greek", "cjk" or "other"; "" without letters.
func textScript(s string) string {
	if len(s) > scriptSample {
		// The start tells the script; a cut rune only counts as other.
		s = s[:scriptSample]
	}
	var ascii, latin, cyr, greek, cjk, other int
	for _, r := range s {
		switch {
		case r < 0x80:
			if 'a' <= r|0x20 && r|0x20 <= 'z' {
				ascii++
			}
		case !unicode.IsLetter(r):
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.Is(unicode.Cyrillic, r):
			cyr++
		case unicode.Is(unicode.Greek, r):
			greek++
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
			cjk++
		default:
			other++
		}
	}
	wide := latin + cyr + greek + cjk + other
	switch {
	case ascii+wide == 0:
		return ""
	case wide == 0:
		return "ascii"
	case cyr >= wide/2 && cyr > 0:
		return "cyrillic"
	case greek >= wide/2 && greek > 0:
		return "greek"
	case cjk >= wide/2 && cjk > 0:
		return "cjk"
	case latin >= wide/2 && latin > ascii:
		return "latin8"
	case latin >= wide/2:
		return "latin"
	}
	return "other"
}

// scriptToken returns the token for a text part whose declared charset
// does not fit the script of its text (spam declares one charset and
// writes in another, or declares a national charset for plain ASCII), or
// "" when they fit.
func scriptToken(charset, text string) string {
	fam := charsetFamily(charset)
	if fam == "" || fam == "unicode" {
		return ""
	}
	if (fam == "ascii" || fam == "latin") && isASCII(text[:min(len(text), scriptSample)]) {
		return "" // the script is "ascii" or none, which fit
	}
	sc := textScript(text)
	if sc == "" {
		return ""
	}
	fits := fam == sc || (fam == "latin" && sc == "ascii") || (fam == "latin" && sc == "latin")
	if fits {
		return ""
	}
	return "script:" + fam + " as " + sc
}
