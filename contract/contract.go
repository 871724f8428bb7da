package contract

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Schema and Version name the contract format; Read refuses other values.
const (
	Schema  = "goarq-contract"
	Version = 1
)

// Introspector is the Python program `goarq contract export` runs with the
// user's interpreter: `python - SETTINGS` with this text on stdin.
//
//go:embed introspect.py
var Introspector string

// ErrInvalid is matched (errors.Is) by Read's error for a document that is
// not a contract of a version this package reads.
var ErrInvalid = errors.New("contract: invalid")

// Contract describes the job functions of one arq worker (Python or Go) and
// the classes their parameters and results use. Its JSON form is the
// contract file; see the package doc for the schema.
type Contract struct {
	Schema     string     `json:"schema"`
	Version    int        `json:"version"`
	Source     Source     `json:"source"`
	Queue      string     `json:"queue"`
	Serializer string     `json:"serializer"`
	Functions  []Function `json:"functions"`
	Models     []Model    `json:"models"`
}

// Source says where a contract came from.
type Source struct {
	// Language is "python" or "go".
	Language string `json:"language"`
	// Settings is the dotted path of the WorkerSettings (Python).
	Settings string `json:"settings,omitempty"`
}

// Function is one job function or cron job.
type Function struct {
	Name string `json:"name"`
	Cron bool   `json:"cron,omitempty"`
	// Python is the coroutine's module.qualname (Python); Go is the Go
	// function's name (Go); informational.
	Python string  `json:"python,omitempty"`
	Go     string  `json:"go,omitempty"`
	Params []Param `json:"params"`
	// Returns is the result's type.
	Returns           *Type  `json:"returns"`
	ReturnsAnnotation string `json:"returns_annotation,omitempty"`
	// Timeout and KeepResult are in seconds, as the worker applies them
	// (the function's own value, else the worker's).
	Timeout           float64 `json:"timeout"`
	MaxTries          int     `json:"max_tries"`
	KeepResult        float64 `json:"keep_result"`
	KeepResultForever bool    `json:"keep_result_forever"`
}

// Parameter kinds, Python's inspect.Parameter.kind in lower case.
const (
	PositionalOnly       = "positional_only"
	PositionalOrKeyword  = "positional_or_keyword"
	VarPositional        = "var_positional"
	KeywordOnly          = "keyword_only"
	VarKeyword           = "var_keyword"
	defaultAnnotationAny = "Any"
)

// Param is one parameter of a job function, after ctx.
type Param struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Type *Type  `json:"type"`
	// Annotation is the annotation as Python prints it; empty when none.
	Annotation string `json:"annotation,omitempty"`
	Value
}

// Value is a parameter's or a field's default.
type Value struct {
	HasDefault bool `json:"has_default,omitempty"`
	// Default is the default as JSON: an enum member is
	// {"$enum": "module.Class", "member": "NAME"}; a value JSON cannot
	// hold is its repr, with DefaultExact false.
	Default        json.RawMessage `json:"default,omitempty"`
	DefaultRepr    string          `json:"default_repr,omitempty"`
	DefaultExact   *bool           `json:"default_exact,omitempty"`
	DefaultFactory bool            `json:"default_factory,omitempty"`
}

// Exact reports whether Default holds the default exactly (not a repr,
// not a factory).
func (v Value) Exact() bool {
	return v.HasDefault && !v.DefaultFactory && (v.DefaultExact == nil || *v.DefaultExact)
}

// Type kinds.
const (
	KindAny       = "any"
	KindNone      = "none"
	KindBool      = "bool"
	KindInt       = "int"
	KindFloat     = "float"
	KindStr       = "str"
	KindBytes     = "bytes"
	KindDatetime  = "datetime"
	KindDate      = "date"
	KindTime      = "time"
	KindTimedelta = "timedelta"
	KindDecimal   = "decimal"
	KindUUID      = "uuid"
	KindList      = "list"
	KindSet       = "set"
	KindFrozenSet = "frozenset"
	KindTuple     = "tuple"
	KindDict      = "dict"
	KindOptional  = "optional"
	KindUnion     = "union"
	KindLiteral   = "literal"
	KindModel     = "model"
	KindClass     = "class"
)

// Type is a parameter's, a field's or a result's type.
type Type struct {
	Kind string `json:"kind"`
	// Of is the item type of list, set, frozenset, a tuple[T, ...] and
	// optional.
	Of *Type `json:"of,omitempty"`
	// Items are a fixed tuple's item types or a union's options.
	Items []*Type `json:"items,omitempty"`
	// Key and Value are a dict's.
	Key   *Type `json:"key,omitempty"`
	Value *Type `json:"value,omitempty"`
	// Ref names a model (in Contract.Models) or another class, as
	// module.Qualname.
	Ref string `json:"ref,omitempty"`
	// Values are a literal's.
	Values []json.RawMessage `json:"values,omitempty"`
}

// Model kinds.
const (
	ModelPydantic   = "pydantic"
	ModelPydanticV1 = "pydantic_v1"
	ModelDataclass  = "dataclass"
	ModelNamedTuple = "namedtuple"
	ModelEnum       = "enum"
	// ModelStruct is a Go struct with no Python class: Python sees a dict.
	ModelStruct = "struct"
)

