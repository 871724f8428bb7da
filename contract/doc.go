// Package contract is the typed contract between the Python and the Go side
// of an arq queue: a JSON description of a worker's job functions, the
// generators that turn it into typed enqueue code for the other side, and
// the check that fails CI when the two sides stop agreeing.
//
//   - `goarq contract export` runs Introspector (introspect.py, embedded)
//     with the app's Python on its WorkerSettings; see Export.
//   - worker.Contract describes a Go worker in the same schema.
//   - GenerateGo (`goarq gen go`) and GeneratePython (`goarq gen python`)
//     write typed code; Check (`goarq contract check`) compares two
//     contracts.
//
// # Schema, version 1
//
// A contract file is one JSON object. Readers refuse another "schema" or
// "version" (ErrInvalid) and unknown fields; a change that older readers
// would misread gets a new version.
//
//	{
//	  "schema": "goarq-contract",       // always this string
//	  "version": 1,
//	  "source": {"language": "python", "settings": "app.worker.WorkerSettings"}, // or {"language": "go"}
//	  "queue": "arq:queue",             // the worker's queue_name
//	  "serializer": "pickle",           // pickle, json, msgpack, or custom
//	  "functions": [Function...],       // sorted by name
//	  "models": [Model...]              // sorted by ref
//	}
//
// A Function:
//
//	{
//	  "name": "send_email",             // what enqueue_job names
//	  "cron": true,                     // only for a cron job
//	  "python": "app.jobs.send_email",  // the coroutine (Python side), or
//	  "go": "main.sendEmail",           // the Go function (Go side); informational
//	  "params": [Param...],             // after ctx, in order
//	  "returns": Type,
//	  "returns_annotation": "bool",     // as Python prints it, when annotated
//	  "timeout": 300, "max_tries": 5, "keep_result": 3600, "keep_result_forever": false
//	}
//
// timeout and keep_result are seconds, as the worker applies them: the
// function's own setting, else the worker's, else arq's default.
//
// A Param:
//
//	{
//	  "name": "cc",
//	  "kind": "positional_or_keyword",  // positional_only, positional_or_keyword, var_positional,
//	                                    // keyword_only, var_keyword (Python's inspect names)
//	  "type": Type,
//	  "annotation": "list[str] | None", // as Python prints it, when annotated
//	  "has_default": true,
//	  "default": null,                  // JSON; an enum member is {"$enum": "app.models.Priority", "member": "HIGH"}
//	  "default_repr": "None",           // Python's repr of it
//	  "default_exact": false,           // present when JSON cannot hold the default: default is then its repr
//	  "default_factory": true           // a field's default_factory (models only)
//	}
//
// A Type is {"kind": K} with, by kind:
//
//	any, none, bool, int, float, str, bytes, datetime, date, time, timedelta, decimal, uuid
//	list, set, frozenset      "of": Type
//	tuple                     "of": Type (tuple[T, ...]) or "items": [Type...] (a fixed tuple)
//	dict                      "key": Type, "value": Type
//	optional                  "of": Type (T | None)
//	union                     "items": [Type...]
//	literal                   "values": [JSON...]
//	model                     "ref": a Model's ref
//	class                     "ref": module.Qualname of another class (no fields known)
//
// An unannotated parameter is any, and any matches every type in Check.
//
// A Model is a class the functions use, found through their annotations:
//
//	{
//	  "ref": "app.models.Order",        // module + "." + class
//	  "module": "app.models", "class": "Order",
//	  "kind": "pydantic",               // pydantic, pydantic_v1, dataclass, namedtuple, enum,
//	                                    // or struct (a Go struct with no Python class: a dict in Python)
//	  "fields": [Field...],             // in the class's order; a Field is a Param without kind, plus
//	                                    // "keyword_only" and "init": false for dataclass fields
//	  "frozen": true, "slots": true,    // dataclasses
//	  "base": "int", "flag": false,     // enums: the members' value type (int, str, any)
//	  "members": [{"name": "HIGH", "value": 3}] // enums, aliases left out
//	}
//
// A Go type mapped to a Python class (arqcompat.Mapped) is described as a
// model of that class; a Go enum type lists no members, and Check then
// compares none.
package contract
