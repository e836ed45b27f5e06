"""The mask engine: backends describe rendered tokens, one contract decides which train."""
