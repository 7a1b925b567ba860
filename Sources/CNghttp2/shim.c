// Intentionally empty: the module exists to carry the shim header and the link flag.
