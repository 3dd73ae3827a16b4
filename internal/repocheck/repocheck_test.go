package repocheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// allowed lists text that looks like a path outside the repository but is
// not a reference to one, each with the reason. An entry matches wherever
// the text occurs, so it survives files being moved.
var allowed = []struct{ text, why string }{
	{"/work/bin/realnode/run/kubelet/pods", "a sample line of /proc/self/mountinfo in a parser test, not a file the tests read"},
}

// outside matches spellings that point at files outside the repository:
// a parent directory shared with other checkouts, or an absolute /work/
// path (but not /tmp/work/ or a relative .../work/ path).
var outside = []*regexp.Regexp{
	regexp.MustCompile(`\.\./shared\b`),
	regexp.MustCompile(`(^|[^A-Za-z0-9_.~/-])/work/`),
}

// sharedDir is the parent directory the checks refuse, spelled in two parts
// so that the check's own sample of a bad reference is not one itself.
const sharedDir = ".." + "/shared"

// notes are the names of design notes that lived outside the repository.
// A mention is fine only as a path that exists in the tree.
var notes = regexp.MustCompile(`[A-Za-z0-9_./-]*\b(DESIGN|REAL-NODE|STYLE)\.md\b`)

// mdLink matches inline Markdown links and images, [text](target), and
// reference definitions, [label]: target.
var (
	mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	mdRef  = regexp.MustCompile(`(?m)^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
)

// skipDirs are never part of a clone's content: build output, the demo's
// state, git's own directory.
var skipDirs = map[string]bool{".git": true, "bin": true, ".demo": true, "testbin": true}

// tree is the repository's files, relative to its root, slash-separated.
type tree struct {
	root  string
	files map[string]bool
	dirs  map[string]bool
}

// repoRoot finds the repository's root: the closest directory above this
// package that holds the main module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/ceph-operator/ceph-operator\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of module github.com/ceph-operator/ceph-operator above the test's directory")
		}
		dir = parent
	}
}

// listTree lists what a commit of the working tree would hold: git's
// tracked and untracked-but-not-ignored files when git is there, else
// every file below the root outside skipDirs.
func listTree(t *testing.T, root string) tree {
	t.Helper()
	tr := tree{root: root, files: map[string]bool{}, dirs: map[string]bool{".": true}}
	add := func(rel string) {
		if skipDirs[strings.SplitN(rel, "/", 2)[0]] {
			return
		}
		if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel))); err != nil || !fi.Mode().IsRegular() {
			return // deleted in the working tree, or a symlink
		}
		tr.files[rel] = true
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			tr.dirs[d] = true
		}
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		for _, rel := range strings.Split(string(out), "\x00") {
			if rel != "" {
				add(rel)
			}
		}
		return tr
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if d.IsDir() && skipDirs[d.Name()] {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			add(filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// exists reports whether rel, a slash-separated path relative to the root,
// is a file or directory of the tree.
func (tr tree) exists(rel string) bool {
	rel = path.Clean(rel)
	return tr.files[rel] || tr.dirs[rel]
}

// resolve turns target, as written in file, into a path relative to the
// root; ok is false when it leaves the repository.
func resolve(file, target string) (string, bool) {
	var rel string
	if strings.HasPrefix(target, "/") {
		rel = path.Clean(strings.TrimPrefix(target, "/"))
	} else {
		rel = path.Clean(path.Join(path.Dir(file), target))
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return rel, false
	}
	return rel, true
}

// stripAllowed blanks the allowed texts out of a line.
func stripAllowed(line string) string {
	for _, a := range allowed {
		line = strings.ReplaceAll(line, a.text, strings.Repeat(" ", len(a.text)))
	}
	return line
}

// self is this file, which spells the patterns it looks for.
const self = "internal/repocheck/repocheck_test.go"

// outsideReferences returns, for every file of the tree, each line that
// refers to something outside the repository.
func outsideReferences(tr tree) []string {
	var problems []string
	for file := range tr.files {
		if file == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tr.root, filepath.FromSlash(file)))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = stripAllowed(line)
			for _, re := range outside {
				if re.MatchString(line) {
					problems = append(problems, fmt.Sprintf("%s:%d: refers outside the repository: %s", file, i+1, strings.TrimSpace(line)))
				}
			}
			for _, m := range notes.FindAllString(line, -1) {
				if rel, ok := resolve(file, m); ok && tr.exists(rel) {
					continue
				}
				if tr.exists(m) {
					continue
				}
				problems = append(problems, fmt.Sprintf("%s:%d: names %s, which is not in the repository", file, i+1, m))
			}
		}
	}
	return problems
}

// markdownLinks returns every link target of a Markdown text outside code
// blocks and code spans.
func markdownLinks(text string) []string {
	var targets []string
	fence := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
		for _, m := range mdRef.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

var codeSpan = regexp.MustCompile("`[^`]*`")

// brokenLinks returns each relative Markdown link that names nothing in
// the tree.
func brokenLinks(tr tree) []string {
	return eachMarkdown(tr, func(file, text string) []string {
		var problems []string
		for _, target := range markdownLinks(text) {
			u, err := url.Parse(target)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: link %q does not parse: %v", file, target, err))
				continue
			}
			if u.Scheme != "" || u.Host != "" || u.Path == "" {
				continue // a web address, or an anchor in the same page
			}
			p, err := url.PathUnescape(u.Path)
			if err != nil {
				p = u.Path
			}
			rel, ok := resolve(file, p)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: link %q leaves the repository", file, target))
			case !tr.exists(rel):
				problems = append(problems, fmt.Sprintf("%s: link %q names %s, which is not in the repository", file, target, rel))
			}
		}
		return problems
	})
}

// repoPath matches a path into the repository as the documents spell it
// in code: it starts at one of the tree's top-level directories.
var repoPath = regexp.MustCompile(`^(?:\./)?(?:\.ci|\.github|api|bundle|catalog|cmd|config|controllers|docs|hack|internal|tests)/[A-Za-z0-9_./-]*$`)

// absentOnPurpose are paths the documents name because the tree does not
// have them, with the reason.
var absentOnPurpose = map[string]string{
	"internal/controller/": "where kubebuilder's go/v4 layout scaffolds controllers; CONTRIBUTING.md says why the project does not use it",
}

// codePaths returns the paths into the repository that a Markdown text
// names in code spans and code blocks. Words holding a placeholder or a
// pattern (<x>, {a,b}, *, $VAR) are not paths and are skipped.
func codePaths(text string) []string {
	var code []string
	fence := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			} else {
				code = append(code, line)
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, span := range codeSpan.FindAllString(line, -1) {
			code = append(code, strings.Trim(span, "`"))
		}
	}
	var paths []string
	for _, c := range code {
		for _, word := range strings.Fields(c) {
			if strings.ContainsAny(word, "<>{}*$") {
				continue
			}
			word = strings.TrimRight(word, ".,;:)\"'")
			word = strings.TrimLeft(word, "(\"'")
			if repoPath.MatchString(word) {
				paths = append(paths, strings.TrimPrefix(word, "./"))
			}
		}
	}
	return paths
}

