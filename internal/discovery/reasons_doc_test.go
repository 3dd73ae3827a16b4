package discovery

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestAPIDocumentsEveryReason keeps the API's description of
// DiskVerdict.reason (which users read in the CRD) and the Reason constants
// of this package, where the values are defined, naming the same codes.
func TestAPIDocumentsEveryReason(t *testing.T) {
	fset := token.NewFileSet()
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var defined []string
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						defined = append(defined, strings.Trim(lit.Value, `"`))
					}
				}
			}
		}
	}

	api, err := parser.ParseFile(fset, filepath.Join("..", "..", "api", "v1alpha1", "diskinventory_types.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	ast.Inspect(api, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "DiskVerdict" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if len(field.Names) == 1 && field.Names[0].Name == "Reason" {
				doc = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})
	_, list, ok := strings.Cut(doc, "one of")
	if !ok {
		t.Fatalf("DiskVerdict.Reason's doc lists no codes: %q", doc)
	}
	list, _, _ = strings.Cut(list, ".")
	documented := regexp.MustCompile(`[A-Z][A-Za-z]+`).FindAllString(list, -1)

	sort.Strings(defined)
	sort.Strings(documented)
	if strings.Join(defined, " ") != strings.Join(documented, " ") {
		t.Errorf("DiskVerdict.Reason documents %v; this package defines %v", documented, defined)
	}
}
