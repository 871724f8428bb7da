package arqcompat

// The package's encoders and decoders by format, for its own tests; users
// reach them through the Serializer constructors.
var (
	Pickle                 = pickleMarshal
	UnpickleLimits         = pickleUnmarshal
	MarshalJSON            = jsonMarshal
	UnmarshalJSONLimits    = jsonUnmarshal
	MarshalMsgpack         = msgpackMarshal
	UnmarshalMsgpackLimits = msgpackUnmarshal
	HashKey                = keyHash
)

const UnserializableResult = unserializableResult

func Unpickle(data []byte) (any, error)         { return pickleUnmarshal(data, Limits{}) }
func UnmarshalMsgpack(data []byte) (any, error) { return msgpackUnmarshal(data, Limits{}) }