// stalePaths returns each path into the repository that a Markdown file
// names in code but the tree does not hold: a file that moved or went
// away without its documents following.
func stalePaths(tr tree) []string {
	return eachMarkdown(tr, func(file, text string) []string {
		var problems []string
		for _, p := range codePaths(text) {
			if _, ok := absentOnPurpose[p]; !ok && !tr.exists(p) {
				problems = append(problems, fmt.Sprintf("%s: names %s, which is not in the repository", file, p))
			}
		}
		return problems
	})
}

// eachMarkdown runs check on every Markdown file of the tree, with its text,
// and returns what it found, plus the files that could not be read.
func eachMarkdown(tr tree, check func(file, text string) []string) []string {
	var problems []string
	for file := range tr.files {
		if !strings.HasSuffix(file, ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tr.root, filepath.FromSlash(file)))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		problems = append(problems, check(file, string(b))...)
	}
	return problems
}

// TestDocumentedPathsExist fails when a Markdown file names, in code, a
// path of the repository that does not exist.
func TestDocumentedPathsExist(t *testing.T) {
	tr := listTree(t, repoRoot(t))
	for _, p := range stalePaths(tr) {
		t.Error(p)
	}
}

// TestNoReferenceOutsideRepository fails on any file that refers to a
// document or path outside the repository: a clone must hold everything
// it points at.
func TestNoReferenceOutsideRepository(t *testing.T) {
	tr := listTree(t, repoRoot(t))
	if len(tr.files) < 100 {
		t.Fatalf("found only %d files under %s: not the repository", len(tr.files), tr.root)
	}
	for _, p := range outsideReferences(tr) {
		t.Error(p)
	}
}

// TestMarkdownLinksResolve fails on a relative link in a Markdown file
// that names no file or directory of the tree.
func TestMarkdownLinksResolve(t *testing.T) {
	tr := listTree(t, repoRoot(t))
	if !tr.files["README.md"] {
		t.Fatalf("no README.md under %s: not the repository", tr.root)
	}
	for _, p := range brokenLinks(tr) {
		t.Error(p)
	}
}

