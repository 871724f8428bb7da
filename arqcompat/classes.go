package arqcompat

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// ClassKind is the kind of Python class a Go type stands for. It decides
// how a Go value of the type is pickled, so that Python unpickles an
// instance of its own class.
type ClassKind uint8

const (
	// Pydantic is a pydantic v2 BaseModel. The value is pickled as a call
	// of Class.model_validate with a dict of its fields: Python validates
	// it, and __pydantic_fields_set__ holds exactly the fields sent (a
	// field tagged `,omitempty` with a zero value is not sent, so Python
	// gives it its default and model_dump(exclude_unset=True) leaves it out).
	Pydantic ClassKind = iota + 1
	// PydanticV1 is a pydantic.v1 BaseModel, pickled as Class.parse_obj
	// with a dict of its fields (`,omitempty` as for Pydantic).
	PydanticV1
	// Dataclass is a dataclass of any shape: plain, frozen, slots=True or
	// slots=True with frozen=True. The value is pickled as a call of the
	// class with its field values in the Go struct's field order, which
	// must be the dataclass's own: Python runs __init__ and __post_init__.
	Dataclass
	// NamedTuple is a typing.NamedTuple or collections.namedtuple, pickled
	// as a call of the class with the field values in the Go struct's
	// field order, which must be the tuple's own.
	NamedTuple
	// Enum is a member of an Enum, IntEnum, StrEnum or Flag, for a named Go
	// scalar type (type Priority int): pickled as Class(value), which is
	// how Python pickles its members.
	Enum
)

func (k ClassKind) String() string {
	switch k {
	case Pydantic:
		return "pydantic"
	case PydanticV1:
		return "pydantic.v1"
	case Dataclass:
		return "dataclass"
	case NamedTuple:
		return "namedtuple"
	case Enum:
		return "enum"
	}
	return fmt.Sprintf("ClassKind(%d)", uint8(k))
}

// Class names a Python class as pickle does: the module it imports from
// and its qualified name, and says which kind of class it is.
type Class struct {
	// Module is the class's __module__, e.g. "app.models".
	Module string
	// Name is the class's __qualname__, e.g. "Order" or "Order.Line".
	Name string
	// Kind decides how values are pickled for Python.
	Kind ClassKind
}

// Global is the pickle global of the class itself.
func (c Class) Global() Global { return Global{c.Module, c.Name} }

func (c Class) String() string { return c.Module + "." + c.Name }

// Mapped is implemented by a Go type that stands for a Python class: a
// struct for a pydantic model, a dataclass or a NamedTuple, a named scalar
// type (type Priority int, type Status string) for an enum. It is the one
// way to map a Go type to a Python class, for every direction:
//
//   - Go to Python: every encoder that meets a value of the type (the
//     client's args and kwargs, a handler's result, cron args) pickles it
//     so that Python unpickles an instance of the class (see ClassKind),
//     instead of the dict an unmapped struct becomes. JSON and msgpack
//     carry the value as model_dump(mode='json') would: a dict of fields,
//     an enum's value, a NamedTuple's list.
//   - Python to Go: Assign (and so a handler's parameters and
//     client.Job.ResultInto) binds into the type only an instance of that
//     class, or a dict of its fields; an instance of another class is an
//     *AssignError, never zero values.
//
// Implement it on the value receiver, returning a constant:
//
//	func (Order) PythonClass() arqcompat.Class {
//		return arqcompat.Class{Module: "app.models", Name: "Order", Kind: arqcompat.Pydantic}
//	}
//
// Struct fields map to Python fields by their `arq` tag, else their `json`
// tag, else their name. Field order matters for Dataclass and NamedTuple.
type Mapped interface {
	PythonClass() Class
}

var typeMapped = reflect.TypeOf((*Mapped)(nil)).Elem()

// FieldsSet, as a field of a struct mapped to a pydantic model, is the
// model's __pydantic_fields_set__ (__fields_set__ in pydantic v1): the
// fields given when it was made, which model_dump(exclude_unset=True)
// keeps. Assign fills it, sorted, from a pickled model (and leaves it nil
// for a dict); encoding sends only the fields it names, when it is not nil,
// so that Python gets the model it sent, fields set and defaults alike. It
// is never a Python field itself.
type FieldsSet []string

var typeFieldsSet = reflect.TypeOf(FieldsSet(nil))

// fieldsSetIndex is the index of a struct's FieldsSet field, or -1.
func fieldsSetIndex(t reflect.Type) int {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && f.Type == typeFieldsSet {
			return i
		}
	}
	return -1
}

// typeInfo is what binding and encoding need to know of a Go type, read
// once per type with reflect.
type typeInfo struct {
	cls       Class
	mapped    bool
	fields    []structFieldInfo // a struct's Python fields
	fieldsSet int               // the index of a struct's FieldsSet field, or -1
}

