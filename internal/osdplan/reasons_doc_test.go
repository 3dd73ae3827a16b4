package osdplan

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

// stringConsts returns the values of the string constants of the non-test
// files matching pattern whose names pass keep.
func stringConsts(t *testing.T, pattern string, keep func(name string) bool) []string {
	t.Helper()
	sources, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) || !keep(id.Name) {
						continue
					}
					switch v := vs.Values[i].(type) {
					case *ast.BasicLit:
						out = append(out, strings.Trim(v.Value, `"`))
					case *ast.CallExpr:
						// string(discovery.X): a discovery reason of the
						// same name.
						if sel, ok := v.Args[0].(*ast.SelectorExpr); ok {
							out = append(out, sel.Sel.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// TestAPIDocumentsEveryPlanReason keeps the API's description of
// DevicePlan.reason (which users read in the CRD) and the reasons the
// planner and the node selection define naming the same codes.
func TestAPIDocumentsEveryPlanReason(t *testing.T) {
	defined := stringConsts(t, "*.go", func(n string) bool { return strings.HasPrefix(n, "Reason") })
	defined = append(defined, stringConsts(t, filepath.Join("..", "nodeselect", "*.go"), func(n string) bool { return strings.HasPrefix(n, "Node") })...)

	api, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "api", "v1alpha1", "diskinventory_types.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	ast.Inspect(api, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "DevicePlan" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if len(field.Names) == 1 && field.Names[0].Name == "Reason" {
				doc = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})
	_, list, ok := strings.Cut(doc, "code:")
	if !ok {
		t.Fatalf("DevicePlan.Reason's doc lists no codes: %q", doc)
	}
	list, _, _ = strings.Cut(list, "or a discovery reason")
	documented := regexp.MustCompile(`[A-Z][A-Za-z]+`).FindAllString(list, -1)

	sort.Strings(defined)
	sort.Strings(documented)
	if strings.Join(defined, " ") != strings.Join(documented, " ") {
		t.Errorf("DevicePlan.Reason documents %v; the planner and node selection define %v", documented, defined)
	}
}
