package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Difference is one way two contracts disagree.
type Difference struct {
	// Function is the function's name, or "" for a queue-wide or model
	// difference.
	Function string
	// Param is the parameter's name, or "".
	Param string
	// Model is the model's ref and Field a field's or member's name, for a
	// model difference.
	Model, Field string
	// Msg says what differs.
	Msg string
}

// String is the difference's line in `goarq contract check`:
// "function send_email: parameter cc: removed in B".
func (d Difference) String() string {
	s := ""
	switch {
	case d.Function != "":
		s = "function " + d.Function + ": "
		if d.Param != "" {
			s += "parameter " + d.Param + ": "
		}
	case d.Model != "":
		s = "model " + d.Model + ": "
		if d.Field != "" {
			s += d.Field + ": "
		}
	}
	return s + d.Msg
}

// Check compares contract a (the reference: the committed contract, or the
// side that enqueues) with b (the side that runs the jobs, or a fresh
// export) and returns every difference that breaks a call or a value
// crossing between them, in a stable order:
//   - a different queue or serializer;
//   - a function only one side defines;
//   - a parameter removed, renamed, retyped, moved (positional-only), made
//     keyword-only or positional-only, stripped of its default, or added in
//     b without a default; a different result type;
//   - a model field removed, retyped, or added in b without a default; an
//     enum member removed or given another value.
//
// A type "any" on either side matches every type. No difference means the
// two sides agree.
func Check(a, b *Contract) []Difference {
	var out []Difference
	add := func(d Difference) { out = append(out, d) }
	if a.Queue != b.Queue {
		add(Difference{Msg: fmt.Sprintf("queue: %q in A, %q in B", a.Queue, b.Queue)})
	}
	if a.Serializer != b.Serializer {
		add(Difference{Msg: fmt.Sprintf("serializer: %s in A, %s in B", a.Serializer, b.Serializer)})
	}
	names := map[string]bool{}
	for _, f := range a.Functions {
		names[f.Name] = true
	}
	for _, f := range b.Functions {
		names[f.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, name := range sorted {
		fa, fb := a.Function(name), b.Function(name)
		switch {
		case fb == nil:
			add(Difference{Function: name, Msg: "defined in A only: B does not run it"})
		case fa == nil:
			add(Difference{Function: name, Msg: "defined in B only: A does not know it"})
		default:
			out = append(out, checkFunction(a, b, fa, fb)...)
		}
	}
	for _, ma := range a.Models {
		if mb := b.Model(ma.Ref); mb != nil {
			out = append(out, checkModel(a, b, &ma, mb)...)
		}
	}
	return out
}

func checkFunction(a, b *Contract, fa, fb *Function) []Difference {
	var out []Difference
	add := func(param, format string, args ...any) {
		out = append(out, Difference{Function: fa.Name, Param: param, Msg: fmt.Sprintf(format, args...)})
	}
	index := func(ps []Param, name string) int {
		return slices.IndexFunc(ps, func(p Param) bool { return p.Name == name })
	}
	var onlyA, onlyB []int
	for i, pa := range fa.Params {
		j := index(fb.Params, pa.Name)
		if j < 0 {
			onlyA = append(onlyA, i)
			continue
		}
		pb := fb.Params[j]
		if pa.Kind != pb.Kind {
			add(pa.Name, "kind %s in A, %s in B", pa.Kind, pb.Kind)
		} else if pa.Kind == PositionalOnly && i != j {
			add(pa.Name, "position %d in A, %d in B", i+1, j+1)
		}
		if !sameType(a, b, pa.Type, pb.Type, map[string]bool{}) {
			add(pa.Name, "type %s in A, %s in B", pa.Type, pb.Type)
		}
		if pa.HasDefault && !pb.HasDefault {
			add(pa.Name, "has a default in A (%s), none in B", defaultText(pa.Value))
		}
	}
	for j, pb := range fb.Params {
		if index(fa.Params, pb.Name) < 0 {
			onlyB = append(onlyB, j)
		}
	}
	// a parameter that left A and one of the same kind and type that came
	// in B at the same place is a rename
	for _, i := range onlyA {
		pa := fa.Params[i]
		k := slices.IndexFunc(onlyB, func(j int) bool {
			pb := fb.Params[j]
			return j == i && pb.Kind == pa.Kind && sameType(a, b, pa.Type, pb.Type, map[string]bool{})
		})
		if k >= 0 {
			pb := fb.Params[onlyB[k]]
			add(pa.Name, "renamed to %s in B", pb.Name)
			onlyB = slices.Delete(onlyB, k, k+1)
			continue
		}
		if pa.Kind == VarPositional || pa.Kind == VarKeyword {
			add(pa.Name, "%s in A, not in B", kindText(pa.Kind))
			continue
		}
		add(pa.Name, "removed in B")
	}
	for _, j := range onlyB {
		pb := fb.Params[j]
		if pb.HasDefault || pb.Kind == VarPositional || pb.Kind == VarKeyword {
			continue // callers of A's signature still bind
		}
		add(pb.Name, "added in B without a default")
	}
	if !sameType(a, b, fa.Returns, fb.Returns, map[string]bool{}) {
		add("", "returns %s in A, %s in B", fa.Returns, fb.Returns)
	}
	return out
}

func checkModel(a, b *Contract, ma, mb *Model) []Difference {
	var out []Difference
	add := func(field, format string, args ...any) {
		out = append(out, Difference{Model: ma.Ref, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if ma.Kind != mb.Kind {
		add("", "a %s in A, a %s in B", ma.Kind, mb.Kind)
		return out
	}
	if ma.Kind == ModelEnum {
		if len(ma.Members) == 0 || len(mb.Members) == 0 {
			return out // a Go enum type lists no members
		}
		for _, m := range ma.Members {
			k := slices.IndexFunc(mb.Members, func(x Member) bool { return x.Name == m.Name })
			if k < 0 {
				add("member "+m.Name, "removed in B")
				continue
			}
			if !jsonEqual(m.Value, mb.Members[k].Value) {
				add("member "+m.Name, "value %s in A, %s in B", m.Value, mb.Members[k].Value)
			}
		}
		return out
	}
	for i, fa := range ma.Fields {
		k := slices.IndexFunc(mb.Fields, func(x Field) bool { return x.Name == fa.Name })
		if k < 0 {
			add("field "+fa.Name, "removed in B")
			continue
		}
		fb := mb.Fields[k]
		if !sameType(a, b, fa.Type, fb.Type, map[string]bool{}) {
			add("field "+fa.Name, "type %s in A, %s in B", fa.Type, fb.Type)
		}
		if fa.HasDefault && !fb.HasDefault {
			add("field "+fa.Name, "has a default in A (%s), none in B", defaultText(fa.Value))
		}
		// a NamedTuple travels as its values in field order
		if ma.Kind == ModelNamedTuple && i != k {
			add("field "+fa.Name, "position %d in A, %d in B", i+1, k+1)
		}
	}
	for _, fb := range mb.Fields {
		if !slices.ContainsFunc(ma.Fields, func(x Field) bool { return x.Name == fb.Name }) && !fb.HasDefault {
			add("field "+fb.Name, "added in B without a default")
		}
	}
	return out
}

// sameType reports whether values of type ta (in a) and tb (in b) are
// interchangeable. seen stops the recursion through self-referring models.
func sameType(a, b *Contract, ta, tb *Type, seen map[string]bool) bool {
	if ta == nil || tb == nil || ta.Kind == KindAny || tb.Kind == KindAny {
		return true
	}
	if ta.Kind != tb.Kind {
		return false
	}
	sub := func(x, y *Type) bool {
		if x == nil || y == nil {
			return x == nil && y == nil || (x != nil && x.Kind == KindAny) || (y != nil && y.Kind == KindAny)
		}
		return sameType(a, b, x, y, seen)
	}
	switch ta.Kind {
	case KindModel, KindClass:
		// the classes are the same when their refs are; their fields
		// are compared once, as models
		return ta.Ref == tb.Ref
	case KindLiteral:
		if len(ta.Values) != len(tb.Values) {
			return false
		}
		for i := range ta.Values {
			if !jsonEqual(ta.Values[i], tb.Values[i]) {
				return false
			}
		}
		return true
	}
	if !sub(ta.Of, tb.Of) || !sub(ta.Key, tb.Key) || !sub(ta.Value, tb.Value) || len(ta.Items) != len(tb.Items) {
		return false
	}
	for i := range ta.Items {
		if !sub(ta.Items[i], tb.Items[i]) {
			return false
		}
	}
	return true
}

func jsonEqual(x, y json.RawMessage) bool {
	var vx, vy any
	if json.Unmarshal(x, &vx) != nil || json.Unmarshal(y, &vy) != nil {
		return bytes.Equal(x, y)
	}
	bx, _ := json.Marshal(vx)
	by, _ := json.Marshal(vy)
	return bytes.Equal(bx, by)
}

func defaultText(v Value) string {
	switch {
	case v.DefaultRepr != "":
		return v.DefaultRepr
	case v.DefaultFactory:
		return "a factory"
	case len(v.Default) > 0:
		return string(v.Default)
	}
	return "?"
}

func kindText(kind string) string {
	switch kind {
	case VarPositional:
		return "*args"
	case VarKeyword:
		return "**kwargs"
	}
	return kind
}
