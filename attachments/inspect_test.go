package attachments

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func findings(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, string(f.Class)+" "+f.File+" "+f.Why)
	}
	return out
}

func inspect(raw []byte) []string {
	return findings(Inspect(raw, WalkLimits{}, DefaultExtensions()))
}

// TestNames: a file name is read in every form MIME gives it, and a
// program's extension is found in each.
func TestNames(t *testing.T) {
	exe := []byte("just bytes")
	tests := []struct {
		name, header string
		want         []string
	}{
		{"filename", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.exe\"",
			[]string{"executable invoice.exe is an executable file (.exe)"}},
		{"name only", "Content-Type: application/octet-stream; name=\"setup.scr\"",
			[]string{"executable setup.scr is an executable file (.scr)"}},
		{"unquoted", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=run.bat",
			[]string{"executable run.bat is an executable file (.bat)"}},
		{"RFC 2231 extended UTF-8", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''%C3%A9t%C3%A9.js",
			[]string{"executable été.js is an executable file (.js)"}},
		{"RFC 2231 extended Latin-1", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*=iso-8859-1''factur%E9.vbs",
			[]string{"executable facturé.vbs is an executable file (.vbs)"}},
		{"RFC 2231 continuations", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0=\"quar\";\r\n filename*1=\"terly.pd\";\r\n filename*2=\"f.hta\"",
			[]string{"double_extension quarterly.pdf.hta has a double extension (.pdf.hta)", "executable quarterly.pdf.hta is an executable file (.hta)"}},
		{"RFC 2231 encoded continuations", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=iso-8859-1''r%E9sum%E9;\r\n filename*1=\".ps1\"",
			[]string{"executable résumé.ps1 is an executable file (.ps1)"}},
		{"encoded word", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?aW52b2ljZS5sbms=?=\"",
			[]string{"executable invoice.lnk is an executable file (.lnk)"}},
		{"encoded words split", "Content-Type: application/octet-stream;\r\n name=\"=?iso-8859-1?Q?facture_r=E9sum=E9.doc?= =?utf-8?Q?.wsf?=\"",
			[]string{"double_extension facture résumé.doc.wsf has a double extension (.doc.wsf)", "executable facture résumé.doc.wsf is an executable file (.wsf)"}},
		{"filename and name disagree", "Content-Type: application/octet-stream; name=\"doc.cmd\"\r\nContent-Disposition: attachment; filename=\"doc.txt\"",
			[]string{"executable doc.txt is an executable file (.cmd)"}},
		{"trailing dots and spaces", "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.pdf   .exe. \"",
			[]string{"double_extension invoice.pdf   .exe. has a double extension (.pdf.exe)", "executable invoice.pdf   .exe. is an executable file (.exe)"}},
		{"upper case", "Content-Type: application/octet-stream; name=\"PHOTO.JPG.EXE\"",
			[]string{"double_extension PHOTO.JPG.EXE has a double extension (.jpg.exe)", "executable PHOTO.JPG.EXE is an executable file (.exe)"}},
		{"harmless", "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.final.pdf\"", nil},
	}
	for _, tt := range tests {
		got := inspect(message(part{tt.header, exe}))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestAttachedMessage: a program inside a forwarded message is found.
func TestAttachedMessage(t *testing.T) {
	inner := string(message(part{"Content-Type: application/octet-stream; name=\"tool.exe\"", []byte("x")}))
	raw := "From: a@sender.test\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--outer--\r\n"
	want := []string{"executable tool.exe is an executable file (.exe)"}
	if got := inspect([]byte(raw)); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestContent: content is detected whatever the name: a program renamed to
// a document is a program (and a mismatch), an archive named as a picture
// is a mismatch, text starting with "MZ" is not a program.
func TestContent(t *testing.T) {
	tests := []struct {
		name   string
		header string
		body   []byte
		want   []string
	}{
		{"renamed program", "Content-Type: application/pdf; name=\"invoice.pdf\"", peBytes(), []string{
			"executable invoice.pdf is a Windows program by its content",
			"mismatch invoice.pdf is a Windows program but is named .pdf"}},
		{"unnamed program declared image", "Content-Type: image/png", peBytes(), []string{
			"executable (unnamed image/png part) is a Windows program by its content",
			"mismatch (unnamed image/png part) is a Windows program but is declared image/png"}},
		{"ELF renamed", "Content-Type: application/octet-stream; name=\"notes.txt\"", append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 64)...), []string{
			"executable notes.txt is an ELF program by its content",
			"mismatch notes.txt is an ELF program but is named .txt"}},
		{"zip named jpg", "Content-Type: image/jpeg; name=\"photo.jpg\"", zipOf(t, file{name: "a.txt", data: []byte("hello")}), []string{
			"mismatch photo.jpg is a zip archive but is named .jpg"}},
		{"MZ text", "Content-Type: text/plain; name=\"mz.txt\"", []byte("MZ is a fine pair of letters to start a sentence with, as long as the rest of the line is text."), nil},
		{"7z", "Content-Type: application/octet-stream; name=\"a.7z\"", append([]byte("7z\xbc\xaf\x27\x1c\x00\x04"), make([]byte, 32)...), []string{
			"unscannable a.7z is a 7z archive, which cannot be looked into"}},
		{"rar named pdf", "Content-Type: application/pdf; name=\"scan.pdf\"", append([]byte("Rar!\x1a\x07\x01\x00"), make([]byte, 32)...), []string{
			"mismatch scan.pdf is a RAR archive but is named .pdf",
			"unscannable scan.pdf is a RAR archive, which cannot be looked into"}},
	}
	for _, tt := range tests {
		got := inspect(message(part{tt.header, tt.body}))
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestArchives: the files inside archives, nested, are judged as files.
func TestArchives(t *testing.T) {
	inner := zipOf(t, file{name: "docs/readme.txt", data: []byte("read me")}, file{name: "docs/invoice.js", data: []byte("WScript.Echo(1)")})
	tests := []struct {
		name string
		body []byte
		want []string
		file string
	}{
		{"zip with a script", zipOf(t, file{name: "invoice.js", data: []byte("var a")}), []string{
			"executable orders.zip/invoice.js is an executable file (.js)"}, ""},
		{"zip in a zip", zipOf(t, file{name: "inner.zip", data: inner}), []string{
			"executable orders.zip/inner.zip/docs/invoice.js is an executable file (.js)"}, ""},
		{"renamed program in a zip", zipOf(t, file{name: "photo.jpg", data: peBytes()}), []string{
			"executable orders.zip/photo.jpg is a Windows program by its content",
			"mismatch orders.zip/photo.jpg is a Windows program but is named .jpg"}, ""},
		{"encrypted zip", zipOf(t, file{name: "secret.doc", data: []byte("xxxx"), encrypted: true}), []string{
			"encrypted orders.zip is an encrypted archive"}, ""},
		{"encrypted zip names still judged", zipOf(t, file{name: "a.exe", data: []byte("xxxx"), encrypted: true}), []string{
			"encrypted orders.zip is an encrypted archive",
			"executable orders.zip/a.exe is an executable file (.exe)"}, ""},
		{"tar.gz", tarGzOf(t, file{name: "pkg/readme.txt", data: []byte("hi")}, file{name: "pkg/setup.vbs", data: []byte("x")}), []string{
			"executable pkg.tar.gz/pkg.tar/pkg/setup.vbs is an executable file (.vbs)"}, "pkg.tar.gz"},
		{"zip in a tar.gz in a zip", zipOf(t, file{name: "b.tgz", data: tarGzOf(t, file{name: "c.zip", data: zipOf(t, file{name: "d.pif", data: []byte("x")})})}), []string{
			"executable orders.zip/b.tgz/b.tar/c.zip/d.pif is an executable file (.pif)"}, ""},
		{"damaged zip", append(zipOf(t, file{name: "a.txt", data: []byte("x")})[:40], make([]byte, 40)...), []string{
			"unscannable orders.zip is a damaged zip archive (zip: not a valid zip file)"}, ""},
		{"clean", zipOf(t, file{name: "a.pdf", data: []byte("%PDF-1.4\n")}, file{name: "b.docx", data: []byte("x")}), nil, ""},
	}
	for _, tt := range tests {
		if tt.file == "" {
			tt.file = "orders.zip"
		}
		got := inspect(message(part{"Content-Type: application/zip; name=\"" + tt.file + "\"", tt.body}))
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestZipBomb: archives made to exhaust a scanner stop at the limits,
// reported as such, having expanded little.
func TestZipBomb(t *testing.T) {
	// 42.zip's shape: each level holds 16 copies of the level below; the
	// bottom is a large file of zeros.
	level := zipOf(t, file{name: "0.dat", data: make([]byte, 4<<20)})
	for range 4 {
		var fs []file
		for i := range 16 {
			fs = append(fs, file{name: string(rune('a'+i)) + ".zip", data: level})
		}
		level = zipOf(t, fs...)
	}
	rep := Inspect(message(part{"Content-Type: application/zip; name=\"42.zip\"", level}), WalkLimits{}, DefaultExtensions())
	if got := findings(rep); len(got) != 1 || !strings.HasPrefix(got[0], "limits 42.zip/a.zip/") || !strings.HasSuffix(got[0], " holds more than 1000 files") {
		t.Errorf("nested bomb: %q", got)
	}
	if rep.Expanded > 64<<20 {
		t.Errorf("expanded %d bytes to find it", rep.Expanded)
	}

	// With less depth allowed it stops at the nesting.
	rep = Inspect(message(part{"Content-Type: application/zip; name=\"42.zip\"", level}), WalkLimits{MaxDepth: 2}, DefaultExtensions())
	if got := findings(rep); len(got) != 1 || got[0] != "limits 42.zip/a.zip/a.zip nests archives deeper than 2" {
		t.Errorf("nested bomb, depth 2: %q", got)
	}

	// A tar.gz with a huge member stops at the expanded size, before the
	// program behind it is reached.
	bomb := tarGzZeros(t, "zeros.bin", 256<<20, file{name: "evil.exe", data: []byte("x")})
	rep = Inspect(message(part{"Content-Type: application/gzip; name=\"data.tar.gz\"", bomb}), WalkLimits{MaxExpandedBytes: 16 << 20}, DefaultExtensions())
	got := findings(rep)
	if want := []string{"limits data.tar.gz/data.tar expands to more than 16777216 bytes"}; !slices.Equal(got, want) {
		t.Errorf("tar.gz bomb: got %q, want %q", got, want)
	}
	if rep.Expanded > 16<<20 {
		t.Errorf("expanded %d bytes, over the limit", rep.Expanded)
	}

	// A zip announcing more entries than allowed is not read at all.
	var many []file
	for i := range 50 {
		many = append(many, file{name: strings.Repeat("x", i+1) + ".txt", data: []byte("x")})
	}
	rep = Inspect(message(part{"Content-Type: application/zip; name=\"many.zip\"", zipOf(t, many...)}), WalkLimits{MaxFiles: 20}, DefaultExtensions())
	if got := findings(rep); len(got) != 1 || got[0] != "limits many.zip holds more than 20 files" || rep.Files != 1 {
		t.Errorf("many files: %q after %d files", got, rep.Files)
	}
}

// TestTestdata: the messages in testdata/ give the findings in their
// .golden files.
func TestTestdata(t *testing.T) {
	files, _ := os.ReadDir("testdata")
	n := 0
	for _, f := range files {
		name, ok := strings.CutSuffix(f.Name(), ".eml")
		if !ok {
			continue
		}
		n++
		raw, err := os.ReadFile("testdata/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("testdata/" + name + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(inspect(raw), "\n")
		if got != strings.TrimSpace(string(want)) {
			t.Errorf("%s:\n got %q\nwant %q", f.Name(), got, strings.TrimSpace(string(want)))
		}
	}
	if n == 0 {
		t.Fatal("no messages in testdata")
	}
}
