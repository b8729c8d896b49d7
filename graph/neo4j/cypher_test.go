package neo4j

import (
	"context"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/notifications"
)

var dumpCypher = flag.String("dump-cypher", "", "write every Cypher statement the store sends, as JSON, to this file")

// statement is one Cypher constant from cypher.go.
type statement struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// cypherStatements reads the string constants of cypher.go.
func cypherStatements(tb testing.TB) []statement {
	tb.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "cypher.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var out []statement
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					tb.Fatalf("%s: constant %s is not a string literal", fset.Position(vs.Pos()), name.Name)
				}
				text, err := strconv.Unquote(lit.Value)
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, statement{Name: name.Name, Text: text})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TestCypherLivesInOnePlace checks that cypher.go holds every statement:
// no other source file of the package has a string that reads as Cypher,
// and every constant there is one. With -dump-cypher it also writes the
// statements for scripts/cypherlint.
func TestCypherLivesInOnePlace(t *testing.T) {
	stmts := cypherStatements(t)
	if len(stmts) < 10 {
		t.Fatalf("found only %d statements in cypher.go", len(stmts))
	}
	looksLikeCypher := regexp.MustCompile(`^\s*(MATCH|OPTIONAL MATCH|MERGE|UNWIND|CREATE|CALL|RETURN|WITH|DETACH DELETE|DELETE|SET|SHOW|DROP|EXPLAIN|PROFILE)[\s(]`)
	for _, st := range stmts {
		if !strings.HasPrefix(st.Name, "cypher") || !looksLikeCypher.MatchString(st.Text) {
			t.Errorf("cypher.go constant %s does not look like a Cypher statement named cypher…", st.Name)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if name == "cypher.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && looksLikeCypher.MatchString(s) {
				t.Errorf("%s: Cypher outside cypher.go: %q", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
	if *dumpCypher != "" {
		raw, err := json.MarshalIndent(stmts, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*dumpCypher, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d statements to %s", len(stmts), *dumpCypher)
	}
}

// gqlParameterMissing is the status of the warning that a statement was
// planned without values for its parameters.
const gqlParameterMissing = "01N60"

// TestCypherExplains asks the real server to plan every statement that is
// not a schema command, and fails on any deprecation or other warning it
// reports.
func TestCypherExplains(t *testing.T) {
	s := MustOpen(t, Options{})
	ctx := context.Background()
	schema := map[string]bool{}
	for _, st := range schemaStatements {
		schema[st] = true
	}
	for _, st := range cypherStatements(t) {
		if schema[st.Text] {
			continue
		}
		t.Run(st.Name, func(t *testing.T) {
			res, err := driver.ExecuteQuery(ctx, s.driver, "EXPLAIN "+st.Text, nil, driver.EagerResultTransformer,
				driver.ExecuteQueryWithDatabase(s.database), driver.ExecuteQueryWithReadersRouting())
			if err != nil {
				t.Fatalf("explain: %v", err)
			}
			for _, n := range res.Summary.GqlStatusObjects() {
				if n.GqlStatus() == gqlParameterMissing {
					continue // expected: EXPLAIN is given no parameters
				}
				if n.IsNotification() && (n.Severity() == notifications.Warning || strings.Contains(strings.ToLower(n.StatusDescription()), "deprecat")) {
					t.Errorf("%s: %s", n.GqlStatus(), n.StatusDescription())
				}
			}
		})
	}
}
