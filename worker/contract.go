package worker

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/contract"
)

// Contract describes the worker that s configures as a typed contract (see
// package contract): its queue and serializer, and every function's and
// cron job's parameters, result and timeout, max tries and keep-result as
// the worker applies them. `goarq gen python` turns it into a typed Python
// module for enqueuing these functions, and `goarq contract check` compares
// it with the contract of the Python side of the queue. It connects to
// nothing.
//
// A Func's parameters are positional-only (arg1, arg2, ...) unless
// WithParams names them, and WithDefaults gives their defaults; a single
// struct parameter reads as its fields (the kwargs form), unless its type
// is mapped to a Python class (arqcompat.Mapped): then it is one
// positional parameter of that class. A Raw handler takes *args and
// **kwargs of any type. A type mapped to a Python class is a model of
// that class. Go types map to Python
// types as arqcompat.Assign converts them (int64 to int, time.Time to
// datetime, []T to list[T], map[K]V to dict[K, V], a pointer to T | None);
// a struct becomes a model of kind "struct" (a dict on the Python side),
// named by its Go package path and type name.
func Contract(s Settings) (*contract.Contract, error) {
	ser := "pickle"
	if s.Serializer != nil {
		ser = s.Serializer.Name()
	}
	queue := s.QueueName
	if queue == "" {
		queue = arqcompat.DefaultQueueName
	}
	d := describer{models: map[string]*contract.Model{}}
	c := &contract.Contract{Schema: contract.Schema, Version: contract.Version,
		Source: contract.Source{Language: "go"}, Queue: queue, Serializer: ser}
	timeout := orZero(s.JobTimeout, 300*time.Second)
	keep := orZero(s.KeepResult, time.Hour)
	tries := orZero(s.MaxTries, 5)
	add := func(f *Function) error {
		if f.err != nil {
			return f.err
		}
		cf, err := d.function(f)
		if err != nil {
			return err
		}
		cf.Cron = f.cron
		cf.Timeout = orZero(f.Timeout, timeout).Seconds()
		cf.MaxTries = orZero(f.MaxTries, tries)
		cf.KeepResult = orZero(f.KeepResult, keep).Seconds()
		cf.KeepResultForever = f.keepResultForever(s.KeepResultForever)
		c.Functions = append(c.Functions, *cf)
		return nil
	}
	for i := range s.Functions {
		if err := add(&s.Functions[i]); err != nil {
			return nil, err
		}
	}
	for _, cj := range s.CronJobs {
		f, err := cj.function()
		if err != nil {
			return nil, err
		}
		if err := add(f); err != nil {
			return nil, err
		}
	}
	sort.Slice(c.Functions, func(i, j int) bool { return c.Functions[i].Name < c.Functions[j].Name })
	for i := 1; i < len(c.Functions); i++ {
		if c.Functions[i].Name == c.Functions[i-1].Name {
			return nil, fmt.Errorf("%w: two functions are named %q", ErrBadFunction, c.Functions[i].Name)
		}
	}
	for _, m := range d.models {
		c.Models = append(c.Models, *m)
	}
	sort.Slice(c.Models, func(i, j int) bool { return c.Models[i].Ref < c.Models[j].Ref })
	if c.Functions == nil {
		c.Functions = []contract.Function{}
	}
	if c.Models == nil {
		c.Models = []contract.Model{}
	}
	return c, nil
}

type describer struct {
	models map[string]*contract.Model
}

