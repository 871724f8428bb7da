// Package gomodels holds the Go side of the interop value table: Go types
// mapped (arqcompat.Mapped) to the classes of interop/appmodels.py, and the
// Go value of every row of its VALUES and IN_ONLY tables. The goworker and
// goclient fixtures and the bench use it.
package gomodels

import (
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// Module is the Python module of the classes.
const Module = "interop.appmodels"

func class(name string, kind arqcompat.ClassKind) arqcompat.Class {
	return arqcompat.Class{Module: Module, Name: name, Kind: kind}
}

// Priority is appmodels.Priority, an IntEnum.
type Priority int

// PythonClass maps the type.
func (Priority) PythonClass() arqcompat.Class { return class("Priority", arqcompat.Enum) }

// Color is appmodels.Color, an Enum of str values.
type Color string

// PythonClass maps the type.
func (Color) PythonClass() arqcompat.Class { return class("Color", arqcompat.Enum) }

// Status is appmodels.Status, a StrEnum.
type Status string

// PythonClass maps the type.
func (Status) PythonClass() arqcompat.Class { return class("Status", arqcompat.Enum) }

// Perm is appmodels.Perm, a Flag.
type Perm int

// PythonClass maps the type.
func (Perm) PythonClass() arqcompat.Class { return class("Perm", arqcompat.Enum) }

// Point is a plain dataclass.
type Point struct {
	X int     `json:"x"`
	Y float64 `json:"y"`
}

// PythonClass maps the type.
func (Point) PythonClass() arqcompat.Class { return class("Point", arqcompat.Dataclass) }

// Money is a frozen dataclass.
type Money struct {
	Amount   arqcompat.Decimal `json:"amount"`
	Currency string            `json:"currency"`
}

// PythonClass maps the type.
func (Money) PythonClass() arqcompat.Class { return class("Money", arqcompat.Dataclass) }

// Tag is a slots=True dataclass.
type Tag struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// PythonClass maps the type.
func (Tag) PythonClass() arqcompat.Class { return class("Tag", arqcompat.Dataclass) }

// Dims is a slots=True, frozen=True dataclass.
type Dims struct {
	W int `json:"w"`
	H int `json:"h"`
}

// PythonClass maps the type.
func (Dims) PythonClass() arqcompat.Class { return class("Dims", arqcompat.Dataclass) }

// Coord is a NamedTuple.
type Coord struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// PythonClass maps the type.
func (Coord) PythonClass() arqcompat.Class { return class("Coord", arqcompat.NamedTuple) }

// Range is a NamedTuple of enum members.
type Range struct {
	Low  Priority `json:"low"`
	High Priority `json:"high"`
}

// PythonClass maps the type.
func (Range) PythonClass() arqcompat.Class { return class("Range", arqcompat.NamedTuple) }

// Shipment is a dataclass holding an enum, a ZoneInfo datetime and a dataclass.
type Shipment struct {
	ID       int       `json:"id"`
	Priority Priority  `json:"priority"`
	ETA      time.Time `json:"eta"`
	Dims     Dims      `json:"dims"`
}

// PythonClass maps the type.
func (Shipment) PythonClass() arqcompat.Class { return class("Shipment", arqcompat.Dataclass) }

// Timer is a dataclass holding a timedelta.
type Timer struct {
	Name  string        `json:"name"`
	Every time.Duration `json:"every"`
}

// PythonClass maps the type.
func (Timer) PythonClass() arqcompat.Class { return class("Timer", arqcompat.Dataclass) }

// Line is a pydantic model.
type Line struct {
	SKU   string            `json:"sku"`
	Qty   int               `json:"qty"`
	Price arqcompat.Decimal `json:"price"`
}

// PythonClass maps the type.
func (Line) PythonClass() arqcompat.Class { return class("Line", arqcompat.Pydantic) }

// Order is a pydantic model with defaults; Set is its __pydantic_fields_set__.
type Order struct {
	ID            int                 `json:"id"`
	CustomerEmail string              `json:"customer_email"`
	Priority      Priority            `json:"priority"`
	Status        Status              `json:"status"`
	PlacedAt      time.Time           `json:"placed_at"`
	Lines         []Line              `json:"lines"`
	Note          *string             `json:"note"`
	Tags          []string            `json:"tags"`
	Set           arqcompat.FieldsSet `json:"-"`
}

// PythonClass maps the type.
func (Order) PythonClass() arqcompat.Class { return class("Order", arqcompat.Pydantic) }

// Customer is a pydantic model of another class than Order.
type Customer struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// PythonClass maps the type.
func (Customer) PythonClass() arqcompat.Class { return class("Customer", arqcompat.Pydantic) }

// Event is a pydantic model with a ZoneInfo datetime and an Enum.
type Event struct {
	Name  string    `json:"name"`
	At    time.Time `json:"at"`
	Color Color     `json:"color"`
}

// PythonClass maps the type.
func (Event) PythonClass() arqcompat.Class { return class("Event", arqcompat.Pydantic) }

// Invoice is a pydantic model with a UUID, a Decimal and a date.
type Invoice struct {
	ID     arqcompat.UUID    `json:"id"`
	Total  arqcompat.Decimal `json:"total"`
	Issued arqcompat.Date    `json:"issued"`
}

// PythonClass maps the type.
func (Invoice) PythonClass() arqcompat.Class { return class("Invoice", arqcompat.Pydantic) }

// Profile is a pydantic model with a list of StrEnum, a NamedTuple and a Flag.
type Profile struct {
	Statuses []Status `json:"statuses"`
	Home     Coord    `json:"home"`
	Perms    Perm     `json:"perms"`
}

// PythonClass maps the type.
func (Profile) PythonClass() arqcompat.Class { return class("Profile", arqcompat.Pydantic) }

// Setting is a frozen pydantic model.
type Setting struct {
	Key   string `json:"key"`
	Value int    `json:"value"`
}

// PythonClass maps the type.
func (Setting) PythonClass() arqcompat.Class { return class("Setting", arqcompat.Pydantic) }

// LegacyUser is a pydantic.v1 model.
type LegacyUser struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

// PythonClass maps the type.
func (LegacyUser) PythonClass() arqcompat.Class { return class("LegacyUser", arqcompat.PydanticV1) }

// BenchLine is a line of the bench's order.
type BenchLine struct {
	SKU    string  `json:"sku"`
	Qty    int     `json:"qty"`
	Price  float64 `json:"price"`
	Status Status  `json:"status"`
}

// PythonClass maps the type.
func (BenchLine) PythonClass() arqcompat.Class { return class("BenchLine", arqcompat.Pydantic) }

// BenchOrder is the bench's job record: 20 fields, 10 nested models, an
// enum and a ZoneInfo datetime.
type BenchOrder struct {
	ID            int         `json:"id"`
	CustomerID    int         `json:"customer_id"`
	CustomerEmail string      `json:"customer_email"`
	CustomerName  string      `json:"customer_name"`
	Priority      Priority    `json:"priority"`
	Status        Status      `json:"status"`
	PlacedAt      time.Time   `json:"placed_at"`
	Currency      string      `json:"currency"`
	Subtotal      float64     `json:"subtotal"`
	Tax           float64     `json:"tax"`
	Total         float64     `json:"total"`
	Paid          bool        `json:"paid"`
	Coupon        *string     `json:"coupon"`
	Street        string      `json:"street"`
	City          string      `json:"city"`
	Postcode      string      `json:"postcode"`
	Country       string      `json:"country"`
	Phone         string      `json:"phone"`
	Notes         string      `json:"notes"`
	Lines         []BenchLine `json:"lines"`
}

// PythonClass maps the type.
func (BenchOrder) PythonClass() arqcompat.Class { return class("BenchOrder", arqcompat.Pydantic) }