// TestCheckersFindBadReferences runs both checks on a small tree with
// known good and bad references, so that a check which finds nothing is
// seen to be able to find something.
func TestCheckersFindBadReferences(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"README.md": "See [the docs](docs/guide.md), [a section](docs/guide.md#install), [home](/docs/), " +
			"[the web](https://example.org/x.md), [top](#top) and `[code](nowhere.md)`.\n" +
			"[gone]: docs/missing.md\n" +
			"[up](../outside.md)\n" +
			"```\n[in a fence](fenced.md)\n```\n",
		"docs/guide.md": "Back to [README](../README.md); see ![pic](img/missing.png).\n" +
			"Run `go run ./hack/tool` (gone), read `docs/notes.txt`, `hack/{a,b}` and `config/<x>.yaml`.\n" +
			"```\nmake -f tests/gone/Makefile docs/\n```\n",
		"docs/notes.txt":    "Read " + sharedDir + "/plan.txt and /work/notes/x and DESIGN.md; /tmp/work/scratch is fine, so is docs/STYLE.md.\n",
		"docs/STYLE.md":     "A style file that is part of the tree.\n",
		"hack/fixture_test": "line /work/bin/realnode/run/kubelet/pods/x is allowed\n",
	}
	tr := tree{root: root, files: map[string]bool{}, dirs: map[string]bool{".": true}}
	for rel, text := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		tr.files[rel] = true
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			tr.dirs[d] = true
		}
	}

	gotOutside := outsideReferences(tr)
	wantOutside := []string{"refers outside the repository: Read " + sharedDir, "/work/notes", "names DESIGN.md"}
	if len(gotOutside) != 3 {
		t.Errorf("outsideReferences found %d problems, want 3: %q", len(gotOutside), gotOutside)
	}
	for _, w := range wantOutside {
		if !containsPart(gotOutside, w) {
			t.Errorf("outsideReferences did not report %q: %q", w, gotOutside)
		}
	}

	gotPaths := stalePaths(tr)
	wantPaths := []string{"names hack/tool,", "names tests/gone/Makefile,"}
	if len(gotPaths) != len(wantPaths) {
		t.Errorf("stalePaths found %d problems, want %d: %q", len(gotPaths), len(wantPaths), gotPaths)
	}
	for _, w := range wantPaths {
		if !containsPart(gotPaths, w) {
			t.Errorf("stalePaths did not report %q: %q", w, gotPaths)
		}
	}

	gotLinks := brokenLinks(tr)
	wantLinks := []string{`"docs/missing.md"`, `"../outside.md" leaves the repository`, `"img/missing.png"`}
	if len(gotLinks) != len(wantLinks) {
		t.Errorf("brokenLinks found %d problems, want %d: %q", len(gotLinks), len(wantLinks), gotLinks)
	}
	for _, w := range wantLinks {
		if !containsPart(gotLinks, w) {
			t.Errorf("brokenLinks did not report %q: %q", w, gotLinks)
		}
	}
}

func containsPart(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

// dependabotDir matches a directory entry of .github/dependabot.yml.
var dependabotDir = regexp.MustCompile(`(?m)^\s*directory:\s*"?([^"\s]+)"?\s*$`)

// TestEveryModuleHasDependencyUpdates fails when a go.mod of the tree has
// no gomod entry in .github/dependabot.yml, so a new tool module is not
// left out of dependency updates.
func TestEveryModuleHasDependencyUpdates(t *testing.T) {
	tr := listTree(t, repoRoot(t))
	b, err := os.ReadFile(filepath.Join(tr.root, ".github", "dependabot.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "package-ecosystem: gomod") {
		t.Fatal(".github/dependabot.yml has no gomod entry")
	}
	listed := map[string]bool{}
	for _, m := range dependabotDir.FindAllStringSubmatch(string(b), -1) {
		listed[path.Clean(m[1])] = true
	}
	modules := 0
	for file := range tr.files {
		if path.Base(file) != "go.mod" {
			continue
		}
		modules++
		dir := "/" + path.Dir(file)
		if dir == "/." {
			dir = "/"
		}
		if !listed[dir] {
			t.Errorf("%s has no gomod entry with directory %q in .github/dependabot.yml", file, dir)
		}
	}
	if modules == 0 {
		t.Fatal("no go.mod found")
	}
	t.Logf("%d modules, %d directories listed", modules, len(listed))
}