// typeInfos caches typeInfo by reflect.Type, as encoding/json caches its
// struct fields: facts about types, the same for every caller.
var typeInfos sync.Map

func infoOf(t reflect.Type) *typeInfo {
	if v, ok := typeInfos.Load(t); ok {
		return v.(*typeInfo)
	}
	ti := &typeInfo{fieldsSet: -1}
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer && t.Implements(typeMapped) {
		ti.cls, ti.mapped = reflect.Zero(t).Interface().(Mapped).PythonClass(), true
	}
	if t.Kind() == reflect.Struct {
		ti.fieldsSet = fieldsSetIndex(t)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type == typeFieldsSet {
				continue
			}
			name, skip := fieldName(f)
			if skip {
				continue
			}
			ti.fields = append(ti.fields, structFieldInfo{name: name, index: i, omitEmpty: OmitEmpty(f), place: "[" + pyQuote(name) + "]"})
		}
	}
	v, _ := typeInfos.LoadOrStore(t, ti)
	return v.(*typeInfo)
}

// mappedClass returns the Python class a Go type is mapped to.
func mappedClass(t reflect.Type) (Class, bool) {
	ti := infoOf(t)
	return ti.cls, ti.mapped
}

// structFieldInfo is an exported, not skipped struct field: its Python
// name, its index, whether its tag says omitempty, and its place in an
// error's path ("['name']").
type structFieldInfo struct {
	name      string
	index     int
	omitEmpty bool
	place     string
}

// structFields lists the fields of a struct type that map to Python fields.
func structFields(t reflect.Type) []structFieldInfo { return infoOf(t).fields }

// normalizeMapped turns a value of a mapped type into the *Object Python
// rebuilds as an instance of cls (plain false), or into the plain value
// model_dump(mode='json') gives (plain true: for JSON and msgpack).
func normalizeMapped(rv reflect.Value, cls Class, plain bool, depth int) (any, error) {
	if cls.Module == "" || cls.Name == "" {
		return nil, fmt.Errorf("%s.PythonClass() names no module or class", rv.Type())
	}
	if cls.Kind == Enum {
		if rv.Kind() == reflect.Struct {
			return nil, fmt.Errorf("%s is a struct; an Enum class maps a named scalar type", rv.Type())
		}
		v, err := normalizeBase(rv, plain, depth)
		if err != nil || plain {
			return v, err
		}
		return &Object{Class: cls.Global(), Args: Tuple{v}}, nil
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct; a %s class maps a struct", rv.Type(), cls.Kind)
	}
	fields := structFields(rv.Type())
	switch cls.Kind {
	case Pydantic, PydanticV1:
		var only map[string]bool
		if i := infoOf(rv.Type()).fieldsSet; i >= 0 && !rv.Field(i).IsNil() {
			set := rv.Field(i).Interface().(FieldsSet)
			only = make(map[string]bool, len(set))
			for _, name := range set {
				only[name] = true
			}
		}
		d := &Dict{}
		for _, f := range fields {
			fv := rv.Field(f.index)
			if only != nil && !only[f.name] || only == nil && f.omitEmpty && fv.IsZero() {
				continue
			}
			v, err := normalizeWith(fv, plain, depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.Set(f.name, v); err != nil {
				return nil, err
			}
		}
		if plain {
			return d, nil
		}
		method := ".model_validate"
		if cls.Kind == PydanticV1 {
			method = ".parse_obj"
		}
		return &Object{Class: Global{cls.Module, cls.Name + method}, Args: Tuple{d}}, nil
	case Dataclass, NamedTuple:
		values := make([]any, len(fields))
		for i, f := range fields {
			v, err := normalizeWith(rv.Field(f.index), plain, depth+1)
			if err != nil {
				return nil, err
			}
			values[i] = v
		}
		if plain {
			if cls.Kind == NamedTuple {
				return values, nil
			}
			d := &Dict{}
			for i, f := range fields {
				if err := d.Set(f.name, values[i]); err != nil {
					return nil, err
				}
			}
			return d, nil
		}
		return &Object{Class: cls.Global(), Args: Tuple(values)}, nil
	}
	return nil, fmt.Errorf("%s.PythonClass() has no valid Kind (%s)", rv.Type(), cls.Kind)
}

// OmitEmpty reports whether a struct field's `arq` (else `json`) tag says
// omitempty or omitzero: a mapped class's encoders leave such a field out
// when it is zero (so Python applies its default), an object may lack it
// when it binds, and a contract marks it optional.
func OmitEmpty(f reflect.StructField) bool {
	for _, tag := range []string{"arq", "json"} {
		if t, ok := f.Tag.Lookup(tag); ok {
			_, opts, _ := strings.Cut(t, ",")
			for _, o := range strings.Split(opts, ",") {
				if o == "omitempty" || o == "omitzero" {
					return true
				}
			}
			return false
		}
	}
	return false
}