// Model is a class the functions use: a pydantic model, dataclass,
// NamedTuple or enum (Python), or a Go struct.
type Model struct {
	Ref    string  `json:"ref"`
	Module string  `json:"module"`
	Class  string  `json:"class"`
	Kind   string  `json:"kind"`
	Fields []Field `json:"fields,omitempty"`
	Frozen bool    `json:"frozen,omitempty"`
	Slots  bool    `json:"slots,omitempty"`
	// Base is an enum's value type: "int", "str" or "any".
	Base    string   `json:"base,omitempty"`
	Flag    bool     `json:"flag,omitempty"`
	Members []Member `json:"members,omitempty"`
}

// Field is a model's field.
type Field struct {
	Name        string `json:"name"`
	Type        *Type  `json:"type"`
	KeywordOnly bool   `json:"keyword_only,omitempty"`
	// Init is false for a dataclass field with init=False.
	Init *bool `json:"init,omitempty"`
	Value
}

// Member is an enum member.
type Member struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Read decodes a contract and checks its schema and version.
func Read(r io.Reader) (*Contract, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Contract
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Schema != Schema {
		return nil, fmt.Errorf("%w: schema is %q, want %q", ErrInvalid, c.Schema, Schema)
	}
	if c.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this goarq reads version %d", ErrInvalid, c.Version, Version)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &c, nil
}

// ReadFile reads a contract file.
func ReadFile(path string) (*Contract, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Write encodes c as indented JSON, the form contract files are kept in.
func (c *Contract) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(c)
}

// Model returns the model ref names, or nil.
func (c *Contract) Model(ref string) *Model {
	for i := range c.Models {
		if c.Models[i].Ref == ref {
			return &c.Models[i]
		}
	}
	return nil
}

// Function returns the function of that name, or nil.
func (c *Contract) Function(name string) *Function {
	for i := range c.Functions {
		if c.Functions[i].Name == name {
			return &c.Functions[i]
		}
	}
	return nil
}

func (c *Contract) validate() error {
	seen := map[string]bool{}
	for _, f := range c.Functions {
		if f.Name == "" {
			return errors.New("a function has no name")
		}
		if seen[f.Name] {
			return fmt.Errorf("function %q is listed twice", f.Name)
		}
		seen[f.Name] = true
		for _, p := range f.Params {
			if !slices.Contains([]string{PositionalOnly, PositionalOrKeyword, VarPositional, KeywordOnly, VarKeyword}, p.Kind) {
				return fmt.Errorf("function %s: parameter %q: unknown kind %q", f.Name, p.Name, p.Kind)
			}
			if err := c.validType(p.Type); err != nil {
				return fmt.Errorf("function %s: parameter %q: %v", f.Name, p.Name, err)
			}
		}
		if err := c.validType(f.Returns); err != nil {
			return fmt.Errorf("function %s: returns: %v", f.Name, err)
		}
	}
	for _, m := range c.Models {
		for _, fl := range m.Fields {
			if err := c.validType(fl.Type); err != nil {
				return fmt.Errorf("model %s: field %q: %v", m.Ref, fl.Name, err)
			}
		}
	}
	return nil
}

func (c *Contract) validType(t *Type) error {
	if t == nil {
		return nil // read as any
	}
	switch t.Kind {
	case KindAny, KindNone, KindBool, KindInt, KindFloat, KindStr, KindBytes, KindDatetime, KindDate, KindTime,
		KindTimedelta, KindDecimal, KindUUID, KindLiteral, KindClass:
	case KindList, KindSet, KindFrozenSet, KindOptional:
		if t.Of == nil && t.Kind == KindOptional {
			return errors.New("optional without of")
		}
	case KindTuple, KindUnion, KindDict:
	case KindModel:
		if c.Model(t.Ref) == nil {
			return fmt.Errorf("model %q is not in the contract's models", t.Ref)
		}
	default:
		return fmt.Errorf("unknown type kind %q", t.Kind)
	}
	for _, s := range append([]*Type{t.Of, t.Key, t.Value}, t.Items...) {
		if s != nil {
			if err := c.validType(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// String writes t as a Python annotation: list[int], Order | None.
func (t *Type) String() string {
	if t == nil {
		return "Any"
	}
	join := func(ts []*Type, sep string) string {
		s := make([]string, len(ts))
		for i, x := range ts {
			s[i] = x.String()
		}
		return strings.Join(s, sep)
	}
	switch t.Kind {
	case KindAny:
		return defaultAnnotationAny
	case KindNone:
		return "None"
	case KindDatetime, KindDate, KindTime, KindTimedelta:
		return "datetime." + t.Kind
	case KindDecimal:
		return "Decimal"
	case KindUUID:
		return "UUID"
	case KindList, KindSet, KindFrozenSet:
		return t.Kind + "[" + t.Of.String() + "]"
	case KindTuple:
		if t.Of != nil {
			return "tuple[" + t.Of.String() + ", ...]"
		}
		if len(t.Items) == 0 {
			return "tuple[()]"
		}
		return "tuple[" + join(t.Items, ", ") + "]"
	case KindDict:
		return "dict[" + t.Key.String() + ", " + t.Value.String() + "]"
	case KindOptional:
		return t.Of.String() + " | None"
	case KindUnion:
		return join(t.Items, " | ")
	case KindLiteral:
		s := make([]string, len(t.Values))
		for i, v := range t.Values {
			s[i] = string(v)
		}
		return "Literal[" + strings.Join(s, ", ") + "]"
	case KindModel, KindClass:
		return t.Ref
	}
	return t.Kind
}
