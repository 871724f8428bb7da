//go:build ignore

// exported counts the exported identifiers of each non-internal, non-main
// package of the module: package-level types, funcs, consts and vars, plus
// the methods and struct fields of exported types. Run it from the module
// root: go run scripts/exported.go
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type count struct{ types, funcs, methods, consts, vars, fields int }

func (c count) total() int { return c.types + c.funcs + c.methods + c.consts + c.vars }

func main() {
	pkgs := map[string]*count{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "internal" || name == "testdata" || name == "cmd" || name == "interop" || name == "scripts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		dir := filepath.Dir(path)
		c := pkgs[dir]
		if c == nil {
			c = &count{}
			pkgs[dir] = c
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					c.funcs++
				} else if recvExported(d.Recv) {
					c.methods++
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						c.types++
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									if n.IsExported() {
										c.fields++
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							if d.Tok == token.CONST {
								c.consts++
							} else {
								c.vars++
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	fmt.Printf("%-12s %5s %5s %5s %7s %6s %4s %6s\n", "package", "total", "types", "funcs", "methods", "consts", "vars", "fields")
	for _, d := range dirs {
		c := pkgs[d]
		fmt.Printf("%-12s %5d %5d %5d %7d %6d %4d %6d\n", d, c.total(), c.types, c.funcs, c.methods, c.consts, c.vars, c.fields)
	}
}

func recvExported(fl *ast.FieldList) bool {
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}