func (d *describer) function(f *Function) (*contract.Function, error) {
	cf := &contract.Function{Name: f.Name, Params: []contract.Param{}}
	b := f.sig
	if b == nil { // Raw: anything goes
		cf.Params = append(cf.Params,
			contract.Param{Name: "args", Kind: contract.VarPositional, Type: &contract.Type{Kind: contract.KindAny}},
			contract.Param{Name: "kwargs", Kind: contract.VarKeyword, Type: &contract.Type{Kind: contract.KindAny}})
		cf.Returns = &contract.Type{Kind: contract.KindAny}
		return cf, nil
	}
	cf.Go = funcName(b.fn)
	if b.hasValue {
		cf.Returns = d.typeOf(b.fn.Type().Out(0))
	} else {
		cf.Returns = &contract.Type{Kind: contract.KindNone}
	}
	if b.structIn && b.params[0].Implements(typeMapped) {
		// a model binds only as a whole, positional argument
		name := "arg1"
		if b.names != nil {
			name = b.names[0]
		}
		cf.Params = append(cf.Params, contract.Param{Name: name, Kind: contract.PositionalOnly, Type: d.typeOf(b.params[0])})
		return cf, nil
	}
	if b.structIn {
		st := b.params[0]
		for _, sf := range b.fields {
			cf.Params = append(cf.Params, contract.Param{Name: sf.name, Kind: contract.PositionalOrKeyword,
				Type: d.typeOf(st.Field(sf.index).Type)})
		}
		return cf, nil
	}
	fixed := len(b.params)
	if b.variadic {
		fixed--
	}
	firstDefault := fixed - len(b.defaults)
	for i, t := range b.params {
		p := contract.Param{Name: fmt.Sprintf("arg%d", i+1), Kind: contract.PositionalOnly}
		if i >= firstDefault && i < fixed {
			v := b.defaults[i-firstDefault]
			data, exact := jsonDefault(v)
			p.HasDefault, p.Default, p.DefaultRepr = true, data, arqcompat.Repr(v)
			if !exact {
				p.DefaultExact = &exact
			}
		}
		if b.names != nil {
			p.Name, p.Kind = b.names[i], contract.PositionalOrKeyword
		}
		if b.variadic && i == len(b.params)-1 {
			p.Kind = contract.VarPositional
			if b.names == nil {
				p.Name = "args"
			}
			t = t.Elem()
		}
		p.Type = d.typeOf(t)
		cf.Params = append(cf.Params, p)
	}
	return cf, nil
}

// funcName is the Go function's name (main.resize, or main.main.func3
// for a closure).
func funcName(fn reflect.Value) string {
	if rf := runtime.FuncForPC(fn.Pointer()); rf != nil {
		return rf.Name()
	}
	return ""
}

var (
	typeDuration  = reflect.TypeOf(time.Duration(0))
	typeBigInt    = reflect.TypeOf((*big.Int)(nil))
	typeDictPtr   = reflect.TypeOf((*arqcompat.Dict)(nil))
	typeBytes     = reflect.TypeOf([]byte(nil))
	typeTuple     = reflect.TypeOf(arqcompat.Tuple(nil))
	typeSet       = reflect.TypeOf(arqcompat.Set(nil))
	typeFrozenSet = reflect.TypeOf(arqcompat.FrozenSet(nil))
)

// typeOf is the contract type of a Go type, as arqcompat.Assign converts
// Python values into it.
func (d *describer) typeOf(t reflect.Type) *contract.Type {
	kind := func(k string) *contract.Type { return &contract.Type{Kind: k} }
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer && t.Implements(typeMapped) {
		return d.mappedType(t)
	}
	switch t {
	case typeTime:
		return kind(contract.KindDatetime)
	case typeDuration:
		return kind(contract.KindTimedelta)
	case typeBigInt:
		return kind(contract.KindInt)
	case typeDictPtr:
		return &contract.Type{Kind: contract.KindDict, Key: kind(contract.KindAny), Value: kind(contract.KindAny)}
	case typeBytes:
		return kind(contract.KindBytes)
	case typeTuple:
		return &contract.Type{Kind: contract.KindTuple, Of: kind(contract.KindAny)}
	case typeSet:
		return &contract.Type{Kind: contract.KindSet, Of: kind(contract.KindAny)}
	case typeFrozenSet:
		return &contract.Type{Kind: contract.KindFrozenSet, Of: kind(contract.KindAny)}
	case reflect.TypeOf(arqcompat.Date{}):
		return kind(contract.KindDate)
	case reflect.TypeOf(arqcompat.TimeOfDay{}):
		return kind(contract.KindTime)
	case reflect.TypeOf(arqcompat.Decimal("")):
		return kind(contract.KindDecimal)
	case reflect.TypeOf(arqcompat.UUID{}):
		return kind(contract.KindUUID)
	case reflect.TypeOf(arqcompat.NaiveDateTime{}):
		return kind(contract.KindDatetime)
	}
	switch t.Kind() {
	case reflect.Bool:
		return kind(contract.KindBool)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return kind(contract.KindInt)
	case reflect.Float32, reflect.Float64:
		return kind(contract.KindFloat)
	case reflect.String:
		return kind(contract.KindStr)
	case reflect.Slice, reflect.Array:
		return &contract.Type{Kind: contract.KindList, Of: d.typeOf(t.Elem())}
	case reflect.Map:
		return &contract.Type{Kind: contract.KindDict, Key: d.typeOf(t.Key()), Value: d.typeOf(t.Elem())}
	case reflect.Pointer:
		inner := d.typeOf(t.Elem())
		if inner.Kind == contract.KindAny || inner.Kind == contract.KindOptional {
			return inner
		}
		return &contract.Type{Kind: contract.KindOptional, Of: inner}
	case reflect.Struct:
		return d.structType(t)
	}
	return kind(contract.KindAny)
}

