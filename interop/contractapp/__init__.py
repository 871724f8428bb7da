"""A small arq app with typed job functions: the Python side of the typed
contract tests (interop/test_contract.py) and of the README's "Typed
contracts" example."""
