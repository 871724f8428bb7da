package arqcompat_test

import (
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// Priority stands for the Python enum app.models.Priority (an IntEnum).
type Priority int

func (Priority) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Priority", Kind: arqcompat.Enum}
}

// Order stands for the pydantic model app.models.Order.
type Order struct {
	ID       int       `json:"id"`
	Email    string    `json:"customer_email"`
	Priority Priority  `json:"priority"`
	Placed   time.Time `json:"placed_at"`
	Note     string    `json:"note,omitempty"` // unset in Python when empty
}

func (Order) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Order", Kind: arqcompat.Pydantic}
}

// Map a Go type to a Python class by implementing arqcompat.Mapped: Python
// then unpickles an app.models.Order (validated by pydantic), and a Go
// handler or ResultInto binds only an Order back into it.
func ExampleMapped() {
	paris, _ := time.LoadLocation("Europe/Paris")
	o := Order{ID: 7, Email: "a@b.c", Priority: 3, Placed: time.Date(2024, 5, 6, 7, 8, 0, 0, paris)}
	pickle := arqcompat.PickleSerializer(arqcompat.Limits{})
	data, _ := pickle.Marshal(o) // what the client enqueues, what a handler's result stores

	v, _ := pickle.Unmarshal(data)
	var back Order
	err := arqcompat.Assign(&back, v)
	fmt.Println(back.ID, back.Email, back.Priority, back.Placed.Location(), err)
	// Output: 7 a@b.c 3 Europe/Paris <nil>
}
