"""The `lossmask validate` engine: files and stacks in, one report out (`command`), printed as
text, JSON or GitHub annotations (`output`). It stands beside `migrate/`."""
