package v1alpha1_test

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

// The DiskInventory status carries reason codes that other packages define
// (the verdicts in internal/discovery, the plan reasons in internal/osdplan
// and internal/nodeselect). Users read the codes in the CRD's descriptions,
// written here by hand; these tests keep the two lists the same.

// reasonConsts returns the values of the constants defined in the non-test
// Go files of dir (relative to the repository root) whose name and declared
// type ("" when none is written) pass keep. A value written as
// string(pkg.Name) counts as Name.
func reasonConsts(t *testing.T, dir string, keep func(name, typ string) bool) []string {
	t.Helper()
	sources, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
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
				typ := ""
				if id, ok := vs.Type.(*ast.Ident); ok {
					typ = id.Name
				}
				for i, id := range vs.Names {
					if i >= len(vs.Values) || !keep(id.Name, typ) {
						continue
					}
					switch v := vs.Values[i].(type) {
					case *ast.BasicLit:
						out = append(out, strings.Trim(v.Value, `"`))
					case *ast.CallExpr:
						if sel, ok := v.Args[0].(*ast.SelectorExpr); ok && len(v.Args) == 1 {
							out = append(out, sel.Sel.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// documentedCodes returns the codes named in the doc of field Reason of
// type typeName in diskinventory_types.go, between after and before.
func documentedCodes(t *testing.T, typeName, after, before string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "diskinventory_types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if len(field.Names) == 1 && field.Names[0].Name == "Reason" {
				doc = strings.Join(strings.Fields(field.Doc.Text()), " ")
			}
		}
		return false
	})
	_, list, ok := strings.Cut(doc, after)
	if !ok {
		t.Fatalf("%s.Reason's doc has no %q: %q", typeName, after, doc)
	}
	list, _, _ = strings.Cut(list, before)
	return regexp.MustCompile(`[A-Z][A-Za-z]+`).FindAllString(list, -1)
}

func sameCodes(t *testing.T, what string, documented, defined []string) {
	t.Helper()
	sort.Strings(documented)
	sort.Strings(defined)
	if strings.Join(documented, " ") != strings.Join(defined, " ") {
		t.Errorf("%s documents %v; the code defines %v", what, documented, defined)
	}
}

func TestDiskVerdictReasonsDocumented(t *testing.T) {
	defined := reasonConsts(t, "internal/discovery", func(_, typ string) bool { return typ == "Reason" })
	sameCodes(t, "DiskVerdict.Reason", documentedCodes(t, "DiskVerdict", "one of", "."), defined)
}

func TestDevicePlanReasonsDocumented(t *testing.T) {
	defined := reasonConsts(t, "internal/osdplan", func(n, _ string) bool { return strings.HasPrefix(n, "Reason") })
	defined = append(defined, reasonConsts(t, "internal/nodeselect", func(n, _ string) bool { return strings.HasPrefix(n, "Node") })...)
	sameCodes(t, "DevicePlan.Reason", documentedCodes(t, "DevicePlan", "code:", "or a discovery reason"), defined)
}
