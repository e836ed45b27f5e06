"""What users keep beside their configs: how files are selected (`selection`), how they are
launched as stacks (`stacks`, `launches`) and `--set KEY=VALUE` overrides (`overrides`).

It sits above `schema/` and below the command engines (`validate/`, `migrate/`, `masks/app/`)."""
