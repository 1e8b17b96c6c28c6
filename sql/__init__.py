"""SQL files: migrations/, functions/ and queries/, read through importlib.resources."""
