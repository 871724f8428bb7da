package contract

// PythonOptions configure GeneratePython.
type PythonOptions struct {
	// ContractName is how the header names the contract (its file name).
	ContractName string
}

// GeneratePython is not written yet.
func GeneratePython(c *Contract, opts PythonOptions) ([]byte, error) { return nil, nil }