var (
	typeMapped    = reflect.TypeOf((*arqcompat.Mapped)(nil)).Elem()
	typeFieldsSet = reflect.TypeOf(arqcompat.FieldsSet(nil))
)

// mappedType describes a Go type mapped to a Python class as a model of
// that class. An enum's members are not known from Go: the model lists
// none, and contract.Check compares members only when both sides list them.
func (d *describer) mappedType(t reflect.Type) *contract.Type {
	cls := reflect.Zero(t).Interface().(arqcompat.Mapped).PythonClass()
	ref := cls.Module + "." + cls.Name
	if _, ok := d.models[ref]; ok {
		return &contract.Type{Kind: contract.KindModel, Ref: ref}
	}
	kinds := map[arqcompat.ClassKind]string{arqcompat.Pydantic: contract.ModelPydantic, arqcompat.PydanticV1: contract.ModelPydanticV1,
		arqcompat.Dataclass: contract.ModelDataclass, arqcompat.NamedTuple: contract.ModelNamedTuple, arqcompat.Enum: contract.ModelEnum}
	m := &contract.Model{Ref: ref, Module: cls.Module, Class: cls.Name, Kind: kinds[cls.Kind]}
	d.models[ref] = m
	if cls.Kind == arqcompat.Enum {
		m.Base = "any"
		switch d.typeOf(baseType(t)).Kind {
		case contract.KindInt:
			m.Base = "int"
		case contract.KindStr:
			m.Base = "str"
		}
		return &contract.Type{Kind: contract.KindModel, Ref: ref}
	}
	m.Fields = []contract.Field{}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			name, ok := keyword(t.Field(i))
			if !ok || t.Field(i).Type == typeFieldsSet { // pydantic's fields set, not a field
				continue
			}
			f := contract.Field{Name: name, Type: d.typeOf(t.Field(i).Type)}
			if arqcompat.OmitEmpty(t.Field(i)) {
				f.HasDefault = true // left out when zero: Python's default applies
			}
			m.Fields = append(m.Fields, f)
		}
	}
	return &contract.Type{Kind: contract.KindModel, Ref: ref}
}

// baseType is the unnamed type of a named scalar type (type Priority int).
func baseType(t reflect.Type) reflect.Type {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return reflect.TypeOf(int64(0))
	case reflect.String:
		return reflect.TypeOf("")
	}
	return t
}

// jsonDefault is a default (a value of arqcompat's model) as the contract
// holds it: JSON, and whether JSON holds it exactly.
func jsonDefault(v any) (json.RawMessage, bool) {
	switch x := v.(type) {
	case nil, bool, int64, string:
		data, err := json.Marshal(x)
		return data, err == nil
	case float64:
		if data, err := json.Marshal(x); err == nil {
			return data, true
		}
	case []any:
		parts := make([]string, len(x))
		exact := true
		for i, it := range x {
			data, ok := jsonDefault(it)
			parts[i], exact = string(data), exact && ok
		}
		return json.RawMessage("[" + strings.Join(parts, ",") + "]"), exact
	}
	data, _ := json.Marshal(arqcompat.Repr(v))
	return data, false
}

// structType describes a struct as a model of kind "struct", or as
// dict[str, Any] when it has no name.
func (d *describer) structType(t reflect.Type) *contract.Type {
	if t.Name() == "" {
		return &contract.Type{Kind: contract.KindDict, Key: &contract.Type{Kind: contract.KindStr}, Value: &contract.Type{Kind: contract.KindAny}}
	}
	ref := "go:" + t.PkgPath() + "." + t.Name()
	if _, ok := d.models[ref]; !ok {
		m := &contract.Model{Ref: ref, Module: "go:" + t.PkgPath(), Class: t.Name(), Kind: contract.ModelStruct, Fields: []contract.Field{}}
		d.models[ref] = m // before the fields: a struct may refer to itself
		for i := 0; i < t.NumField(); i++ {
			name, ok := keyword(t.Field(i))
			if !ok {
				continue
			}
			m.Fields = append(m.Fields, contract.Field{Name: name, Type: d.typeOf(t.Field(i).Type)})
		}
	}
	return &contract.Type{Kind: contract.KindModel, Ref: ref}
}
