"""Command modules: each parses options, calls the library, and renders through output."""
